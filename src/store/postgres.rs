//! PostgreSQL, the production backend and the way to several API nodes on one database.
//!
//! Position safety: every write transaction starts by taking one transaction-level advisory
//! lock ([`WRITE_LOCK`]) and holds it until it commits or rolls back. Positions come from an
//! identity column, so they are drawn while the lock is held, and the lock is released only by
//! the commit: a transaction that commits later always holds higher positions than every
//! transaction committed before it, across all processes. A reader tailing `events` by position
//! can therefore never pass a position that a later commit fills in. The cost is one writing
//! transaction at a time, which the writer's group commit amortises.

use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgPool, PgPoolOptions};
use sqlx::{Executor, Postgres};

use projections::DashboardStats;

use super::StoreError;
use super::queries::impl_store;
use super::rows::StoreRow;
use super::write_tx::impl_write_tx;
use super::writer::{Writer, WriterBackend, WriterConnection, shadow_pairs};

/// The advisory lock key every tally writer takes (`"tally"` in ASCII).
pub const WRITE_LOCK: i64 = 0x74_61_6c_6c_79;

/// The advisory lock a rebuild holds for its whole run (`"rebuild"` in ASCII).
pub const REBUILD_LOCK: i64 = 0x0072_6562_7569_6c64;

/// A tally store in a PostgreSQL database.
pub struct PostgresStore {
    readers: PgPool,
    writes: PgPool,
    writer: Writer,
}

impl PostgresStore {
    /// Connects to `url` (`postgres://…`) and migrates the database.
    pub async fn open(url: &str) -> Result<Self, StoreError> {
        let writes = PgPoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations/postgres").run(&writes).await?;
        let readers = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(2)
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect(url)
            .await?;
        let writer = Writer::spawn(PostgresWriter(writes.clone()));
        Ok(PostgresStore {
            readers,
            writes,
            writer,
        })
    }

    async fn read_stats(&self, user_id: &str) -> Result<Option<DashboardStats>, StoreError> {
        sqlx::query(super::sql::LOAD_STATS)
            .bind(user_id)
            .fetch_optional(&self.readers)
            .await?
            .map(|row| row.stats_row())
            .transpose()
    }

    fn write_backend(&self) -> PostgresWriter {
        PostgresWriter(self.writes.clone())
    }

    async fn close_pools(&self) {
        self.readers.close().await;
        self.writes.close().await;
    }
}

impl_store!(
    PostgresStore,
    Some("set transaction isolation level repeatable read, read only")
);

#[derive(Clone)]
struct PostgresWriter(PgPool);

impl WriterBackend for PostgresWriter {
    type Connection = PostgresWriteConnection;
    type RebuildGuard = sqlx::PgConnection;

    /// A session advisory lock on a connection of its own, held until the rebuild drops it or
    /// its process dies.
    async fn exclusive_rebuild(&self) -> Result<sqlx::PgConnection, StoreError> {
        use sqlx::Connection;
        let mut connection = sqlx::PgConnection::connect_with(&self.0.connect_options()).await?;
        let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
            .bind(REBUILD_LOCK)
            .fetch_one(&mut connection)
            .await?;
        if locked {
            Ok(connection)
        } else {
            Err(StoreError::RebuildRunning)
        }
    }

    async fn acquire(&self) -> Result<PostgresWriteConnection, StoreError> {
        Ok(PostgresWriteConnection(self.0.acquire().await?))
    }
}

/// The writer's connection.
pub(crate) struct PostgresWriteConnection(PoolConnection<Postgres>);

impl_write_tx!(
    PostgresWriteConnection,
    super::sql::INSERT_EVENTS_POSTGRES,
    super::write_tx::Params::Numbered,
    shares_of_tasks
);

/// A lateral join: one probe of the `(task_id, user_id)` key per id, whatever the planner's
/// statistics say. `task_id in (…)` became a sequential scan of every share on a database whose
/// statistics lagged behind a bulk load (no autovacuum analyze yet).
fn shares_of_tasks(table: &str, tasks: usize) -> String {
    let ids = super::write_tx::placeholders(super::write_tx::Params::Numbered, 1, tasks);
    format!(
        "select s.task_id, s.user_id, s.permission from (values {ids}) as v (id) \
         cross join lateral (select task_id, user_id, permission from {table} \
         where task_id = v.id) as s order by s.task_id, s.user_id"
    )
}

impl WriterConnection for PostgresWriteConnection {
    async fn begin(&mut self) -> Result<(), StoreError> {
        self.0.execute("begin").await?;
        sqlx::query("select pg_advisory_xact_lock($1)")
            .bind(WRITE_LOCK)
            .execute(&mut *self.0)
            .await?;
        Ok(())
    }

    async fn begin_shadow(&mut self) -> Result<(), StoreError> {
        self.0.execute("begin").await?;
        Ok(())
    }

    async fn begin_snapshot(&mut self) -> Result<(), StoreError> {
        self.0
            .execute("begin isolation level repeatable read read only")
            .await?;
        Ok(())
    }

    async fn commit(&mut self) -> Result<(), StoreError> {
        self.0.execute("commit").await?;
        Ok(())
    }

    async fn rollback(&mut self) -> Result<(), StoreError> {
        if let Err(error) = self.0.execute("rollback").await {
            // Never hand a connection in an unknown transaction state back to the pool.
            self.0.close_on_drop();
            return Err(error.into());
        }
        Ok(())
    }

    async fn create_shadows(&mut self) -> Result<(), StoreError> {
        for (live, shadow) in shadow_pairs() {
            execute(&mut self.0, format!("drop table if exists {shadow}")).await?;
            execute(
                &mut self.0,
                format!("create table {shadow} (like {live} including all)"),
            )
            .await?;
        }
        Ok(())
    }

    async fn swap_in(&mut self, tables: &[(&'static str, &'static str)]) -> Result<(), StoreError> {
        for (live, shadow) in tables {
            let live_indexes = indexes(&mut self.0, live).await?;
            let shadow_indexes = indexes(&mut self.0, shadow).await?;
            execute(&mut self.0, format!("drop table {live}")).await?;
            execute(
                &mut self.0,
                format!("alter table {shadow} rename to {live}"),
            )
            .await?;
            // The shadow's indexes got generated names; give each its live twin's name back.
            for (name, shape) in shadow_indexes {
                if let Some((live_name, _)) = live_indexes.iter().find(|(_, s)| *s == shape) {
                    let sql = format!("alter index \"{name}\" rename to \"{live_name}\"");
                    execute(&mut self.0, sql).await?;
                }
            }
        }
        Ok(())
    }

    async fn drop_shadows(&mut self) -> Result<(), StoreError> {
        for (_, shadow) in shadow_pairs() {
            execute(&mut self.0, format!("drop table if exists {shadow}")).await?;
        }
        Ok(())
    }
}

/// Each index of `table` by name, with its shape: its definition without its own name and
/// its table's (`UNIQUE … USING btree (id)`).
async fn indexes(
    connection: &mut PoolConnection<Postgres>,
    table: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select indexname::text, indexdef from pg_indexes \
         where schemaname = current_schema() and tablename = $1",
    )
    .bind(table)
    .fetch_all(&mut **connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, definition)| {
            let unique = definition.starts_with("CREATE UNIQUE");
            let using = definition
                .split_once(" USING ")
                .map_or("", |(_, using)| using);
            (name, format!("{unique} {using}"))
        })
        .collect())
}

/// Runs DDL built from tally's own table names and PostgreSQL's own catalog.
async fn execute(connection: &mut PoolConnection<Postgres>, sql: String) -> Result<(), StoreError> {
    connection.execute(sqlx::AssertSqlSafe(sql)).await?;
    Ok(())
}
