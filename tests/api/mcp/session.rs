//! An MCP client's side of the conversation, as the tests speak it: a session over the test
//! app's router, and raw requests to a real server.

use axum::http::{Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PATIENCE, TestApp, TestRequest, TestResponse, token};

/// The newest protocol version with a handshake (`initialize`) and sessions.
pub const VERSION: &str = "2025-11-25";

/// An initialized MCP session of one user.
pub struct Session<'a> {
    app: &'a TestApp,
    user: &'static str,
    id: String,
}

/// A POST to `/mcp` as the protocol asks for one: both answer types accepted, a loopback host.
pub fn post(body: Value) -> TestRequest {
    TestRequest::post("/mcp")
        .json(body)
        .header(header::ACCEPT, "application/json, text/event-stream")
        .header(header::HOST, "localhost")
}

/// The `initialize` request that opens a session of [`VERSION`].
pub fn initialize_request() -> Value {
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
    pub async fn open(app: &'a TestApp, user: &'static str) -> Session<'a> {
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

    pub fn request(&self, body: Value) -> TestRequest {
        post(body)
            .user(self.user)
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", VERSION)
    }

    /// A request without a body in this session: `GET` opens its event stream (where the
    /// server's own notifications come), `DELETE` ends it.
    pub fn without_body(&self, method: Method) -> TestRequest {
        TestRequest::new(method, "/mcp")
            .user(self.user)
            .header(header::ACCEPT, "text/event-stream")
            .header(header::HOST, "localhost")
            .header("mcp-session-id", &self.id)
            .header("mcp-protocol-version", VERSION)
    }

    /// The result of `method` with `params`.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": params});
        let response = self.app.send(self.request(body)).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let answer = message(&response, 1);
        assert!(answer.get("error").is_none(), "{method}: {answer}");
        answer["result"].clone()
    }

    /// The result of the tool `name` with `arguments`.
    pub async fn tool(&self, name: &str, arguments: Value) -> Value {
        self.call("tools/call", json!({"name": name, "arguments": arguments}))
            .await
    }

    /// The structured result of a tool that succeeded.
    pub async fn tool_ok(&self, name: &str, arguments: Value) -> Value {
        let result = self.tool(name, arguments).await;
        assert_eq!(result["isError"], false, "{name}: {result}");
        result["structuredContent"].clone()
    }

    /// The text of a tool's refusal (`isError`).
    pub async fn tool_refused(&self, name: &str, arguments: Value) -> String {
        let result = self.tool(name, arguments).await;
        assert_eq!(result["isError"], true, "{name}: {result}");
        result["content"][0]["text"].as_str().unwrap().to_owned()
    }
}

/// The JSON-RPC message answering request `id` in an answer of server-sent events.
pub fn message(response: &TestResponse, id: i64) -> Value {
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

/// A connection that has sent one request to `/mcp` as Alice, in session `session` if given.
pub async fn send_raw(
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
pub async fn exchange(
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
