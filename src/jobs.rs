//! The scheduled jobs `tally serve` runs (tokio-cron-scheduler, 6-field cron, UTC):
//!
//! - **roll-over** (default `0 0 0 * * *`, each UTC midnight, Mondays included): zeroes the day
//!   and week counters of past days and weeks, so the table reads true with plain SQL. The API
//!   never needs it: a counter of a past day already reads as zero.
//! - **sample-verify** (default hourly): checks N random users' rows against a recount of their
//!   tasks and shares; logs each drift and counts it.
//! - **expire-keys** (default hourly): deletes idempotency keys older than 24 hours.
//!
//! Every tick first claims itself in the database, so with several servers on one database
//! each tick runs once. A failing job is logged and tried again at its next tick; it never
//! takes the server down, and it runs on its own task, never in a request's way.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use chrono::{DateTime, SubsecRound, Utc};
use tokio_cron_scheduler::{Job, JobScheduler, JobSchedulerError};

use crate::clock::Clock;
use crate::commands::IDEMPOTENCY_WINDOW;
use crate::store::{Store, StoreError};

/// The jobs' schedules; `None` turns a job off.
#[derive(Clone, Debug)]
pub struct JobSettings {
    pub roll_over: Option<String>,
    pub sample_verify: Option<String>,
    pub expire_keys: Option<String>,
    /// Users the sampled verify checks per tick.
    pub sample_users: u32,
}

/// Drifts the sampled verify has found since the server started.
pub static DRIFTS_FOUND: AtomicU64 = AtomicU64::new(0);

/// Runs one tick of `job` at `now`, unless another server has run this tick already.
pub async fn run_tick(
    job: &str,
    store: &dyn Store,
    now: DateTime<Utc>,
    settings: &JobSettings,
) -> Result<(), StoreError> {
    if !store.claim_tick(job, now.trunc_subsecs(0)).await? {
        tracing::debug!(job, "tick already run by another server");
        return Ok(());
    }
    match job {
        "roll-over" => {
            let rows = store.roll_over(now).await?;
            tracing::info!(job, rows, "rolled day and week counters over");
        }
        "sample-verify" => {
            let drifted = store.check_sample(settings.sample_users, now).await?;
            for drift in &drifted {
                tracing::error!(job, user = %drift.user_id, figures = ?drift.figures, "drift");
            }
            DRIFTS_FOUND.fetch_add(drifted.len() as u64, Ordering::Relaxed);
            tracing::info!(
                job,
                users = settings.sample_users,
                drifted = drifted.len(),
                "sampled verify"
            );
        }
        "expire-keys" => {
            let expired = store.expire_keys(now - IDEMPOTENCY_WINDOW).await?;
            tracing::info!(job, expired, "expired idempotency keys");
        }
        other => tracing::warn!(job = other, "unknown job"),
    }
    Ok(())
}

/// Starts the scheduler with every job that has a schedule.
pub async fn start(
    store: Arc<dyn Store>,
    clock: Clock,
    settings: JobSettings,
) -> Result<JobScheduler, JobSchedulerError> {
    let scheduler = JobScheduler::new().await?;
    let schedules = [
        ("roll-over", settings.roll_over.clone()),
        ("sample-verify", settings.sample_verify.clone()),
        ("expire-keys", settings.expire_keys.clone()),
    ];
    for (name, schedule) in schedules {
        let Some(schedule) = schedule else { continue };
        let (store, clock, settings) = (store.clone(), clock.clone(), settings.clone());
        let job = Job::new_async(schedule.as_str(), move |_, _| {
            let (store, clock, settings) = (store.clone(), clock.clone(), settings.clone());
            Box::pin(async move {
                let began = std::time::Instant::now();
                let ran = run_tick(name, store.as_ref(), clock.now(), &settings).await;
                crate::telemetry::job_ran(name, ran.is_ok(), began.elapsed());
                if let Err(error) = ran {
                    tracing::error!(job = name, %error, "job failed; it runs again at its next tick");
                }
            })
        })?;
        scheduler.add(job).await?;
        tracing::debug!(job = name, %schedule, "scheduled");
    }
    scheduler.start().await?;
    Ok(scheduler)
}
