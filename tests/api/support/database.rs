//! Fresh test databases and raw SQL views of what they hold, independent of the store's code.
//!
//! A PostgreSQL test database lives on the server `TALLY_TEST_POSTGRES_URL` names when it is
//! set; otherwise on a throwaway server this process starts on first use (see [`throwaway`]),
//! when PostgreSQL's server binaries are installed. Either way it is dropped when its `TestDb`
//! is. `build.rs` applies the same rule at build time, so that the PostgreSQL tests are
//! reported as ignored, with the reason, where neither is available.

use std::sync::Arc;

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor, Row};
use tally::store::{SqliteOptions, Store};
use tempfile::TempDir;

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database: a file in a temporary folder, or a new PostgreSQL database.
/// Either is gone once this is dropped.
pub struct TestDb {
    pub backend: Backend,
    /// The URL the app uses; through a transaction pooler when
    /// `TALLY_TEST_POSTGRES_DIRECT_URL` is set (see [`postgres_admin_url`]).
    pub url: String,
    /// The PostgreSQL URL for a session of its own, when `url` goes through a pooler.
    pub direct_url: Option<String>,
    /// The temporary folder (SQLite file, JWT secret); removed when the test ends.
    pub dir: TempDir,
    pool: RawPool,
    /// PostgreSQL: the database to drop, and the admin URL to drop it from.
    drop_on_drop: Option<PgDatabase>,
}

struct PgDatabase {
    admin_url: String,
    name: String,
}

enum RawPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// The key of the advisory lock every tally writer takes on PostgreSQL (`"tally"` in ASCII);
/// the store's own copy is `WRITE_LOCK` in `store/postgres/mod.rs`.
const WRITERS_LOCK_KEY: i64 = 0x74616c6c79;

/// The write lock, held from outside the app (see [`TestDb::hold_writes`]).
pub enum HeldWrites {
    Sqlite(rusqlite::Connection),
    Postgres(sqlx::PgConnection),
}

impl HeldWrites {
    /// Lets writers in again.
    pub async fn release(self) {
        match self {
            HeldWrites::Sqlite(connection) => {
                connection.execute_batch("rollback").expect("release");
            }
            HeldWrites::Postgres(mut session) => {
                session
                    .execute(sqlx::AssertSqlSafe(format!(
                        "select pg_advisory_unlock({WRITERS_LOCK_KEY})"
                    )))
                    .await
                    .expect("release");
                let _ = session.close().await;
            }
        }
    }
}

/// Everything stored, as plain rows: compared before and after a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub events: Vec<String>,
    pub tasks: Vec<String>,
    pub shares: Vec<String>,
    pub team_shares: Vec<String>,
    pub access: Vec<String>,
    /// The dashboard rows that count something: a row of zeros reads as none (a rebuild
    /// writes rows only for users its fold counts something for).
    pub stats: Vec<String>,
    /// The trend rows that count something (one that fell to zero reads as none).
    pub daily: Vec<String>,
    pub teams: Vec<String>,
    pub members: Vec<String>,
    pub idempotency_keys: Vec<String>,
}

impl TestDb {
    /// Creates the database. `None` means PostgreSQL is not available here: neither
    /// `TALLY_TEST_POSTGRES_URL` nor its server binaries (the reason is printed). In CI (`CI`
    /// set) that fails the test instead, as do an unreachable server and a throwaway server that
    /// does not start.
    pub async fn create(backend: Backend) -> Option<TestDb> {
        let dir = tempfile::tempdir().expect("temporary folder");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("tally.db").display());
                let pool =
                    SqlitePool::connect_lazy(&format!("{url}?mode=rwc")).expect("sqlite url");
                Some(TestDb {
                    backend,
                    url,
                    direct_url: None,
                    dir,
                    pool: RawPool::Sqlite(pool),
                    drop_on_drop: None,
                })
            }
            Backend::Postgres => {
                let (admin_url, server) = postgres_admin_url()?;
                let direct_admin_url = std::env::var("TALLY_TEST_POSTGRES_DIRECT_URL").ok();
                let session_admin_url = direct_admin_url.clone().unwrap_or(admin_url.clone());
                let mut admin = sqlx::PgConnection::connect(&session_admin_url)
                    .await
                    .unwrap_or_else(|error| panic!("{server} is unreachable: {error}"));
                let name = format!("tally_t_{}", uuid::Uuid::now_v7().simple());
                admin
                    .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .await
                    .expect("create test database");
                let _ = admin.close().await;
                let url = with_database(&admin_url, &name);
                let direct_url = direct_admin_url.map(|direct| with_database(&direct, &name));
                let pool = PgPool::connect_lazy(direct_url.as_ref().unwrap_or(&url))
                    .expect("postgres url");
                Some(TestDb {
                    backend,
                    url,
                    direct_url,
                    dir,
                    pool: RawPool::Postgres(pool),
                    drop_on_drop: Some(PgDatabase {
                        admin_url: session_admin_url,
                        name,
                    }),
                })
            }
        }
    }

    /// Opens the app's store on this database (through the pooler, when there is one).
    pub async fn open_store(&self, sqlite: SqliteOptions) -> Arc<dyn Store> {
        tally::store::open_with(&self.url, self.direct_url.as_deref(), &[], sqlite)
            .await
            .expect("open store")
    }

    /// A URL for a session of its own: the direct one when the app's goes through a pooler.
    pub fn session_url(&self) -> &str {
        self.direct_url.as_deref().unwrap_or(&self.url)
    }

    /// Every stored row, rendered as text in a stable order.
    pub async fn stored_state(&self) -> StoredState {
        StoredState {
            events: self
                .rows("select position, event_id, stream_id, stream_version, event_type, event_version, actor, recorded_at from events order by position")
                .await,
            tasks: self
                .rows("select id, owner_id, title, description, status, created_at, updated_at, completed_at, version from tasks order by id")
                .await,
            shares: self
                .rows("select task_id, user_id, permission from task_shares order by task_id, user_id")
                .await,
            team_shares: self
                .rows("select task_id, team_id, permission from task_team_shares order by task_id, team_id")
                .await,
            access: self
                .rows("select task_id, user_id, permission, direct, team_view, team_edit from task_access order by task_id, user_id")
                .await,
            stats: self
                .rows("select user_id, pending, completed, shared_view, shared_edit, created_day, created_day_count, created_week, created_week_count, completed_day, completed_day_count, completed_week, completed_week_count from dashboard_stats where pending <> 0 or completed <> 0 or shared_view <> 0 or shared_edit <> 0 or created_day_count <> 0 or created_week_count <> 0 or completed_day_count <> 0 or completed_week_count <> 0 order by user_id")
                .await,
            daily: self
                .rows("select user_id, day, created, completed from daily_stats where created <> 0 or completed <> 0 order by user_id, day")
                .await,
            teams: self
                .rows("select id, name, created_at, version from teams order by id")
                .await,
            members: self
                .rows("select team_id, user_id, role from team_members order by team_id, user_id")
                .await,
            idempotency_keys: self
                .rows("select user_id, key, fingerprint, task_id, version, position from idempotency_keys order by user_id, key")
                .await,
        }
    }

    /// How many events the log holds.
    pub async fn event_count(&self) -> i64 {
        self.scalar("select count(*) from events", &[]).await
    }

    /// A `select count(*) …` (or any single integer) with text parameters `$1, $2, …`.
    pub async fn scalar(&self, sql: &'static str, params: &[&str]) -> i64 {
        match &self.pool {
            RawPool::Sqlite(pool) => {
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                for param in params {
                    query = query.bind(*param);
                }
                query.fetch_one(pool).await.expect("sqlite scalar")
            }
            RawPool::Postgres(pool) => {
                let mut query = sqlx::query_scalar::<_, i64>(sql);
                for param in params {
                    query = query.bind(*param);
                }
                query.fetch_one(pool).await.expect("postgres scalar")
            }
        }
    }

    /// The one text column `sql` selects, row by row.
    pub async fn texts(&self, sql: &'static str) -> Vec<String> {
        match &self.pool {
            RawPool::Sqlite(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
            RawPool::Postgres(pool) => sqlx::query_scalar(sql).fetch_all(pool).await,
        }
        .expect("text column")
    }

    /// [`texts`](Self::texts) of a query with one text parameter, `$1` (PostgreSQL) or `?1`.
    pub async fn texts_with(&self, sql: &'static str, param: &str) -> Vec<String> {
        match &self.pool {
            RawPool::Sqlite(pool) => sqlx::query_scalar(sql).bind(param).fetch_all(pool).await,
            RawPool::Postgres(pool) => sqlx::query_scalar(sql).bind(param).fetch_all(pool).await,
        }
        .expect("text column")
    }

    /// Whether a table named `name` exists (committed, as any other connection sees it):
    /// SQLite's `sqlite_master`, PostgreSQL's `pg_tables`.
    pub async fn has_table(&self, name: &str) -> bool {
        let sql = match self.backend {
            Backend::Sqlite => "select count(*) from sqlite_master where name = $1",
            Backend::Postgres => "select count(*) from pg_tables where tablename = $1",
        };
        self.scalar(sql, &[name]).await > 0
    }

    /// PostgreSQL: runs `statement(name)` on the server's admin database, with `name` this
    /// database's (an operator's `alter database` or `drop database` about it).
    pub async fn as_admin(&self, statement: impl Fn(&str) -> String) {
        let PgDatabase { admin_url, name } = self.drop_on_drop.as_ref().expect("PostgreSQL");
        let mut admin = sqlx::PgConnection::connect(admin_url)
            .await
            .expect("admin connection");
        let sql = statement(name);
        admin
            .execute(sqlx::AssertSqlSafe(sql.clone()))
            .await
            .unwrap_or_else(|error| panic!("{sql}: {error}"));
        let _ = admin.close().await;
    }

    /// Runs a statement that changes data behind the store's back (to inject drift).
    pub async fn execute(&self, sql: &'static str) {
        match &self.pool {
            RawPool::Sqlite(pool) => {
                pool.execute(sql).await.expect("sqlite execute");
            }
            RawPool::Postgres(pool) => {
                pool.execute(sql).await.expect("postgres execute");
            }
        }
    }

    /// Takes the write lock the way another writer would and holds it until
    /// [`HeldWrites::release`]: SQLite's file lock (`begin immediate` on a connection of its
    /// own), PostgreSQL's writers' advisory lock (on a session of its own).
    pub async fn hold_writes(&self) -> HeldWrites {
        match self.backend {
            Backend::Sqlite => {
                let path = self.url.trim_start_matches("sqlite://");
                let connection = rusqlite::Connection::open(path).expect("open sqlite file");
                connection
                    .execute_batch("begin immediate")
                    .expect("take sqlite's write lock");
                HeldWrites::Sqlite(connection)
            }
            Backend::Postgres => {
                let mut session = sqlx::PgConnection::connect(self.session_url())
                    .await
                    .expect("connect");
                session
                    .execute(sqlx::AssertSqlSafe(format!(
                        "select pg_advisory_lock({WRITERS_LOCK_KEY})"
                    )))
                    .await
                    .expect("take the writers' lock");
                HeldWrites::Postgres(session)
            }
        }
    }

    /// Each row of `sql` rendered as `col=value` pairs; works on both backends because every
    /// column is read as text.
    async fn rows(&self, sql: &'static str) -> Vec<String> {
        match &self.pool {
            RawPool::Sqlite(pool) => sqlx::query(sql)
                .fetch_all(pool)
                .await
                .expect("sqlite rows")
                .iter()
                .map(|row| {
                    (0..row.len())
                        .map(|i| sqlite_text(row, i))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect(),
            RawPool::Postgres(pool) => {
                let text_sql =
                    sqlx::AssertSqlSafe(format!("select row_to_json(r)::text from ({sql}) r"));
                sqlx::query_scalar::<_, String>(text_sql)
                    .fetch_all(pool)
                    .await
                    .expect("postgres rows")
            }
        }
    }
}

impl Drop for TestDb {
    /// Drops the PostgreSQL database, `with (force)` since the test's pools may still hold
    /// connections to it. On a thread of its own with its own runtime, joined, so that it is
    /// done when the test returns and cannot deadlock a runtime it is dropped in.
    fn drop(&mut self) {
        let Some(PgDatabase { admin_url, name }) = self.drop_on_drop.take() else {
            return;
        };
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|error| error.to_string())?;
            runtime.block_on(async {
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .map_err(|error| error.to_string())?;
                admin
                    .execute(sqlx::AssertSqlSafe(format!(
                        "drop database if exists {name} with (force)"
                    )))
                    .await
                    .map_err(|error| format!("{name}: {error}"))?;
                let _ = admin.close().await;
                Ok::<_, String>(())
            })
        })
        .join();
        // Never panic here: a drop during a failing test's unwinding would abort the process.
        match dropped {
            Ok(Ok(())) => {}
            Ok(Err(error)) => eprintln!("could not drop a PostgreSQL test database: {error}"),
            Err(_) => eprintln!("dropping a PostgreSQL test database panicked"),
        }
    }
}

/// The server PostgreSQL test databases are created on, and what to call it in errors (not
/// its URL, which may hold a password): `TALLY_TEST_POSTGRES_URL`, else the throwaway server.
/// `None` (with the reason printed) when there is neither, except in CI.
///
/// Through a transaction pooler: `TALLY_TEST_POSTGRES_URL` names the pooler (with
/// `?pgbouncer=true`) and `TALLY_TEST_POSTGRES_DIRECT_URL` the server behind it, which creates
/// and drops the test databases and backs the raw views of what is stored (`.ci/run` runs the
/// PostgreSQL tests so, through PgBouncer).
fn postgres_admin_url() -> Option<(String, &'static str)> {
    if let Ok(url) = std::env::var("TALLY_TEST_POSTGRES_URL") {
        return Some((url, "the PostgreSQL server of TALLY_TEST_POSTGRES_URL"));
    }
    match super::throwaway::url() {
        Some(Ok(url)) => Some((url, "the throwaway PostgreSQL server")),
        Some(Err(error)) => panic!("the throwaway PostgreSQL server did not start: {error}"),
        None if std::env::var_os("CI").is_some() => panic!(
            "CI must set TALLY_TEST_POSTGRES_URL or install PostgreSQL's server binaries: the \
             PostgreSQL tests are mandatory there"
        ),
        None => {
            eprintln!(
                "no PostgreSQL: TALLY_TEST_POSTGRES_URL is not set and no server binaries \
                 (initdb, postgres) were found"
            );
            None
        }
    }
}

fn sqlite_text(row: &sqlx::sqlite::SqliteRow, index: usize) -> String {
    if let Ok(value) = row.try_get::<Option<i64>, _>(index) {
        return format!("{value:?}");
    }
    if let Ok(value) = row.try_get::<Option<String>, _>(index) {
        return format!("{value:?}");
    }
    if let Ok(value) = row.try_get::<Option<Vec<u8>>, _>(index) {
        return format!("{value:?}");
    }
    "?".into()
}

/// `url` with its database name replaced by `name`.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let base = match base.rfind('/') {
        Some(slash) if base[..slash].contains("//") && slash > base.find("//").unwrap() + 1 => {
            &base[..slash]
        }
        _ => base,
    };
    match query {
        Some(query) => format!("{base}/{name}?{query}"),
        None => format!("{base}/{name}"),
    }
}

pub use super::throwaway::Server as ThrowawayServer;
pub use super::throwaway::tls_only as tls_only_server;

/// A primary of the test's own and a hot standby streaming from it; fails the test where
/// PostgreSQL's server binaries (`initdb`, `postgres`, `pg_basebackup`) are not installed.
/// Each stops once dropped.
pub fn replicated_servers() -> (super::throwaway::Server, super::throwaway::Server) {
    match super::throwaway::replicated() {
        Some(Ok(pair)) => pair,
        Some(Err(error)) => panic!("a primary and a standby did not start: {error}"),
        None => panic!("a standby needs PostgreSQL's server binaries (initdb, pg_basebackup)"),
    }
}
