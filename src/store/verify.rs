//! `tally verify`: the read models checked against a fresh fold of the event log, and against
//! the invariants that must hold whatever the log says.
//!
//! Everything is read in one snapshot, so commands arriving meanwhile cannot look like drift.
//! The log is folded stream after stream ([`StreamFold`]); as each range of tasks ends, their
//! stored task and share rows are read and compared, and counted ([`Recount`]) for the
//! invariants. What stays in memory to the end is per user (dashboard rows, trend counts) or
//! per team (its row and members), so it grows with users and teams, not with events. With `--repair` the check runs in a transaction that
//! holds the writers' lock, and the rows that differ from the fold are rewritten in it: one
//! atomic fix.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use chrono::{DateTime, Utc};
use projections::{
    DailyRow, DashboardFigures, DashboardStats, DayCounts, Ended, Recount, StreamFold,
};
use uuid::Uuid;

use super::rebuild::{FIRST_STREAM, PAGE, Progress, ROWS_PER_TRANSACTION};
use super::tables::{daily_stats, dashboard_stats, rows, rows_at};
use super::tx::{Lock, Replay, ReplayTx, Tables, finish};
use super::{StoreError, UserRows};

mod report;
mod tasks;
mod teams;
pub use report::{RowDrift, UserDrift, VerifyReport};

/// Checks every read model; with `repair`, rewrites what drifted.
pub(crate) async fn verify<S: Replay + ?Sized>(
    store: &S,
    repair: bool,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<VerifyReport, StoreError> {
    let lock = if repair {
        Lock::Writers
    } else {
        Lock::Snapshot
    };
    store.prepare_stream_reads().await?;
    let mut tx = store.begin_replay(lock).await?;
    let report = check(tx.as_mut(), repair, now, progress).await;
    finish(tx, report).await
}

/// What a verify gathers as it goes through the task ranges.
struct Check {
    repair: bool,
    report: VerifyReport,
    /// The stored task and share rows counted.
    stored: Recount,
    /// Every user a stored task or share row names.
    users: BTreeSet<String>,
    /// The tasks shared with teams, whose team shares and access rows are compared once the
    /// fold has settled them.
    settled_later: Vec<Uuid>,
}

/// Folds the log stream after stream, compares, and with `repair` rewrites, in `tx`.
async fn check(
    tx: &mut dyn ReplayTx,
    repair: bool,
    now: DateTime<Utc>,
    progress: &dyn Progress,
) -> Result<VerifyReport, StoreError> {
    let head = tx.head_position().await?;
    let mut check = Check {
        repair,
        report: VerifyReport::default(),
        stored: Recount::new(now),
        users: BTreeSet::new(),
        settled_later: Vec::new(),
    };
    let mut fold = StreamFold::default();
    let mut ended: Vec<Ended> = Vec::new();
    // The first task id of the range not compared yet; `None` once every id has been.
    let mut from = Some(Uuid::nil());
    let mut cursor = FIRST_STREAM;
    loop {
        let page = tx.events_by_stream(cursor, head, PAGE).await?;
        for event in &page {
            ended.extend(fold.apply(event));
        }
        progress.folded(fold.events, head);
        match page.last() {
            Some(last) if page.len() as i64 == PAGE => {
                cursor = (last.stream_id, last.stream_version);
            }
            _ => break,
        }
        // The ended tasks' ids are in order and below the stream still being folded.
        if let (Some(start), Some(view)) = (from, ended.last())
            && ended.len() >= ROWS_PER_TRANSACTION
        {
            let end = view.view.task.as_ref().map_or(start, |task| task.id);
            check.range(tx, start, end, &ended).await?;
            from = end.as_u128().checked_add(1).map(Uuid::from_u128);
            ended.clear();
        }
    }
    ended.extend(fold.finish());
    if let Some(start) = from {
        check.range(tx, start, Uuid::max(), &ended).await?;
    }
    let settled = fold.settle();
    check.settled(tx, settled).await?;
    check.users(tx, &fold, now).await
}

impl Check {
    fn note_user(&mut self, user_id: &str) {
        if !self.users.contains(user_id) {
            self.users.insert(user_id.to_owned());
        }
    }

    /// Compares the per-user and per-team rows with the fold's and with the recount, and with
    /// `repair` rewrites them from the fold; answers the report.
    async fn users(
        mut self,
        tx: &mut dyn ReplayTx,
        fold: &StreamFold,
        now: DateTime<Utc>,
    ) -> Result<VerifyReport, StoreError> {
        let stored = tx.whole_tables(Tables::Live).await?;
        self.teams(
            tx,
            fold,
            &stored.teams,
            &stored.members,
            &stored.team_stats,
            now,
        )
        .await?;
        // The invariants broken before this point are the teams' and the tasks'.
        let violations_before = self.report.violations.len();
        let stored_stats: BTreeMap<&str, &DashboardStats> = stored
            .stats
            .iter()
            .map(|row| (row.user_id.as_str(), row))
            .collect();
        let stored_daily: BTreeMap<(String, i32), DayCounts> = stored
            .daily
            .iter()
            .map(|row| ((row.user_id.clone(), row.day), row.counts))
            .collect();
        let mut users = std::mem::take(&mut self.users);
        users.extend(fold.stats.keys().cloned());
        users.extend(fold.daily.keys().map(|(user, _)| user.clone()));
        users.extend(stored_stats.keys().map(|user| (*user).to_owned()));
        users.extend(stored_daily.keys().map(|(user, _)| user.clone()));
        let report = &mut self.report;
        report.position = fold.position;
        report.users = users.len();
        for user in &users {
            let row = stored_stats.get(user.as_str()).copied();
            let figures = row.map(|row| row.figures(now)).unwrap_or_default();
            let expected = fold
                .stats
                .get(user)
                .map(|stats| stats.figures(now))
                .unwrap_or_default();
            let figures_differ = differences(&figures, &expected);
            if !figures_differ.is_empty() {
                report.drifted.push(UserDrift {
                    user_id: user.clone(),
                    figures: figures_differ,
                });
            }
            // Whatever the log says, the row must agree with COUNT(*) over the tables beside it.
            let counted = self.stored.figures(user);
            for (name, row_value, count) in differences(&figures, &counted) {
                report.violations.push(format!(
                    "{user}: {name} is {row_value} in dashboard_stats but {count} by counting \
                     tasks and shares"
                ));
            }
            if let Some(row) = row
                && [row.pending, row.completed, row.shared_view, row.shared_edit]
                    .iter()
                    .any(|count| *count < 0)
            {
                report.violations.push(format!("{user}: a negative count"));
            }
            // Whatever the log says, the trend must agree with COUNT(*) over the tasks beside it.
            let days: BTreeMap<i32, DayCounts> = stored_daily
                .range((user.clone(), i32::MIN)..=(user.clone(), i32::MAX))
                .map(|((_, day), counts)| (*day, *counts))
                .collect();
            if days != self.stored.daily_of(user) {
                report.violations.push(format!(
                    "{user}: daily_stats differs from counting tasks by day"
                ));
            }
        }
        report.daily.compare(
            &fold
                .daily
                .iter()
                .map(|(key, counts)| (key.clone(), counts))
                .collect(),
            &stored_daily
                .iter()
                .map(|(key, counts)| (key.clone(), counts))
                .collect(),
            |(user, day)| format!("{user} on day {day}"),
        );
        let users_drifted = !report.drifted.is_empty()
            || !report.daily.is_clean()
            || report.violations.len() > violations_before;
        if self.repair && users_drifted {
            rewrite_users(tx, fold, &stored.stats, &stored.daily).await?;
        }
        // The teams were rewritten above, the tasks and shares range by range.
        report.repaired = self.repair && !report.is_clean();
        Ok(self.report)
    }
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

/// Makes the live per-user tables equal the fold: every dashboard and trend row is rewritten
/// from the fold (zeros for a user or day the fold has no row for). The task and share rows
/// were rewritten range by range.
async fn rewrite_users(
    tx: &mut dyn ReplayTx,
    fold: &StreamFold,
    stored_stats: &[DashboardStats],
    stored_daily: &[DailyRow],
) -> Result<(), StoreError> {
    let live = Tables::Live;
    let empty: Vec<DashboardStats> = stored_stats
        .iter()
        .filter(|row| !fold.stats.contains_key(&row.user_id))
        .map(|row| DashboardStats::empty(&row.user_id))
        .collect();
    let stats: Vec<&DashboardStats> = fold.stats.values().chain(&empty).collect();
    // The fold's trend rows, and zeros for the stored ones it lacks.
    let mut daily = fold.daily_rows();
    daily.extend(
        stored_daily
            .iter()
            .filter(|row| !fold.daily.contains_key(&(row.user_id.clone(), row.day)))
            .map(|row| DailyRow {
                counts: DayCounts::default(),
                ..row.clone()
            }),
    );
    // Upserted, each row replaces the stored one.
    tx.upsert(&dashboard_stats::TABLE, live, &rows_at(&stats))
        .await?;
    tx.upsert(&daily_stats::TABLE, live, &rows(&daily)).await
}

/// One user's stored row against a recount of the tasks they own or that are shared with them
/// and of their shares: what the sampled check of the scheduled jobs compares. `None` when they
/// agree.
pub(crate) fn check_user(user_id: &str, rows: UserRows, now: DateTime<Utc>) -> Option<UserDrift> {
    let mut recount = Recount::new(now);
    let existing: HashSet<Uuid> = rows.tasks.iter().map(|task| task.id).collect();
    for task in rows.tasks.iter().filter(|task| task.owner_id == user_id) {
        recount.add_task(task);
    }
    for row in &rows.access {
        if let Some(permission) = row.permission()
            && row.user_id == user_id
            && existing.contains(&row.task_id)
        {
            recount.add_shared(user_id, permission);
        }
    }
    let counted = recount.figures(user_id);
    let figures = rows.stats.map(|row| row.figures(now)).unwrap_or_default();
    let drift = differences(&figures, &counted);
    (!drift.is_empty()).then(|| UserDrift {
        user_id: user_id.to_owned(),
        figures: drift,
    })
}
