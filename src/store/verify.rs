//! `tally verify`: the read models checked against a fresh fold of the event log, and against
//! the invariants that must hold whatever the log says.
//!
//! Everything is read in one snapshot, so commands arriving meanwhile cannot look like drift.
//! With `--repair` the check runs in a transaction that holds the writers' lock, and the rows
//! that differ from the fold are rewritten in it: one atomic fix.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use projections::{
    DailyRow, DashboardFigures, DashboardStats, DayCounts, ReadModels, ShareRow, TaskRow, TaskView,
};
use serde::Serialize;
use uuid::Uuid;

use super::rebuild::PAGE;
use super::tx::{AllRows, DailyWrite, Lock, Replay, ReplayTx, Tables, finish};
use super::{StoreError, UserRows};

/// What `verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// The log was checked up to here.
    pub position: i64,
    /// Users with figures, in the fold or in the tables.
    pub users: usize,
    /// Users whose stored figures differ from the fold's.
    pub drifted: Vec<UserDrift>,
    /// Task and share rows that differ from the fold's.
    pub tasks: RowDrift,
    pub shares: RowDrift,
    /// Trend rows (by user and day) that differ from the fold's.
    pub daily: RowDrift,
    /// Broken invariants of the stored tables themselves.
    pub violations: Vec<String>,
    /// Whether the drifted rows were rewritten.
    pub repaired: bool,
}

impl VerifyReport {
    /// No drift and no broken invariant.
    pub fn is_clean(&self) -> bool {
        self.drifted.is_empty()
            && self.tasks.is_clean()
            && self.shares.is_clean()
            && self.daily.is_clean()
            && self.violations.is_empty()
    }
}

/// One user's figures that differ: name, stored value, value the log gives.
#[derive(Clone, Debug, Serialize)]
pub struct UserDrift {
    pub user_id: String,
    pub figures: Vec<(String, serde_json::Value, serde_json::Value)>,
}

/// Rows that the fold has and the table lacks, the other way round, or that differ.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct RowDrift {
    pub missing: usize,
    pub unexpected: usize,
    pub different: usize,
}

impl RowDrift {
    fn is_clean(&self) -> bool {
        self.missing + self.unexpected + self.different == 0
    }
}

/// Checks every read model; with `repair`, rewrites what drifted.
pub(crate) async fn verify<S: Replay + ?Sized>(
    store: &S,
    repair: bool,
    now: DateTime<Utc>,
) -> Result<VerifyReport, StoreError> {
    let lock = if repair {
        Lock::Writers
    } else {
        Lock::Snapshot
    };
    let mut tx = store.begin_replay(lock).await?;
    let report = check(tx.as_mut(), repair, now).await;
    finish(tx, report).await
}

/// Folds the whole log, compares, and with `repair` rewrites, in `tx`.
async fn check(
    tx: &mut dyn ReplayTx,
    repair: bool,
    now: DateTime<Utc>,
) -> Result<VerifyReport, StoreError> {
    let mut fold = ReadModels::default();
    loop {
        let page = tx.events_after(fold.position, PAGE).await?;
        if page.is_empty() {
            break;
        }
        for event in &page {
            fold.apply(event);
        }
    }
    let stored = tx.all_rows(Tables::LIVE).await?;
    let mut report = compare(&fold, &stored, now);
    if repair && !report.is_clean() {
        rewrite(tx, &fold, &stored).await?;
        report.repaired = true;
    }
    Ok(report)
}

/// The fold against the stored rows, figure by figure and row by row.
fn compare(fold: &ReadModels, stored: &AllRows, now: DateTime<Utc>) -> VerifyReport {
    let stored_models = as_models(stored);
    let stored_stats: BTreeMap<&str, &DashboardStats> = stored
        .stats
        .iter()
        .map(|row| (row.user_id.as_str(), row))
        .collect();
    let users: BTreeSet<String> = fold
        .users()
        .into_iter()
        .chain(stored_models.users())
        .collect();
    let mut report = VerifyReport {
        position: fold.position,
        users: users.len(),
        ..VerifyReport::default()
    };
    for user in &users {
        let row = stored_stats.get(user.as_str()).copied();
        let figures = row.map(|row| row.figures(now)).unwrap_or_default();
        let expected = fold.figures(user, now);
        let figures_differ = differences(&figures, &expected);
        if !figures_differ.is_empty() {
            report.drifted.push(UserDrift {
                user_id: user.clone(),
                figures: figures_differ,
            });
        }
        // Whatever the log says, the row must agree with COUNT(*) over the tables beside it.
        let counted = stored_models.recount(user, now);
        for (name, row_value, count) in differences(&figures, &counted) {
            report.violations.push(format!(
                "{user}: {name} is {row_value} in dashboard_stats but {count} by counting tasks \
                 and shares"
            ));
        }
        if let Some(row) = row
            && [row.pending, row.completed, row.shared_view, row.shared_edit]
                .iter()
                .any(|count| *count < 0)
        {
            report.violations.push(format!("{user}: a negative count"));
        }
    }
    let task_rows = |models: &ReadModels| -> BTreeMap<Uuid, TaskRow> {
        models
            .task_rows()
            .map(|task| (task.id, task.clone()))
            .collect()
    };
    report.tasks = row_drift(&task_rows(fold), &task_rows(&stored_models));
    let share_rows = |models: &ReadModels| -> BTreeMap<(Uuid, String), ShareRow> {
        models
            .share_rows()
            .map(|share| ((share.task_id, share.user_id.clone()), share.clone()))
            .collect()
    };
    report.shares = row_drift(&share_rows(fold), &share_rows(&stored_models));
    report.daily = row_drift(&fold.daily, &stored_models.daily);
    for user in &users {
        // Whatever the log says, the trend must agree with COUNT(*) over the tasks beside it.
        if stored_models.daily_of(user) != stored_models.recount_daily(user) {
            report.violations.push(format!(
                "{user}: daily_stats differs from counting tasks by day"
            ));
        }
    }
    report
}

/// The stored task and share rows as a [`ReadModels`], so they can be counted like the fold.
fn as_models(stored: &AllRows) -> ReadModels {
    let mut models = ReadModels::default();
    for task in &stored.tasks {
        models.tasks.insert(
            task.id,
            TaskView {
                task: Some(task.clone()),
                shares: Vec::new(),
            },
        );
    }
    for share in &stored.shares {
        models
            .tasks
            .entry(share.task_id)
            .or_default()
            .shares
            .push(share.clone());
    }
    for row in &stored.stats {
        models.stats.insert(row.user_id.clone(), row.clone());
    }
    for row in &stored.daily {
        models
            .daily
            .insert((row.user_id.clone(), row.day), row.counts);
    }
    models
}

/// The figures that differ, by name, with both values.
fn differences(
    actual: &DashboardFigures,
    expected: &DashboardFigures,
) -> Vec<(String, serde_json::Value, serde_json::Value)> {
    let (serde_json::Value::Object(actual), serde_json::Value::Object(expected)) = (
        serde_json::to_value(actual).unwrap_or_default(),
        serde_json::to_value(expected).unwrap_or_default(),
    ) else {
        return Vec::new();
    };
    expected
        .into_iter()
        .filter(|(name, value)| actual.get(name) != Some(value))
        .map(|(name, value)| {
            let stored = actual.get(&name).cloned().unwrap_or_default();
            (name, stored, value)
        })
        .collect()
}

fn row_drift<K: Ord, V: PartialEq>(expected: &BTreeMap<K, V>, stored: &BTreeMap<K, V>) -> RowDrift {
    RowDrift {
        missing: expected.keys().filter(|k| !stored.contains_key(k)).count(),
        unexpected: stored.keys().filter(|k| !expected.contains_key(k)).count(),
        different: expected
            .iter()
            .filter(|(k, v)| stored.get(k).is_some_and(|s| s != *v))
            .count(),
    }
}

/// Makes the live tables equal the fold: rows that differ or are missing are written, task and
/// share rows the fold lacks are deleted, and every dashboard and trend row is rewritten from
/// the fold (zeros for a user or day the fold has no row for).
async fn rewrite(
    tx: &mut dyn ReplayTx,
    fold: &ReadModels,
    stored: &AllRows,
) -> Result<(), StoreError> {
    let live = Tables::LIVE;
    let expected_tasks: Vec<&TaskRow> = fold.task_rows().collect();
    let expected_ids: BTreeSet<Uuid> = expected_tasks.iter().map(|task| task.id).collect();
    let extra_tasks: Vec<Uuid> = stored
        .tasks
        .iter()
        .map(|task| task.id)
        .filter(|id| !expected_ids.contains(id))
        .collect();
    let expected_shares: Vec<&ShareRow> = fold.share_rows().collect();
    let expected_keys: BTreeSet<(Uuid, &str)> = expected_shares
        .iter()
        .map(|share| (share.task_id, share.user_id.as_str()))
        .collect();
    let extra_shares: Vec<(Uuid, &str)> = stored
        .shares
        .iter()
        .map(|share| (share.task_id, share.user_id.as_str()))
        .filter(|key| !expected_keys.contains(key))
        .collect();
    let empty: Vec<DashboardStats> = stored
        .stats
        .iter()
        .filter(|row| !fold.stats.contains_key(&row.user_id))
        .map(|row| DashboardStats::empty(&row.user_id))
        .collect();
    let stats: Vec<&DashboardStats> = fold.stats.values().chain(&empty).collect();
    // The fold's trend rows, and zeros for the stored ones it lacks.
    let mut daily = fold.daily_rows();
    daily.extend(
        stored
            .daily
            .iter()
            .filter(|row| !fold.daily.contains_key(&(row.user_id.clone(), row.day)))
            .map(|row| DailyRow {
                counts: DayCounts::default(),
                ..row.clone()
            }),
    );
    // Each of these splits its rows into statements of its own size.
    tx.delete_tasks(live, &extra_tasks).await?;
    tx.delete_shares(live, &extra_shares).await?;
    tx.upsert_tasks(live, &expected_tasks).await?;
    tx.upsert_shares(live, &expected_shares).await?;
    tx.save_stats(live, &stats).await?;
    tx.save_daily(live, &daily, DailyWrite::Replace).await
}

/// One user's stored row against a recount of the tasks they own or that are shared with them
/// and of their shares: what the sampled check of the scheduled jobs compares. `None` when they
/// agree.
pub(crate) fn check_user(user_id: &str, rows: UserRows, now: DateTime<Utc>) -> Option<UserDrift> {
    let stored = AllRows {
        tasks: rows.tasks,
        shares: rows.shares,
        stats: Vec::new(),
        daily: Vec::new(),
    };
    let counted = as_models(&stored).recount(user_id, now);
    let figures = rows.stats.map(|row| row.figures(now)).unwrap_or_default();
    let drift = differences(&figures, &counted);
    (!drift.is_empty()).then(|| UserDrift {
        user_id: user_id.to_owned(),
        figures: drift,
    })
}
