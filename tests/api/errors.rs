//! Every refusal: a clear problem+json answer (401s with a `Bearer` challenge), no internal
//! text, and nothing stored changes. All of it is tried on every route of the contract, from
//! one scene ([`World`]):
//!
//! - [`malformed_requests`]: the shape of requests (bodies, media types, sizes, path ids,
//!   query parameters, headers, unknown routes): 400, 404, 405, 413, 415, 422.
//! - [`access_and_domain_rules`]: who may do what and what the task allows (tokens,
//!   strangers, viewers, editors, transitions, versions, values): 401, 403, 404, 409, 412, 422.
//! - here: one answer of each problem type, pinned.
//!
//! A reused `Idempotency-Key` (422) is in `idempotency`, from this same scene.

use axum::body::Body;
use axum::http::{HeaderName, Request, header};

use crate::support::{TestApp, TestRequest, TestResponse, on_both_backends};

mod access_and_domain_rules;
mod malformed_requests;

on_both_backends!(every_problem_type_reads_the_same_way);

type Route = (&'static str, &'static str, Option<&'static str>);

/// Every route of the contract except the health check, with a body that would be accepted:
/// as alice, each row succeeds (reopen names the completed task).
const ROUTES: [Route; 16] = [
    ("POST", "/api/tasks", Some(r#"{"title": "buy stamps"}"#)),
    (
        "PATCH",
        "/api/tasks/{pending}",
        Some(r#"{"title": "buy more"}"#),
    ),
    ("DELETE", "/api/tasks/{pending}", None),
    ("POST", "/api/tasks/{pending}/complete", None),
    ("POST", "/api/tasks/{done}/reopen", None),
    (
        "PUT",
        "/api/tasks/{pending}/shares/carol",
        Some(r#"{"permission": "edit"}"#),
    ),
    ("DELETE", "/api/tasks/{pending}/shares/victor", None),
    ("GET", "/api/tasks", None),
    ("GET", "/api/tasks/{pending}", None),
    ("GET", "/api/tasks/{pending}/events", None),
    ("GET", "/api/tasks/{pending}/shares", None),
    ("GET", "/api/dashboard", None),
    ("GET", "/api/dashboard/statistics", None),
    ("GET", "/api/dashboard/activity", None),
    ("GET", "/api/dashboard/breakdown", None),
    ("GET", "/api/dashboard/shared", None),
];

fn body_routes() -> impl Iterator<Item = (&'static str, &'static str, &'static str)> {
    ROUTES
        .into_iter()
        .filter_map(|(m, path, body)| body.map(|body| (m, path, body)))
}

fn task_routes() -> impl Iterator<Item = Route> {
    ROUTES.into_iter().filter(|(_, path, _)| path.contains('{'))
}

fn command_routes() -> impl Iterator<Item = Route> {
    ROUTES.into_iter().filter(|(method, ..)| *method != "GET")
}

/// What every test starts from: alice owns `pending` and `done` (completed), both shared with
/// victor (view) and edith (edit); `pending` was shared with frank and taken back; `gone` was
/// shared with victor, then deleted. bob and carol have nothing to do with any of them.
pub(crate) struct World<'a> {
    app: &'a TestApp,
    pub(crate) pending: String,
    pub(crate) done: String,
    pub(crate) gone: String,
}

impl World<'_> {
    pub(crate) async fn build(app: &TestApp) -> World<'_> {
        let world = World {
            app,
            pending: app.create_task("alice", "water the plants").await,
            done: app.create_task("alice", "file the taxes").await,
            gone: app.create_task("alice", "old errand").await,
        };
        for (task, user, permission) in [
            (&world.pending, "victor", "view"),
            (&world.pending, "edith", "edit"),
            (&world.pending, "frank", "view"),
            (&world.done, "victor", "view"),
            (&world.done, "edith", "edit"),
            (&world.gone, "victor", "view"),
        ] {
            assert_eq!(app.share(task, "alice", user, permission).await.status, 200);
        }
        for (method, template) in [
            ("DELETE", "/api/tasks/{pending}/shares/frank"),
            ("POST", "/api/tasks/{done}/complete"),
            ("DELETE", "/api/tasks/{gone}"),
        ] {
            let response = app
                .send(world.request(Some("alice"), method, template, None))
                .await;
            assert_eq!(response.status, 200, "{}", response.body);
        }
        world
    }

    /// `template` with the world's task ids filled in.
    fn path(&self, template: &str) -> String {
        let path = template
            .replace("{pending}", &self.pending)
            .replace("{done}", &self.done);
        path.replace("{gone}", &self.gone)
    }

    /// A request by `user` (no `Authorization` when `None`) to `template`, with `body` sent as
    /// `application/json`. Tests then change its headers to make it wrong in one way.
    pub(crate) fn request(
        &self,
        user: Option<&str>,
        method: &str,
        template: &str,
        body: Option<&str>,
    ) -> TestRequest {
        let mut request = TestRequest::new(method, self.path(template));
        if let Some(user) = user {
            request = request.user(user);
        }
        match body {
            Some(body) => request.body(body),
            None => request,
        }
    }

    /// A request by alice.
    pub(crate) fn alice(&self, method: &str, template: &str, body: Option<&str>) -> TestRequest {
        self.request(Some("alice"), method, template, body)
    }

    /// Sends `request` and asserts it is refused with `status` and `problem`, and changes
    /// nothing ([`assert_refused_without_change`]).
    pub(crate) async fn refused(
        &self,
        request: impl Into<Request<Body>>,
        status: u16,
        problem: &str,
    ) -> TestResponse {
        assert_refused_without_change(self.app, request.into(), status, problem).await
    }
}

/// Words that only internal error text would contain (SQL, driver names, panics, source paths).
const INTERNAL_WORDS: [&str; 10] = [
    "sqlx",
    "sqlite",
    "postgres",
    "select ",
    "insert ",
    "constraint",
    "panicked",
    ".rs:",
    "backtrace",
    "database",
];

/// Sends `request`, asserts it is refused with `status` and problem `type` (with a
/// `WWW-Authenticate: Bearer` challenge for 401) without internal text, and that no stored row
/// changed.
async fn assert_refused_without_change(
    app: &TestApp,
    request: Request<Body>,
    status: u16,
    problem_type: &str,
) -> TestResponse {
    let what = format!("{} {}", request.method(), request.uri());
    let before = app.db.stored_state().await;
    let response = app.send(request).await;
    assert_eq!(
        response.status.as_u16(),
        status,
        "{what}: {}",
        response.body
    );
    assert_eq!(
        response.body["type"], problem_type,
        "{what}: {}",
        response.body
    );
    response.assert_problem(status, problem_type);
    let detail = response.body["detail"].as_str().unwrap().to_lowercase();
    assert!(!detail.is_empty(), "{what}: empty detail");
    for word in INTERNAL_WORDS {
        assert!(!detail.contains(word), "{what} leaks {word:?}: {detail}");
    }
    if status == 401 {
        let challenge = response.headers.get(header::WWW_AUTHENTICATE);
        let challenge = challenge.and_then(|v| v.to_str().ok()).unwrap_or_default();
        assert!(challenge.starts_with("Bearer"), "{what}: {challenge:?}");
    }
    assert_eq!(
        app.db.stored_state().await,
        before,
        "{what} changed what is stored"
    );
    response
}

const LIMIT: usize = 64 * 1024;

/// `prefix` padded with JSON whitespace to `size` bytes: still a valid request, so only its
/// size can be wrong.
fn padded(prefix: &str, size: usize) -> String {
    format!("{prefix}{}", " ".repeat(size - prefix.len()))
}

/// One answer of each type, pinned: the `title` of each type and how `detail` reads.
async fn every_problem_type_reads_the_same_way(app: TestApp) {
    let world = World::build(&app).await;
    let pending = "/api/tasks/{pending}";
    let big = padded("{}", LIMIT + 1);
    let length = big.len().to_string();
    let key = HeaderName::from_static("idempotency-key");
    let create = |body| {
        world
            .alice("POST", "/api/tasks", Some(body))
            .header(key.clone(), "k")
    };
    assert_eq!(app.send(create(r#"{"title": "a"}"#)).await.status, 201);
    let requests = [
        world.alice("PATCH", pending, Some("{")),
        world.alice("GET", "/api/tasks/not-a-uuid", None),
        world.request(None, "GET", "/api/dashboard", None),
        world.request(Some("victor"), "DELETE", pending, None),
        world.request(Some("bob"), "GET", pending, None),
        world.alice("POST", "/api/tasks/{done}/complete", None),
        world
            .alice("DELETE", pending, None)
            .header(header::IF_MATCH, "\"99\""),
        world
            .alice("PATCH", pending, Some(&big))
            .header(header::CONTENT_LENGTH, &length),
        world
            .alice("PATCH", pending, Some("{}"))
            .header(header::CONTENT_TYPE, "text/plain"),
        world.alice("PATCH", pending, Some(r#"{"title": " "}"#)),
        create(r#"{"title": "b"}"#),
    ];
    let mut answers = Vec::new();
    for request in requests {
        answers.push(app.send(request).await.body);
    }
    // Named, so that the SQLite and PostgreSQL runs compare against the same file.
    insta::assert_json_snapshot!("every_problem_type_reads_the_same_way", answers);
}
