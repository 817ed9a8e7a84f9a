//! Set-up the benches share: a seeded store behind the real router, and the knobs CI uses.

#![allow(dead_code)]

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, header};
use chrono::Utc;
use indicatif::ProgressBar;
use tally::auth::{AuthConfig, Authenticator};
use tally::background::Background;
use tally::clock::Clock;
use tally::commands::Commands;
use tally::domain::UserId;
use tally::http::{Tuning, router};
use tally::store::{SqliteOptions, Store};
use tempfile::TempDir;

pub const SECRET: &str = "a-bench-secret-that-is-at-least-32-bytes-long";

/// `TALLY_BENCH_QUICK=1` (CI): smallest sizes only, so every bench runs but briefly.
pub fn quick() -> bool {
    std::env::var_os("TALLY_BENCH_QUICK").is_some()
}

/// The backends to measure: SQLite always; PostgreSQL when `TALLY_TEST_POSTGRES_URL` is set;
/// PostgreSQL through a transaction pooler too when `TALLY_BENCH_POOLER_URL` is set as well
/// (`postgres://user@host:port`, a PgBouncer in front of that server, e.g. `.ci/pgbouncer`'s).
pub fn backends() -> Vec<&'static str> {
    let mut backends = vec!["sqlite"];
    if std::env::var_os("TALLY_TEST_POSTGRES_URL").is_some() {
        backends.push("postgres");
        if std::env::var_os("TALLY_BENCH_POOLER_URL").is_some() {
            backends.push("postgres-pooled");
        }
    }
    backends
}

/// A fresh database for a bench.
pub struct BenchDb {
    /// What the app connects to.
    pub url: String,
    /// The server itself, when `url` goes through a pooler.
    pub direct_url: Option<String>,
    /// Holds the SQLite file.
    pub dir: TempDir,
}

impl BenchDb {
    /// A URL for a session of its own (the naive reads, the set-up).
    pub fn session_url(&self) -> &str {
        self.direct_url.as_deref().unwrap_or(&self.url)
    }

    /// Opens a store; `durable` picks SQLite's `synchronous=FULL` (commands) or NORMAL
    /// (set-up).
    pub async fn open(&self, durable: bool) -> Arc<dyn Store> {
        let sqlite = SqliteOptions {
            full_sync: durable,
            ..SqliteOptions::default()
        };
        tally::store::open_with(&self.url, self.direct_url.as_deref(), &[], sqlite)
            .await
            .expect("open store")
    }
}

/// A fresh database of `backend` (see [`backends`]).
pub async fn fresh_database(backend: &str) -> BenchDb {
    let dir = tempfile::tempdir().expect("temporary folder");
    if backend == "sqlite" {
        let url = format!("sqlite://{}", dir.path().join("bench.db").display());
        return BenchDb {
            url,
            direct_url: None,
            dir,
        };
    }
    use sqlx::{Connection, Executor};
    let admin = std::env::var("TALLY_TEST_POSTGRES_URL").expect("postgres url");
    let mut connection = sqlx::PgConnection::connect(&admin).await.expect("postgres");
    let name = format!("tally_t_bench_{}", uuid::Uuid::now_v7().simple());
    connection
        .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
        .await
        .expect("create bench database");
    let base = admin
        .rsplit_once('/')
        .map_or(admin.as_str(), |(base, _)| base);
    let direct = format!("{base}/{name}");
    match backend {
        "postgres-pooled" => {
            let pooler = std::env::var("TALLY_BENCH_POOLER_URL").expect("pooler url");
            BenchDb {
                url: format!("{pooler}/{name}?pgbouncer=true"),
                direct_url: Some(direct),
                dir,
            }
        }
        _ => BenchDb {
            url: direct,
            direct_url: None,
            dir,
        },
    }
}

/// Users `seed-0` and `seed-1` with `tasks` tasks each, through the real command path.
pub async fn seed(store: &Arc<dyn Store>, tasks: usize) {
    let commands = Arc::new(Commands::start(store.clone()));
    tally::seed::seed(commands.clone(), 2, tasks, ProgressBar::hidden())
        .await
        .expect("seed");
    commands.close().await;
}

/// The real router with the real JWT check, and its background tasks (keep them: dropping
/// them stops the streams); async because they start on the runtime.
pub async fn app(store: Arc<dyn Store>, dir: &TempDir) -> (Router, Arc<Authenticator>, Background) {
    let auth = Arc::new(
        Authenticator::from_config(
            &AuthConfig {
                secret: Some(SECRET.into()),
                ..AuthConfig::default()
            },
            dir.path(),
        )
        .expect("authenticator"),
    );
    let (state, background) = Background::start(
        store,
        auth.clone(),
        Clock::system(),
        Tuning::default(),
        None,
    )
    .await
    .expect("the background tasks start");
    (router(state), auth, background)
}

/// A day-long token for `user`.
pub fn token(auth: &Authenticator, user: &str) -> String {
    auth.mint(
        &UserId::parse(user).expect("user"),
        Utc::now() + chrono::Duration::days(1),
    )
    .expect("token")
}

/// `GET path` with a bearer token.
pub fn get(path: &str, token: &str) -> Request<Body> {
    Request::builder()
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request")
}

/// Criterion settings: short in quick mode.
pub fn measurement_time() -> Duration {
    if quick() {
        Duration::from_millis(500)
    } else {
        Duration::from_secs(5)
    }
}
