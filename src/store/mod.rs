//! The storage boundary: rows in, rows out. [`Store`] is everything the HTTP layer, the jobs
//! and the CLI read; [`tx`] holds the transaction traits the command writer, rebuild and verify
//! write through. Both are implemented once, over sqlx, in `common/`; what differs between
//! SQLite and PostgreSQL lives in `sqlite/` and `postgres/`. [`open`] picks one from the URL.
//!
//! Storage knows nothing of commands: the command pipeline (`crate::commands`) decides and
//! folds, then hands the rows to a [`tx::Tx`].

mod common;
mod error;
mod postgres;
mod rebuild;
mod sqlite;
mod tables;
pub mod tx;
mod verify;

use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{
    AccessRow, DashboardStats, DayCounts, RecordedEvent, Role, ShareRow, TaskRow, TaskStatus,
    TaskView, TeamRow, TeamStats, TeamView,
};
use uuid::Uuid;

pub use error::StoreError;
pub use rebuild::{Progress, Projection, RebuildReport};
pub use sqlite::SqliteOptions;
pub use verify::{RowDrift, UserDrift, VerifyReport};

use tx::{Lock, Replay, Transactions, finish};

/// Which of the caller's tasks a list asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    Owned,
    Shared,
    /// The tasks shared with a team.
    Team(Uuid),
}

/// How many of a task's shares a read lists, the first by user id. A task may be shared with
/// up to `domain::MAX_SHARES_PER_TASK` users; listing every one made an owner's read of a
/// widely shared task hundreds of kilobytes and a page of such tasks tens of megabytes.
pub const SHARES_LISTED: i64 = 50;

/// A task as a read shows it to one reader.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskRead {
    /// The task with the shares the reader is shown: the owner the first [`SHARES_LISTED`]
    /// by user id, anyone else their own.
    pub view: TaskView,
    /// How many users the task is shared with in all: counted for its owner only.
    pub shares_total: Option<i64>,
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

/// Connections of one database pool, for metrics.
#[derive(Clone, Copy, Debug)]
pub struct PoolUse {
    /// `readers` (queries) or `writes` (commands, jobs).
    pub name: &'static str,
    pub in_use: f64,
    pub idle: f64,
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

impl Checkpoint {
    /// Events in a log whose head is `head` that this projection has not applied.
    pub fn behind(&self, head: i64) -> i64 {
        (head - self.position).max(0)
    }
}

/// One user's stored figures and the rows they count, read in one snapshot: what the sampled
/// verify compares.
#[derive(Clone, Debug, Default)]
pub struct UserRows {
    pub stats: Option<DashboardStats>,
    /// The tasks they own and those shared with them.
    pub tasks: Vec<TaskRow>,
    /// Their access rows: how they see each task shared with them.
    pub access: Vec<AccessRow>,
}

/// Where a read may be answered from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ReadFrom {
    /// Wherever is nearest and current: rows this node keeps in memory while it knows them
    /// current, or the database.
    #[default]
    Nearest,
    /// The primary database itself (`Cache-Control: no-cache`, or a position this node has
    /// not heard of yet).
    Primary,
}

/// The position every read of a node answers and so must reflect (the hub's, see
/// `Hub::position`): a standby serves reads only once it has replayed that far.
pub type Watermark = Arc<std::sync::atomic::AtomicI64>;

/// How one standby (`TALLY_DATABASE_READ_URL`) stands, for health and metrics.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct ReplicaState {
    /// `host:port/database`.
    pub name: String,
    pub status: ReplicaStatus,
    /// The newest position it has replayed, as last checked; `null` before it answered.
    pub replayed: Option<i64>,
    /// Events this node knows committed that it had not replayed at the last check.
    pub behind: i64,
}

/// Whether a standby takes reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReplicaStatus {
    /// It has replayed everything this node knows committed: it takes reads.
    Current,
    /// Behind for less than a second: reads go to the primary meanwhile.
    CatchingUp,
    /// Behind for a second or more: reads go to the primary.
    Lagging,
    /// Its last check or read failed: reads go to the primary.
    Unreachable,
}

/// Everything the HTTP layer, the jobs and the CLI read from a database. Commands are not
/// here: they go through `crate::commands`, which writes through [`Transactions`].
#[async_trait]
pub trait Store: Transactions + Replay {
    /// One user's dashboard row, `None` for a user no event has touched.
    async fn dashboard_stats(
        &self,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<DashboardStats>, StoreError>;
    /// One user's trend rows from day key `first` to `last`, oldest first; days without a row
    /// count nothing.
    async fn trend(
        &self,
        user_id: &str,
        first: i32,
        last: i32,
        from: ReadFrom,
    ) -> Result<Vec<(i32, DayCounts)>, StoreError>;
    /// A task as `reader` may be shown it (`task` is `None` when it does not exist): for its
    /// owner, the first [`SHARES_LISTED`] shares and their total; for anyone else, their own.
    async fn task(
        &self,
        task_id: Uuid,
        reader: &str,
        from: ReadFrom,
    ) -> Result<TaskRead, StoreError>;
    /// A team with all its members (`team` is `None` when it does not exist).
    async fn team(&self, team_id: Uuid, from: ReadFrom) -> Result<TeamView, StoreError>;
    /// `user_id`'s role in a team (`None` when they are not in it, or it does not exist): one
    /// key of `team_members`, where [`Store::team`] reads every member.
    async fn role_in(
        &self,
        team_id: Uuid,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<Role>, StoreError>;
    /// A team's figures row (`None` when it has none: it does not exist).
    async fn team_stats(
        &self,
        team_id: Uuid,
        from: ReadFrom,
    ) -> Result<Option<TeamStats>, StoreError>;
    /// A page of `user_id`'s teams, by id, after team `after`, at most `limit`, each with the
    /// user's role in it.
    async fn teams_of(
        &self,
        user_id: &str,
        after: Option<Uuid>,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<(TeamRow, Role)>, StoreError>;
    /// A page of tasks, each as [`Store::task`] shows it to the query's user.
    async fn list_tasks(
        &self,
        query: &TaskListQuery,
        from: ReadFrom,
    ) -> Result<Vec<TaskRead>, StoreError>;
    /// A task's shares whose user id sorts after `after`, by user id, at most `limit`.
    async fn task_shares(
        &self,
        task_id: Uuid,
        after: &str,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<ShareRow>, StoreError>;
    /// A task's events after log position `after`, oldest first, at most `limit`.
    async fn task_events(
        &self,
        task_id: Uuid,
        after: i64,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<RecordedEvent>, StoreError>;
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
    /// The log's head and each projection's checkpoint, read in that order: the other way
    /// round, a commit in between would look like lag.
    async fn progress(&self) -> Result<(i64, Vec<Checkpoint>), StoreError> {
        let head = self.head_position().await?;
        Ok((head, self.checkpoints().await?))
    }
    /// Up to `users` users with figures, chosen at random.
    async fn sample_users(&self, users: u32) -> Result<Vec<String>, StoreError>;
    /// A user's figures and the rows they count, in one snapshot.
    async fn user_rows(&self, user_id: &str) -> Result<UserRows, StoreError>;
    /// Marks `tick` of job `name` as run; `false` when some server already ran it.
    async fn claim_tick(&self, name: &str, tick: DateTime<Utc>) -> Result<bool, StoreError>;
    /// Deletes idempotency keys stored before `cutoff`. Returns how many.
    async fn expire_keys(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError>;
    /// Closes the connections (after the command writer has stopped).
    async fn close(&self);
    /// How the connection pools are used now, for metrics.
    fn pools(&self) -> Vec<PoolUse> {
        Vec::new()
    }
    /// How to connect to hear other servers' announcements (`crate::live::announcement`);
    /// `None` where they cannot be heard (SQLite).
    fn listen_options(&self) -> Option<sqlx::postgres::PgConnectOptions> {
        None
    }
    /// From now on a standby takes reads only once it has replayed every write committed
    /// before now, event or not (a migration, a rebuild's swap, a repair): called when the
    /// store opens and whenever this node hears of a rewrite. Nothing without standbys.
    async fn fence_replicas(&self) -> Result<(), StoreError> {
        Ok(())
    }
    /// How each standby stands (none without `TALLY_DATABASE_READ_URL`).
    fn replicas(&self) -> Vec<ReplicaState> {
        Vec::new()
    }
    /// Lets reads go to the standbys that have replayed up to `watermark`, checking how far
    /// each has, until the future is dropped; returns at once where there are none.
    async fn follow_replicas(&self, _watermark: Watermark) {}
    /// Forgets the rows kept in memory: another process has written.
    fn forget_cached_reads(&self) {}

    /// Rebuilds the read models from the log and swaps the chosen ones in (see
    /// `store/rebuild.rs`); commands and queries go on meanwhile.
    async fn rebuild(
        &self,
        projections: &[Projection],
        progress: &dyn Progress,
    ) -> Result<RebuildReport, StoreError> {
        let report = rebuild::rebuild(self, projections, progress).await?;
        self.announce_rewrite().await?;
        Ok(report)
    }

    /// Compares the read models with a fresh fold of the log; `repair` rewrites what drifted.
    async fn verify(
        &self,
        repair: bool,
        now: DateTime<Utc>,
        progress: &dyn Progress,
    ) -> Result<VerifyReport, StoreError> {
        let report = verify::verify(self, repair, now, progress).await?;
        if repair {
            self.announce_rewrite().await?;
        }
        Ok(report)
    }

    /// Tells every server that any dashboard row may have changed (a rebuild swapped the read
    /// models in, a repair rewrote some): they drop the rows they keep in memory and their
    /// streams read again. Nothing where no server listens (SQLite).
    async fn announce_rewrite(&self) -> Result<(), StoreError> {
        let mut tx = self.begin(Lock::Writers).await?;
        let announced = async {
            let head = tx.head_position().await?;
            tx.announce(Uuid::nil(), head, 0, None).await
        }
        .await;
        finish(tx, announced).await
    }

    /// Checks the rows of up to `users` randomly chosen users against a recount of their tasks
    /// and shares, each in one snapshot; returns those that differ.
    async fn check_sample(
        &self,
        users: u32,
        now: DateTime<Utc>,
    ) -> Result<Vec<UserDrift>, StoreError> {
        let mut drifted = Vec::new();
        for user in self.sample_users(users).await? {
            let rows = self.user_rows(&user).await?;
            drifted.extend(verify::check_user(&user, rows, now));
        }
        Ok(drifted)
    }

    /// Sets every day and week counter of a past day or week to zero for today's, so the
    /// table reads true with plain SQL too. Returns the rows changed.
    async fn roll_over(&self, now: DateTime<Utc>) -> Result<u64, StoreError> {
        let (day, week) = (
            projections::calendar::day_key(now),
            projections::calendar::week_key(now),
        );
        let mut rolled = 0;
        // A chunk per transaction: the writers wait for one chunk, never for the table.
        loop {
            let mut tx = self.begin(Lock::Writers).await?;
            let changed = tx.roll_over(day, week).await;
            let changed = finish(tx, changed).await?;
            rolled += changed;
            if changed == 0 {
                return Ok(rolled);
            }
        }
    }
}

/// Opens (creating and migrating where needed) the database `url` names.
pub async fn open(url: &str, sqlite: SqliteOptions) -> Result<Arc<dyn Store>, StoreError> {
    open_with(url, None, &[], sqlite).await
}

/// [`open`], with a direct URL for what needs a session of its own (PostgreSQL behind a
/// transaction pooler; see the README) and hot standbys to read from (PostgreSQL only).
pub async fn open_with(
    url: &str,
    direct_url: Option<&str>,
    read_urls: &[String],
    sqlite: SqliteOptions,
) -> Result<Arc<dyn Store>, StoreError> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::open(url, sqlite).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::open(url, direct_url, read_urls).await?))
    } else {
        Err(StoreError::UnsupportedUrl(url.to_owned()))
    }
}
