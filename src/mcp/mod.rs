//! The Model Context Protocol endpoint: AI assistants call tally's commands and queries as
//! tools at `/mcp` (streamable HTTP), with the API's own bearer tokens and the API's own code
//! paths behind each tool.

mod answered;
mod guard;
mod http_refusals;
mod refusal;
mod resources;
mod server;
mod sessions;
pub mod stdio;
mod stopping;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::http::HeaderValue;
use axum::middleware;
use axum::routing::get;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use tower_http::timeout::RequestBodyDeadlineLayer;

use crate::http::{AppState, MAX_BODY_BYTES, REQUEST_TIMEOUT};
pub use resources::{PING_EVERY, PING_PATIENCE};
pub use sessions::SESSIONS_PER_USER;

/// `/mcp` behind the bearer-token check, and the unauthenticated metadata that tells a client
/// without a token where `/mcp`'s tokens come from.
pub fn router(state: &AppState) -> Router<AppState> {
    // Sessions for clients of protocol versions up to 2025-11-25 (newer ones are served
    // statelessly), as rmcp does by default.
    let stopping = stopping::Stopping::watch(state.hub.closing());
    let config = StreamableHttpServerConfig::default()
        .with_allowed_hosts(allowed_hosts(state))
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        // Not the hub's: a tool call in flight when the stop begins still gets its answer.
        .with_cancellation_token(stopping.sessions());
    let config = match allowed_origins(&state.cors_origins) {
        origins if origins.is_empty() => config,
        origins => config.with_allowed_origins(origins),
    };
    let sessions = Arc::new(sessions::Sessions::new());
    let tools_state = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(tools::Tools::new(tools_state.clone())),
        sessions.manager(),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn(http_refusals::as_problems))
        .layer(middleware::from_fn_with_state(stopping, stopping::around))
        .layer(middleware::from_fn_with_state(
            (state.clone(), sessions),
            guard::bearer,
        ))
        // A body has this long to arrive, as a command's on the API (`limits` bounds its size).
        .layer(RequestBodyDeadlineLayer::new(REQUEST_TIMEOUT))
        // Added after the layers, so not behind them: a client reads this before it has a token.
        .route(guard::METADATA_PATH, get(guard::metadata))
        .route(
            &format!("{}/mcp", guard::METADATA_PATH),
            get(guard::metadata),
        )
}

/// The `Host`s `/mcp` answers (against DNS rebinding, where a hostile page's name resolves to
/// this server): loopback ones, as rmcp by default, and `TALLY_PUBLIC_URL`'s.
fn allowed_hosts(state: &AppState) -> Vec<String> {
    let loopback = ["localhost", "127.0.0.1", "::1"].map(str::to_owned);
    let public = state.public_url.iter().map(|url| url.host().to_owned());
    loopback.into_iter().chain(public).collect()
}

/// The browser origins `/mcp` takes requests from, when `TALLY_CORS_ORIGINS` names some (none:
/// rmcp checks no `Origin`, and requests from other origins fail CORS in the browser anyway).
/// Each with its port spelled out, as rmcp will compare them.
fn allowed_origins(cors_origins: &[HeaderValue]) -> Vec<String> {
    cors_origins
        .iter()
        .filter_map(|origin| origin.to_str().ok())
        .map(|origin| {
            let has_port = origin
                .rsplit_once(':')
                .is_some_and(|(_, port)| port.parse::<u16>().is_ok());
            match (has_port, origin.starts_with("https:")) {
                (true, _) => origin.to_owned(),
                (false, true) => format!("{origin}:443"),
                (false, false) => format!("{origin}:80"),
            }
        })
        .collect()
}
