//! Bad input gets a clear problem+json answer and loses nothing: the shape of requests (bodies,
//! media types, sizes, path ids, query parameters, headers) on every route of the contract.
//! Who may do what, and the domain's refusals, are in `errors_access.rs`.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, Request, header};

use crate::support::{TestApp, TestResponse, on_both_backends};

#[path = "errors_access.rs"]
mod access;

on_both_backends!(
    malformed_json_is_refused_with_400_on_every_body_route,
    json_of_the_wrong_shape_is_refused_with_422_on_every_body_route,
    a_declared_body_over_64_kib_is_refused_with_413_on_every_route,
    a_streamed_body_over_64_kib_without_a_length_is_refused_with_413,
    a_body_that_is_not_json_is_refused_with_415_on_every_command_route,
    a_task_id_that_is_not_a_uuid_is_refused_with_400_on_every_task_route,
    an_invalid_share_user_id_is_refused_with_422,
    list_parameters_that_make_no_sense_are_refused_with_400,
    malformed_command_headers_are_refused_with_400,
    an_unknown_route_or_method_still_answers_problem_json,
);

type Route = (&'static str, &'static str, Option<&'static str>);

/// Every route of the contract except the health check, with a body that would be accepted:
/// as alice, each row succeeds (reopen names the completed task).
const ROUTES: [Route; 15] = [
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
struct World<'a> {
    app: &'a TestApp,
    pending: String,
    done: String,
    gone: String,
}

impl World<'_> {
    async fn build(app: &TestApp) -> World<'_> {
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
    /// `application/json`. Tests then adjust its headers to make it wrong in one way.
    fn request(
        &self,
        user: Option<&str>,
        method: &str,
        template: &str,
        body: Option<&str>,
    ) -> Request<Body> {
        let mut builder = Request::builder().method(method).uri(self.path(template));
        if let Some(user) = user {
            let token = format!("Bearer {}", self.app.token(user));
            builder = builder.header(header::AUTHORIZATION, token);
        }
        if body.is_some() {
            builder = builder.header(header::CONTENT_TYPE, "application/json");
        }
        let body = body.map_or_else(Body::empty, |body| Body::from(body.to_owned()));
        builder.body(body).unwrap()
    }

    /// A request by alice.
    fn alice(&self, method: &str, template: &str, body: Option<&str>) -> Request<Body> {
        self.request(Some("alice"), method, template, body)
    }

    async fn refused(&self, request: Request<Body>, status: u16, problem: &str) -> TestResponse {
        assert_refused_without_change(self.app, request, status, problem).await
    }
}

/// Makes a valid request wrong in one way.
trait WithHeader {
    /// The request with header `name` set to `value`, or removed when `None`.
    fn with_header<'v>(self, name: HeaderName, value: impl Into<Option<&'v str>>) -> Self;
}

impl WithHeader for Request<Body> {
    fn with_header<'v>(mut self, name: HeaderName, value: impl Into<Option<&'v str>>) -> Self {
        match value.into() {
            Some(value) => {
                let value = HeaderValue::from_bytes(value.as_bytes()).unwrap();
                self.headers_mut().insert(name, value);
            }
            None => {
                self.headers_mut().remove(name);
            }
        }
        self
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

async fn malformed_json_is_refused_with_400_on_every_body_route(app: TestApp) {
    let world = World::build(&app).await;
    let nested = "[".repeat(10_000);
    let bad: [&str; 5] = [
        r#"{"title": "#,
        "title=x",
        "",
        r#"{"title": "a"} 42"#,
        &nested,
    ];
    for (method, template, _) in body_routes() {
        for body in bad {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 400, "malformed-request").await;
        }
    }
}

/// Arrays come last in each list: serde would read them as a struct's fields in order.
async fn json_of_the_wrong_shape_is_refused_with_422_on_every_body_route(app: TestApp) {
    let world = World::build(&app).await;
    let create: &[&str] = &[
        r#"{"title": 123}"#,
        r#"{"title": null}"#,
        r#"{"description": "no title"}"#,
        r#"{"title": "a", "description": 5}"#,
        r#""buy stamps""#,
        r#"["buy stamps"]"#,
    ];
    let edit: &[&str] = &[
        r#"{"title": 123}"#,
        r#"{"description": true}"#,
        "null",
        "[]",
        r#"["b"]"#,
    ];
    let share: &[&str] = &[
        r#"{"permission": 1}"#,
        r#"{"permission": null}"#,
        "{}",
        r#"["edit"]"#,
    ];
    for ((method, template, _), bodies) in body_routes().zip([create, edit, share]) {
        for body in bodies {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 422, "validation").await;
        }
    }
    // Commands that take no body accept an empty one, `{}` or `null`, and nothing else.
    let bodyless = command_routes().filter(|(_, _, body)| body.is_none());
    for (method, template, _) in bodyless {
        for body in [r#"{"title": "a"}"#, "[]", "true"] {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 422, "validation").await;
        }
    }
    let complete = |body| world.alice("POST", "/api/tasks/{pending}/complete", Some(body));
    assert_eq!(app.send(complete("{}")).await.status, 200);
    let reopen = world.alice("POST", "/api/tasks/{pending}/reopen", Some("null"));
    assert_eq!(app.send(reopen).await.status, 200);
}

async fn a_declared_body_over_64_kib_is_refused_with_413_on_every_route(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in ROUTES {
        let body = padded(body.unwrap_or("{}"), LIMIT + 1);
        let length = body.len().to_string();
        let request = world.alice(method, template, Some(&body));
        let request = request.with_header(header::CONTENT_LENGTH, length.as_str());
        world.refused(request, 413, "payload-too-large").await;
    }
    // Exactly 64 KiB is not over the limit.
    let body = padded(r#"{"title": "buy stamps"}"#, LIMIT);
    let request = world.alice("POST", "/api/tasks", Some(&body));
    let request = request.with_header(header::CONTENT_LENGTH, LIMIT.to_string().as_str());
    assert_eq!(app.send(request).await.status, 201);
}

async fn a_streamed_body_over_64_kib_without_a_length_is_refused_with_413(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in body_routes() {
        let body = Body::from(padded(body, LIMIT + 1));
        let mut request = world.alice(method, template, Some(""));
        *request.body_mut() = Body::from_stream(body.into_data_stream());
        assert!(!request.headers().contains_key(header::CONTENT_LENGTH));
        world.refused(request, 413, "payload-too-large").await;
    }
}

async fn a_body_that_is_not_json_is_refused_with_415_on_every_command_route(app: TestApp) {
    let world = World::build(&app).await;
    let types = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/json"),
        Some("application/jsonl"),
    ];
    // A command that takes no body refuses one it cannot read, rather than ignore it.
    for (method, template, body) in command_routes() {
        for content_type in types {
            let request = world.alice(method, template, Some(body.unwrap_or("{}")));
            let request = request.with_header(header::CONTENT_TYPE, content_type);
            world.refused(request, 415, "unsupported-media-type").await;
        }
    }
}

async fn a_task_id_that_is_not_a_uuid_is_refused_with_400_on_every_task_route(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in task_routes() {
        for id in "not-a-uuid 12345 0190c2e4-7d0a-7c3b-8a3b %20 ..%2Fetc".split(' ') {
            let path = template.replace("{pending}", id).replace("{done}", id);
            let request = world.alice(method, &path, body);
            world.refused(request, 400, "malformed-request").await;
        }
    }
}

async fn an_invalid_share_user_id_is_refused_with_422(app: TestApp) {
    let world = World::build(&app).await;
    let (too_long, longest) = ("u".repeat(129), "u".repeat(128));
    let ids = format!("{too_long} nul%00 soh%01 line%0Abreak del%7F nel%C2%85");
    for id in ids.split(' ') {
        let path = format!("/api/tasks/{{pending}}/shares/{id}");
        let share = world.alice("PUT", &path, Some(r#"{"permission": "view"}"#));
        world.refused(share, 422, "validation").await;
        let unshare = world.alice("DELETE", &path, None);
        world.refused(unshare, 422, "validation").await;
    }
    // 128 characters is a valid user id.
    let response = app.share(&world.pending, "alice", &longest, "view").await;
    assert_eq!(response.status, 200, "{}", response.body);
}

async fn list_parameters_that_make_no_sense_are_refused_with_400(app: TestApp) {
    let world = World::build(&app).await;
    let queries =
        "scope=everything status=done limit=0 limit=201 limit=ten cursor=nope limit=1&limit=2";
    for query in queries.split(' ') {
        let request = world.alice("GET", &format!("/api/tasks?{query}"), None);
        world.refused(request, 400, "malformed-request").await;
    }
}

/// The contract fixes the form of `If-Match` (`"<version>"`) and of `Idempotency-Key` (1 to 255
/// printable ASCII); anything else is a malformed request, refused before it is decided.
async fn malformed_command_headers_are_refused_with_400(app: TestApp) {
    let world = World::build(&app).await;
    let long_key = "k".repeat(256);
    let key = HeaderName::from_static("idempotency-key");
    let headers: [(HeaderName, &str); 6] = [
        (header::IF_MATCH, "banana"),
        (header::IF_MATCH, "\"-1\""),
        (key.clone(), ""),
        (key.clone(), &long_key),
        (key.clone(), "clé"),
        (key, "tab\there"),
    ];
    for (method, template, body) in command_routes() {
        for (name, value) in &headers {
            let request = world.alice(method, template, body);
            let request = request.with_header(name.clone(), *value);
            world.refused(request, 400, "malformed-request").await;
        }
    }
}

/// "Every error is application/problem+json", the router's own refusals included.
async fn an_unknown_route_or_method_still_answers_problem_json(app: TestApp) {
    let world = World::build(&app).await;
    let unknown = world.alice("GET", "/api/projects", None);
    world.refused(unknown, 404, "not-found").await;
    let wrong_methods = [
        ("PUT", "/api/tasks"),
        ("POST", "/api/tasks/{pending}"),
        ("GET", "/api/tasks/{pending}/complete"),
        ("DELETE", "/api/dashboard"),
    ];
    for (method, template) in wrong_methods {
        let before = app.db.stored_state().await;
        let response = app.send(world.alice(method, template, None)).await;
        let what = format!("{method} {template}: {}", response.body);
        assert_eq!(response.status, 405, "{what}");
        assert_eq!(
            response.content_type(),
            "application/problem+json",
            "{what}"
        );
        assert_eq!(response.body["status"], 405, "{what}");
        assert_eq!(app.db.stored_state().await, before);
    }
}
