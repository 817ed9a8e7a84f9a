//! Reads from hot standbys (`TALLY_DATABASE_READ_URL`), against a real standby that
//! `pg_basebackup -R` made from a primary of the test's own, with the real binary: a standby
//! takes a node's reads only once it has replayed everything the node answers; a paused or
//! lost standby only sends reads to the primary, and health says so.

use serde_json::{Value, json};
use sqlx::{Connection, Executor, PgConnection, Row};

use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest, ThrowawayServer, replicated_servers, wait_until};

/// A primary and a standby of the test's own, with a fresh database on both, and a folder for
/// the servers' data; each server stops when dropped.
struct Cluster {
    primary_url: String,
    standby_url: String,
    root: tempfile::TempDir,
    _primary: ThrowawayServer,
    standby: Option<ThrowawayServer>,
}

impl Cluster {
    async fn start() -> Cluster {
        let (primary, standby) = replicated_servers();
        let name = format!("tally_r_{}", uuid::Uuid::now_v7().simple());
        session(&primary.url)
            .await
            .execute(sqlx::AssertSqlSafe(format!("create database {name}")))
            .await
            .expect("create database");
        Cluster {
            primary_url: on_database(&primary.url, &name),
            standby_url: on_database(&standby.url, &name),
            root: tempfile::tempdir().unwrap(),
            _primary: primary,
            standby: Some(standby),
        }
    }

    /// How a user points `tally serve` at both.
    fn env(&self) -> [(&str, &str); 2] {
        [
            ("TALLY_DATABASE_URL", self.primary_url.as_str()),
            ("TALLY_DATABASE_READ_URL", self.standby_url.as_str()),
        ]
    }
}

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

/// Waits until the standby has replayed position `position`, as the node last checked.
async fn wait_for_replayed(node: &Server, position: i64) {
    wait_until(
        &format!("the standby to replay position {position}"),
        async || {
            let (replica, _) = replica_health(node).await;
            replica["status"] == "current" && replica["replayed"].as_i64() >= Some(position)
        },
    )
    .await;
}

/// The reads the standby answered for `node`, as its metrics count them.
async fn standby_reads(node: &Server) -> u64 {
    let metrics = node.send(TestRequest::get("/metrics")).await;
    let text = metrics.body.as_str().unwrap_or_default().to_owned();
    text.lines()
        .filter(|line| line.starts_with("tally_replica_reads_total"))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

/// Runs the binary's `args` on the database at `url`.
fn tally(args: &[&str], url: &str, root: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_tally"))
        .args(args)
        .args(["--database-url", url])
        .args(["--data-dir", &root.display().to_string()])
        .output()
        .expect("tally")
}

/// Pauses the standby's replay, and waits until it has: what is committed from then on is not
/// on it.
async fn pause_replay(standby: &mut PgConnection) {
    standby
        .execute("select pg_wal_replay_pause()")
        .await
        .expect("pause replay");
    wait_until("replay to pause", async || {
        let state = sqlx::query("select pg_get_wal_replay_pause_state()::text as state")
            .fetch_one(&mut *standby)
            .await
            .unwrap();
        state.get::<String, _>("state") == "paused"
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
    let mut cluster = Cluster::start().await;
    let (primary_url, standby_url, root) =
        (&cluster.primary_url, &cluster.standby_url, &cluster.root);
    let env = cluster.env();
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
    wait_for_replayed(&node, created.body["position"].as_i64().unwrap()).await;

    // Replay paused, a title changed by hand on the primary (no event: the node's position
    // stands) is not on the standby: a plain read shows the standby's, a no-cache read the
    // primary's. That is how the test tells which one answered.
    let mut on_standby = session(standby_url).await;
    pause_replay(&mut on_standby).await;
    session(primary_url)
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
        .expect("resume replay");
    wait_for_status(&node, "current").await;
    let served = standby_reads(&node).await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "by hand"
    );
    assert_eq!(
        standby_reads(&node).await,
        served + 1,
        "read on the standby"
    );

    // A write that appends no event: `tally verify --repair` puts the title back on the
    // primary while replay is paused (the standby still has the hand edit). The node hears
    // of the rewrite and reads the primary until the standby has replayed it.
    pause_replay(&mut on_standby).await;
    let repaired = tally(&["verify", "--repair"], primary_url, root.path());
    let said = String::from_utf8_lossy(&repaired.stdout);
    assert!(
        repaired.status.success() && said.contains("repair"),
        "{repaired:?}"
    );
    wait_until(
        "the node to keep reads off the paused standby",
        async || replica_health(&node).await.0["status"] != "current",
    )
    .await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "written"
    );
    on_standby
        .execute("select pg_wal_replay_resume()")
        .await
        .expect("resume replay");
    wait_for_status(&node, "current").await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "written"
    );

    // A standby that goes away is skipped: reads and commands go on, health reports it.
    drop(on_standby);
    cluster.standby.take();
    wait_for_status(&node, "unreachable").await;
    assert_eq!(
        title(&node, &task, TestRequest::get(&path)).await,
        "written"
    );
    let third = node.send(create("third")).await;
    assert_eq!(third.status, 201);
    let (_, status) = replica_health(&node).await;
    assert_eq!(
        status, 200,
        "an unreachable standby leaves the node healthy"
    );
}

/// Three `tally serve` on one primary and a standby, clients writing through one node and
/// reading through others with the command's position (the dashboard and the task list, which
/// a current standby answers): every read reflects its token, every node converges, every
/// acknowledged command is stored, and `tally verify` finds no drift.
#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn three_nodes_on_a_primary_and_a_standby_under_mixed_load_lose_nothing_and_converge() {
    const CLIENTS: usize = 6;
    const ROUNDS: usize = 15;
    let cluster = Cluster::start().await;
    let (primary_url, root) = (&cluster.primary_url, &cluster.root);
    let env = cluster.env();
    let mut nodes = Vec::new();
    for _ in 0..3 {
        let node = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
        wait_for_status(&node, "current").await;
        nodes.push(std::sync::Arc::new(node));
    }
    let mut clients = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let nodes = nodes.clone();
        clients.spawn(async move {
            let user = format!("client-{client}");
            let (mut created, mut completed) = (0, 0);
            for round in 0..ROUNDS {
                let writer = &nodes[(client + round) % 3];
                let create = TestRequest::post("/api/tasks").user(&user);
                let answer = writer.send(create.json(json!({ "title": "t" }))).await;
                assert_eq!(answer.status, 201, "{}", answer.body);
                created += 1;
                let mut position = answer.body["position"].as_i64().unwrap();
                if round % 2 == 1 {
                    let task = answer.body["task_id"].as_str().unwrap();
                    let complete = TestRequest::post(format!("/api/tasks/{task}/complete"));
                    let answer = nodes[(client + round + 1) % 3]
                        .send(complete.user(&user))
                        .await;
                    assert_eq!(answer.status, 200, "{}", answer.body);
                    completed += 1;
                    position = answer.body["position"].as_i64().unwrap();
                }
                let reader = &nodes[(client + round + 2) % 3];
                let token = position.to_string();
                let figures = TestRequest::get("/api/dashboard").user(&user);
                let figures = reader
                    .send(figures.header("tally-min-position", &token))
                    .await;
                assert_eq!(
                    (&figures.body["total"], &figures.body["completed"]),
                    (&json!(created), &json!(completed)),
                    "{user}, round {round}: {}",
                    figures.body
                );
                let list = TestRequest::get("/api/tasks?limit=200").user(&user);
                let list = reader.send(list.header("tally-min-position", &token)).await;
                let items = list.body["items"].as_array().expect("a page");
                let done = items.iter().filter(|task| task["status"] == "completed");
                assert_eq!((items.len(), done.count()), (created, completed), "{user}");
            }
            (user, created, completed)
        });
    }
    let totals = clients.join_all().await;
    let mut commands = 0;
    for (user, created, completed) in totals.clone() {
        commands += created + completed;
        for node in &nodes {
            wait_until(&format!("{user}'s figures on every node"), async || {
                let read = node
                    .send(TestRequest::get("/api/dashboard").user(&user))
                    .await;
                (read.body["total"].clone(), read.body["completed"].clone())
                    == (json!(created), json!(completed))
            })
            .await;
        }
    }
    let events = sqlx::query("select count(*) as events from events")
        .fetch_one(&mut session(primary_url).await)
        .await
        .unwrap();
    assert_eq!(events.get::<i64, _>("events"), commands as i64);
    // Under load most reads find the standby a little behind (the test's primary commits
    // without waiting for its WAL to reach disk, so the standby receives it late); once it has
    // caught up it answers, and what it answers is complete.
    for node in &nodes {
        wait_for_status(node, "current").await;
        let served = standby_reads(node).await;
        for (user, created, completed) in &totals {
            let list = node
                .send(TestRequest::get("/api/tasks?limit=200").user(user))
                .await;
            let items = list.body["items"].as_array().expect("a page");
            let done = items.iter().filter(|task| task["status"] == "completed");
            assert_eq!(
                (items.len(), done.count()),
                (*created, *completed),
                "{user}"
            );
        }
        assert_eq!(standby_reads(node).await, served + CLIENTS as u64);
    }
    let verified = tally(&["verify"], primary_url, root.path());
    assert!(verified.status.success(), "{verified:?}");
}
