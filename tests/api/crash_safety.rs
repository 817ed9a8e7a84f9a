//! The embedded default's durability, end to end: a real `tally serve` process killed with
//! SIGKILL in the middle of a burst of commands loses none it acknowledged, and after a restart
//! its figures still equal a recount from the event log. Also: `tally token` opens the API of
//! `tally serve` on the same data directory, with no key configured.

use std::collections::BTreeMap;
use std::process::Command;
use std::sync::{Arc, Mutex};

use chrono::Utc;
use projections::ReadModels;
use serde_json::json;
use tally::store::ReadFrom;
use tokio::sync::Notify;

use crate::support::http_client::send;
use crate::support::process::{PATIENCE, Server, with_clean_env};
use crate::support::{TEST_SECRET, TestRequest};

const USERS: [&str; 4] = ["crash-ann", "crash-bob", "crash-cid", "crash-dee"];
const CLIENTS: usize = 8;
/// How many acknowledged commands the burst reaches before the process is killed.
const ACKS_BEFORE_KILL: usize = 200;
/// A command the server acknowledged with a 2xx.
#[derive(Clone, Debug)]
struct Ack {
    user: &'static str,
    task_id: String,
    completed: bool,
}

/// What the burst's clients share: the acknowledgements and any unexpected answer.
#[derive(Default)]
struct Burst {
    acks: Mutex<Vec<Ack>>,
    unexpected: Mutex<Vec<String>>,
    enough: Notify,
}

impl Burst {
    fn acknowledge(&self, ack: Ack) {
        let mut acks = self.acks.lock().unwrap();
        acks.push(ack);
        if acks.len() == ACKS_BEFORE_KILL {
            self.enough.notify_one();
        }
    }
}

/// Creates and completes tasks as `user` until the server goes away.
async fn client(burst: Arc<Burst>, address: String, user: &'static str, id: usize) {
    for n in 0.. {
        let title = json!({ "title": format!("burst {id}-{n}") });
        let create = TestRequest::post("/api/tasks").user(user).json(title);
        let Ok(created) = send(&address, create).await else {
            return;
        };
        if created.status != 201 {
            burst
                .unexpected
                .lock()
                .unwrap()
                .push(format!("create: {created:?}"));
            return;
        }
        let task_id = created.body["task_id"].as_str().unwrap().to_owned();
        let complete = format!("/api/tasks/{task_id}/complete");
        burst.acknowledge(Ack {
            user,
            task_id,
            completed: false,
        });
        let Ok(done) = send(&address, TestRequest::post(&complete).user(user)).await else {
            return;
        };
        if done.status != 200 {
            burst
                .unexpected
                .lock()
                .unwrap()
                .push(format!("complete: {done:?}"));
            return;
        }
        let task_id = done.body["task_id"].as_str().unwrap().to_owned();
        burst.acknowledge(Ack {
            user,
            task_id,
            completed: true,
        });
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn acknowledged_commands_survive_a_sigkill_and_the_figures_equal_a_recount() {
    let root = tempfile::tempdir().unwrap();
    let data_dir = root.path().join("data");

    let mut server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let burst = Arc::new(Burst::default());
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| {
            let user = USERS[id % USERS.len()];
            let client = client(burst.clone(), server.address.clone(), user, id);
            tokio::spawn(client)
        })
        .collect();
    tokio::time::timeout(PATIENCE, burst.enough.notified())
        .await
        .unwrap_or_else(|_| panic!("no {ACKS_BEFORE_KILL} acks in time:\n{}", server.log()));
    let killed = server.kill();
    for client in clients {
        client.await.unwrap();
    }
    #[cfg(unix)]
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&killed),
        Some(9),
        "the server was still running when killed"
    );
    let acks = burst.acks.lock().unwrap().clone();
    let unexpected = burst.unexpected.lock().unwrap().clone();
    assert!(
        unexpected.is_empty(),
        "answers during the burst: {unexpected:#?}"
    );
    assert!(acks.len() >= ACKS_BEFORE_KILL);

    let mut server = Server::start(root.path(), Some(TEST_SECRET)).await;
    for ack in &acks {
        let path = format!("/api/tasks/{}", ack.task_id);
        let task = server.send(TestRequest::get(path).user(ack.user)).await;
        assert_eq!(task.status, 200, "acknowledged task lost: {ack:?}");
        if ack.completed {
            assert_eq!(task.body["status"], "completed", "completion lost: {ack:?}");
        }
    }
    let mut served = BTreeMap::new();
    for user in USERS {
        let statistics = server
            .send(TestRequest::get("/api/dashboard/statistics").user(user))
            .await;
        assert_eq!(statistics.status, 200, "{statistics:?}");
        served.insert(user, statistics.body);
    }
    let stopped = server.stop().await;
    assert!(
        stopped.success(),
        "SIGTERM stops cleanly: {stopped}\n{}",
        server.log()
    );

    let url = format!("sqlite://{}", data_dir.join("tally.db").display());
    let store = tally::store::open(&url, Default::default()).await.unwrap();
    let mut models = ReadModels::default();
    loop {
        let batch = store.events_after(models.position, 1000).await.unwrap();
        if batch.is_empty() {
            break;
        }
        batch.iter().for_each(|event| models.apply(event));
    }
    let now = Utc::now();
    for user in USERS {
        let recount = models.recount(user, now);
        let stored = store
            .dashboard_stats(user, ReadFrom::Primary)
            .await
            .unwrap()
            .unwrap_or_default();
        assert_eq!(stored.figures(now), recount, "stored row of {user}");
        let expected = json!({
            "total": recount.total,
            "pending": recount.pending,
            "completed": recount.completed,
            "shared": recount.shared,
        });
        assert_eq!(served[user], expected, "served statistics of {user}");
        let acked = acks.iter().filter(|ack| ack.user == user && !ack.completed);
        assert!(recount.total >= acked.count() as i64, "{user} lost tasks");
    }
    store.close().await;
}

#[cfg(target_os = "linux")]
#[tokio::test]
async fn a_server_whose_log_cannot_be_written_keeps_serving_and_stops_cleanly() {
    // A full disk under the log: every line it writes fails (`/dev/full`), at start-up, on
    // every request (debug) and in the writer. Lost lines are lost; nothing else may be.
    let root = tempfile::tempdir().unwrap();
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .expect("/dev/full");
    let no_log = root.path().join("the log went to /dev/full");
    let mut server =
        Server::start_logging_to(root.path(), Some(TEST_SECRET), full, no_log, "debug", &[]).await;
    let token = crate::support::token("alice");
    for n in 0..20 {
        let create = TestRequest::post("/api/tasks")
            .bearer(&token)
            .json(json!({ "title": format!("task {n}") }));
        let created = server.send(create).await;
        assert_eq!(created.status, 201, "{created:?}");
    }
    let dashboard = server
        .send(TestRequest::get("/api/dashboard").bearer(&token))
        .await;
    assert_eq!(dashboard.body["total"], 20, "{dashboard:?}");
    let status = server.stop().await;
    assert!(status.success(), "tally serve ended with {status}");
}

#[tokio::test]
async fn a_token_printed_by_tally_token_opens_the_api_of_tally_serve() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), None).await;
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.args(["token", "--user", "alice"]);
    with_clean_env(&mut command, root.path(), None);
    let output = tokio::process::Command::from(command)
        .output()
        .await
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let token = String::from_utf8(output.stdout).unwrap().trim().to_owned();

    let title = json!({ "title": "first task" });
    let create = TestRequest::post("/api/tasks").bearer(&token).json(title);
    let created = server.send(create).await;
    assert_eq!(created.status, 201, "{created:?}");
    let dashboard = server
        .send(TestRequest::get("/api/dashboard").bearer(&token))
        .await;
    assert_eq!(
        (dashboard.status, &dashboard.body["total"]),
        (200, &json!(1))
    );

    let anonymous = send(&server.address, TestRequest::get("/api/dashboard"))
        .await
        .unwrap();
    assert_eq!(anonymous.status, 401);
    let forged = TestRequest::get("/api/dashboard").bearer("x.y.z");
    let forged = send(&server.address, forged).await.unwrap();
    assert_eq!(forged.status, 401);

    // The first run said where everything is.
    let log = server.log();
    let secret = root.path().join("data").join(tally::auth::SECRET_FILE);
    for said in [
        format!("http://{}/docs", server.address),
        format!("dashboard page at http://{}/ ", server.address),
        secret.display().to_string(),
        "tally token --user NAME".to_owned(),
        root.path().join("data/tally.db").display().to_string(),
    ] {
        assert!(log.contains(&said), "the start-up log names {said}:\n{log}");
    }
}

#[test]
fn each_subcommand_lists_only_its_own_settings() {
    let help = |subcommand: &str| {
        let output = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args([subcommand, "--help"])
            .output()
            .unwrap();
        assert!(output.status.success());
        String::from_utf8(output.stdout).unwrap()
    };
    let serve = help("serve");
    for flag in [
        "--listen",
        "--max-connections",
        "--database-url",
        "--jwt-secret",
    ] {
        assert!(serve.contains(flag), "serve takes {flag}:\n{serve}");
    }
    let token = help("token");
    assert!(
        token.contains("--user") && token.contains("--data-dir"),
        "{token}"
    );
    // The address a sign-in link names.
    assert!(
        token.contains("--link") && token.contains("--listen"),
        "{token}"
    );
    let verify = help("verify");
    assert!(
        verify.contains("--repair") && verify.contains("--database-url"),
        "{verify}"
    );
    for (name, text) in [
        ("token", &token),
        ("verify", &verify),
        ("migrate", &help("migrate")),
    ] {
        let listens = name == "token";
        for flag in [
            "--listen",
            "--max-connections",
            "--job-roll-over",
            "--cors-origins",
        ] {
            if flag == "--listen" && listens {
                continue;
            }
            assert!(!text.contains(flag), "{name} --help lists {flag}:\n{text}");
        }
    }
    assert!(!verify.contains("--jwt-secret"), "{verify}");
}
