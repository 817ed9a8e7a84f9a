//! `tally mcp --user ID`: the real binary speaking MCP on its stdin and stdout, configured as
//! README's Claude Desktop snippet configures it (`TALLY_*` variables) on a test app's
//! database. Its commands are its user's and nobody else's, and reach a `tally serve` beside
//! it (its dashboard) and a node's live streams; closed stdin stops it cleanly; a bad `--user`
//! stops the start.

use std::path::{Path, PathBuf};
use std::process::{ExitStatus, Stdio};

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, Lines};
use tokio::process::{Child, ChildStdin, ChildStdout};

use super::session::VERSION;
use crate::support::process::{Server, with_clean_env};
use crate::support::{
    EventStream, PATIENCE, TEST_SECRET, TestApp, TestRequest, on_both_backends, serving, wait_until,
};

on_both_backends!(
    a_session_over_stdio_acts_as_its_user_and_ends_when_stdin_closes,
    beside_a_running_serve_a_command_over_stdio_reaches_its_dashboard_and_streams,
    a_session_stops_cleanly_on_sigterm_with_stdin_still_open,
    a_tool_call_in_flight_when_stdin_closes_gets_its_answer,
    a_tool_call_in_flight_at_sigterm_gets_its_answer,
);

/// Longer than rmcp gives the answers still coming once a session ends (5 s at stdin's end, 2 s
/// at a cancel): how long a test's command waits for the write lock, so that without tally's
/// own hold-back its answer would be lost.
const OUTLASTING_RMCP: std::time::Duration = std::time::Duration::from_secs(6);

/// A running `tally mcp`, killed when dropped so that a failing test leaves no process behind.
struct StdioClient {
    child: Child,
    /// `None` once closed: the end of the session.
    stdin: Option<ChildStdin>,
    stdout: Lines<BufReader<ChildStdout>>,
    stderr: PathBuf,
    last_id: i64,
}

/// `tally mcp ARGUMENTS` on `app`'s database and data directory, set as variables.
fn command(app: &TestApp, arguments: &[&str], stderr: &Path) -> tokio::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tally"));
    command
        .arg("mcp")
        .args(arguments)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(stderr).expect("stderr file"))
        // The debug line of a tool call read lets a test signal once the call is in flight.
        .env("RUST_LOG", "info,tally::mcp::answered=debug");
    with_clean_env(&mut command, app.db.dir.path(), None);
    command.env("TALLY_DATABASE_URL", &app.db.url);
    if let Some(direct) = &app.db.direct_url {
        command.env("TALLY_DATABASE_DIRECT_URL", direct);
    }
    let mut command = tokio::process::Command::from(command);
    command.kill_on_drop(true);
    command
}

impl StdioClient {
    /// `tally mcp --user USER`, through the handshake (`initialize`, then `initialized`).
    async fn start(app: &TestApp, user: &str) -> StdioClient {
        let stderr = app
            .db
            .dir
            .path()
            .join(format!("mcp-{}.log", uuid::Uuid::now_v7().simple()));
        let mut child = command(app, &["--user", user], &stderr)
            .spawn()
            .expect("spawn tally mcp");
        let stdout = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut client = StdioClient {
            stdin: child.stdin.take(),
            child,
            stdout,
            stderr,
            last_id: 0,
        };
        let params = json!({
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "tally-tests", "version": "1"},
        });
        let initialized = client.request("initialize", params).await;
        assert_eq!(initialized["result"]["serverInfo"]["name"], "tally");
        assert_eq!(initialized["result"]["protocolVersion"], VERSION);
        client
            .send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}))
            .await;
        client
    }

    async fn send(&mut self, message: Value) {
        let stdin = self.stdin.as_mut().expect("stdin open");
        let mut line = message.to_string();
        line.push('\n');
        stdin.write_all(line.as_bytes()).await.expect("write stdin");
        stdin.flush().await.expect("flush stdin");
    }

    /// Sends a request and answers its response.
    async fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.send_request(method, params).await;
        self.answer_to(id, method).await
    }

    /// Sends a request without waiting for its answer; answers its id.
    async fn send_request(&mut self, method: &str, params: Value) -> i64 {
        self.last_id += 1;
        let id = self.last_id;
        let request = json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params});
        self.send(request).await;
        id
    }

    /// The answer to request `id`. Every line on stdout must be JSON-RPC: a log line there
    /// would break the client.
    async fn answer_to(&mut self, id: i64, method: &str) -> Value {
        loop {
            let line = tokio::time::timeout(PATIENCE, self.stdout.next_line())
                .await
                .unwrap_or_else(|_| panic!("no answer to {method} in time:\n{}", self.log()))
                .expect("read stdout")
                .unwrap_or_else(|| {
                    panic!("stdout ended before {method}'s answer:\n{}", self.log())
                });
            let message: Value = serde_json::from_str(&line)
                .unwrap_or_else(|_| panic!("not JSON-RPC on stdout: {line:?}"));
            if message["id"] == id {
                return message;
            }
        }
    }

    /// Waits until stderr shows `line`.
    async fn wait_for_log(&self, line: &str) {
        wait_until(&format!("{line:?} on tally mcp's stderr"), async || {
            self.log().contains(line)
        })
        .await;
    }

    /// Sends SIGTERM, as a client that stops its servers does.
    fn signal(&self) {
        let pid = self.child.id().expect("running").to_string();
        let signalled = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status();
        assert!(signalled.is_ok_and(|status| status.success()), "kill -TERM");
    }

    /// Waits (bounded) for the process to end.
    async fn exited(mut self) -> ExitStatus {
        match tokio::time::timeout(PATIENCE, self.child.wait()).await {
            Ok(status) => status.expect("wait for tally mcp"),
            Err(_) => panic!("tally mcp still running:\n{}", self.log()),
        }
    }

    /// A tool's structured result, after checking that it was not refused.
    async fn call(&mut self, tool: &str, arguments: Value) -> Value {
        let answer = self
            .request("tools/call", json!({"name": tool, "arguments": arguments}))
            .await;
        assert_eq!(answer["result"]["isError"], false, "{tool}: {answer}");
        answer["result"]["structuredContent"].clone()
    }

    /// Closes stdin, as a client that quits does, and waits (bounded) for the process to end;
    /// nothing but JSON-RPC may have come on stdout in the meantime.
    async fn close(mut self) -> ExitStatus {
        drop(self.stdin.take());
        let stderr = self.stderr.clone();
        let rest = async {
            while let Some(line) = self.stdout.next_line().await.expect("read stdout") {
                assert!(
                    serde_json::from_str::<Value>(&line).is_ok(),
                    "not JSON-RPC on stdout: {line:?}"
                );
            }
            self.child.wait().await.expect("wait for tally mcp")
        };
        tokio::time::timeout(PATIENCE, rest)
            .await
            .unwrap_or_else(|_| {
                let log = std::fs::read_to_string(&stderr).unwrap_or_default();
                panic!("tally mcp still running with stdin closed:\n{log}")
            })
    }

    /// SIGTERM with stdin still open, and waits (bounded) for the process to end.
    async fn terminate(self) -> ExitStatus {
        self.signal();
        self.exited().await
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

async fn a_session_over_stdio_acts_as_its_user_and_ends_when_stdin_closes(app: TestApp) {
    let mut alice = StdioClient::start(&app, "alice").await;
    let tools = alice.request("tools/list", json!({})).await;
    let names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("a list of tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert!(
        names.contains(&"add_task") && names.contains(&"get_dashboard"),
        "{names:?}"
    );
    let added = alice.call("add_task", json!({"title": "from stdio"})).await;
    let task = added["task_id"].as_str().expect("a task_id").to_owned();
    let figures = alice.call("get_dashboard", json!({})).await;
    assert_eq!(
        (&figures["total"], &figures["pending"]),
        (&json!(1), &json!(1))
    );
    let log = alice.log();
    let status = alice.close().await;
    assert!(status.success(), "{status}:\n{log}");
    assert!(log.contains("serving MCP on stdin and stdout"), "{log}");

    let own = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(own.status, 200, "{}", own.body);
    assert_eq!(own.body["title"], "from stdio");
    assert_eq!(own.body["owner_id"], "alice");
    let other = app.get(&format!("/api/tasks/{task}"), "bob").await;
    assert_eq!(other.status, 404, "{}", other.body);
    // SQLite: the app's dashboard rows read before may be a second old (another process wrote).
    wait_until("alice's dashboard counts the task", async || {
        app.dashboard("alice").await["total"] == 1
    })
    .await;
    assert_eq!(app.dashboard("bob").await["total"], 0);
}

async fn beside_a_running_serve_a_command_over_stdio_reaches_its_dashboard_and_streams(
    app: TestApp,
) {
    let mut env = vec![("TALLY_DATABASE_URL", app.db.url.as_str())];
    env.extend(
        app.db
            .direct_url
            .as_deref()
            .map(|direct| ("TALLY_DATABASE_DIRECT_URL", direct)),
    );
    let serve = Server::start_with(app.db.dir.path(), Some(TEST_SECRET), &env).await;
    // A node as `tally serve` runs one (the same background tasks), whose stream hears of
    // another process's commands as a server's does: announced on PostgreSQL, found at the
    // log's head on SQLite.
    let store = app.db.open_store(Default::default()).await;
    let (node, _background) = serving(store, app.auth.clone(), app.clock.clock()).await;
    let hub = node.hub.clone();
    wait_until("the node follows", async || hub.is_following()).await;
    let node = tally::http::router(node);
    let mut stream = EventStream::open(
        &node,
        TestRequest::get("/api/dashboard/stream").user("alice"),
    )
    .await
    .unwrap_or_else(|answer| panic!("the stream did not open: {answer:?}"));
    assert_eq!(stream.next_figures().await.1["total"], 0);

    let mut alice = StdioClient::start(&app, "alice").await;
    let create = |title: &str| {
        TestRequest::post("/api/tasks")
            .user("alice")
            .json(json!({"title": title}))
    };
    let first = serve.send(create("over REST")).await;
    assert_eq!(first.status, 201, "{}", serve.log());
    let second = alice.call("add_task", json!({"title": "over stdio"})).await;
    let third = serve.send(create("over REST again")).await;
    assert_eq!(third.status, 201, "{}", serve.log());
    // Two writers, one log: each command has a place of its own, in the order they were made.
    let positions = [
        &first.body["position"],
        &second["position"],
        &third.body["position"],
    ]
    .map(|position| position.as_i64().expect("a position"));
    assert!(
        positions[0] < positions[1] && positions[1] < positions[2],
        "{positions:?}"
    );

    wait_until(
        "serve's dashboard counts the task added over stdio",
        async || {
            let dashboard = serve
                .send(TestRequest::get("/api/dashboard").user("alice"))
                .await;
            dashboard.body["total"] == 3
        },
    )
    .await;
    let bob = serve
        .send(TestRequest::get("/api/dashboard").user("bob"))
        .await;
    assert_eq!(bob.body["total"], 0);
    loop {
        let (_, figures) = stream.next_figures().await;
        if figures["total"] == 3 {
            break;
        }
    }
    let log = alice.log();
    let status = alice.close().await;
    assert!(status.success(), "{status}:\n{log}");
    let after = serve
        .send(TestRequest::get("/api/dashboard").user("alice"))
        .await;
    assert_eq!(
        after.status,
        200,
        "serve goes on after the session: {}",
        serve.log()
    );
}

#[tokio::test]
async fn a_missing_or_bad_user_stops_the_start_saying_why() {
    let root = tempfile::tempdir().unwrap();
    for (arguments, expected) in [
        (&[][..], "--user <USER>"),
        (
            &["--user", "a/b"][..],
            "a user id must be usable as a path segment",
        ),
        (&["--user", ""][..], "a user id has 1 to 128 characters"),
    ] {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_tally"));
        command.arg("mcp").args(arguments).stdin(Stdio::null());
        with_clean_env(&mut command, root.path(), None);
        let run = tokio::process::Command::from(command).output();
        let output = tokio::time::timeout(PATIENCE, run)
            .await
            .expect("tally mcp ends at once")
            .expect("run tally mcp");
        let said = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{arguments:?}:\n{said}");
        assert!(
            said.contains(expected),
            "{arguments:?}: {expected:?} not said:\n{said}"
        );
        assert!(
            output.stdout.is_empty(),
            "{arguments:?}: stdout is the protocol's"
        );
    }
    assert!(
        !root.path().join("data").exists(),
        "nothing is created before the arguments are checked"
    );
}

async fn a_session_stops_cleanly_on_sigterm_with_stdin_still_open(app: TestApp) {
    let mut alice = StdioClient::start(&app, "alice").await;
    let added = alice
        .call("add_task", json!({"title": "before the signal"}))
        .await;
    let task = added["task_id"].as_str().expect("a task_id").to_owned();
    let stderr = alice.stderr.clone();
    let status = alice.terminate().await;
    let log = std::fs::read_to_string(&stderr).unwrap_or_default();
    assert!(status.success(), "{status}:\n{log}");
    assert!(log.contains("stopped"), "{log}");
    let own = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(own.status, 200, "{}", own.body);
}

/// How a test ends a session.
enum End {
    /// The client closes stdin.
    StdinClosed,
    /// SIGTERM, with stdin still open.
    Signal,
}

/// A tool call whose command waits for the write lock when the client closes stdin: the
/// session's end waits for its answer (rmcp alone would close stdout 5 s after stdin's end,
/// with the command still applied by the stop).
async fn a_tool_call_in_flight_when_stdin_closes_gets_its_answer(app: TestApp) {
    a_tool_call_in_flight_at_the_end_gets_its_answer(app, End::StdinClosed).await;
}

/// The same at SIGTERM: the stop ends the session as stdin's end does, once the answer is
/// written (rmcp's own cancel would give it 2 s).
async fn a_tool_call_in_flight_at_sigterm_gets_its_answer(app: TestApp) {
    a_tool_call_in_flight_at_the_end_gets_its_answer(app, End::Signal).await;
}

async fn a_tool_call_in_flight_at_the_end_gets_its_answer(app: TestApp, end: End) {
    let mut alice = StdioClient::start(&app, "alice").await;
    let held = app.db.hold_writes().await;
    let call = json!({"name": "add_task", "arguments": {"title": "Answered at the end"}});
    let id = alice.send_request("tools/call", call).await;
    match end {
        End::StdinClosed => drop(alice.stdin.take()),
        End::Signal => {
            // Read before the signal: what comes after it is not read at all.
            alice.wait_for_log("tool call read").await;
            alice.signal();
        }
    }
    alice
        .wait_for_log("answering the tool calls in flight before stopping")
        .await;
    // The command outlasts rmcp's own drain: only the hold-back keeps stdout open.
    tokio::time::sleep(OUTLASTING_RMCP).await;
    held.release().await;
    let answer = alice.answer_to(id, "tools/call").await;
    assert_eq!(answer["result"]["isError"], false, "{answer}");
    assert_eq!(answer["result"]["structuredContent"]["position"], 1);
    let status = alice.exited().await;
    assert!(status.success(), "{status}");
    assert_eq!(
        app.db.event_count().await,
        1,
        "the command was applied once"
    );
}
