//! Who may use `/mcp`, and where a client without a token learns how to get one.

use axum::http::{StatusCode, header};
use serde_json::json;

use super::session::{initialize_request, post};
use crate::support::{TestApp, TestRequest, on_both_backends};

async fn without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens(app: TestApp) {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    for request in [
        post(initialize.clone()),
        post(initialize).bearer("not-a-token"),
    ] {
        let response = app.send(request).await;
        response.assert_problem(401, "unauthorized");
        // Exactly the contract's challenge: a client reads `resource_metadata` from it.
        assert_eq!(
            response.headers[header::WWW_AUTHENTICATE],
            "Bearer resource_metadata=\"http://localhost/.well-known/oauth-protected-resource\""
        );
        assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
    }
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = app
            .send(TestRequest::get(path).header(header::HOST, "127.0.0.1:8080"))
            .await;
        assert_eq!(response.status, StatusCode::OK);
        // Named after the request's `Host`: no cache may hand it to a request for another.
        assert_eq!(response.headers[header::CACHE_CONTROL], "no-store");
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

/// DNS rebinding: a hostile page whose name resolves to this server reaches `/mcp` with its
/// own name as `Host`, and is refused (as a problem, like the API's refusals).
async fn a_host_mcp_does_not_serve_is_refused_with_a_problem(app: TestApp) {
    let request = post(initialize_request())
        .user("alice")
        .header(header::HOST, "evil.example.com");
    let response = app.send(request).await;
    response.assert_problem(403, "forbidden");
    assert!(
        response.body["detail"].as_str().unwrap().contains("Host"),
        "{}",
        response.body
    );
    for loopback in ["localhost:8080", "127.0.0.1", "[::1]:9000"] {
        let request = post(initialize_request())
            .user("alice")
            .header(header::HOST, loopback);
        assert_eq!(app.send(request).await.status, StatusCode::OK, "{loopback}");
    }
}

/// `limits` stands before `/mcp` as before the API: a declared oversize body is refused
/// before rmcp reads it, and a body that is not JSON gets the API's 415.
async fn mcp_bodies_are_bounded_and_typed_as_the_apis(app: TestApp) {
    let oversize = post(initialize_request()).user("alice").header(
        header::CONTENT_LENGTH,
        &(tally::http::MAX_BODY_BYTES + 1).to_string(),
    );
    app.send(oversize)
        .await
        .assert_problem(413, "payload-too-large");
    let not_json = post(initialize_request())
        .user("alice")
        .header(header::CONTENT_TYPE, "text/plain");
    app.send(not_json)
        .await
        .assert_problem(415, "unsupported-media-type");
}

on_both_backends!(
    without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens,
    a_host_mcp_does_not_serve_is_refused_with_a_problem,
    mcp_bodies_are_bounded_and_typed_as_the_apis,
);
