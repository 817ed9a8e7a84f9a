//! `tally rebuild`: the read models rebuilt from the event log without stopping the service.
//!
//! 1. Empty shadow tables are created beside the live ones (`tasks_rebuild`, …).
//! 2. The whole log is folded in memory, through the same fold as the live path, and the
//!    result is written to the shadows in bulk, one chunk per transaction.
//! 3. The shadows catch up, in batches, with the events appended meanwhile — the same
//!    projection of stored events the checkpoints describe.
//! 4. In one transaction that holds the writers' lock, the last events are projected and the
//!    shadows replace the live tables; the checkpoints move to the last position.
//!
//! Readers see either the old tables or the new ones, never a half-built one, and commands keep
//! being accepted throughout (they wait only for the short final transaction). Killed at any
//! moment before the final commit, a rebuild leaves the live tables exactly as they were; the
//! next one drops its leftovers and starts again. One rebuild runs at a time per database (a
//! lock that a killed process releases); a second one is refused.

use std::time::{Duration, Instant};

use chrono::Utc;
use indicatif::ProgressBar;
use projections::{ReadModels, RecordedEvent};

use super::StoreError;
use super::projector::project_events;
use super::write_tx::{Tables, WriteTx};
use super::writer::{WriterBackend, WriterConnection};

/// Events read from the log at a time.
const PAGE: i64 = 20_000;
/// Rows written to a shadow table per transaction: short enough that SQLite's one write lock
/// is never held long away from the live writer.
const ROWS_PER_TRANSACTION: usize = 20_000;

/// A read model `tally rebuild` can rebuild, with the version of the code that projects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Projection {
    /// The `tasks` and `task_shares` tables.
    Tasks,
    /// The `dashboard_stats` table.
    Dashboard,
}

impl Projection {
    pub const ALL: [Projection; 2] = [Projection::Tasks, Projection::Dashboard];

    /// Bumped whenever the fold changes what this projection stores: a store whose checkpoint
    /// has an older version needs a rebuild.
    pub const fn version(self) -> i32 {
        match self {
            Projection::Tasks => 1,
            Projection::Dashboard => 1,
        }
    }

    /// The checkpoint's name.
    pub const fn name(self) -> &'static str {
        match self {
            Projection::Tasks => "tasks",
            Projection::Dashboard => "dashboard",
        }
    }

    /// The live tables it owns, each with its shadow.
    fn tables(self) -> Vec<(&'static str, &'static str)> {
        let (live, shadow) = (Tables::LIVE, Tables::SHADOW);
        match self {
            Projection::Tasks => vec![(live.tasks, shadow.tasks), (live.shares, shadow.shares)],
            Projection::Dashboard => vec![(live.stats, shadow.stats)],
        }
    }
}

/// What a rebuild did.
#[derive(Clone, Copy, Debug)]
pub struct RebuildReport {
    /// Events folded, those that arrived during the rebuild included.
    pub events: u64,
    /// The position the swapped-in models include.
    pub position: i64,
    pub elapsed: Duration,
}

impl RebuildReport {
    pub fn events_per_second(&self) -> f64 {
        self.events as f64 / self.elapsed.as_secs_f64().max(f64::EPSILON)
    }
}

/// Rebuilds `projections` from the log. Every shadow is built (each projection is folded from
/// the task views), but only the chosen ones are swapped in.
pub(crate) async fn rebuild<B: WriterBackend>(
    backend: &B,
    projections: &[Projection],
    progress: &ProgressBar,
) -> Result<RebuildReport, StoreError> {
    let started = Instant::now();
    // Two rebuilds would drop each other's shadow tables.
    let _exclusive = backend.exclusive_rebuild().await?;
    let mut connection = backend.acquire().await?;
    connection.create_shadows().await?;
    progress.set_length(connection.head_position().await?.max(0) as u64);
    drop(connection);

    // Fold each page while the next one is read: the two cores share the work.
    let mut models = ReadModels::default();
    let mut events = 0u64;
    let read = |after: i64| {
        let backend = backend.clone();
        tokio::spawn(async move { backend.read_log(after, PAGE).await })
    };
    let mut next = read(0);
    loop {
        let page = next.await.map_err(|_| StoreError::TaskFailed)??;
        let Some(last) = page.last() else { break };
        next = read(last.position);
        for event in &page {
            models.apply(event);
        }
        events += page.len() as u64;
        report(progress, models.position, events);
    }
    let position = models.position;
    backend.write_shadow(models).await?;

    // Catch up with what was appended meanwhile, without holding the writers up.
    let mut position = position;
    loop {
        let page = in_transaction(backend, Lock::Shadow, async |tx: &mut B::Connection| {
            let page = tx.events_after(position, PAGE).await?;
            project_events(tx, Tables::SHADOW, &page).await?;
            Ok(page)
        })
        .await?;
        events += page.len() as u64;
        position = page.last().map_or(position, |event| event.position);
        report(progress, position, events);
        if (page.len() as i64) < PAGE {
            break;
        }
    }

    // The last few events and the swap, atomically, while no command can append.
    let tables: Vec<_> = projections.iter().flat_map(|p| p.tables()).collect();
    let (position, tail) = in_transaction(
        backend,
        Lock::Writers,
        async move |tx: &mut B::Connection| {
            let mut tail = 0u64;
            loop {
                let page: Vec<RecordedEvent> = tx.events_after(position, PAGE).await?;
                let Some(last) = page.last() else { break };
                position = last.position;
                tail += page.len() as u64;
                project_events(tx, Tables::SHADOW, &page).await?;
            }
            tx.swap_in(&tables).await?;
            for projection in projections {
                let name = [projection.name()];
                tx.set_checkpoints(&name, projection.version(), position, Utc::now())
                    .await?;
            }
            Ok((position, tail))
        },
    )
    .await?;
    events += tail;
    report(progress, position, events);
    backend.acquire().await?.drop_shadows().await?;
    Ok(RebuildReport {
        events,
        position,
        elapsed: started.elapsed(),
    })
}

fn report(progress: &ProgressBar, position: i64, events: u64) {
    if position as u64 > progress.length().unwrap_or(0) {
        progress.set_length(position as u64);
    }
    progress.set_position(position as u64);
    if progress.is_hidden() && events > 0 && events.is_multiple_of(PAGE as u64 * 10) {
        tracing::info!(events, position, "rebuild: folding the log");
    }
}

/// Writes the folded models to the shadow tables, a chunk per transaction, through the
/// backend's bulk statements.
pub(crate) async fn write_models<B: WriterBackend>(
    backend: &B,
    models: &ReadModels,
) -> Result<(), StoreError> {
    let tasks: Vec<_> = models.task_rows().collect();
    for chunk in tasks.chunks(ROWS_PER_TRANSACTION) {
        in_transaction(backend, Lock::Shadow, async |tx: &mut B::Connection| {
            tx.upsert_tasks(Tables::SHADOW, chunk).await
        })
        .await?;
    }
    let shares: Vec<_> = models.share_rows().collect();
    for chunk in shares.chunks(ROWS_PER_TRANSACTION) {
        in_transaction(backend, Lock::Shadow, async |tx: &mut B::Connection| {
            tx.upsert_shares(Tables::SHADOW, chunk).await
        })
        .await?;
    }
    let stats: Vec<_> = models.stats.values().collect();
    for chunk in stats.chunks(ROWS_PER_TRANSACTION) {
        in_transaction(backend, Lock::Shadow, async |tx: &mut B::Connection| {
            tx.save_stats(Tables::SHADOW, chunk).await
        })
        .await?;
    }
    Ok(())
}

/// Which transaction to open.
#[derive(Clone, Copy)]
pub(crate) enum Lock {
    /// Writes only shadow tables.
    Shadow,
    /// Excludes every command writer, of every process.
    Writers,
    /// Reads one consistent snapshot.
    Snapshot,
}

/// Runs `work` in a transaction on a fresh connection from `backend`: committed when it
/// succeeds, rolled back when it fails.
pub(crate) async fn in_transaction<B, T, W>(
    backend: &B,
    lock: Lock,
    work: W,
) -> Result<T, StoreError>
where
    B: WriterBackend,
    W: AsyncFnOnce(&mut B::Connection) -> Result<T, StoreError>,
{
    let mut connection = backend.acquire().await?;
    match lock {
        Lock::Shadow => connection.begin_shadow().await?,
        Lock::Writers => connection.begin().await?,
        Lock::Snapshot => connection.begin_snapshot().await?,
    }
    match work(&mut connection).await {
        Ok(value) => {
            connection.commit().await?;
            Ok(value)
        }
        Err(error) => {
            if let Err(rollback) = connection.rollback().await {
                tracing::warn!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}
