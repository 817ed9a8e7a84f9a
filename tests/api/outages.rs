//! Bad days: a writer that cannot get the write lock in time, and (on PostgreSQL) the server's
//! connections cancelled and terminated in the middle of a write burst, and the database out
//! of reach. Whatever a command is answered, it means what it says: a 503 was not applied, a
//! 201 is stored; an outage is answered 503 at once once it is known; and once the database
//! is back commands succeed again.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use axum::http::StatusCode;
use serde_json::json;
use tally::auth::Authenticator;
use tally::clock::Clock;
use tally::commands::Deadlines;
use tally::http::{Tuning, router};
use tally::store::SqliteOptions;
use tokio::task::JoinSet;

use crate::support::proxy::Proxy;
use crate::support::{
    Backend, TestApp, TestDb, TestRequest, TestResponse, on_both_backends, send_to, serving,
    started, test_auth_config, wait_until,
};

on_both_backends!(
    a_command_out_of_time_is_answered_503_and_never_applied,
    commands_survive_cancelled_and_terminated_connections,
);

/// Deadlines short enough for a test: a queued command gives up long before a blocked batch.
const SHORT: Deadlines = Deadlines {
    queued: Duration::from_millis(100),
    batch: Duration::from_millis(1500),
};

fn create(title: &str) -> TestRequest {
    TestRequest::post("/api/tasks")
        .user("alice")
        .json(json!({ "title": title }))
}

/// A 503 that promises nothing was applied: `timeout` or `unavailable`, with `Retry-After`.
fn assert_not_applied(answer: &TestResponse) {
    assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
    let kind = answer.body["type"].as_str().unwrap_or_default();
    assert!(kind == "timeout" || kind == "unavailable", "{answer:?}");
    assert!(answer.headers.contains_key("retry-after"), "{answer:?}");
}

async fn a_command_out_of_time_is_answered_503_and_never_applied(app: TestApp) {
    let tuning = Tuning {
        deadlines: SHORT,
        ..Tuning::default()
    };
    let (short, _background) = started(
        app.store.clone(),
        app.auth.clone(),
        app.clock.clock(),
        tuning,
    )
    .await;
    let commands = short.commands.clone();
    let short = router(short);
    let before = app.db.stored_state().await;
    let held = app.db.hold_writes().await;

    // The writer takes the first command and waits for the lock until its batch runs out of
    // time; a command queued behind it runs out of time first and is withdrawn.
    let blocked = tokio::spawn({
        let short = short.clone();
        async move { send_to(&short, create("blocked")).await }
    });
    wait_until("the writer takes the first command", async || {
        commands.taken() == 1
    })
    .await;
    let queued = send_to(&short, create("queued")).await;
    let blocked = blocked.await.expect("blocked request");
    held.release().await;

    assert_not_applied(&queued);
    assert_eq!(queued.body["type"], "timeout", "{queued:?}");
    assert_not_applied(&blocked);
    assert_eq!(blocked.body["type"], "unavailable", "{blocked:?}");
    assert_eq!(app.db.stored_state().await, before, "nothing was applied");

    // The lock is free again: the same writer commits at once, and never ran the withdrawn one.
    let after = send_to(&short, create("after")).await;
    assert_eq!(after.status, StatusCode::CREATED, "{after:?}");
    assert_eq!(app.db.event_count().await, 1);
    assert_eq!(commands.taken(), 2, "the withdrawn command was skipped");
}

/// On PostgreSQL, cancels the running statements of every other session on the test database,
/// then terminates those sessions, again and again, while several clients create tasks.
async fn commands_survive_cancelled_and_terminated_connections(app: TestApp) {
    let attacking = Arc::new(AtomicBool::new(app.db.backend == Backend::Postgres));
    let attack = tokio::spawn(cancel_and_terminate_sessions(
        app.db.session_url().to_owned(),
        attacking.clone(),
    ));
    // Each client sends 40 creates, and goes on for as long as the attack lasts.
    let mut clients = JoinSet::new();
    for client in 0..8 {
        let (router, attacking) = (app.router.clone(), attacking.clone());
        clients.spawn(async move {
            let mut answers = Vec::new();
            for n in 0.. {
                if n >= 40 && !attacking.load(Ordering::Acquire) {
                    break;
                }
                let title = format!("client {client} task {n}");
                answers.push((title.clone(), send_to(&router, create(&title)).await));
            }
            answers
        });
    }
    let answers: Vec<(String, TestResponse)> =
        clients.join_all().await.into_iter().flatten().collect();
    attack.await.expect("the attack");

    if app.db.backend == Backend::Postgres {
        let refused = answers
            .iter()
            .filter(|(_, a)| a.status != StatusCode::CREATED);
        assert!(refused.count() > 0, "the attack reached the writer");
    }
    let mut acknowledged = BTreeSet::new();
    let mut unknown = BTreeSet::new();
    for (title, answer) in &answers {
        match answer.status {
            StatusCode::CREATED => {
                acknowledged.insert(title.clone());
            }
            StatusCode::INTERNAL_SERVER_ERROR => {
                assert_eq!(answer.body["type"], "outcome-unknown", "{answer:?}");
                unknown.insert(title.clone());
            }
            _ => assert_not_applied(answer),
        }
    }
    let stored = stored_titles(&app).await;
    assert!(
        acknowledged.is_subset(&stored),
        "every acknowledged task is stored"
    );
    let unexplained: Vec<_> = stored
        .difference(&acknowledged)
        .filter(|title| !unknown.contains(*title))
        .collect();
    assert!(
        unexplained.is_empty(),
        "stored though answered 'not applied': {unexplained:?}"
    );

    // With the database left alone, commands and reads succeed again at once.
    let again = app.send(create("after the attack")).await;
    assert_eq!(again.status, StatusCode::CREATED, "{again:?}");
    let dashboard = app.get("/api/dashboard", "alice").await;
    assert_eq!(dashboard.status, StatusCode::OK, "{dashboard:?}");
    let report = app
        .store
        .verify(false, app.clock.now(), &())
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report:?}");
}

/// The titles of every task stored.
async fn stored_titles(app: &TestApp) -> BTreeSet<String> {
    let titles = app.db.texts("select title from tasks").await;
    titles.into_iter().collect()
}

/// On PostgreSQL, 30 rounds of cancelling every other session's statement on the database or
/// terminating the sessions, each after the app has had a moment to reconnect; then clears
/// `attacking`.
async fn cancel_and_terminate_sessions(url: String, attacking: Arc<AtomicBool>) {
    use sqlx::Connection;
    if !attacking.load(Ordering::Acquire) {
        return;
    }
    let mut admin = sqlx::PgConnection::connect(&url).await.expect("connect");
    for round in 0..30 {
        let action = if round % 2 == 0 {
            "pg_cancel_backend"
        } else {
            "pg_terminate_backend"
        };
        let sql = format!(
            "select count({action}(pid)) from pg_stat_activity \
             where datname = current_database() and pid <> pg_backend_pid()"
        );
        sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(sql))
            .fetch_one(&mut admin)
            .await
            .expect("cancel or terminate");
        // The pace of the attack, not a wait for something to happen.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = admin.close().await;
    attacking.store(false, Ordering::Release);
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn an_unreachable_database_is_answered_503_at_once_and_found_again() {
    let db = TestDb::create(Backend::Postgres)
        .await
        .expect("PostgreSQL was available when this test binary was built");
    let mut proxy = Proxy::in_front_of(&db.url).await;
    let direct_url = db.direct_url.as_deref();
    let store = tally::store::open_with(&proxy.url, direct_url, &[], SqliteOptions::default())
        .await
        .expect("open through the proxy");
    let auth = Arc::new(
        Authenticator::from_config(&test_auth_config(), db.dir.path()).expect("authenticator"),
    );
    let (state, _background) = serving(store.clone(), auth, Clock::system()).await;
    let app = router(state);
    let before = send_to(&app, create("before the outage")).await;
    assert_eq!(before.status, StatusCode::CREATED, "{before:?}");

    proxy.cut().await;
    // Reads of the database: a dashboard row kept in memory may still be served while this
    // node hears every change (its listener may not go through the proxy), and rightly.
    let read = || {
        TestRequest::get("/api/dashboard")
            .user("alice")
            .header(axum::http::header::CACHE_CONTROL, "no-cache")
    };
    // The first caller learns of the outage within the pool's acquire timeout...
    let first = send_to(&app, read()).await;
    assert_not_applied(&first);
    // ...and everyone after it is answered at once: reads, commands, the health check.
    for request in [
        read(),
        create("during the outage"),
        TestRequest::get("/api/dashboard/health"),
    ] {
        let sent = Instant::now();
        let answer = send_to(&app, request).await;
        assert_eq!(answer.status, StatusCode::SERVICE_UNAVAILABLE, "{answer:?}");
        assert!(
            sent.elapsed() < Duration::from_millis(500),
            "answered after {:?}",
            sent.elapsed()
        );
    }

    proxy.restore().await;
    wait_until("the store finds the database again", async || {
        let read = send_to(&app, TestRequest::get("/api/dashboard").user("alice")).await;
        read.status == StatusCode::OK
    })
    .await;
    let after = send_to(&app, create("after the outage")).await;
    assert_eq!(after.status, StatusCode::CREATED, "{after:?}");
    let titles = db.texts("select title from tasks order by title").await;
    assert_eq!(titles, ["after the outage", "before the outage"]);
    let report = store
        .verify(false, chrono::Utc::now(), &())
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report:?}");
}
