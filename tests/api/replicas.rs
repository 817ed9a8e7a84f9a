//! Reads from hot standbys (`TALLY_DATABASE_READ_URL`), against a real standby that
//! `pg_basebackup -R` made from a primary of the test's own, with the real binary: a standby
//! takes a node's reads only once it has replayed everything the node answers; a paused or
//! lost standby only sends reads to the primary, and health says so.

use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest, replicated_servers, wait_until};

/// `url` (a server's admin URL) with database `name`.
fn on_database(url: &str, name: &str) -> String {
    let base = url.rsplit_once('/').expect("a URL with a database").0;
    format!("{base}/{name}")
}

async fn session(url: &str) -> PgConnection {
    PgConnection::connect(url).await.expect("connect")
}

/// The single replica health reports, and whether the node is healthy.
async fn replica_health(node: &Server) -> (Value, u16) {
    let health = node.send(TestRequest::get("/api/dashboard/health")).await;
    let replicas = health.body["replicas"]
        .as_array()
        .expect("replicas")
        .clone();
    assert_eq!(replicas.len(), 1, "{}", health.body);
    (replicas[0].clone(), health.status)
}

async fn wait_for_status(node: &Server, status: &str) {
    wait_until(&format!("the standby to be {status}"), async || {
        replica_health(node).await.0["status"] == status
    })
    .await;
}

async fn title(node: &Server, task: &str, request: TestRequest) -> String {
    let read = node.send(request.user("alice")).await;
    assert_eq!(read.status, 200, "{task}: {}", read.body);
    read.body["title"].as_str().expect("a title").to_owned()
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_standby_takes_reads_only_once_it_has_replayed_what_the_node_answers() {
    let (primary, standby) = replicated_servers();
    let name = format!("tally_r_{}", uuid::Uuid::now_v7().simple());
    session(&primary.url)
        .await
        .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
        .await
        .expect("create database");
    let (primary_url, standby_url) = (
        on_database(&primary.url, &name),
        on_database(&standby.url, &name),
    );
    let root = tempfile::tempdir().unwrap();
    let env = [
        ("TALLY_DATABASE_URL", primary_url.as_str()),
        ("TALLY_DATABASE_READ_URL", standby_url.as_str()),
    ];
    let mut node = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
    wait_for_status(&node, "current").await;

    let create = |title: &str| {
        TestRequest::post("/api/tasks")
            .user("alice")
            .json(json!({ "title": title }))
    };
    let created = node.send(create("written")).await;
    assert_eq!(created.status, 201, "{}", node.log());
    let task = created.body["task_id"].as_str().unwrap().to_owned();
    let path = format!("/api/tasks/{task}");
    // A command's answer is reflected by the next read, wherever it goes.
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "written"
    );
    wait_for_status(&node, "current").await;

    // Replay paused, a title changed by hand on the primary (no event: the node's position
    // stands) is not on the standby: a plain read shows the standby's, a no-cache read the
    // primary's. That is how the test tells which one answered.
    let mut on_standby = session(&standby_url).await;
    on_standby
        .execute("select pg_wal_replay_pause()")
        .await
        .unwrap();
    wait_until("replay to pause", async || {
        let state = sqlx::query("select pg_get_wal_replay_pause_state()::text as state")
            .fetch_one(&mut on_standby)
            .await
            .unwrap();
        state.get::<String, _>("state") == "paused"
    })
    .await;
    session(&primary_url)
        .await
        .execute(sqlx::AssertSqlSafe(format!(
            "update tasks set title = 'by hand' where id = '{task}'"
        )))
        .await
        .unwrap();
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "written"
    );
    let no_cache = TestRequest::get(&path).header("cache-control", "no-cache");
    assert_eq!(title(&node, &task, no_cache).await, "by hand");

    // A command now takes the node past what the paused standby replayed: every read goes to
    // the primary, the next one first.
    let second = node.send(create("second")).await;
    assert_eq!(second.status, 201);
    let second_path = format!("/api/tasks/{}", second.body["task_id"].as_str().unwrap());
    assert_eq!(
        title(&node, &task, TestRequest::get(&second_path)).await,
        "second"
    );
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "by hand"
    );
    let figures = node
        .send(TestRequest::get("/api/dashboard/statistics").user("alice"))
        .await;
    assert_eq!(figures.body["total"], 2, "{}", figures.body);
    wait_for_status(&node, "lagging").await;
    let (replica, status) = replica_health(&node).await;
    assert_eq!(status, 200, "a lagging standby leaves the node healthy");
    assert!(replica["behind"].as_i64().unwrap() >= 1, "{replica}");

    // A node started while the standby is behind reads the primary from its first read.
    node.stop().await;
    node.start_again().await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&second_path)).await,
        "second"
    );
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "by hand"
    );

    // Replay resumed, the standby catches up and takes reads again: it now has the hand edit.
    on_standby
        .execute("select pg_wal_replay_resume()")
        .await
        .unwrap();
    wait_for_status(&node, "current").await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "by hand"
    );

    // A standby that goes away is skipped: reads and commands go on, health reports it.
    drop(on_standby);
    drop(standby);
    wait_for_status(&node, "unreachable").await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "by hand"
    );
    let third = node.send(create("third")).await;
    assert_eq!(third.status, 201);
    let (_, status) = replica_health(&node).await;
    assert_eq!(
        status, 200,
        "an unreachable standby leaves the node healthy"
    );
}
