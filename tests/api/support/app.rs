//! A real tally app on a fresh database, driven through its router with `oneshot`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use chrono::{DateTime, TimeZone, Utc};
use http_body_util::BodyExt;
use serde_json::Value;
use tally::auth::{AuthConfig, Authenticator};
use tally::clock::Clock;
use tally::commands::Commands;
use tally::domain::UserId;
use tally::http::{AppState, router};
use tally::store::{SqliteOptions, Store};
use tower::ServiceExt;

use super::database::{Backend, TestDb};

/// The HS256 secret test apps verify with.
pub const TEST_SECRET: &str = "a-test-secret-that-is-at-least-32-bytes-long";

/// A clock the test sets; starts on Wednesday 2026-11-25 10:00 UTC.
#[derive(Clone)]
pub struct ManualClock(Arc<Mutex<DateTime<Utc>>>);

impl ManualClock {
    pub fn new(at: DateTime<Utc>) -> Self {
        ManualClock(Arc::new(Mutex::new(at)))
    }

    pub fn set(&self, at: DateTime<Utc>) {
        *self.0.lock().unwrap() = at;
    }

    pub fn advance(&self, by: chrono::Duration) {
        *self.0.lock().unwrap() += by;
    }

    pub fn now(&self) -> DateTime<Utc> {
        *self.0.lock().unwrap()
    }

    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Clock::from_fn(move || *inner.lock().unwrap())
    }
}

/// A running app: its router, its store and command writer, its database and its clock.
pub struct TestApp {
    pub router: Router,
    pub store: Arc<dyn Store>,
    pub commands: Arc<Commands>,
    pub auth: Arc<Authenticator>,
    pub clock: ManualClock,
    pub db: TestDb,
}

/// A response with its body read.
#[derive(Debug)]
pub struct TestResponse {
    pub status: StatusCode,
    pub headers: HeaderMap,
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
}

impl TestApp {
    /// A fresh app on `backend`; `None` when PostgreSQL is not configured locally.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        let store = tally::store::open(&db.url, SqliteOptions::default())
            .await
            .expect("open store");
        let auth = Arc::new(
            Authenticator::from_config(
                &AuthConfig {
                    secret: Some(TEST_SECRET.into()),
                    ..AuthConfig::default()
                },
                db.dir.path(),
            )
            .expect("authenticator"),
        );
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap());
        let state = AppState::new(store.clone(), auth.clone(), clock.clock());
        let commands = state.commands.clone();
        let router = router(state);
        Some(TestApp {
            router,
            store,
            commands,
            auth,
            clock,
            db,
        })
    }

    /// A valid token for `user`, an hour long.
    pub fn token(&self, user: &str) -> String {
        self.auth
            .mint(
                &UserId::parse(user).unwrap(),
                Utc::now() + chrono::Duration::hours(1),
            )
            .unwrap()
    }

    /// Sends a request as `user` (no token when `None`) with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        user: Option<&str>,
        body: Option<Value>,
    ) -> TestResponse {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(user) = user {
            request = request.header(
                header::AUTHORIZATION,
                format!("Bearer {}", self.token(user)),
            );
        }
        let request = match body {
            Some(body) => request
                .header(header::CONTENT_TYPE, "application/json")
                .body(Body::from(body.to_string())),
            None => request.body(Body::empty()),
        };
        self.send(request.unwrap()).await
    }

    /// Sends any request.
    pub async fn send(&self, request: Request<Body>) -> TestResponse {
        let response = self.router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.unwrap().to_bytes();
        let body = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes)
                .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&bytes).into_owned()))
        };
        TestResponse {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&self, path: &str, user: &str) -> TestResponse {
        self.call(Method::GET, path, Some(user), None).await
    }

    /// Creates a task owned by `user` and returns its id.
    pub async fn create_task(&self, user: &str, title: &str) -> String {
        let response = self
            .call(
                Method::POST,
                "/api/tasks",
                Some(user),
                Some(serde_json::json!({ "title": title })),
            )
            .await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.body["task_id"].as_str().unwrap().to_owned()
    }

    /// A command on an existing task (`complete`, `reopen`, …) as `user`.
    pub async fn post(&self, path: &str, user: &str) -> TestResponse {
        self.call(Method::POST, path, Some(user), None).await
    }

    /// Shares `task` with `with` at `permission`, as `owner`.
    pub async fn share(
        &self,
        task: &str,
        owner: &str,
        with: &str,
        permission: &str,
    ) -> TestResponse {
        self.call(
            Method::PUT,
            &format!("/api/tasks/{task}/shares/{with}"),
            Some(owner),
            Some(serde_json::json!({ "permission": permission })),
        )
        .await
    }

    /// `GET /api/dashboard` for `user`.
    pub async fn dashboard(&self, user: &str) -> Value {
        let response = self.get("/api/dashboard", user).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.body
    }
}
