//! The storage transactions, as traits: what the command writer ([`Tx`]), and rebuild and verify
//! ([`ReplayTx`]), read and write inside one transaction, and the backends that open them
//! ([`Transactions`], [`Replay`]). Implemented once for both backends in `store/common/`
//! (`write_tx.rs`, `replay_tx.rs`, `queries.rs`).
//!
//! Every method takes all the rows of a batch at once: a batch of 1,024 commands costs a handful
//! of statements rather than a handful per command. That matters because each statement is a
//! round trip (to the server, or to sqlx's SQLite worker thread), and round trips, not SQL, are
//! what a small command spends its time on.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{
    AccessRow, Changeset, DailyRow, DashboardStats, MemberRow, Needs, ReadModels, RecordedEvent,
    ShareRow, TaskRow, TaskView, TeamRow, TeamShareRow, TeamStats, TeamView,
};
use uuid::Uuid;

use super::StoreError;
pub use super::tables::Tables;
use super::tables::{Row, Table};

/// Which transaction to open.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lock {
    /// Excludes every other command writer, of any process, until it ends, so positions are
    /// handed out in commit order.
    Writers,
    /// Writes only a rebuild's shadow tables: it need not exclude the writers of the live
    /// tables (SQLite has one write lock for everything anyway).
    Shadow,
    /// Reads one consistent snapshot, writes nothing.
    Snapshot,
}

/// An event about to be appended, its position already assigned.
#[derive(Clone, Debug)]
pub struct NewEvent {
    pub recorded: RecordedEvent,
    pub correlation_id: Uuid,
}

/// A row of `idempotency_keys`: the first response to a request, replayed to its repeats.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyRecord {
    pub user_id: String,
    pub key: String,
    /// A digest of the request; a repeat must match it.
    pub fingerprint: String,
    /// The task or team the command named (stored as `task_id`).
    pub task_id: Uuid,
    /// What a success answered (zeros for a refusal).
    pub version: i64,
    pub position: i64,
    pub created: bool,
    /// The slug of the refusal, `None` for a success.
    pub refusal: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// Where a read of the log stream after stream goes on from: after this stream's version.
pub type StreamCursor = (Uuid, i64);

/// The stored task, share and access rows of one range of task ids.
#[derive(Debug, Default)]
pub struct TaskRange {
    pub tasks: Vec<TaskRow>,
    pub shares: Vec<ShareRow>,
    pub team_shares: Vec<TeamShareRow>,
    pub access: Vec<AccessRow>,
}

/// Every stored per-user and per-team row: what a verify keeps whole (users and teams are far
/// fewer than events).
#[derive(Debug, Default)]
pub struct WholeTables {
    pub stats: Vec<DashboardStats>,
    /// The trend rows that count something.
    pub daily: Vec<DailyRow>,
    pub teams: Vec<TeamRow>,
    pub members: Vec<MemberRow>,
    pub team_stats: Vec<TeamStats>,
}

/// Opens the transactions commands and scheduled jobs run in.
#[async_trait]
pub trait Transactions: Send + Sync {
    /// A transaction on a connection of its own; if dropped unfinished, its connection is
    /// closed, which ends it without committing.
    async fn begin(&self, lock: Lock) -> Result<Box<dyn Tx>, StoreError>;
}

/// The bulk reads and writes of a batch, inside an open transaction.
#[async_trait]
pub trait Tx: Send {
    /// The position of the newest event; the batch's events follow it.
    async fn head_position(&mut self) -> Result<i64, StoreError>;
    /// The position of each task's newest event (tasks without events are absent).
    async fn stream_heads(&mut self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, StoreError>;
    /// The records stored under any of `keys` (user id, key), expired ones included: whether
    /// one still replays depends on the command's own time.
    async fn find_responses(
        &mut self,
        keys: &[(&str, &str)],
    ) -> Result<Vec<IdempotencyRecord>, StoreError>;
    /// Stores each record, replacing an expired one under the same key.
    async fn save_responses(&mut self, records: &[IdempotencyRecord]) -> Result<(), StoreError>;
    /// The current rows of each task that exists, with its shares.
    async fn load_views(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, TaskView>, StoreError>;
    /// The current rows of each team that exists, with its members.
    async fn load_team_views(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, TeamView>, StoreError>;
    /// The access rows stored under `keys` (task, user).
    async fn load_access(
        &mut self,
        tables: Tables,
        keys: &[(Uuid, String)],
    ) -> Result<Vec<AccessRow>, StoreError>;
    /// Every access row of each of `task_ids`.
    async fn load_task_access(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> Result<Vec<AccessRow>, StoreError>;
    /// The shares of each of `team_ids`, each with its task's owner.
    async fn load_team_tasks(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<Vec<(TeamShareRow, String)>, StoreError>;
    async fn append(&mut self, events: &[NewEvent]) -> Result<(), StoreError>;
    /// Writes each of `rows` (rows of `table`) to `table` among `tables`; where a row with its
    /// key is stored, the columns an upsert changes (all but its key and `Table::kept`).
    async fn upsert(
        &mut self,
        table: &'static Table,
        tables: Tables,
        rows: &[&Row<'_>],
    ) -> Result<(), StoreError>;
    /// Deletes the rows of `table` among `tables` under `keys` (each its key's columns).
    async fn delete(
        &mut self,
        table: &'static Table,
        tables: Tables,
        keys: &[&Row<'_>],
    ) -> Result<(), StoreError>;
    /// The rows of `team_ids` in `team_stats` of `tables` (teams without one absent).
    async fn load_team_stats(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<Vec<TeamStats>, StoreError>;
    /// The dashboard rows of `user_ids` in `tables` (users without one absent).
    async fn load_stats(
        &mut self,
        tables: Tables,
        user_ids: &[&str],
    ) -> Result<Vec<DashboardStats>, StoreError>;
    /// Writes the rows `changes` changed to `tables`: the one way events reach the read
    /// models, for the writer's batches and a rebuild's catch-up alike. Answers the dashboard
    /// rows as it left them (what the live streams of those users show next).
    async fn write_changeset(
        &mut self,
        tables: Tables,
        changes: &Changeset,
    ) -> Result<Vec<DashboardStats>, StoreError>;
    /// Announces, on commit, that `node` committed `events` events up to `position` that
    /// changed the figures of `users` (`None`: of anyone; see `crate::live::announcement`);
    /// nothing where no other server can listen.
    async fn announce(
        &mut self,
        node: Uuid,
        position: i64,
        events: usize,
        users: Option<&[&str]>,
    ) -> Result<(), StoreError>;
    /// Records that the live read models have applied the log up to `position`.
    async fn save_checkpoints(
        &mut self,
        position: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Rewrites one row as it is: a write the database must make, though nothing changes. The
    /// writer commits it to learn whether commands can commit again after an outage.
    async fn probe_write(&mut self) -> Result<(), StoreError>;
    /// One chunk of the day/week roll-over (see `sql::ROLL_OVER`); the rows changed.
    async fn roll_over(&mut self, day: i32, week: i32) -> Result<u64, StoreError>;
    async fn commit(self: Box<Self>) -> Result<(), StoreError>;
    /// Rolls back; a connection whose state is then unknown is closed, never pooled again.
    async fn rollback(self: Box<Self>) -> Result<(), StoreError>;
}

/// What rebuild and verify need of a backend beyond the writer's transactions: the log read
/// in pages, shadow tables and one rebuild at a time.
#[async_trait]
pub trait Replay: Send + Sync {
    async fn begin_replay(&self, lock: Lock) -> Result<Box<dyn ReplayTx>, StoreError>;
    /// Keeps every other rebuild of the database out until released, and is let go of by
    /// itself when its process dies. `Err(StoreError::RebuildRunning)` when taken.
    async fn lock_rebuilds(&self) -> Result<Box<dyn RebuildLock>, StoreError>;
    /// Readies the database to read the log stream by stream ([`read_streams`](Self::read_streams),
    /// [`ReplayTx::events_by_stream`]) along its index; before a rebuild or verify begins.
    async fn prepare_stream_reads(&self) -> Result<(), StoreError>;
    /// Gives the planner statistics of the tables a bulk load (a seed, a rebuild) just filled,
    /// rather than leave it planning for empty tables until autovacuum comes by. Best effort:
    /// what it follows has committed, so a failure is only a warning.
    async fn analyze_after_bulk_load(&self);
    /// A page of the log stream after stream (events up to position `head` of the streams
    /// after `after`), for a rebuild to fold, read outside any transaction.
    async fn read_streams(
        &self,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Writes rows of a rebuild's fold into the shadow tables (a range of tasks with their
    /// shares, or the per-user rows), none of which they hold yet.
    async fn write_shadows(&self, models: ReadModels) -> Result<(), StoreError>;
}

/// Held while a rebuild runs.
#[async_trait]
pub trait RebuildLock: Send {
    /// Lets the next rebuild in now (dropping it does too, but maybe a moment later).
    async fn release(self: Box<Self>) -> Result<(), StoreError>;
}

/// A transaction of a rebuild or a verify.
#[async_trait]
pub trait ReplayTx: Tx {
    /// Every event after `position`, in position order, at most `limit`.
    async fn events_after(
        &mut self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Like [`Replay::read_streams`], in this transaction.
    async fn events_by_stream(
        &mut self,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// The task rows of `tables` whose id lies in `from..=to`, and their share rows (those of
    /// tasks that do not exist included), for comparison with a fold.
    async fn task_range(
        &mut self,
        tables: Tables,
        from: Uuid,
        to: Uuid,
    ) -> Result<TaskRange, StoreError>;
    /// Every dashboard, team and membership row of `tables`, and the trend rows that count
    /// something.
    async fn whole_tables(&mut self, tables: Tables) -> Result<WholeTables, StoreError>;
    /// Sets the checkpoint of projection `name` to `position` at `version`.
    async fn set_checkpoint(
        &mut self,
        name: &str,
        version: i32,
        position: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError>;
    /// Drops what an earlier rebuild left behind and creates empty shadow tables shaped like
    /// the live ones (keys and indexes included).
    async fn create_shadows(&mut self) -> Result<(), StoreError>;
    /// Replaces each of the live `tables` by its shadow (inside the writers' lock).
    async fn swap_in(&mut self, tables: &[&'static Table]) -> Result<(), StoreError>;
    async fn drop_shadows(&mut self) -> Result<(), StoreError>;
}

/// Ends `tx` as `result` of the work done in it says: committed when it succeeded, rolled
/// back when it failed. After an outage its connection is closed rather than pooled again
/// (the database rolls the transaction back): it may stay broken when the database is mended,
/// as SQLite's does when it opened a file it could not write as read-only.
pub async fn finish<T, R>(tx: Box<T>, result: Result<R, StoreError>) -> Result<R, StoreError>
where
    T: Tx + ?Sized,
{
    match result {
        Ok(value) => {
            tx.commit().await?;
            Ok(value)
        }
        Err(error) if error.is_outage() => {
            drop(tx);
            Err(error)
        }
        Err(error) => {
            if let Err(rollback) = tx.rollback().await {
                tracing::warn!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

/// Folds `recorded` into `changes` once the rows of other streams it fans out over (see
/// [`Changeset::needs`]) are loaded from `tables` in `tx`: the one way the writer's batches and
/// a rebuild's catch-up apply an event.
pub async fn load_and_apply(
    tx: &mut dyn Tx,
    tables: Tables,
    changes: &mut Changeset,
    recorded: &RecordedEvent,
) -> Result<(), StoreError> {
    loop {
        let needs = changes.needs(recorded);
        if needs.is_empty() {
            break;
        }
        load(tx, tables, changes, needs).await?;
    }
    changes.apply(recorded);
    Ok(())
}

/// Loads what `needs` names into `changes`, a statement per kind at most.
pub async fn load(
    tx: &mut dyn Tx,
    tables: Tables,
    changes: &mut Changeset,
    needs: Needs,
) -> Result<(), StoreError> {
    if !needs.rows.is_empty() {
        let found = tx.load_access(tables, &needs.rows).await?;
        changes.access_mut().supply_rows(&needs.rows, found);
    }
    if !needs.tasks.is_empty() {
        let mut found: HashMap<Uuid, Vec<AccessRow>> = HashMap::new();
        for row in tx.load_task_access(tables, &needs.tasks).await? {
            found.entry(row.task_id).or_default().push(row);
        }
        for task_id in needs.tasks {
            let rows = found.remove(&task_id).unwrap_or_default();
            changes.access_mut().supply_task(task_id, rows);
        }
    }
    if !needs.teams.is_empty() {
        let mut found: HashMap<Uuid, Vec<(TeamShareRow, String)>> = HashMap::new();
        for (share, owner) in tx.load_team_tasks(tables, &needs.teams).await? {
            found.entry(share.team_id).or_default().push((share, owner));
        }
        for team_id in needs.teams {
            let shares = found.remove(&team_id).unwrap_or_default();
            changes.supply_team(team_id, shares);
        }
    }
    Ok(())
}
