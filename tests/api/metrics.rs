//! `GET /metrics`, read from a real `tally serve` (the metrics recorder is one per process):
//! the counters move with commands, the positions follow the log, a projection held back shows
//! its lag, and `TALLY_METRICS_LISTEN` moves the route to an address of its own.

use std::collections::BTreeMap;

use serde_json::json;
use sqlx::Connection;

use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

/// Every sample of a scrape, by series (name and labels, as written).
pub(crate) async fn scrape(server: &Server, address: &str) -> BTreeMap<String, f64> {
    let response = crate::support::http_client::send(address, TestRequest::get("/metrics"))
        .await
        .unwrap_or_else(|error| panic!("{error}\n{}", server.log()));
    assert_eq!(response.status, 200);
    let text = response.body.as_str().expect("text").to_owned();
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("series and value");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

#[track_caller]
pub(crate) fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no {series} in {samples:#?}"))
}

#[tokio::test]
async fn metrics_count_commands_and_follow_the_log_and_a_projection_held_back_shows_its_lag() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    for title in ["a", "b", "c"] {
        let create = TestRequest::post("/api/tasks").user("alice");
        assert_eq!(
            server
                .send(create.json(json!({ "title": title })))
                .await
                .status,
            201
        );
    }
    let unknown = "/api/tasks/0190a4e2-0000-7000-8000-000000000000/complete";
    assert_eq!(
        server
            .send(TestRequest::post(unknown).user("alice"))
            .await
            .status,
        404
    );

    let samples = scrape(&server, &server.address).await;
    let at = |series: &str| sample(&samples, series);
    assert_eq!(
        at(r#"tally_commands_total{kind="create",outcome="applied"}"#),
        3.0
    );
    assert_eq!(
        at(r#"tally_commands_total{kind="complete",outcome="not-found"}"#),
        1.0
    );
    assert_eq!(
        at(r#"tally_http_requests_total{route="/api/tasks",method="POST",status="201"}"#),
        3.0
    );
    assert_eq!(
        at(
            r#"tally_http_requests_total{route="/api/tasks/{id}/complete",method="POST",status="404"}"#
        ),
        1.0
    );
    assert_eq!(
        at("tally_commit_batch_size_sum"),
        4.0,
        "every command was in a batch"
    );
    assert!(at("tally_commit_duration_seconds_count") >= 1.0);
    assert_eq!(at("tally_events_appended_total"), 3.0);
    assert_eq!(at("tally_head_position"), 3.0);
    for projection in ["tasks", "dashboard", "trend"] {
        let labels = format!(r#"{{projection="{projection}"}}"#);
        assert_eq!(at(&format!("tally_projection_position{labels}")), 3.0);
        assert_eq!(at(&format!("tally_projection_lag_events{labels}")), 0.0);
        assert_eq!(at(&format!("tally_projection_lag_seconds{labels}")), 0.0);
    }
    assert_eq!(at("tally_database_up"), 1.0);
    // SQLite: one process sees every change (its head check stands in for announcements).
    assert_eq!(at("tally_following_changes"), 1.0);
    assert_eq!(
        at(&format!(
            r#"tally_build_info{{version="{}"}}"#,
            env!("CARGO_PKG_VERSION")
        )),
        1.0
    );
    let idle = at(r#"tally_db_pool_connections{pool="readers",state="idle"}"#);
    let in_use = at(r#"tally_db_pool_connections{pool="readers",state="in_use"}"#);
    assert!(idle + in_use >= 1.0);

    // Hold the dashboard projection back, as if it had fallen behind the log.
    let url = format!("sqlite://{}", root.path().join("data/tally.db").display());
    let mut raw = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    sqlx::query(
        "update projection_checkpoints set position = 1, updated_at = $1 where name = 'dashboard'",
    )
    .bind(an_hour_ago)
    .execute(&mut raw)
    .await
    .unwrap();
    let samples = scrape(&server, &server.address).await;
    let at = |series: &str| sample(&samples, series);
    assert_eq!(
        at(r#"tally_projection_lag_events{projection="dashboard"}"#),
        2.0
    );
    let stalled = at(r#"tally_projection_lag_seconds{projection="dashboard"}"#);
    assert!((3600.0..3700.0).contains(&stalled), "{stalled}");
    assert_eq!(
        at(r#"tally_projection_lag_events{projection="tasks"}"#),
        0.0
    );
}

#[tokio::test]
async fn with_a_metrics_address_metrics_are_served_there_and_not_beside_the_api() {
    let root = tempfile::tempdir().unwrap();
    // Port 0: a port of its own, which the log names.
    let env = [("TALLY_METRICS_LISTEN", "127.0.0.1:0")];
    let server = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
    let metrics = server.metrics_address();
    assert_ne!(metrics, server.address);
    let samples = scrape(&server, &metrics).await;
    assert_eq!(
        sample(
            &samples,
            &format!(
                r#"tally_build_info{{version="{}"}}"#,
                env!("CARGO_PKG_VERSION")
            )
        ),
        1.0
    );
    let beside = server.send(TestRequest::get("/metrics")).await;
    assert_eq!(beside.status, 404);
}
