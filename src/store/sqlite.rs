//! SQLite, the embedded default: one file, WAL, one writer connection, a pool of readers.

use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Sqlite};

use projections::{DashboardStats, ReadModels, RecordedEvent};

use super::StoreError;
use super::queries::impl_store;
use super::sqlite_rows::{DashboardReader, read_events, write_shadow};
use super::write_tx::impl_write_tx;
use super::writer::{Writer, WriterBackend, WriterConnection, shadow_pairs};

/// How an SQLite database is opened.
#[derive(Clone, Copy, Debug)]
pub struct SqliteOptions {
    /// `true` (the default): `synchronous=FULL`, an acknowledged command survives power loss.
    /// `false`: `synchronous=NORMAL`, it survives a crash of the process but the last commits
    /// may be lost if the machine goes down; several times faster.
    pub full_sync: bool,
    /// Connections serving queries; WAL lets them read while the writer writes.
    pub readers: u32,
}

impl Default for SqliteOptions {
    fn default() -> Self {
        SqliteOptions {
            full_sync: true,
            readers: 4,
        }
    }
}

/// A tally store in one SQLite file.
pub struct SqliteStore {
    dashboards: DashboardReader,
    readers: SqlitePool,
    writes: SqlitePool,
    writer: Writer,
}

impl SqliteStore {
    /// Opens `url` (`sqlite://path`), creating the file and its folder and migrating it.
    pub async fn open(url: &str, options: SqliteOptions) -> Result<Self, StoreError> {
        let connect = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(if options.full_sync {
                SqliteSynchronous::Full
            } else {
                SqliteSynchronous::Normal
            })
            .busy_timeout(Duration::from_secs(10))
            .foreign_keys(false);
        if let Some(folder) = connect.get_filename().parent()
            && !folder.as_os_str().is_empty()
        {
            std::fs::create_dir_all(folder).map_err(sqlx::Error::Io)?;
        }
        // Every write goes through this one connection, so SQLite never sees two writers.
        // Checkpointing every 10,000 WAL pages (≈ 40 MiB) rather than SQLite's 1,000 writes a
        // page that many batches touch (a hot dashboard row, the log's last page) to the
        // database file once instead of many times: tally seed ≈ 10% faster. It changes
        // nothing about durability, which the WAL provides (`synchronous` decides how).
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(connect.clone().pragma("wal_autocheckpoint", "10000"))
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writes).await?;
        let dashboards = DashboardReader::new(connect.get_filename());
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(options.readers.max(1))
            .test_before_acquire(false)
            .connect_with(connect.read_only(true))
            .await?;
        let writer = Writer::spawn(SqliteWriter {
            pool: writes.clone(),
            path: dashboards.path().to_owned(),
        });
        Ok(SqliteStore {
            dashboards,
            readers,
            writes,
            writer,
        })
    }

    async fn read_stats(&self, user_id: &str) -> Result<Option<DashboardStats>, StoreError> {
        self.dashboards.dashboard_stats(user_id)
    }

    fn write_backend(&self) -> SqliteWriter {
        SqliteWriter {
            pool: self.writes.clone(),
            path: self.dashboards.path().to_owned(),
        }
    }

    async fn close_pools(&self) {
        self.readers.close().await;
        self.writes.close().await;
    }
}

// A deferred transaction is a snapshot already: its first read fixes what the others see.
impl_store!(SqliteStore, None::<&str>);

#[derive(Clone)]
struct SqliteWriter {
    pool: SqlitePool,
    /// The database file, for reading the log in place (see `sqlite_rows`).
    path: PathBuf,
}

impl WriterBackend for SqliteWriter {
    type Connection = SqliteWriteConnection;
    type RebuildGuard = std::fs::File;

    /// An OS lock on `<database>-rebuild.lock`, released when the file is closed or the
    /// process dies.
    async fn exclusive_rebuild(&self) -> Result<std::fs::File, StoreError> {
        let mut name = self.path.clone().into_os_string();
        name.push("-rebuild.lock");
        let file = std::fs::File::create(name).map_err(sqlx::Error::Io)?;
        match file.try_lock() {
            Ok(()) => Ok(file),
            Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::RebuildRunning),
            Err(std::fs::TryLockError::Error(error)) => Err(sqlx::Error::Io(error).into()),
        }
    }

    async fn acquire(&self) -> Result<SqliteWriteConnection, StoreError> {
        Ok(SqliteWriteConnection(self.pool.acquire().await?))
    }

    async fn write_shadow(&self, models: ReadModels) -> Result<(), StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || write_shadow(&path, &models))
            .await
            .map_err(|_| StoreError::TaskFailed)?
    }

    async fn read_log(&self, after: i64, limit: i64) -> Result<Vec<RecordedEvent>, StoreError> {
        let path = self.path.clone();
        tokio::task::spawn_blocking(move || read_events(&path, after, limit))
            .await
            .map_err(|_| StoreError::TaskFailed)?
    }
}

/// The writer's connection.
pub(crate) struct SqliteWriteConnection(PoolConnection<Sqlite>);

impl_write_tx!(
    SqliteWriteConnection,
    super::sql::INSERT_EVENTS_SQLITE,
    super::write_tx::Params::Positional,
    shares_of_tasks
);

/// SQLite probes the `(task_id, user_id)` key for each id of an `in` list.
fn shares_of_tasks(table: &str, tasks: usize) -> String {
    let ids = super::write_tx::list(super::write_tx::Params::Positional, tasks);
    format!(
        "select task_id, user_id, permission from {table} where task_id in ({ids}) \
         order by task_id, user_id"
    )
}

impl WriterConnection for SqliteWriteConnection {
    async fn begin(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock now: a deferred transaction that upgrades to a write
        // later fails with SQLITE_BUSY at once instead of waiting for the busy timeout.
        self.0.execute("begin immediate").await?;
        Ok(())
    }

    async fn begin_shadow(&mut self) -> Result<(), StoreError> {
        self.begin().await
    }

    async fn begin_snapshot(&mut self) -> Result<(), StoreError> {
        // Deferred: the first read fixes the snapshot every later read of it sees.
        self.0.execute("begin").await?;
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
            // The live table's own DDL, table first, then its indexes under other names.
            let ddl: Vec<(String, String, String)> = sqlx::query_as(
                "select type, name, sql from sqlite_master \
                 where tbl_name = $1 and sql is not null order by type = 'index'",
            )
            .bind(live)
            .fetch_all(&mut *self.0)
            .await?;
            for (kind, name, sql) in ddl {
                let Some(body) = sql.find('(').map(|at| &sql[at..]) else {
                    continue;
                };
                let statement = if kind == "table" {
                    format!("create table {shadow} {body}")
                } else {
                    let unique = if sql.to_ascii_lowercase().starts_with("create unique") {
                        "unique "
                    } else {
                        ""
                    };
                    format!(
                        "create {unique}index \"{}\" on {shadow} {body}",
                        other_index_name(&name)
                    )
                };
                execute(&mut self.0, statement).await?;
            }
        }
        Ok(())
    }

    async fn swap_in(&mut self, tables: &[(&'static str, &'static str)]) -> Result<(), StoreError> {
        for (live, shadow) in tables {
            execute(&mut self.0, format!("drop table {live}")).await?;
            execute(
                &mut self.0,
                format!("alter table {shadow} rename to {live}"),
            )
            .await?;
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

/// SQLite cannot rename an index, and a shadow's index may not share its live twin's name, so
/// a table's indexes alternate between two names from one rebuild to the next.
fn other_index_name(name: &str) -> String {
    match name.strip_suffix("_b") {
        Some(first) => first.to_owned(),
        None => format!("{name}_b"),
    }
}

/// Runs DDL built from tally's own table names and SQLite's own catalog.
async fn execute(connection: &mut PoolConnection<Sqlite>, sql: String) -> Result<(), StoreError> {
    connection.execute(sqlx::AssertSqlSafe(sql)).await?;
    Ok(())
}
