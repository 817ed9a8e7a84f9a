//! SQLite, the embedded default: one file, WAL, one writer connection, a pool of readers.

use std::str::FromStr;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Executor, Sqlite};

use projections::DashboardStats;

use super::StoreError;
use super::queries::impl_store;
use super::sqlite_rows::DashboardReader;
use super::write_tx::impl_write_tx;
use super::writer::{Writer, WriterBackend, WriterConnection};

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
        let writes = SqlitePoolOptions::new()
            .max_connections(1)
            .min_connections(1)
            .test_before_acquire(false)
            .connect_with(connect.clone())
            .await?;
        sqlx::migrate!("./migrations/sqlite").run(&writes).await?;
        let dashboards = DashboardReader::new(connect.get_filename());
        let readers = SqlitePoolOptions::new()
            .max_connections(options.readers.max(1))
            .min_connections(options.readers.max(1))
            .test_before_acquire(false)
            .connect_with(connect.read_only(true))
            .await?;
        let writer = Writer::spawn(SqliteWriter(writes.clone()));
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

    async fn close_pools(&self) {
        self.readers.close().await;
        self.writes.close().await;
    }
}

impl_store!(SqliteStore);

struct SqliteWriter(SqlitePool);

impl WriterBackend for SqliteWriter {
    type Connection = SqliteWriteConnection;

    async fn acquire(&self) -> Result<SqliteWriteConnection, StoreError> {
        Ok(SqliteWriteConnection(self.0.acquire().await?))
    }
}

/// The writer's connection.
pub(crate) struct SqliteWriteConnection(PoolConnection<Sqlite>);

impl_write_tx!(SqliteWriteConnection, super::sql::INSERT_EVENTS_SQLITE);

impl WriterConnection for SqliteWriteConnection {
    async fn begin(&mut self) -> Result<(), StoreError> {
        // IMMEDIATE takes the write lock now: a deferred transaction that upgrades to a write
        // later fails with SQLITE_BUSY at once instead of waiting for the busy timeout.
        self.0.execute("begin immediate").await?;
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
}
