//! Commands that race: on one task, from many users at once, and (on PostgreSQL) from several
//! API nodes sharing one database while a reader tails the log. Repeats racing under one
//! `Idempotency-Key` are in `idempotency`.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use axum::http::StatusCode;
use serde_json::json;
use tokio::task::JoinSet;

use crate::support::{Backend, Node, TestApp, TestRequest, on_both_backends};
use tally::store::ReadFrom;

on_both_backends!(
    sixteen_racing_completes_of_one_task_let_exactly_one_win,
    racing_completes_and_reopens_leave_a_gap_free_alternating_stream,
    two_hundred_concurrent_creates_by_twenty_users_get_gap_free_positions,
);

/// The event types of a task's stream and its stream versions, oldest first.
async fn stream_of(app: &TestApp, task: &str) -> (Vec<&'static str>, Vec<i64>) {
    let events = app
        .store
        .task_events(task.parse().unwrap(), 0, i64::MAX, ReadFrom::Primary)
        .await
        .expect("task events");
    let types = events.iter().map(|e| e.event.event_type()).collect();
    let versions = events.iter().map(|e| e.stream_version).collect();
    (types, versions)
}

async fn sixteen_racing_completes_of_one_task_let_exactly_one_win(app: TestApp) {
    let task = app.create_task("alice", "finish once").await;
    let path = format!("/api/tasks/{task}/complete");
    let requests = (0..16).map(|_| TestRequest::post(&path).user("alice"));

    let answers = app.send_all_at_once(requests).await;

    let (won, lost): (Vec<_>, Vec<_>) = answers.iter().partition(|a| a.status == StatusCode::OK);
    assert_eq!(won.len(), 1, "exactly one complete wins: {answers:?}");
    assert_eq!(won[0].body["version"], 2);
    for answer in lost {
        answer.assert_problem(409, "invalid-transition");
    }
    let completions = app
        .db
        .scalar(
            "select count(*) from events where event_type = $1",
            &["TaskCompleted"],
        )
        .await;
    assert_eq!(completions, 1);
    let history = app.get(&format!("/api/tasks/{task}/events"), "alice").await;
    let types: Vec<&str> = history.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["TaskCreated", "TaskCompleted"]);
    let dashboard = app.dashboard("alice").await;
    assert_eq!(dashboard["pending"], 0);
    assert_eq!(dashboard["completed"], 1);
}

async fn racing_completes_and_reopens_leave_a_gap_free_alternating_stream(app: TestApp) {
    let task = app.create_task("alice", "flip flop").await;
    let mut accepted = 0;
    for _round in 0..6 {
        let requests = (0..16).map(|i| {
            let verb = if i % 2 == 0 { "complete" } else { "reopen" };
            TestRequest::post(format!("/api/tasks/{task}/{verb}")).user("alice")
        });
        for answer in app.send_all_at_once(requests).await {
            if answer.status == StatusCode::OK {
                accepted += 1;
            } else {
                answer.assert_problem(409, "invalid-transition");
            }
        }
    }

    let (types, versions) = stream_of(&app, &task).await;
    assert_eq!(types.len(), 1 + accepted, "one event per accepted command");
    let expected_versions: Vec<i64> = (1..=types.len() as i64).collect();
    assert_eq!(versions, expected_versions, "stream versions are 1..n");
    assert_eq!(types[0], "TaskCreated");
    for (i, event_type) in types.iter().enumerate().skip(1) {
        let expected = if i % 2 == 1 {
            "TaskCompleted"
        } else {
            "TaskReopened"
        };
        assert_eq!(*event_type, expected, "event {i} of {types:?}");
    }
    let shown = app.get(&format!("/api/tasks/{task}"), "alice").await;
    let completed_last = types.last() == Some(&"TaskCompleted");
    let expected_status = if completed_last {
        "completed"
    } else {
        "pending"
    };
    assert_eq!(shown.body["status"], expected_status);
    assert_eq!(shown.body["version"], types.len());
    let dashboard = app.dashboard("alice").await;
    assert_eq!(dashboard["completed"], i64::from(completed_last));
    assert_eq!(dashboard["pending"], i64::from(!completed_last));
}

async fn two_hundred_concurrent_creates_by_twenty_users_get_gap_free_positions(app: TestApp) {
    let users: Vec<String> = (0..20).map(|u| format!("user-{u:02}")).collect();
    let requests = (0..200).map(|i| {
        let create = TestRequest::post("/api/tasks").user(&users[i % users.len()]);
        create.json(json!({ "title": format!("task {i}") }))
    });

    let answers = app.send_all_at_once(requests).await;

    let mut answered_positions = BTreeSet::new();
    let mut task_ids = BTreeSet::new();
    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        answered_positions.insert(answer.body["position"].as_i64().unwrap());
        task_ids.insert(answer.body["task_id"].as_str().unwrap().to_owned());
    }
    assert_eq!(task_ids.len(), 200, "every create made its own task");
    let log = app.store.events_after(0, 10_000).await.expect("the log");
    let positions: Vec<i64> = log.iter().map(|e| e.position).collect();
    assert_eq!(positions.len(), 200);
    assert!(
        positions.windows(2).all(|w| w[1] == w[0] + 1),
        "positions are unique and gap-free: {positions:?}"
    );
    assert_eq!(
        answered_positions,
        positions.iter().copied().collect::<BTreeSet<_>>(),
        "each answer names the position of its own event"
    );
    for user in &users {
        let dashboard = app.dashboard(user).await;
        assert_eq!(dashboard["total"], 10, "{user}: {dashboard}");
        assert_eq!(dashboard["created_today"], 10, "{user}: {dashboard}");
    }
}

/// Three nodes on one PostgreSQL database: the test app's own store and two more.
async fn three_postgres_nodes() -> (TestApp, Vec<Arc<Node>>) {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    let mut nodes = Vec::new();
    for _ in 0..3 {
        nodes.push(Arc::new(Node::on(&app).await));
    }
    (app, nodes)
}

/// The guarantee under test comes from the transaction-level advisory lock every PostgreSQL
/// writer takes before appending (`WRITE_LOCK` in src/store/postgres/mod.rs): positions are drawn
/// while it is held, so they become visible in position order across all nodes, and a reader
/// tailing by position can never pass a position that a later commit fills in.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_a_reader_tailing_the_log_sees_every_event_of_three_nodes_once_in_order() {
    let (app, nodes) = three_postgres_nodes().await;
    let writers_done = Arc::new(AtomicBool::new(false));
    let reader = {
        let (store, writers_done) = (app.store.clone(), writers_done.clone());
        tokio::spawn(async move {
            let (mut seen, mut last_seen) = (Vec::new(), 0);
            loop {
                // Read the flag before the page: once it is set every commit has answered, so
                // this page and those after it see everything.
                let done = writers_done.load(Ordering::SeqCst);
                let page = store.events_after(last_seen, 100).await.expect("tail");
                if page.is_empty() && done {
                    return seen;
                }
                for event in page {
                    assert!(
                        event.position > last_seen,
                        "position {} after having passed {last_seen}",
                        event.position
                    );
                    last_seen = event.position;
                    seen.push(event.position);
                }
                tokio::task::yield_now().await;
            }
        })
    };
    let mut writers = JoinSet::new();
    for (n, node) in nodes.iter().enumerate() {
        for w in 0..8 {
            let node = node.clone();
            writers.spawn(async move {
                let user = format!("node{n}-writer{w}");
                for i in 0..25 {
                    let create = TestRequest::post("/api/tasks").user(&user);
                    let request = create.json(json!({ "title": format!("task {i}") }));
                    let created = node.send(request).await;
                    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
                }
            });
        }
    }
    writers.join_all().await;
    writers_done.store(true, Ordering::SeqCst);
    let seen = reader.await.expect("the reader");

    let log = app.store.events_after(0, 100_000).await.expect("the log");
    let logged: Vec<i64> = log.iter().map(|e| e.position).collect();
    assert_eq!(logged.len(), 3 * 8 * 25);
    assert_eq!(
        seen, logged,
        "the reader saw every event exactly once, in order"
    );
    for node in &nodes[1..] {
        node.store.close().await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_completes_racing_from_three_nodes_let_exactly_one_win() {
    let (app, nodes) = three_postgres_nodes().await;
    let task = app.create_task("alice", "finish once, anywhere").await;
    let path = format!("/api/tasks/{task}/complete");
    let mut racing = JoinSet::new();
    for node in &nodes {
        for _ in 0..8 {
            let node = node.clone();
            let request = TestRequest::post(&path).user("alice");
            racing.spawn(async move { node.send(request).await });
        }
    }

    let answers = racing.join_all().await;

    let mut by_status: BTreeMap<u16, usize> = BTreeMap::new();
    for answer in &answers {
        *by_status.entry(answer.status.as_u16()).or_default() += 1;
        if answer.status != StatusCode::OK {
            assert_eq!(answer.body["type"], "invalid-transition", "{}", answer.body);
        }
    }
    assert_eq!(by_status, BTreeMap::from([(200, 1), (409, 23)]));
    let (types, versions) = stream_of(&app, &task).await;
    assert_eq!(types, ["TaskCreated", "TaskCompleted"]);
    assert_eq!(versions, [1, 2]);
    for node in &nodes[1..] {
        node.store.close().await;
    }
}

/// SQLite's fast path keeps on each thread the dashboard rows that thread read (see
/// `src/store/sqlite/fast_path.rs`): once a command has answered, a read on any worker thread
/// reflects it, whichever threads read the row before.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn on_sqlite_every_worker_thread_reads_a_commands_effect_once_it_has_answered() {
    let app = Arc::new(TestApp::start(Backend::Sqlite).await.unwrap());
    async fn totals_on_every_thread(app: &Arc<TestApp>) -> BTreeSet<i64> {
        let mut reads = JoinSet::new();
        for _ in 0..64 {
            let app = app.clone();
            reads.spawn(async move { app.dashboard("ann").await["total"].as_i64().unwrap() });
        }
        reads.join_all().await.into_iter().collect()
    }
    for expected in 0..5 {
        assert_eq!(
            totals_on_every_thread(&app).await,
            BTreeSet::from([expected])
        );
        app.create_task("ann", "one more").await;
    }
    assert_eq!(totals_on_every_thread(&app).await, BTreeSet::from([5]));
}
