//! SQLite, the embedded default: one file, WAL, one writer connection, a pool of readers, and
//! the hottest reads done in place through rusqlite ([`fast_path`]). Here is what SQLite does
//! differently from PostgreSQL; the SQL both share is in `store/common/`.

mod fast_path;
mod shadows;
mod values;

use std::str::FromStr;
use std::time::Duration;

use projections::{DashboardStats, ReadModels, RecordedEvent};
use sqlx::Sqlite;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::common::sql::Params;
use super::common::sqlx_tx::WriteEpoch;
use super::common::{Backend, SqlxStore};
use super::tables::{Table, Tables};
use super::tx::{Lock, RebuildLock, StreamCursor};
use super::{ReadFrom, StoreError};
use fast_path::FastPath;

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

/// Opens `url` (`sqlite://path`), creating the file and its folder and migrating it.
pub(crate) async fn open(
    url: &str,
    options: SqliteOptions,
) -> Result<SqlxStore<Sqlite>, StoreError> {
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
    let write_epoch = WriteEpoch::default();
    let local = FastPath::new(connect.get_filename(), write_epoch.clone());
    let readers = SqlitePoolOptions::new()
        .max_connections(options.readers.max(1))
        .min_connections(options.readers.max(1))
        .test_before_acquire(false)
        .connect_with(connect.read_only(true))
        .await?;
    Ok(SqlxStore {
        readers,
        writes,
        local,
        outage: Default::default(),
        write_epoch: Some(write_epoch),
        pooled: false,
        replicas: None,
    })
}

impl Backend for Sqlite {
    type Local = FastPath;
    const PARAMS: Params = Params::Positional;
    const INSERT_EVENTS_OPTION: &'static str = "";

    fn begin(lock: Lock) -> &'static [&'static str] {
        match lock {
            // IMMEDIATE takes the write lock now: a deferred transaction that upgrades to a
            // write later fails with SQLITE_BUSY at once instead of waiting for the busy
            // timeout. SQLite has one write lock for every table, shadows included.
            Lock::Writers | Lock::Shadow => &["begin immediate"],
            // Deferred: the first read fixes the snapshot every later read of it sees.
            Lock::Snapshot => &["begin"],
        }
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// SQLite probes the index for each value of an `in` list.
    fn rows_where_in(table: &Table, tables: Tables, column: &str, values: usize) -> String {
        let mut sql = table.select_where(
            tables,
            &format!("{column} in ({})", Params::Positional.list(values, 1)),
        );
        if column != table.key {
            sql.push_str(&format!(" order by {}", table.key));
        }
        sql
    }

    async fn dashboard_stats(
        store: &SqlxStore<Self>,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<DashboardStats>, StoreError> {
        store.local.dashboard_stats(user_id, from)
    }

    async fn lock_rebuilds(store: &SqlxStore<Self>) -> Result<Box<dyn RebuildLock>, StoreError> {
        shadows::lock_rebuilds(store.local.path()).map(|lock| Box::new(lock) as _)
    }

    async fn read_streams(
        store: &SqlxStore<Self>,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let path = store.local.path().to_owned();
        tokio::task::spawn_blocking(move || fast_path::read_events(&path, after, head, limit))
            .await
            .map_err(|_| StoreError::TaskFailed)?
    }

    fn check_writable(store: &SqlxStore<Self>) -> Result<(), StoreError> {
        store.local.check_in_place()
    }

    /// SQLite has no notifications: other processes look at the head instead.
    const ANNOUNCE: Option<&'static str> = None;

    fn listen_options(_: &SqlxStore<Self>) -> Option<sqlx::postgres::PgConnectOptions> {
        None
    }

    async fn write_shadows(store: &SqlxStore<Self>, models: ReadModels) -> Result<(), StoreError> {
        let path = store.local.path().to_owned();
        tokio::task::spawn_blocking(move || fast_path::write_shadows(&path, &models))
            .await
            .map_err(|_| StoreError::TaskFailed)?
    }
}
