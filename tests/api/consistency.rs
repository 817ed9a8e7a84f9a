//! The position token (CONTRACT.md, "Consistency"): every read answers `Tally-Position`, a read
//! with `Tally-Min-Position` reflects at least that position on any node (or is refused when the
//! log has not reached it), and `Cache-Control: no-cache` reads past what a node keeps in memory.
//! A second node is a store of its own on the same database, as a second `tally serve` is.

use axum::http::header;
use serde_json::{Value, json};

use crate::support::{
    Backend, EventStream, Node, TestApp, TestRequest, TestResponse, on_both_backends, wait_until,
};
use crate::verify_cli::verify;

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
    let create = TestRequest::post("/api/tasks").user("alice");
    let created = app.send(create.json(json!({ "title": "one" }))).await;
    let position = created.body["position"].as_i64().unwrap();
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

/// Two nodes of their own on one PostgreSQL database (each keeps dashboard rows in memory).
async fn two_postgres_nodes() -> (TestApp, Node, Node) {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    let (here, there) = (Node::on(&app).await, Node::on(&app).await);
    (app, here, there)
}

/// Waits until `node` has heard of `position` (and follows changes again, after a lost
/// listener).
async fn wait_until_heard(node: &Node, position: i64) {
    wait_until(&format!("position {position} heard"), async || {
        node.hub.position() >= position && node.hub.is_following()
    })
    .await;
}

/// `user`'s total as `node` answers it now, without a token.
async fn total_on(node: &Node, user: &str) -> Value {
    let read = node.send(dashboard(user)).await;
    assert_eq!(read.status, 200, "{}", read.body);
    read.body["total"].clone()
}

// A kept row lives a second at most. Each read below that must not be the kept row comes right
// after the node heard the change, well within that second unless the machine stalls (and a
// stall can only hide a stale row, never fail the test).

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_a_row_kept_in_memory_goes_when_another_node_changes_it() {
    let (_app, here, there) = two_postgres_nodes().await;
    wait_until("listening here", async || here.hub.is_following()).await;
    for round in 1..=5 {
        // Read here, so that this node keeps the row; then changed there, without a token.
        assert_eq!(total_on(&here, "alice").await, round - 1);
        assert!(here.hub.kept_row("alice").is_some(), "the row is kept");
        let position = create_on(&there, "alice", &format!("task {round}")).await;
        wait_until_heard(&here, position).await;
        assert_eq!(total_on(&here, "alice").await, round, "round {round}");
    }
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_a_change_announced_while_the_listener_was_lost_is_reflected_once_it_is_back() {
    let (app, here, there) = two_postgres_nodes().await;
    for round in 1..=3 {
        wait_until("listening here", async || here.hub.is_following()).await;
        assert_eq!(total_on(&here, "bob").await, round - 1);
        assert!(here.hub.kept_row("bob").is_some(), "the row is kept");
        // Every node's listening connection ends, as in a database restart or a network cut;
        // the change's announcement may reach no one.
        app.db
            .execute(
                "select pg_terminate_backend(pid) from pg_stat_activity \
                 where datname = current_database() and query ilike 'listen%'",
            )
            .await;
        let position = create_on(&there, "bob", &format!("task {round}")).await;
        // Heard announced, or found in the head when listening again.
        wait_until_heard(&here, position).await;
        assert_eq!(total_on(&here, "bob").await, round, "round {round}");
    }
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_a_repair_is_announced_to_every_nodes_streams_and_kept_rows() {
    let (app, here, _there) = two_postgres_nodes().await;
    create_on(&here, "carol", "one").await;
    // A row gone wrong behind tally's back, as this node reads it now.
    app.db
        .execute("update dashboard_stats set pending = 7 where user_id = 'carol'")
        .await;
    wait_until("the wrong row read here", async || {
        here.send(dashboard("carol")).await.body["pending"] == 7
    })
    .await;
    let open = TestRequest::get("/api/dashboard/stream").user("carol");
    let mut stream = EventStream::open(&here.router, open)
        .await
        .expect("a stream");
    assert_eq!(stream.next_figures().await.1["pending"], 7);

    let app = std::sync::Arc::new(app);
    let repairing = app.clone();
    let repaired = tokio::task::spawn_blocking(move || verify(&repairing, &["--repair"]));
    let repaired = repaired.await.unwrap();
    assert!(repaired.status.success(), "{repaired:?}");
    // No event was appended: only the repair's announcement tells this node.
    assert_eq!(stream.next_figures().await.1["pending"], 1);
    assert_eq!(here.send(dashboard("carol")).await.body["pending"], 1);
}

/// The short multi-node run (the long one is in BENCHMARKS.md): clients write through one node
/// and read through another with the command's position, as a client behind a load balancer
/// would; every answer reflects the client's own commands, and afterwards every node shows the
/// same figures, the log holds every acknowledged command, and `tally verify` finds no drift.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_three_nodes_under_mixed_load_with_tokens_lose_nothing_and_converge() {
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 20;
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(std::sync::Arc::new(Node::on(&app).await));
    }
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let nodes = nodes.clone();
        clients.spawn(async move {
            let user = format!("client-{client}");
            let (mut created, mut completed) = (0, 0);
            for round in 0..ROUNDS {
                let writer = &nodes[(client + round) % 3];
                let reader = &nodes[(client + round + 1) % 3];
                let create = TestRequest::post("/api/tasks").user(&user);
                let answer = writer.send(create.json(json!({ "title": "t" }))).await;
                assert_eq!(answer.status, 201, "{}", answer.body);
                created += 1;
                let mut position = answer.body["position"].as_i64().unwrap();
                if round % 2 == 1 {
                    let task = answer.body["task_id"].as_str().unwrap();
                    let complete = TestRequest::post(format!("/api/tasks/{task}/complete"));
                    let answer = reader.send(complete.user(&user)).await;
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    completed += 1;
                    position = answer.body["position"].as_i64().unwrap();
                }
                let read = dashboard(&user).header(MIN_POSITION, &position.to_string());
                let read = nodes[(client + round + 2) % 3].send(read).await;
                assert_eq!(
                    (&read.body["total"], &read.body["completed"]),
                    (&json!(created), &json!(completed)),
                    "{user}, round {round}: {}",
                    read.body
                );
            }
            (user, created, completed)
        });
    }
    let mut commands = 0;
    for (user, created, completed) in clients.join_all().await {
        commands += created + completed;
        for node in &nodes {
            wait_until(&format!("{user}'s figures on every node"), async || {
                let read = node.send(dashboard(&user)).await.body;
                (read["total"].clone(), read["completed"].clone())
                    == (json!(created), json!(completed))
            })
            .await;
        }
    }
    assert_eq!(app.db.event_count().await, commands as i64);
    let verified = tokio::task::spawn_blocking(move || verify(&app, &[]))
        .await
        .unwrap();
    assert!(verified.status.success(), "{verified:?}");
}
