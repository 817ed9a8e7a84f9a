//! The one way a test builds a request ([`TestRequest`]), and what it reads back
//! ([`TestResponse`]). [`TestApp::send`](super::TestApp::send) sends one to the test app;
//! [`send_to`] to any other router (a second node, a reopened store, another key set).
//!
//! ```ignore
//! let created = app
//!     .send(
//!         TestRequest::post("/api/tasks")
//!             .user("alice")
//!             .json(json!({ "title": "buy stamps" }))
//!             .header("idempotency-key", "stamps-1"),
//!     )
//!     .await;
//! ```

use std::fmt;

use axum::Router;
use axum::body::Body;
use axum::http::header::{AsHeaderName, IntoHeaderName};
use axum::http::{HeaderMap, HeaderValue, Method, Request, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::tokens::token;

/// A request to the API, built a part at a time: method and path, then who sends it, its body
/// and its headers. Each part replaces what an earlier call set, so a test can start from a
/// valid request and make it wrong in exactly one way.
#[derive(Debug)]
#[must_use = "a request does nothing until it is sent"]
pub struct TestRequest {
    method: Method,
    path: String,
    headers: HeaderMap,
    body: Option<String>,
}

impl TestRequest {
    /// A request without a token, body or headers. `method` is a `Method` or its name.
    pub fn new<M>(method: M, path: impl Into<String>) -> TestRequest
    where
        Method: TryFrom<M>,
        <Method as TryFrom<M>>::Error: fmt::Debug,
    {
        TestRequest {
            method: Method::try_from(method).expect("an HTTP method"),
            path: path.into(),
            headers: HeaderMap::new(),
            body: None,
        }
    }

    pub fn get(path: impl Into<String>) -> TestRequest {
        TestRequest::new(Method::GET, path)
    }

    pub fn post(path: impl Into<String>) -> TestRequest {
        TestRequest::new(Method::POST, path)
    }

    pub fn patch(path: impl Into<String>) -> TestRequest {
        TestRequest::new(Method::PATCH, path)
    }

    pub fn put(path: impl Into<String>) -> TestRequest {
        TestRequest::new(Method::PUT, path)
    }

    pub fn delete(path: impl Into<String>) -> TestRequest {
        TestRequest::new(Method::DELETE, path)
    }

    /// Sent by `user`: `Authorization: Bearer` with a valid token for them ([`token`]).
    pub fn user(self, user: &str) -> TestRequest {
        self.bearer(&token(user))
    }

    /// `Authorization: Bearer <token>`, whatever the token.
    pub fn bearer(self, token: &str) -> TestRequest {
        self.header(header::AUTHORIZATION, &format!("Bearer {token}"))
    }

    /// `body` as JSON, with `Content-Type: application/json`.
    pub fn json(self, body: Value) -> TestRequest {
        self.body(&body.to_string())
    }

    /// `text` as the body, spelled as the test chooses (malformed, oddly spaced, empty), with
    /// `Content-Type: application/json`.
    pub fn body(mut self, text: &str) -> TestRequest {
        self.body = Some(text.to_owned());
        self.header(header::CONTENT_TYPE, "application/json")
    }

    /// Header `name` set to `value` (any bytes a header may hold), replacing an earlier value.
    pub fn header(mut self, name: impl IntoHeaderName, value: &str) -> TestRequest {
        let value = HeaderValue::from_bytes(value.as_bytes())
            .unwrap_or_else(|error| panic!("header value {value:?}: {error}"));
        self.headers.insert(name, value);
        self
    }

    /// Header `name` removed (a body's `Content-Type`, say).
    pub fn without_header(mut self, name: impl AsHeaderName) -> TestRequest {
        self.headers.remove(name);
        self
    }

    pub fn build(self) -> Request<Body> {
        let mut request = Request::builder()
            .method(self.method)
            .uri(self.path)
            .body(self.body.map_or_else(Body::empty, Body::from))
            .expect("a valid request");
        *request.headers_mut() = self.headers;
        request
    }
}

/// `METHOD path`, for failure messages.
impl fmt::Display for TestRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method, self.path)
    }
}

impl From<TestRequest> for Request<Body> {
    fn from(request: TestRequest) -> Request<Body> {
        request.build()
    }
}

/// A response with its body read: JSON when it is JSON, else its text as a JSON string, `null`
/// when empty.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
    /// The body; a problem's `instance` is checked (it must name the request's id) and taken
    /// out, since it differs for every request by design.
    pub body: Value,
}

impl TestResponse {
    /// The `content-type` header.
    pub fn content_type(&self) -> &str {
        self.headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    }

    /// Asserts a problem+json answer with this status and `type`.
    #[track_caller]
    pub fn assert_problem(&self, status: u16, problem_type: &str) {
        assert_eq!(self.status.as_u16(), status, "body: {}", self.body);
        assert_eq!(self.content_type(), "application/problem+json");
        assert_eq!(self.body["type"], problem_type, "body: {}", self.body);
        assert_eq!(self.body["status"], status);
        assert!(self.body["title"].is_string() && self.body["detail"].is_string());
    }

    /// Status, the headers a command sets, and the body: what a client sees of a command's
    /// answer, compared whole (a replay must equal the first answer) or snapshotted.
    pub fn answer(&self) -> Value {
        let text = |name: header::HeaderName| {
            self.headers
                .get(name)
                .map(|value| value.to_str().unwrap().to_owned())
        };
        json!({
            "status": self.status.as_u16(),
            "etag": text(header::ETAG),
            "location": text(header::LOCATION),
            "body": self.body,
        })
    }
}

/// Sends `request` to `router` with `oneshot` and reads the whole answer.
pub async fn send_to(router: &Router, request: impl Into<Request<Body>>) -> TestResponse {
    let response = router.clone().oneshot(request.into()).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let mut body = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
    };
    let request_id = headers
        .get("x-request-id")
        .map(|id| id.to_str().unwrap().to_owned())
        .expect("every answer names its request id");
    if headers.get(header::CONTENT_TYPE).map(|t| t.as_bytes()) == Some(b"application/problem+json")
    {
        let instance = body.as_object_mut().unwrap().remove("instance");
        assert_eq!(instance, Some(Value::String(request_id)), "{body}");
    }
    TestResponse {
        status,
        headers,
        body,
    }
}
