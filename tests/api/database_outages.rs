//! Outages an operator or the machine causes under a running server: PostgreSQL closing the
//! database to connections or dropping it, an SQLite file the operating system will not let
//! anyone write. Each is answered 503 `unavailable` with `Retry-After`, never 500; a refused
//! command stores nothing; the health check says `commands: stopped` while commands cannot
//! commit and `accepting` again, with no restart and no command needed, once they can; an
//! SQLite file moved away likewise. And a database out of reach at start-up is named, with
//! the cause.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::http::StatusCode;
use serde_json::json;
use tally::auth::Authenticator;
use tally::background::Background;
use tally::clock::Clock;
use tally::http::router;
use tally::live::Hub;
use tally::store::SqliteOptions;

use crate::support::held_port::HeldPort;
use crate::support::process::{PATIENCE, with_clean_env};
use crate::support::{
    Backend, TestDb, TestRequest, TestResponse, send_to, serving, test_auth_config, wait_until,
};

fn create(title: &str) -> TestRequest {
    TestRequest::post("/api/tasks")
        .user("alice")
        .json(json!({ "title": title }))
}

fn dashboard() -> TestRequest {
    TestRequest::get("/api/dashboard").user("alice")
}

/// The app on `db`, as `tally serve` builds it, with its background tasks.
async fn app_on(db: &TestDb) -> (Router, Background, Arc<Hub>) {
    let store = db.open_store(SqliteOptions::default()).await;
    let auth = Arc::new(
        Authenticator::from_config(&test_auth_config(), db.dir.path()).expect("authenticator"),
    );
    let (state, background) = serving(store, auth, Clock::system()).await;
    let hub = state.hub.clone();
    (router(state), background, hub)
}

/// Waits until the server knows that its connection listening for other servers' changes is
/// gone with the database. Until then it may answer a dashboard read from a row it keeps in
/// memory, rightly: nothing can commit while the database is out.
async fn wait_until_unheard(hub: &Hub) {
    wait_until("the listener's loss known", async || !hub.is_following()).await;
}

/// 503 `unavailable` with `Retry-After`: the outage's answer, which promises nothing applied.
/// Through a transaction pooler the pooler holds the query while it retries the server, so
/// tally's own deadline ends it first: 503 `timeout`, the contract's more precise slug.
fn assert_unavailable(answer: &TestResponse) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    let pooled = std::env::var_os("TALLY_TEST_POSTGRES_DIRECT_URL").is_some();
    let problem = answer.body["type"].as_str().unwrap_or_default();
    assert!(
        problem == "unavailable" || (pooled && problem == "timeout"),
        "{answer:?}"
    );
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
}

async fn health(app: &Router) -> TestResponse {
    send_to(app, TestRequest::get("/api/dashboard/health")).await
}

/// Waits until the health check says all is well again.
async fn wait_until_healthy(app: &Router) {
    wait_until("the health check says commands are accepted", async || {
        let health = health(app).await;
        health.status == StatusCode::OK && health.body["commands"] == "accepting"
    })
    .await;
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_database_closed_to_connections_is_answered_503_until_it_opens_again() {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("PostgreSQL was available when this test binary was built");
    let (app, _background, hub) = app_on(&db).await;
    let before = send_to(&app, create("before")).await;
    assert_eq!(before.status, StatusCode::CREATED, "{before:?}");

    // What an operator does to take a database out of service: no new connections, and the
    // sessions it has are ended.
    db.as_admin(|name| format!("alter database {name} allow_connections false"))
        .await;
    db.as_admin(|name| {
        format!("select pg_terminate_backend(pid) from pg_stat_activity where datname = '{name}'")
    })
    .await;
    wait_until_unheard(&hub).await;

    for request in [dashboard(), create("while closed"), dashboard()] {
        assert_unavailable(&send_to(&app, request).await);
    }
    // Once known, the outage is answered again (without trying the database: not timed
    // here, a busy machine makes any bound flaky).
    assert_unavailable(&send_to(&app, create("while closed, again")).await);
    let during = health(&app).await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE, "{during:?}");
    assert_eq!(during.body["database"], "unreachable", "{during:?}");
    assert_eq!(during.body["commands"], "stopped", "{during:?}");

    db.as_admin(|name| format!("alter database {name} allow_connections true"))
        .await;
    wait_until_healthy(&app).await;
    let after = send_to(&app, create("after")).await;
    assert_eq!(after.status, StatusCode::CREATED, "{after:?}");
    let titles = db.texts("select title from tasks order by title").await;
    assert_eq!(titles, ["after", "before"], "nothing refused was stored");
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_dropped_database_is_answered_503_and_health_says_so() {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("PostgreSQL was available when this test binary was built");
    let (app, _background, hub) = app_on(&db).await;
    let before = send_to(&app, create("before")).await;
    assert_eq!(before.status, StatusCode::CREATED, "{before:?}");

    db.as_admin(|name| format!("drop database {name} with (force)"))
        .await;
    wait_until_unheard(&hub).await;

    for request in [dashboard(), create("after the drop"), dashboard()] {
        assert_unavailable(&send_to(&app, request).await);
    }
    assert_unavailable(&send_to(&app, create("after the drop, again")).await);
    let health = health(&app).await;
    assert_eq!(health.status, StatusCode::SERVICE_UNAVAILABLE, "{health:?}");
    assert_eq!(health.body["status"], "unavailable", "{health:?}");
    assert_eq!(health.body["database"], "unreachable", "{health:?}");
    assert_eq!(health.body["commands"], "stopped", "{health:?}");
}

/// Files nobody may write, root included (`chattr +i`), until this is dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    fn set(files: &[PathBuf]) -> Immutable {
        chattr("+i", files);
        Immutable(files.to_vec())
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        chattr("-i", &self.0);
    }
}

fn chattr(flag: &str, files: &[PathBuf]) {
    let status = Command::new("chattr")
        .arg(flag)
        .args(files)
        .status()
        .expect("chattr");
    assert!(status.success(), "chattr {flag} {files:?}");
}

/// The database file and its write-ahead log made immutable: every write the operating
/// system is asked for fails (as on a file system remounted read-only), for the server's
/// open connections too, and a connection opened meanwhile opens the file read-only. Its
/// `-shm` is left alone: SQLite writes it through memory, where a refusal is a SIGBUS.
#[tokio::test]
#[cfg_attr(
    immutable_files_unavailable,
    ignore = "files cannot be made immutable here: run as root on a file system with chattr +i"
)]
async fn an_sqlite_file_that_cannot_be_written_is_answered_503_until_it_can() {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    let (app, _background, _) = app_on(&db).await;
    let before = send_to(&app, create("before")).await;
    assert_eq!(before.status, StatusCode::CREATED, "{before:?}");

    let file = db.dir.path().join("tally.db");
    let files = [file.clone(), with_suffix(&file, "-wal")];
    let immutable = Immutable::set(&files);
    // The first command meets the refusal at its commit; the next ones as they begin.
    for title in ["while read-only", "while read-only, again"] {
        assert_unavailable(&send_to(&app, create(title)).await);
    }
    let read = send_to(&app, dashboard()).await;
    assert_eq!(read.status, StatusCode::OK, "reads go on: {read:?}");
    assert_eq!(read.body["total"], 1, "{read:?}");
    let during = health(&app).await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE, "{during:?}");
    assert_eq!(during.body["database"], "reachable", "{during:?}");
    assert_eq!(during.body["commands"], "stopped", "{during:?}");

    drop(immutable);
    wait_until_healthy(&app).await;
    let after = send_to(&app, create("after")).await;
    assert_eq!(after.status, StatusCode::CREATED, "{after:?}");
    let titles = db.texts("select title from tasks order by title").await;
    assert_eq!(titles, ["after", "before"], "nothing refused was stored");
}

/// A folder moved away, moved back when this is dropped (so that it can be removed).
struct MovedAway {
    from: PathBuf,
    to: PathBuf,
}

impl Drop for MovedAway {
    fn drop(&mut self) {
        std::fs::rename(&self.to, &self.from).expect("move the folder back");
    }
}

/// The SQLite file's folder moved away under the running server, then back. Its open
/// connections would go on writing to the file where it went (or to a deleted one, lost when
/// the server stops): commands are refused instead, and go on once it is back.
#[tokio::test]
async fn an_sqlite_file_moved_away_is_answered_503_until_it_is_back() {
    let db = TestDb::create(Backend::Sqlite).await.expect("SQLite");
    let (app, _background, _) = app_on(&db).await;
    let before = send_to(&app, create("before")).await;
    assert_eq!(before.status, StatusCode::CREATED, "{before:?}");

    let folder = db.dir.path().to_owned();
    let away = with_suffix(&folder, "-away");
    std::fs::rename(&folder, &away).expect("move the folder away");
    let moved = MovedAway {
        from: folder,
        to: away,
    };
    for title in ["while away", "while away, again"] {
        assert_unavailable(&send_to(&app, create(title)).await);
    }
    let during = health(&app).await;
    assert_eq!(during.status, StatusCode::SERVICE_UNAVAILABLE, "{during:?}");
    assert_eq!(during.body["commands"], "stopped", "{during:?}");

    drop(moved);
    wait_until_healthy(&app).await;
    let after = send_to(&app, create("after")).await;
    assert_eq!(after.status, StatusCode::CREATED, "{after:?}");
    let titles = db.texts("select title from tasks order by title").await;
    assert_eq!(titles, ["after", "before"], "nothing refused was stored");
}

fn with_suffix(file: &Path, suffix: &str) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// `tally serve` with a PostgreSQL URL whose port nothing listens on exits at once, saying
/// where it tried (never the password) and why, not merely that a pool timed out.
#[tokio::test]
async fn an_unreachable_database_at_start_is_named_with_its_cause() {
    let root = tempfile::tempdir().expect("temporary folder");
    // Held, not listening: connections to it are refused, and no other test's server can take
    // it meanwhile.
    let nothing_listens = HeldPort::new();
    let port = nothing_listens.port();
    let url = format!("postgres://tally:not-to-be-shown@127.0.0.1:{port}/tally");
    let log = root.path().join("serve.log");
    let output = std::fs::File::create(&log).expect("log file");
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .arg("serve")
        .stdin(Stdio::null())
        .stdout(output.try_clone().expect("log file"))
        .stderr(output);
    with_clean_env(&mut command, root.path(), None);
    command
        .env("TALLY_DATABASE_URL", &url)
        .env("TALLY_LISTEN", "127.0.0.1:0");
    let mut child = command.spawn().expect("spawn tally serve");

    let deadline = Instant::now() + PATIENCE;
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            panic!("tally serve did not exit");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let said = std::fs::read_to_string(&log).expect("log");
    assert!(!status.success(), "{status}: {said}");
    assert!(said.contains(&format!("127.0.0.1:{port}")), "{said}");
    assert!(said.to_lowercase().contains("refused"), "{said}");
    assert!(!said.contains("not-to-be-shown"), "{said}");
}
