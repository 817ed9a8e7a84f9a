//! The MCP endpoint (`/mcp`), spoken as a client of protocol 2025-11-25 speaks it: JSON-RPC
//! POSTs in a session, answers as server-sent events. The same token check as the API, the
//! tools' schemas and hints, and each tool agreeing with the API it calls into.

use std::collections::BTreeSet;

use axum::http::{StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    Launched, PATIENCE, TestApp, TestRequest, TestResponse, on_both_backends, token,
};

/// The newest protocol version with a handshake (`initialize`) and sessions.
const VERSION: &str = "2025-11-25";

/// An initialized MCP session of one user.
struct Session<'a> {
    app: &'a TestApp,
    user: &'static str,
    id: String,
}

/// A POST to `/mcp` as the protocol asks for one: both answer types accepted, a loopback host.
fn post(body: Value) -> TestRequest {
    TestRequest::post("/mcp")
        .json(body)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::HOST, "localhost")
}

/// The `initialize` request that opens a session of [`VERSION`].
fn initialize_request() -> Value {
    json!({
        "jsonrpc": "2.0", "id": 0, "method": "initialize",
        "params": {
            "protocolVersion": VERSION,
            "capabilities": {},
            "clientInfo": {"name": "tally-tests", "version": "0"},
        },
    })
}

impl<'a> Session<'a> {
    async fn open(app: &'a TestApp, user: &'static str) -> Session<'a> {
        let initialize = initialize_request();
        let response = app.send(post(initialize).user(user)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let id = response.headers["mcp-session-id"]
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(message(&response, 0)["result"]["protocolVersion"], VERSION);
        let session = Session { app, user, id };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = app.send(session.request(initialized)).await;
        assert_eq!(response.status, StatusCode::ACCEPTED, "{}", response.body);
        session
    }

    fn request(&self, body: Value) -> TestRequest {
        post(body)
            .user(self.user)
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", VERSION)
    }

    /// The result of `method` with `params`.
    async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.app.send(self.request(body)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let answer = message(&response, 1);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The result of the tool `name` with `arguments`.
    async fn tool(&self, name: &str, arguments: Value) -> Value {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// The structured result of a tool that succeeded.
    async fn tool_ok(&self, name: &str, arguments: Value) -> Value {
        let result = self.tool(name, arguments).await;
        assert_eq!(result["isError"], false, "{name}: {result}");
        result["structuredContent"].clone()
    }

    /// The text of a tool's refusal (`isError`).
    async fn tool_refused(&self, name: &str, arguments: Value) -> String {
        let result = self.tool(name, arguments).await;
        assert_eq!(result["isError"], true, "{name}: {result}");
        result["content"][0]["text"].as_str().unwrap().to_owned()
    }
}

/// The JSON-RPC message answering request `id` in an answer of server-sent events.
fn message(response: &TestResponse, id: i64) -> Value {
    let text = response
        .body
        .as_str()
        .unwrap_or_else(|| panic!("events, not {}", response.body));
    text.lines()
        .filter_map(|line| line.strip_prefix("data:"))
        .filter_map(|data| serde_json::from_str::<Value>(data.trim()).ok())
        .find(|message| message["id"] == id)
        .unwrap_or_else(|| panic!("no answer to request {id} in {text:?}"))
}

async fn without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens(app: TestApp) {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    for request in [
        post(initialize.clone()),
        post(initialize).bearer("not-a-token"),
    ] {
        let response = app.send(request).await;
        response.assert_problem(401, "unauthorized");
        assert_eq!(
            response.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"tally\", resource_metadata=\"http://localhost/.well-known/oauth-protected-resource\""
        );
    }
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = app
            .send(TestRequest::get(path).header(header::HOST, "127.0.0.1:8080"))
            .await;
        assert_eq!(response.status, StatusCode::OK);
        // No issuer is configured, so no authorization server is named.
        assert_eq!(
            response.body,
            json!({
                "resource": "http://127.0.0.1:8080/mcp",
                "bearer_methods_supported": ["header"],
            })
        );
    }
}

async fn every_tool_is_listed_with_its_schemas_and_hints(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let tools = session.call("tools/list", json!({})).await["tools"].clone();
    let tools = tools.as_array().unwrap();
    let names: BTreeSet<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let expected = [
        "add_task",
        "complete_task",
        "delete_task",
        "get_dashboard",
        "get_task",
        "list_tasks",
        "reopen_task",
        "update_task",
    ];
    assert_eq!(names, BTreeSet::from(expected));
    for tool in tools {
        let name = &tool["name"];
        assert!(!tool["description"].as_str().unwrap().is_empty(), "{name}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
        let read_only = name.as_str().unwrap().starts_with("get_") || name == "list_tasks";
        assert_eq!(tool["annotations"]["readOnlyHint"], read_only, "{name}");
        assert_eq!(
            tool["annotations"]["destructiveHint"],
            name == "delete_task",
            "{name}"
        );
        assert_eq!(
            tool["annotations"]["idempotentHint"],
            name != "add_task",
            "{name}"
        );
    }
    let add = tools.iter().find(|t| t["name"] == "add_task").unwrap();
    assert_eq!(add["inputSchema"]["required"], json!(["title"]));
}

async fn a_task_added_by_tool_shows_in_the_dashboard_the_api_serves(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let added = session
        .tool_ok("add_task", json!({"title": "Write the report"}))
        .await;
    assert_eq!(added["version"], 1);
    let task_id = added["task_id"].as_str().unwrap();
    let task = session
        .tool_ok("get_task", json!({"task_id": task_id}))
        .await;
    assert_eq!(task["title"], "Write the report");
    assert_eq!(
        task,
        app.get(&format!("/api/tasks/{task_id}"), "alice")
            .await
            .body
    );
    session
        .tool_ok("complete_task", json!({"task_id": task_id}))
        .await;
    let dashboard = session.tool_ok("get_dashboard", json!({})).await;
    assert_eq!(dashboard["completed"], 1);
    assert_eq!(dashboard, app.get("/api/dashboard", "alice").await.body);
    let page = session
        .tool_ok("list_tasks", json!({"status": "completed"}))
        .await;
    assert_eq!(
        page,
        app.get("/api/tasks?status=completed", "alice").await.body
    );
}

async fn a_retried_add_task_with_the_same_key_creates_one_task(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let arguments = json!({"title": "Once", "idempotency_key": "add-once-1"});
    let first = session.tool_ok("add_task", arguments.clone()).await;
    let retried = session.tool_ok("add_task", arguments).await;
    assert_eq!(retried, first);
    assert_eq!(app.get("/api/dashboard", "alice").await.body["total"], 1);
    let other = json!({"title": "Another", "idempotency_key": "add-once-1"});
    let refusal = session.tool_refused("add_task", other).await;
    assert!(refusal.starts_with("idempotency-key-reuse: "), "{refusal}");
}

async fn refusals_are_tool_errors_naming_the_problem_type(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let added = alice.tool_ok("add_task", json!({"title": "Mine"})).await;
    let mine = json!({"task_id": added["task_id"]});
    // Another user cannot tell the task exists, whatever the tool.
    let bob = Session::open(&app, "bob").await;
    for tool in ["get_task", "complete_task", "delete_task"] {
        let refusal = bob.tool_refused(tool, mine.clone()).await;
        assert!(refusal.starts_with("not-found: "), "{tool}: {refusal}");
    }
    alice.tool_ok("complete_task", mine.clone()).await;
    let refusal = alice.tool_refused("complete_task", mine).await;
    assert!(refusal.starts_with("invalid-transition: "), "{refusal}");
    let refusal = alice.tool_refused("add_task", json!({"title": " "})).await;
    assert!(refusal.starts_with("validation: "), "{refusal}");
    let refusal = alice
        .tool_refused("get_task", json!({"task_id": "nope"}))
        .await;
    assert!(refusal.starts_with("malformed-request: "), "{refusal}");
    assert_eq!(app.get("/api/dashboard", "bob").await.body["total"], 0);
}

/// A real server (`tally::launch`) whose stop begins while a client holds a session's event
/// stream open (`GET /mcp`): the stream ends and the server stops, rather than the stop
/// waiting for the client.
async fn a_graceful_stop_ends_open_mcp_streams(app: TestApp) {
    let mut server = Launched::start(&app).await;
    let address = server.address.clone();

    let initialize = initialize_request();
    let answer = exchange(&address, "POST", None, Some(initialize)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let session = answer
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("mcp-session-id:")
                .map(|id| id.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session id in {answer}"));
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = exchange(&address, "POST", Some(&session), Some(initialized)).await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");

    let mut stream = send_raw(&address, "GET", Some(&session), None).await;
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("\r\n\r\n") {
        let read = stream.read(&mut buffer).await.expect("the stream");
        assert!(read > 0, "the stream ended before it opened");
        received.extend_from_slice(&buffer[..read]);
    }
    let head = String::from_utf8_lossy(&received).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    server.stop();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the stream ends")
        .expect("the server closes the stream cleanly");
    server.stopped().await;
}

/// A connection that has sent one request to `/mcp` as Alice, in session `session` if given.
async fn send_raw(
    address: &str,
    method: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> TcpStream {
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    let session = session
        .map(|id| format!("Mcp-Session-Id: {id}\r\nMCP-Protocol-Version: {VERSION}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "{method} /mcp HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\
         Accept: application/json, text/event-stream\r\nContent-Type: application/json\r\n\
         {session}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        token("alice"),
        body.len(),
    );
    let mut stream = TcpStream::connect(address).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    stream
}

/// The whole answer to one request of [`send_raw`].
async fn exchange(
    address: &str,
    method: &str,
    session: Option<&str>,
    body: Option<Value>,
) -> String {
    let mut stream = send_raw(address, method, session, body).await;
    let mut answer = Vec::new();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut answer))
        .await
        .expect("an answer")
        .unwrap();
    String::from_utf8_lossy(&answer).into_owned()
}

on_both_backends!(
    a_graceful_stop_ends_open_mcp_streams,
    without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens,
    every_tool_is_listed_with_its_schemas_and_hints,
    a_task_added_by_tool_shows_in_the_dashboard_the_api_serves,
    a_retried_add_task_with_the_same_key_creates_one_task,
    refusals_are_tool_errors_naming_the_problem_type,
);
