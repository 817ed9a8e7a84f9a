//! The Model Context Protocol endpoint: AI assistants call tally's commands and queries as
//! tools at `/mcp` (streamable HTTP), with the API's own bearer tokens and the API's own code
//! paths behind each tool.

mod guard;
mod refusal;
mod resources;
mod server;
pub mod stdio;
mod tools;

use std::sync::Arc;

use axum::Router;
use axum::middleware;
use axum::routing::get;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};

use crate::http::{AppState, MAX_BODY_BYTES};

/// `/mcp` behind the bearer-token check, and the unauthenticated metadata that tells a client
/// without a token where `/mcp`'s tokens come from.
pub fn router(state: &AppState) -> Router<AppState> {
    // rmcp's own defaults otherwise: only loopback `Host`s (against DNS rebinding), sessions
    // for clients of protocol versions up to 2025-11-25 (newer ones are served statelessly).
    let config = StreamableHttpServerConfig::default()
        .with_max_request_body_bytes(MAX_BODY_BYTES)
        // Open event streams would keep a graceful stop waiting: they end when the hub closes.
        .with_cancellation_token(state.hub.closing());
    let tools_state = state.clone();
    let service = StreamableHttpService::new(
        move || Ok(tools::Tools::new(tools_state.clone())),
        Arc::new(LocalSessionManager::default()),
        config,
    );
    Router::new()
        .nest_service("/mcp", service)
        .layer(middleware::from_fn_with_state(state.clone(), guard::bearer))
        // Added after the layer, so not behind it: a client reads this before it has a token.
        .route(guard::METADATA_PATH, get(guard::metadata))
        .route(
            &format!("{}/mcp", guard::METADATA_PATH),
            get(guard::metadata),
        )
}
