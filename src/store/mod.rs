//! The storage boundary: one [`Store`] trait, implemented once for SQLite and once for
//! PostgreSQL, chosen from the database URL at start-up by [`open`].
//!
//! Commands go through a single group-committing writer per process ([`writer`]); the generic
//! steps of one command ([`command`]) call the pure domain and the pure fold, so the backends
//! only differ in how they read and write rows.

mod command;
mod postgres;
mod projector;
mod queries;
mod rebuild;
mod rows;
mod sql;
mod sqlite;
mod sqlite_rows;
mod verify;
mod write_tx;
mod writer;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{DashboardStats, RecordedEvent, TaskStatus, TaskView, event::UnreadableEvent};
use uuid::Uuid;

use crate::domain::{CommandRequest, DomainError};

pub use postgres::PostgresStore;
pub use rebuild::{Projection, RebuildReport};
pub use sqlite::{SqliteOptions, SqliteStore};
pub use verify::{RowDrift, UserDrift, VerifyReport};

/// A failure of the database or of the data in it: never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Unreadable(#[from] UnreadableEvent),
    #[error("the command writer has stopped")]
    WriterStopped,
    #[error("a background task of the store panicked or was cancelled")]
    TaskFailed,
    #[error("another rebuild of this database is running")]
    RebuildRunning,
    #[error("unsupported database url {0:?}: use sqlite:// or postgres://")]
    UnsupportedUrl(String),
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReuse,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// An `Idempotency-Key` and the fingerprint of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// A digest of method, path, body and `If-Match`: a repeat must match it exactly.
    pub fingerprint: String,
}

/// A command as the store receives it.
#[derive(Clone, Debug)]
pub struct Submission {
    pub request: CommandRequest,
    pub idempotency: Option<Idempotency>,
    /// Ties the events to the HTTP request that caused them.
    pub correlation_id: Uuid,
}

/// What a successful command answers, and what a repeat of it answers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    pub task_id: Uuid,
    /// The task stream's version after the command.
    pub version: i64,
    /// Global position of the last event appended (of the task's last event when nothing was).
    pub position: i64,
    /// Whether the command created the task (201 rather than 200).
    pub created: bool,
}

/// Which of the caller's tasks a list asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Owned,
    Shared,
}

/// One page request of `GET /api/tasks`, newest first.
#[derive(Clone, Debug)]
pub struct TaskListQuery {
    pub user_id: String,
    pub scope: Scope,
    pub status: Option<TaskStatus>,
    pub limit: i64,
    /// Only tasks older (by id) than this one.
    pub before: Option<Uuid>,
}

/// How far one projection has applied the event log.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Checkpoint {
    pub name: String,
    /// The version of the projection code that built it.
    pub version: i32,
    pub position: i64,
    pub updated_at: DateTime<Utc>,
}

/// How long a stored idempotent response is replayed.
pub const IDEMPOTENCY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// Everything the HTTP layer and the CLI need from a database.
#[async_trait]
pub trait Store: Send + Sync {
    /// Decides and appends a command, projects its events and commits, all in one transaction.
    async fn execute(&self, submission: Submission) -> Result<CommandOutcome, CommandError>;
    /// Runs one client's commands back to back without waiting between them: each is decided
    /// after the ones before it and against the state they left, but they can share a
    /// transaction. Every command is decided whatever the answers of those before it (a refused
    /// create makes the rest refused too), and if the writer stops part-way the answers say
    /// which ones committed. Bulk loads (`tally seed`) use it.
    async fn execute_in_order(
        &self,
        submissions: Vec<Submission>,
    ) -> Vec<Result<CommandOutcome, CommandError>>;
    /// One user's dashboard row, `None` for a user no event has touched.
    async fn dashboard_stats(&self, user_id: &str) -> Result<Option<DashboardStats>, StoreError>;
    /// A task with its shares (`task` is `None` when it does not exist).
    async fn task(&self, task_id: Uuid) -> Result<TaskView, StoreError>;
    /// A page of tasks, each with its shares.
    async fn list_tasks(&self, query: &TaskListQuery) -> Result<Vec<TaskView>, StoreError>;
    /// A task's events, oldest first.
    async fn task_events(&self, task_id: Uuid) -> Result<Vec<RecordedEvent>, StoreError>;
    /// Every event after `position`, in position order, at most `limit`.
    async fn events_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
    /// The position of the newest event (0 for an empty log).
    async fn head_position(&self) -> Result<i64, StoreError>;
    /// How far each projection has applied the log.
    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError>;
    /// Rebuilds the read models from the log and swaps the chosen ones in (see
    /// [`rebuild`](self::rebuild)); commands and queries go on meanwhile.
    async fn rebuild(
        &self,
        projections: &[Projection],
        progress: &indicatif::ProgressBar,
    ) -> Result<RebuildReport, StoreError>;
    /// Compares the read models with a fresh fold of the log; `repair` rewrites what drifted.
    async fn verify(&self, repair: bool, now: DateTime<Utc>) -> Result<VerifyReport, StoreError>;
    /// Checks the rows of up to `users` randomly chosen users against a recount of their tasks
    /// and shares, each in one snapshot; returns those that differ.
    async fn check_sample(
        &self,
        users: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserDrift>, StoreError>;
    /// Marks `tick` of job `name` as run; `false` when some server already ran it.
    async fn claim_tick(&self, name: &str, tick: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Sets every day and week counter of a past day or week to zero for today's, so the
    /// table reads true with plain SQL too. Returns the rows changed.
    async fn roll_over(&self, now: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Deletes idempotency keys stored before `cutoff`. Returns how many.
    async fn expire_keys(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Lets queued commands finish and closes the connections.
    async fn close(&self);
}

/// Opens (creating and migrating where needed) the database `url` names.
pub async fn open(url: &str, sqlite: SqliteOptions) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(SqliteStore::open(url, sqlite).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(PostgresStore::open(url).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}

/// The moment a stored idempotency key stops being replayed.
fn idempotency_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - IDEMPOTENCY_WINDOW
}

/// The two statuses a list query binds: the wanted one twice, or both for no filter.
fn status_filter(status: Option<TaskStatus>) -> (&'static str, &'static str) {
    match status {
        Some(status) => (status.as_str(), status.as_str()),
        None => (TaskStatus::Pending.as_str(), TaskStatus::Completed.as_str()),
    }
}
