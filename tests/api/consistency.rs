//! The position token (CONTRACT.md, "Consistency"): every read answers `Tally-Position`, a read
//! with `Tally-Min-Position` reflects at least that position on any node (or is refused when the
//! log has not reached it), and `Cache-Control: no-cache` reads past what a node keeps in memory.
//! A second node is a store of its own on the same database, as a second `tally serve` is.

use axum::http::header;
use serde_json::{Value, json};

use crate::support::{Node, TestApp, TestRequest, TestResponse, on_both_backends};

on_both_backends!(
    every_read_answers_the_position_of_the_last_command_it_reflects,
    a_wanted_position_is_served_and_one_past_the_head_is_refused,
    a_command_on_another_node_is_reflected_here_when_its_position_is_asked_for,
    no_cache_reads_past_what_this_node_keeps_in_memory,
);

const MIN_POSITION: &str = "tally-min-position";

/// The `Tally-Position` a read answered.
#[track_caller]
fn position_of(response: &TestResponse) -> i64 {
    let value = response.headers.get("tally-position").unwrap_or_else(|| {
        panic!(
            "{} has no Tally-Position: {}",
            response.status, response.body
        )
    });
    value.to_str().unwrap().parse().expect("a whole number")
}

/// A task `user` creates through `node`'s router, and the position its command answered.
async fn create_on(node: &Node, user: &str, title: &str) -> i64 {
    let create = TestRequest::post("/api/tasks").user(user);
    let created = node.send(create.json(json!({ "title": title }))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    created.body["position"].as_i64().expect("a position")
}

fn dashboard(user: &str) -> TestRequest {
    TestRequest::get("/api/dashboard").user(user)
}

async fn every_read_answers_the_position_of_the_last_command_it_reflects(app: TestApp) {
    let created = app
        .send(
            TestRequest::post("/api/tasks")
                .user("alice")
                .json(json!({ "title": "one" })),
        )
        .await;
    assert!(
        created.headers.get("tally-position").is_none(),
        "a command answers its position in its body"
    );
    let (task, position) = (
        &created.body["task_id"],
        created.body["position"].as_i64().unwrap(),
    );
    let task = task.as_str().unwrap();
    for path in [
        "/api/dashboard".to_owned(),
        "/api/dashboard/statistics".into(),
        "/api/dashboard/trend".into(),
        "/api/tasks".into(),
        format!("/api/tasks/{task}"),
        format!("/api/tasks/{task}/events"),
        "/api/teams".into(),
        "/api/dashboard/health".into(),
    ] {
        let read = app.send(TestRequest::get(&path).user("alice")).await;
        assert_eq!(read.status, 200, "{path}: {}", read.body);
        assert_eq!(position_of(&read), position, "{path}");
    }
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    let position = completed.body["position"].as_i64().unwrap();
    let read = app.send(dashboard("alice")).await;
    assert_eq!(
        (position_of(&read), &read.body["completed"]),
        (position, &json!(1))
    );
    // Refusals reflect nothing in particular.
    let stranger = app.get(&format!("/api/tasks/{task}"), "mallory").await;
    assert_eq!(stranger.status, 404);
    assert!(stranger.headers.get("tally-position").is_none());
}

async fn a_wanted_position_is_served_and_one_past_the_head_is_refused(app: TestApp) {
    let node = Node {
        store: app.store.clone(),
        router: app.router.clone(),
        background: None,
    };
    let position = create_on(&node, "alice", "one").await;
    for wanted in [0, position] {
        let read = app
            .send(dashboard("alice").header(MIN_POSITION, &wanted.to_string()))
            .await;
        assert_eq!(
            (read.status.as_u16(), &read.body["total"]),
            (200, &json!(1))
        );
        assert_eq!(position_of(&read), position);
    }
    let ahead = app
        .send(dashboard("alice").header(MIN_POSITION, &(position + 1).to_string()))
        .await;
    assert_eq!(ahead.status, 422, "{}", ahead.body);
    assert_eq!(ahead.body["type"], "validation");
    let detail = ahead.body["detail"].as_str().unwrap();
    assert!(detail.contains("past the log's head"), "{detail}");
    for malformed in ["soon", "-1", "1.5"] {
        let read = app
            .send(dashboard("alice").header(MIN_POSITION, malformed))
            .await;
        assert_eq!(read.status, 400, "{malformed:?}: {}", read.body);
        assert_eq!(read.body["type"], "malformed-request");
    }
}

async fn a_command_on_another_node_is_reflected_here_when_its_position_is_asked_for(app: TestApp) {
    let other = Node::on(&app).await;
    for round in 1..=20 {
        // This node has read the figures just before: on SQLite it keeps the row in memory.
        assert_eq!(app.send(dashboard("alice")).await.status, 200);
        let position = create_on(&other, "alice", &format!("task {round}")).await;
        let wanted = position.to_string();
        let read = app
            .send(dashboard("alice").header(MIN_POSITION, &wanted))
            .await;
        assert_eq!(read.status, 200, "{}", read.body);
        assert_eq!(read.body["total"], round, "round {round}: {}", read.body);
        assert!(position_of(&read) >= position, "round {round}");
        // Any other read too: the task itself, from the list.
        let listed = app
            .send(
                TestRequest::get("/api/tasks")
                    .user("alice")
                    .header(MIN_POSITION, &wanted),
            )
            .await;
        assert_eq!(
            listed.body["items"].as_array().map(Vec::len),
            Some(round),
            "{}",
            listed.body
        );
    }
}

async fn no_cache_reads_past_what_this_node_keeps_in_memory(app: TestApp) {
    let other = Node::on(&app).await;
    for round in 1..=20 {
        assert_eq!(app.send(dashboard("alice")).await.status, 200);
        create_on(&other, "alice", &format!("task {round}")).await;
        let read = app
            .send(dashboard("alice").header(header::CACHE_CONTROL, "no-cache"))
            .await;
        assert_eq!(read.status, 200, "{}", read.body);
        let total: &Value = &read.body["total"];
        assert_eq!(total, round, "round {round}: {}", read.body);
    }
}
