//! An MCP client's side of the conversation, as the tests speak it: a session over the test
//! app's router, and raw requests to a real server.

use axum::http::{Method, header};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{PATIENCE, TestApp, TestRequest, http_client, token};

/// The newest protocol version with a handshake (`initialize`) and sessions.
pub const VERSION: &str = "2025-11-25";

/// An initialized MCP session of one user.
pub struct Session<'a> {
    via: Via<'a>,
    user: &'static str,
    id: String,
}

/// Where a session's requests go: the test app's router, or a real server (`tally serve`).
#[derive(Clone, Copy)]
enum Via<'a> {
    App(&'a TestApp),
    Address(&'a str),
}

/// What the tests read of an answer, wherever it came from.
struct Answer {
    status: u16,
    session_id: Option<String>,
    body: Value,
}

impl Via<'_> {
    async fn send(self, request: TestRequest) -> Answer {
        match self {
            Via::App(app) => {
                let response = app.send(request.header(header::HOST, "localhost")).await;
                let session_id = response.headers.get("mcp-session-id");
                Answer {
                    status: response.status.as_u16(),
                    session_id: session_id.map(|id| id.to_str().unwrap().to_owned()),
                    body: response.body,
                }
            }
            // The client names the address as the host itself.
            Via::Address(address) => {
                let response = http_client::send(address, request).await.unwrap();
                Answer {
                    status: response.status,
                    session_id: response.headers.get("mcp-session-id").cloned(),
                    body: response.body,
                }
            }
        }
    }
}

/// A POST to `/mcp` as the protocol asks for one: both answer types accepted, a loopback host.
pub fn post(body: Value) -> TestRequest {
    mcp_post(body).header(header::HOST, "localhost")
}

/// [`post`] without a `Host`.
fn mcp_post(body: Value) -> TestRequest {
    TestRequest::post("/mcp")
        .json(body)
        .header(header::ACCEPT, "application/json, text/event-stream")
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
    /// A session over the test app's router.
    pub async fn open(app: &'a TestApp, user: &'static str) -> Session<'a> {
        Session::open_via(Via::App(app), user).await
    }

    /// A session with the real server at `address` (`127.0.0.1:PORT`).
    pub async fn open_at(address: &'a str, user: &'static str) -> Session<'a> {
        Session::open_via(Via::Address(address), user).await
    }

    async fn open_via(via: Via<'a>, user: &'static str) -> Session<'a> {
        let response = via.send(mcp_post(initialize_request()).user(user)).await;
        assert_eq!(response.status, 200, "{}", response.body);
        let id = response.session_id.expect("a session id");
        assert_eq!(
            message(&response.body, 0)["result"]["protocolVersion"],
            VERSION
        );
        let session = Session { via, user, id };
        let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
        let response = via.send(session.request(initialized)).await;
        assert_eq!(response.status, 202, "{}", response.body);
        session
    }

    pub fn request(&self, body: Value) -> TestRequest {
        mcp_post(body)
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
        let response = self.via.send(self.request(body)).await;
        assert_eq!(response.status, 200, "{}", response.body);
        let answer = message(&response.body, 1);
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
pub fn message(body: &Value, id: i64) -> Value {
    let text = body
        .as_str()
        .unwrap_or_else(|| panic!("events, not {body}"));
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
