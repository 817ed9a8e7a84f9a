//! Who may use `/mcp`, and where a client without a token learns how to get one.

use axum::http::{StatusCode, header};
use serde_json::json;

use super::session::post;
use crate::support::{TestApp, TestRequest, on_both_backends};

async fn without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens(app: TestApp) {
    let initialize = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {}});
    for request in [
        post(initialize.clone()),
        post(initialize).bearer("not-a-token"),
    ] {
        let response = app.send(request).await;
        response.assert_problem(401, "unauthorized");
        assert_eq!(
            response.headers[header::WWW_AUTHENTICATE],
            "Bearer realm=\"tally\", resource_metadata=\"http://localhost/.well-known/oauth-protected-resource\""
        );
    }
    for path in [
        "/.well-known/oauth-protected-resource",
        "/.well-known/oauth-protected-resource/mcp",
    ] {
        let response = app
            .send(TestRequest::get(path).header(header::HOST, "127.0.0.1:8080"))
            .await;
        assert_eq!(response.status, StatusCode::OK);
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

on_both_backends!(without_a_token_mcp_answers_the_apis_401_with_where_to_learn_about_tokens);
