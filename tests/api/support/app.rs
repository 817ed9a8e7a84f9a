//! A real tally app on a fresh database, driven through its router with `oneshot`.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use tally::auth::Authenticator;
use tally::background::Background;
use tally::clock::Clock;
use tally::commands::{Commands, Deadlines};
use tally::http::{AppState, Tuning, router};
use tally::store::{SqliteOptions, Store};
use tokio::task::JoinSet;

use super::database::{Backend, TestDb};
use super::requests::{TestRequest, TestResponse, send_to};
use super::tokens::test_auth_config;

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
    /// The app's writer, day watcher and follower; dropped (so stopped) with the app.
    _background: Background,
    pub db: TestDb,
}

impl TestApp {
    /// A fresh app on `backend`; `None` when PostgreSQL is not configured locally.
    pub async fn start(backend: Backend) -> Option<TestApp> {
        Self::start_with(backend, Deadlines::default()).await
    }

    /// [`start`](Self::start), with the command writer's deadlines given.
    pub async fn start_with(backend: Backend, deadlines: Deadlines) -> Option<TestApp> {
        let tuning = Tuning {
            deadlines,
            ..Tuning::default()
        };
        Self::start_tuned(backend, tuning).await
    }

    /// [`start`](Self::start), with the writer's deadlines and the streams' limits given.
    pub async fn start_tuned(backend: Backend, tuning: Tuning) -> Option<TestApp> {
        let db = TestDb::create(backend).await?;
        let store = db.open_store(SqliteOptions::default()).await;
        let auth = Arc::new(
            Authenticator::from_config(&test_auth_config(), db.dir.path()).expect("authenticator"),
        );
        let clock = ManualClock::new(Utc.with_ymd_and_hms(2026, 11, 25, 10, 0, 0).unwrap());
        let (state, background) = started(store.clone(), auth.clone(), clock.clock(), tuning).await;
        let commands = state.commands.clone();
        let router = router(state);
        Some(TestApp {
            router,
            store,
            commands,
            auth,
            clock,
            _background: background,
            db,
        })
    }

    /// Sends a request to the app (a [`TestRequest`], or a `Request` a test shaped itself).
    pub async fn send(&self, request: impl Into<Request<Body>>) -> TestResponse {
        send_to(&self.router, request).await
    }

    /// Sends every request at once, each on a task of its own; the answers come back in no
    /// particular order.
    pub async fn send_all_at_once(
        &self,
        requests: impl IntoIterator<Item = TestRequest>,
    ) -> Vec<TestResponse> {
        let mut racing = JoinSet::new();
        for request in requests {
            let router = self.router.clone();
            racing.spawn(async move { send_to(&router, request).await });
        }
        racing.join_all().await
    }

    /// `GET path` as `user`: the shape of most reads.
    pub async fn get(&self, path: &str, user: &str) -> TestResponse {
        self.send(TestRequest::get(path).user(user)).await
    }

    /// `POST path` as `user`, without a body: a command on an existing task (`complete`,
    /// `reopen`).
    pub async fn post(&self, path: &str, user: &str) -> TestResponse {
        self.send(TestRequest::post(path).user(user)).await
    }

    /// Creates a task owned by `user` and returns its id.
    pub async fn create_task(&self, user: &str, title: &str) -> String {
        let create = TestRequest::post("/api/tasks").user(user);
        let response = self.send(create.json(json!({ "title": title }))).await;
        assert_eq!(response.status, StatusCode::CREATED, "{}", response.body);
        response.body["task_id"].as_str().unwrap().to_owned()
    }

    /// Completes `task` as `user`, which must succeed.
    pub async fn complete_task(&self, task: &str, user: &str) {
        let response = self
            .post(&format!("/api/tasks/{task}/complete"), user)
            .await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }

    /// Reopens `task` as `user`, which must succeed.
    pub async fn reopen_task(&self, task: &str, user: &str) {
        let response = self.post(&format!("/api/tasks/{task}/reopen"), user).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }

    /// Deletes `task` as `user`, which must succeed.
    pub async fn delete_task(&self, task: &str, user: &str) {
        let delete = TestRequest::delete(format!("/api/tasks/{task}")).user(user);
        let response = self.send(delete).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }

    /// Shares `task` with `with` at `permission`, as `owner`.
    pub async fn share(
        &self,
        task: &str,
        owner: &str,
        with: &str,
        permission: &str,
    ) -> TestResponse {
        let share = TestRequest::put(format!("/api/tasks/{task}/shares/{with}")).user(owner);
        self.send(share.json(json!({ "permission": permission })))
            .await
    }

    /// `GET /api/dashboard` for `user`, which must succeed.
    pub async fn dashboard(&self, user: &str) -> Value {
        let response = self.get("/api/dashboard", user).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        response.body
    }
}

/// The state for `store` and its background tasks, as `tally serve` starts them (without the
/// scheduled jobs). Keep the [`Background`]: dropping it stops the streams and the follower.
pub async fn started(
    store: Arc<dyn Store>,
    auth: Arc<Authenticator>,
    clock: Clock,
    tuning: Tuning,
) -> (AppState, Background) {
    Background::start(store, auth, clock, tuning, None)
        .await
        .expect("the background tasks start")
}

/// [`started`], untuned.
pub async fn serving(
    store: Arc<dyn Store>,
    auth: Arc<Authenticator>,
    clock: Clock,
) -> (AppState, Background) {
    started(store, auth, clock, Tuning::default()).await
}
