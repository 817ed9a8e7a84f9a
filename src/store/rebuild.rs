//! `tally rebuild`: the read models rebuilt from the event log without stopping the service.
//!
//! 1. Empty shadow tables are created beside the live ones (`tasks_rebuild`, …).
//! 2. The log up to its head is folded stream after stream, through the same fold as the live
//!    path: each task's rows go to the shadows in bulk as its stream ends, a chunk per
//!    transaction, and only the per-user rows (dashboard and trend) and the teams are kept to
//!    the end, so memory grows with users and teams, not with events.
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

use std::collections::BTreeMap;

use chrono::Utc;
use projections::changeset::distinct;
use projections::{
    Access, Changeset, Ended, Event, ReadModels, RecordedEvent, Settled, StreamFold, TaskEvent,
    TaskView,
};
use uuid::Uuid;

use super::StoreError;
use super::tables::{
    self, Table, daily_stats, dashboard_stats, task_access, task_shares, task_team_shares, tasks,
    team_members, team_stats, teams,
};
use super::tx::{Lock, Replay, ReplayTx, StreamCursor, Tables, finish, load_and_apply};

/// Events read from the log at a time.
pub(crate) const PAGE: i64 = 20_000;

/// Before the first stream of the log (versions start at 1).
pub(crate) const FIRST_STREAM: StreamCursor = (Uuid::nil(), 0);

/// A read model `tally rebuild` can rebuild, with the version of the code that projects it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Projection {
    /// The `tasks`, `task_shares`, `task_team_shares` and `task_access` tables.
    Tasks,
    /// The `dashboard_stats` table.
    Dashboard,
    /// The `daily_stats` table.
    Trend,
    /// The `teams`, `team_members` and `team_stats` tables.
    Teams,
}

impl Projection {
    pub const ALL: [Projection; 4] = [
        Projection::Tasks,
        Projection::Dashboard,
        Projection::Trend,
        Projection::Teams,
    ];

    /// Bumped whenever the fold changes what this projection stores: a store whose checkpoint
    /// has an older version needs a rebuild.
    pub const fn version(self) -> i32 {
        match self {
            Projection::Tasks => 1,
            Projection::Dashboard => 1,
            Projection::Trend => 1,
            Projection::Teams => 1,
        }
    }

    /// The checkpoint's name.
    pub const fn name(self) -> &'static str {
        match self {
            Projection::Tasks => "tasks",
            Projection::Dashboard => "dashboard",
            Projection::Trend => "trend",
            Projection::Teams => "teams",
        }
    }

    /// The projections a name chooses: one by its name, or `all`.
    pub fn chosen(name: &str) -> Option<Vec<Projection>> {
        if name == "all" {
            return Some(Projection::ALL.to_vec());
        }
        let found = Projection::ALL.into_iter().find(|p| p.name() == name)?;
        Some(vec![found])
    }

    /// The tables it owns.
    fn tables(self) -> &'static [&'static Table] {
        match self {
            Projection::Tasks => &[
                &tasks::TABLE,
                &task_shares::TABLE,
                &task_team_shares::TABLE,
                &task_access::TABLE,
            ],
            Projection::Dashboard => &[&dashboard_stats::TABLE],
            Projection::Trend => &[&daily_stats::TABLE],
            Projection::Teams => &[&teams::TABLE, &team_members::TABLE, &team_stats::TABLE],
        }
    }
}

/// Whoever shows a rebuild's or a verify's progress (the CLI draws a bar; tests pass `&()`).
pub trait Progress: Send + Sync {
    /// `events` events of the log have been folded, of about `head` (the head's position when
    /// the fold began: the number of events, near enough). Unless told otherwise, a line in
    /// the log every 200,000 events.
    fn folded(&self, events: u64, head: i64) {
        if events > 0 && events.is_multiple_of(PAGE as u64 * 10) {
            tracing::info!(events, head, "folding the log");
        }
    }
}

impl Progress for () {}

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
pub(crate) async fn rebuild<S: Replay + ?Sized>(
    store: &S,
    projections: &[Projection],
    progress: &dyn Progress,
) -> Result<RebuildReport, StoreError> {
    // Two rebuilds would drop each other's shadow tables.
    let exclusive = store.lock_rebuilds().await?;
    let rebuilt = rebuild_alone(store, projections, progress).await;
    // Whatever happened: a lock left to the dying session could refuse the next rebuild.
    if let Err(error) = exclusive.release().await {
        tracing::warn!(%error, "the rebuild lock was not released; it goes with the connection");
    }
    rebuilt
}

/// The rebuild, once this process holds the rebuild lock.
async fn rebuild_alone<S: Replay + ?Sized>(
    store: &S,
    projections: &[Projection],
    progress: &dyn Progress,
) -> Result<RebuildReport, StoreError> {
    let started = Instant::now();
    let mut tx = store.begin_replay(Lock::Shadow).await?;
    let head = match tx.create_shadows().await {
        Ok(()) => tx.head_position().await,
        Err(error) => Err(error),
    };
    let head = finish(tx, head).await?;
    let report = |events: u64| progress.folded(events, head);

    // Stream after stream, so that a task's rows are done when its stream ends: they go to
    // the shadows a chunk at a time, and only the per-user rows and the teams stay in memory
    // to the end.
    // Each page is folded on a blocking thread while the next one is read and the chunk ended
    // before it written: the two cores share the work.
    let mut fold = StreamFold::default();
    let mut ended: Vec<Ended> = Vec::new();
    store.prepare_stream_reads().await?;
    let mut page = store.read_streams(FIRST_STREAM, head, PAGE).await?;
    loop {
        let full = page.len() as i64 == PAGE;
        let cursor = page
            .last()
            .map(|event| (event.stream_id, event.stream_version))
            .filter(|_| full);
        let folding = tokio::task::spawn_blocking(move || {
            let mut done = Vec::new();
            for event in &page {
                done.extend(fold.apply(event));
            }
            (fold, done)
        });
        let next = async {
            match cursor {
                Some(cursor) => store.read_streams(cursor, head, PAGE).await,
                None => Ok(Vec::new()),
            }
        };
        let chunk = if ended.len() >= ROWS_PER_TRANSACTION {
            std::mem::take(&mut ended)
        } else {
            Vec::new()
        };
        let (folded, next, written) = tokio::join!(folding, next, write_views(store, chunk));
        let done;
        (fold, done) = folded.map_err(|_| StoreError::TaskFailed)?;
        written?;
        ended.extend(done);
        report(fold.events);
        if cursor.is_none() {
            break;
        }
        page = next?;
    }
    ended.extend(fold.finish());
    write_views(store, ended).await?;
    let Settled {
        team_shares,
        access,
    } = fold.settle();
    let mut events = fold.events;
    let mut settled: BTreeMap<Uuid, TaskView> = BTreeMap::new();
    for share in team_shares {
        // Views holding only their team shares: the task rows went with their ranges.
        settled
            .entry(share.task_id)
            .or_default()
            .team_shares
            .push(share);
    }
    store
        .write_shadows(ReadModels {
            tasks: settled,
            access: Access::with_rows(access),
            team_stats: fold.team_stats,
            teams: fold.teams,
            stats: fold.stats,
            daily: fold.daily,
            position: fold.position,
        })
        .await?;
    let position = head.max(fold.position);

    // Catch up with what was appended meanwhile, without holding the writers up.
    let mut position = position;
    loop {
        let mut tx = store.begin_replay(Lock::Shadow).await?;
        let page = catch_up(tx.as_mut(), position).await;
        let page = finish(tx, page).await?;
        events += page.len() as u64;
        position = page.last().map_or(position, |event| event.position);
        report(events);
        if (page.len() as i64) < PAGE {
            break;
        }
    }

    // The last few events and the swap, atomically, while no command can append.
    let mut tx = store.begin_replay(Lock::Writers).await?;
    let swapped = swap_in(tx.as_mut(), position, projections).await;
    let (position, tail) = finish(tx, swapped).await?;
    events += tail;
    report(events);
    let mut tx = store.begin_replay(Lock::Shadow).await?;
    let dropped = tx.drop_shadows().await;
    finish(tx, dropped).await?;
    store.analyze_after_bulk_load().await;
    Ok(RebuildReport {
        events,
        position,
        elapsed: started.elapsed(),
    })
}

/// Writes the rows of tasks whose streams have ended to the shadow tables.
async fn write_views<S: Replay + ?Sized>(store: &S, ended: Vec<Ended>) -> Result<(), StoreError> {
    if ended.is_empty() {
        return Ok(());
    }
    let mut tasks = BTreeMap::new();
    let mut access = Vec::new();
    for Ended {
        view, access: rows, ..
    } in ended
    {
        access.extend(rows);
        if let Some(task) = &view.task {
            tasks.insert(task.id, view);
        }
    }
    store
        .write_shadows(ReadModels {
            tasks,
            access: Access::with_rows(access),
            ..ReadModels::default()
        })
        .await
}

/// Projects the page of events after `position` onto the shadow tables; returns the page.
async fn catch_up(tx: &mut dyn ReplayTx, position: i64) -> Result<Vec<RecordedEvent>, StoreError> {
    let page = tx.events_after(position, PAGE).await?;
    project_events(tx, Tables::Shadow, &page).await?;
    Ok(page)
}

/// Projects the last events after `position` onto the shadow tables and swaps the chosen
/// `projections` in; returns the position they include and how many events that took.
async fn swap_in(
    tx: &mut dyn ReplayTx,
    mut position: i64,
    projections: &[Projection],
) -> Result<(i64, u64), StoreError> {
    let mut tail = 0u64;
    loop {
        let page = tx.events_after(position, PAGE).await?;
        let Some(last) = page.last() else { break };
        position = last.position;
        tail += page.len() as u64;
        project_events(tx, Tables::Shadow, &page).await?;
    }
    let tables: Vec<_> = projections
        .iter()
        .flat_map(|p| p.tables().iter().copied())
        .collect();
    tx.swap_in(&tables).await?;
    for projection in projections {
        tx.set_checkpoint(
            projection.name(),
            projection.version(),
            position,
            Utc::now(),
        )
        .await?;
    }
    Ok((position, tail))
}

/// Folds `events` (in position order) onto the rows of `tables` and writes the result.
async fn project_events(
    tx: &mut dyn ReplayTx,
    tables: Tables,
    events: &[RecordedEvent],
) -> Result<(), StoreError> {
    let streams = |team: bool| {
        distinct(
            events
                .iter()
                .filter(|event| matches!(event.event, Event::Team(_)) == team)
                .map(|event| event.stream_id),
        )
    };
    let task_ids = streams(false);
    // The teams a team share names too: the fold needs their members.
    let named = events
        .iter()
        .filter_map(|event| event.event.as_task().and_then(TaskEvent::team_id));
    let team_ids = distinct(streams(true).into_iter().chain(named));
    let mut changes = Changeset::new(
        tx.load_views(tables, &task_ids).await?,
        tx.load_team_views(tables, &team_ids).await?,
    );
    for event in events {
        load_and_apply(tx, tables, &mut changes, event).await?;
    }
    tx.write_changeset(tables, &changes).await?;
    Ok(())
}

/// Writes the folded models to the shadow tables, a chunk per transaction, through the
/// backend's bulk statements.
pub(crate) async fn write_models<S: Replay + ?Sized>(
    store: &S,
    models: &ReadModels,
) -> Result<(), StoreError> {
    let daily = models.daily_rows();
    for (table, rows) in tables::rows_of(models, &daily) {
        for chunk in rows.chunks(ROWS_PER_TRANSACTION) {
            let mut tx = store.begin_replay(Lock::Shadow).await?;
            let written = tx.upsert(table, Tables::Shadow, chunk).await;
            finish(tx, written).await?;
        }
    }
    Ok(())
}

/// Rows written to a shadow table per transaction: short enough that SQLite's one write lock
/// is never held long away from the live writer.
pub(crate) const ROWS_PER_TRANSACTION: usize = 20_000;
