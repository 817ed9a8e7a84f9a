//! `/mcp` deployed for clients elsewhere: behind a proxy at a public URL
//! (`TALLY_PUBLIC_URL`), with tokens from an identity provider (`TALLY_JWT_ISSUER`,
//! `TALLY_JWT_AUDIENCE`), called by browser-based clients on other origins
//! (`TALLY_CORS_ORIGINS`).

use std::sync::Arc;

use axum::Router;
use axum::http::{HeaderValue, StatusCode, header};
use jsonwebtoken::Algorithm;
use serde_json::json;
use tally::auth::{AuthConfig, Authenticator};
use tally::config::parse_public_url;
use tally::http::{AppState, StateParts, router};

use super::session::{initialize_request, post};
use crate::support::{
    TEST_SECRET, TestApp, TestRequest, claims, on_both_backends, send_to, signed, test_auth_config,
};

const PUBLIC_URL: &str = "https://tally.example.com/";
const ISSUER: &str = "https://id.example.com";
const BROWSER_CLIENT: &str = "https://assistant.example.com";

/// `app`'s store and writer, served as a public deployment: at [`PUBLIC_URL`], taking tokens
/// of [`ISSUER`] for the audience `tally`, and calls from [`BROWSER_CLIENT`].
fn deployed(app: &TestApp) -> Router {
    let config = AuthConfig {
        issuer: Some(ISSUER.into()),
        audience: Some("tally".into()),
        ..test_auth_config()
    };
    let auth = Authenticator::from_config(&config, app.db.dir.path()).expect("authenticator");
    router(AppState::from(StateParts {
        store: app.store.clone(),
        commands: app.commands.clone(),
        hub: app.commands.hub().clone(),
        auth: Arc::new(auth),
        clock: app.clock.clock(),
        cors_origins: vec![HeaderValue::from_static(BROWSER_CLIENT)],
        public_url: Some(parse_public_url(PUBLIC_URL).unwrap()),
    }))
}

/// A token for Alice from `iss` for `aud`.
fn token_from(iss: &str, aud: &str) -> String {
    let mut claims = claims("alice");
    claims["iss"] = json!(iss);
    claims["aud"] = json!(aud);
    signed(Algorithm::HS256, TEST_SECRET.as_bytes(), &claims)
}

/// `initialize` at the public name, with `token`.
fn initialize_with(token: &str) -> TestRequest {
    post(initialize_request())
        .bearer(token)
        .header(header::HOST, "tally.example.com")
}

async fn behind_a_public_url_mcp_names_it_and_serves_its_host(app: TestApp) {
    let router = deployed(&app);
    let metadata = send_to(
        &router,
        TestRequest::get("/.well-known/oauth-protected-resource")
            .header(header::HOST, "10.0.0.7:8080"),
    )
    .await;
    assert_eq!(
        metadata.body,
        json!({
            "resource": "https://tally.example.com/mcp",
            "authorization_servers": [ISSUER],
            "bearer_methods_supported": ["header"],
        })
    );
    let refused = send_to(
        &router,
        post(initialize_request()).header(header::HOST, "10.0.0.7"),
    )
    .await;
    refused.assert_problem(401, "unauthorized");
    assert_eq!(
        refused.headers[header::WWW_AUTHENTICATE],
        "Bearer resource_metadata=\"https://tally.example.com/.well-known/oauth-protected-resource\""
    );

    let answer = send_to(&router, initialize_with(&token_from(ISSUER, "tally"))).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    // Other names are still refused: only the public one is added to the loopback ones.
    let elsewhere =
        initialize_with(&token_from(ISSUER, "tally")).header(header::HOST, "tally.evil.com");
    send_to(&router, elsewhere)
        .await
        .assert_problem(403, "forbidden");
}

async fn tokens_of_another_issuer_or_audience_are_refused_on_mcp(app: TestApp) {
    let router = deployed(&app);
    for (why, token) in [
        (
            "another issuer",
            token_from("https://evil.example.com", "tally"),
        ),
        ("another audience", token_from(ISSUER, "another-service")),
        ("no issuer or audience", crate::support::token("alice")),
    ] {
        let answer = send_to(&router, initialize_with(&token)).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{why}");
    }
}

async fn a_browser_client_on_an_allowed_origin_may_speak_mcp(app: TestApp) {
    let router = deployed(&app);
    let preflight = TestRequest::new("OPTIONS", "/mcp")
        .header(header::HOST, "tally.example.com")
        .header(header::ORIGIN, BROWSER_CLIENT)
        .header(header::ACCESS_CONTROL_REQUEST_METHOD, "POST")
        .header(
            header::ACCESS_CONTROL_REQUEST_HEADERS,
            "authorization, content-type, mcp-session-id, mcp-protocol-version, last-event-id",
        );
    let answer = send_to(&router, preflight).await;
    assert!(answer.status.is_success(), "{}", answer.status);
    let allowed = answer.headers["access-control-allow-headers"]
        .to_str()
        .unwrap();
    for name in ["mcp-session-id", "mcp-protocol-version", "last-event-id"] {
        assert!(allowed.contains(name), "{name} in {allowed}");
    }

    let token = token_from(ISSUER, "tally");
    let call = initialize_with(&token).header(header::ORIGIN, BROWSER_CLIENT);
    let answer = send_to(&router, call).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let exposed = answer.headers["access-control-expose-headers"]
        .to_str()
        .unwrap();
    for name in ["mcp-session-id", "www-authenticate"] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    // A page of another origin is refused by `/mcp` itself, not only by the browser.
    let hostile = initialize_with(&token).header(header::ORIGIN, "https://evil.example.com");
    send_to(&router, hostile)
        .await
        .assert_problem(403, "forbidden");
}

on_both_backends!(
    behind_a_public_url_mcp_names_it_and_serves_its_host,
    tokens_of_another_issuer_or_audience_are_refused_on_mcp,
    a_browser_client_on_an_allowed_origin_may_speak_mcp,
);
