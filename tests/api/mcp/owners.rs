//! Each MCP session belongs to the user who opened it, and one user holds a bounded number.

use axum::http::StatusCode;
use serde_json::json;

use super::session::{VERSION, initialize_request, post};
use crate::support::{TestApp, on_both_backends};

/// Opens a session as `user`: its id, or the refusal's status and body.
async fn open(app: &TestApp, user: &str) -> Result<String, (StatusCode, serde_json::Value)> {
    let response = app.send(post(initialize_request()).user(user)).await;
    match response.headers.get("mcp-session-id") {
        Some(id) if response.status == StatusCode::OK => Ok(id.to_str().unwrap().to_owned()),
        _ => Err((response.status, response.body)),
    }
}

/// `tools/list` in session `id`, as `user`.
async fn list_tools(app: &TestApp, id: &str, user: &str) -> crate::support::TestResponse {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let request = post(body)
        .user(user)
        .header("mcp-session-id", id)
        .header("mcp-protocol-version", VERSION);
    app.send(request).await
}

async fn another_users_session_is_answered_as_an_unknown_one(app: TestApp) {
    let id = open(&app, "alice").await.unwrap();
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let request = post(initialized)
        .user("alice")
        .header("mcp-session-id", &id)
        .header("mcp-protocol-version", VERSION);
    assert_eq!(app.send(request).await.status, StatusCode::ACCEPTED);

    let stolen = list_tools(&app, &id, "bob").await;
    stolen.assert_problem(404, "not-found");
    let unknown = list_tools(&app, "no-such-session", "bob").await;
    unknown.assert_problem(404, "not-found");
    assert_eq!(stolen.body["detail"], unknown.body["detail"]);

    // Bob's attempt took nothing from Alice: her session still serves her.
    let own = list_tools(&app, &id, "alice").await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
}

async fn one_user_holds_a_bounded_number_of_sessions(app: TestApp) {
    let mut held = Vec::new();
    for _ in 0..tally::mcp::SESSIONS_PER_USER {
        held.push(
            open(&app, "alice")
                .await
                .expect("a session under the bound"),
        );
    }
    let over = app.send(post(initialize_request()).user("alice")).await;
    over.assert_problem(503, "unavailable");
    assert!(over.headers.get("mcp-session-id").is_none());
    let retry_after = over
        .headers
        .get("retry-after")
        .map(|value| value.to_str().unwrap().to_owned());
    // Honest about when room comes: not before a session could have idled out.
    assert_eq!(
        retry_after,
        // The idle timeout, five minutes.
        Some("300".to_owned()),
        "Retry-After"
    );
    // Other users are not held back by Alice's sessions.
    open(&app, "bob").await.expect("bob's session");

    // Ending one (DELETE, as a client does) makes room for another.
    let request = axum::http::Request::delete("/mcp")
        .header("host", "localhost")
        .header(
            "authorization",
            format!("Bearer {}", crate::support::token("alice")),
        )
        .header("mcp-session-id", &held[0])
        .header("mcp-protocol-version", VERSION)
        .body(axum::body::Body::empty())
        .unwrap();
    let ended = app.send(request).await;
    assert!(ended.status.is_success(), "{}", ended.status);
    open(&app, "alice").await.expect("room after one ended");
}

on_both_backends!(
    another_users_session_is_answered_as_an_unknown_one,
    one_user_holds_a_bounded_number_of_sessions,
);
