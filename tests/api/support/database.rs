//! Fresh test databases and raw SQL views of what they hold, independent of the store's code.

use sqlx::postgres::PgPool;
use sqlx::sqlite::SqlitePool;
use sqlx::{Connection, Executor, Row};
use tempfile::TempDir;

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty database: a file in a temporary folder, or a new PostgreSQL database.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    /// The temporary folder (SQLite file, JWT secret); removed when the test ends.
    pub dir: TempDir,
    pool: RawPool,
}

enum RawPool {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

/// Everything stored, as plain rows: compared before and after a refused request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredState {
    pub events: Vec<String>,
    pub tasks: Vec<String>,
    pub shares: Vec<String>,
    pub stats: Vec<String>,
    pub idempotency_keys: Vec<String>,
}

impl TestDb {
    /// Creates the database. `None` means PostgreSQL is not configured here (the reason is
    /// printed); in CI (`CI` set) a missing or unreachable PostgreSQL fails the test instead.
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
                    dir,
                    pool: RawPool::Sqlite(pool),
                })
            }
            Backend::Postgres => {
                let Ok(admin_url) = std::env::var("TALLY_TEST_POSTGRES_URL") else {
                    if std::env::var_os("CI").is_some() {
                        panic!(
                            "CI must set TALLY_TEST_POSTGRES_URL: the PostgreSQL tests are mandatory there"
                        );
                    }
                    eprintln!("skipping a PostgreSQL test: TALLY_TEST_POSTGRES_URL is not set");
                    return None;
                };
                let mut admin = sqlx::PgConnection::connect(&admin_url)
                    .await
                    .unwrap_or_else(|error| {
                        panic!("TALLY_TEST_POSTGRES_URL is set but unreachable: {error}")
                    });
                let name = format!("tally_t_{}", uuid::Uuid::now_v7().simple());
                admin
                    .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
                    .await
                    .expect("create test database");
                let url = with_database(&admin_url, &name);
                let pool = PgPool::connect_lazy(&url).expect("postgres url");
                Some(TestDb {
                    backend,
                    url,
                    dir,
                    pool: RawPool::Postgres(pool),
                })
            }
        }
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
            stats: self
                .rows("select user_id, pending, completed, shared_view, shared_edit, created_day, created_day_count, created_week, created_week_count, completed_day, completed_day_count, completed_week, completed_week_count from dashboard_stats order by user_id")
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
