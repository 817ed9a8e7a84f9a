//! Browsers on other origins (CORS, off unless configured) and compressed answers (for large
//! ones only).

use axum::http::{HeaderValue, header};
use tally::http::{AppState, StateParts, router};

use crate::support::{Backend, TestApp, TestRequest, TestResponse, send_to};

const ALLOWED: &str = "https://app.example.com";

/// The app's router, letting [`ALLOWED`] call it.
fn with_cors(app: &TestApp) -> axum::Router {
    let state = AppState::from(StateParts {
        store: app.store.clone(),
        commands: app.commands.clone(),
        hub: app.commands.hub().clone(),
        auth: app.auth.clone(),
        clock: app.clock.clock(),
        cors_origins: vec![HeaderValue::from_static(ALLOWED)],
        public_url: None,
    });
    router(state)
}

fn header_text<'r>(response: &'r TestResponse, name: &str) -> &'r str {
    response
        .headers
        .get(name)
        .map(|value| value.to_str().unwrap())
        .unwrap_or_default()
}

fn preflight(origin: &str) -> TestRequest {
    TestRequest::new("OPTIONS", "/api/tasks")
        .header(header::ORIGIN, origin)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, idempotency-key",
        )
}

#[tokio::test]
async fn an_allowed_origin_passes_preflight_and_reads_the_headers_it_needs() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let router = with_cors(&app);
    let answer = send_to(&router, preflight(ALLOWED)).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    assert_eq!(header_text(&answer, "access-control-allow-origin"), ALLOWED);
    assert!(header_text(&answer, "access-control-allow-methods").contains("POST"));
    let allowed = header_text(&answer, "access-control-allow-headers");
    for name in [
        "authorization",
        "content-type",
        "idempotency-key",
        "if-match",
    ] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }

    let read = TestRequest::get("/api/dashboard")
        .user("alice")
        .header(header::ORIGIN, ALLOWED);
    let answer = send_to(&router, read).await;
    assert_eq!(answer.status, 200);
    assert_eq!(header_text(&answer, "access-control-allow-origin"), ALLOWED);
    let exposed = header_text(&answer, "access-control-expose-headers");
    for name in ["etag", "location", "x-request-id", "retry-after"] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
}

#[tokio::test]
async fn other_origins_and_a_server_without_origins_get_no_cors_headers() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let answer = send_to(&with_cors(&app), preflight("https://evil.example.com")).await;
    assert_eq!(header_text(&answer, "access-control-allow-origin"), "");
    let answer = app.send(preflight(ALLOWED)).await;
    assert_eq!(header_text(&answer, "access-control-allow-origin"), "");
    answer.assert_problem(405, "method-not-allowed");
}

#[tokio::test]
async fn large_answers_are_compressed_and_dashboard_reads_are_not() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    for encoding in ["gzip", "br"] {
        let spec = TestRequest::get("/api/openapi.json").header(header::ACCEPT_ENCODING, encoding);
        let answer = app.send(spec).await;
        assert_eq!(answer.status, 200);
        assert_eq!(header_text(&answer, "content-encoding"), encoding);
        assert!(header_text(&answer, "vary").contains("accept-encoding"));
    }
    let plain = app.send(TestRequest::get("/api/openapi.json")).await;
    assert_eq!(header_text(&plain, "content-encoding"), "");
    assert_eq!(plain.body["openapi"], "3.1.0");

    let read = TestRequest::get("/api/dashboard")
        .user("alice")
        .header(header::ACCEPT_ENCODING, "gzip, br");
    let answer = app.send(read).await;
    assert_eq!(answer.status, 200);
    assert_eq!(
        header_text(&answer, "content-encoding"),
        "",
        "a small read stays plain"
    );
    assert_eq!(answer.body["total"], 0);
}
