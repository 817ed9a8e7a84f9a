//! PostgreSQL, the production backend and the way to several API nodes on one database. Here
//! is what PostgreSQL does differently from SQLite; the SQL both share is in `store/common/`.
//!
//! Position safety: every write transaction starts by taking one transaction-level advisory
//! lock ([`WRITE_LOCK`]) and holds it until it commits or rolls back. Positions come from an
//! identity column, so they are drawn while the lock is held, and the lock is released only by
//! the commit: a transaction that commits later always holds higher positions than every
//! transaction committed before it, across all processes. A reader tailing `events` by position
//! can therefore never pass a position that a later commit fills in. The cost is one writing
//! transaction at a time, which the writer's group commit amortises.

mod shadows;

use std::time::Duration;

use projections::{DashboardStats, ReadModels, RecordedEvent};
use sqlx::Postgres;
use sqlx::postgres::PgPoolOptions;

use super::StoreError;
use super::common::binds::{BindRows, bound};
use super::common::replay_tx::events_after;
use super::common::rows::StoreRow;
use super::common::sql::{self, Params};
use super::common::{Backend, SqlxStore};
use super::rebuild::write_models;
use super::tx::{Lock, RebuildLock};

/// What every write transaction takes first: a transaction-level advisory lock on the key
/// every tally writer uses, `"tally"` in ASCII (0x74616c6c79).
pub const WRITE_LOCK: &str = "select pg_advisory_xact_lock(499850701945)";

/// How long a caller waits for a pooled connection, opening one included: how long the first
/// caller takes to learn that the database is down (the rest learn at once; see
/// `common/outage.rs`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// Connects to `url` (`postgres://…`) and migrates the database.
pub(crate) async fn open(url: &str) -> Result<SqlxStore<Postgres>, StoreError> {
    let writes = PgPoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await?;
    sqlx::migrate!("./migrations/postgres").run(&writes).await?;
    let readers = PgPoolOptions::new()
        .max_connections(8)
        .min_connections(2)
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect(url)
        .await?;
    Ok(SqlxStore {
        readers,
        writes,
        local: (),
        outage: Default::default(),
    })
}

impl Backend for Postgres {
    type Local = ();
    const PARAMS: Params = Params::Numbered;
    /// An identity column takes explicit values only when told to.
    const INSERT_EVENTS_OPTION: &'static str = "overriding system value";

    fn begin(lock: Lock) -> &'static [&'static str] {
        match lock {
            Lock::Writers => &["begin", WRITE_LOCK],
            Lock::Shadow => &["begin"],
            Lock::Snapshot => &["begin isolation level repeatable read read only"],
        }
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// A lateral join: one probe of the `(task_id, user_id)` key per id, whatever the
    /// planner's statistics say. `task_id in (…)` became a sequential scan of every share on a
    /// database whose statistics lagged behind a bulk load (no autovacuum analyze yet).
    fn shares_of_tasks(table: &str, tasks: usize) -> String {
        format!(
            "select s.task_id, s.user_id, s.permission from (values {}) as v (id) \
             cross join lateral (select task_id, user_id, permission from {table} \
             where task_id = v.id) as s order by s.task_id, s.user_id",
            Params::Numbered.tuples(1, tasks, 1)
        )
    }

    async fn dashboard_stats(
        store: &SqlxStore<Self>,
        user_id: &str,
    ) -> Result<Option<DashboardStats>, StoreError> {
        let arguments = bound::<sqlx::postgres::PgArguments>(|a| a.text(user_id))?;
        sqlx::query_with(sql::LOAD_STATS, arguments)
            .fetch_optional(&store.readers)
            .await?
            .map(|row| row.stats_row())
            .transpose()
    }

    async fn lock_rebuilds(store: &SqlxStore<Self>) -> Result<Box<dyn RebuildLock>, StoreError> {
        Ok(Box::new(shadows::lock_rebuilds(&store.writes).await?))
    }

    async fn read_log(
        store: &SqlxStore<Self>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        events_after::<Postgres>(&mut *store.readers.acquire().await?, after, limit).await
    }

    async fn write_shadows(store: &SqlxStore<Self>, models: ReadModels) -> Result<(), StoreError> {
        write_models(store, &models).await
    }
}
