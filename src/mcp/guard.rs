//! Who may call `/mcp`: the holder of a bearer token the API would take, checked by the API's
//! own extractor, in sessions of their own; and where a client without one learns how to get
//! one (RFC 9728's protected resource metadata, which the 401's `WWW-Authenticate` points to).

use std::sync::Arc;

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, header, uri::Authority};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rmcp::transport::common::http_header::HEADER_SESSION_ID;
use serde::Serialize;

use super::sessions::{Named, Sessions};
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::Caller;

/// Where the metadata is served (also with `/mcp` appended, as RFC 9728 §3.1 derives it from
/// the resource's URL).
pub(super) const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Lets a request on with its verified caller in its extensions (where the tools find it: the
/// caller's identity comes from the token only, never from a tool's arguments) if the session
/// it names is the caller's; or answers the API's 401 with where to learn about tokens.
pub(super) async fn bearer(
    State((state, sessions)): State<(AppState, Arc<Sessions>)>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    let caller = match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => caller,
        Err(refusal) => return challenge(refusal, &state, &parts.headers),
    };
    let user = caller.0.as_str().to_owned();
    let named = parts
        .headers
        .get(HEADER_SESSION_ID)
        .map(|id| String::from_utf8_lossy(id.as_bytes()).into_owned());
    if let Some(id) = &named
        && let Named::Foreign = sessions.check(id, &user)
    {
        // As rmcp answers an unknown session: whether another user's exists is not told.
        return ApiError::NotFound("Not Found: Session not found".into()).into_response();
    }
    parts.extensions.insert(caller);
    let response = next.run(Request::from_parts(parts, body)).await;
    let opened = response
        .headers()
        .get(HEADER_SESSION_ID)
        .filter(|_| named.is_none())
        .and_then(|id| id.to_str().ok());
    match opened {
        Some(id) => match sessions.opened(id, &user).await {
            Ok(()) => response,
            Err(refusal) => refusal.into_response(),
        },
        None => response,
    }
}

/// The API's 401, pointing to the metadata as the MCP specification asks; never cached (it
/// names the address the request came to).
fn challenge(refusal: ApiError, state: &AppState, headers: &HeaderMap) -> Response {
    let mut response = refusal.into_response();
    let challenge = format!(
        "Bearer resource_metadata=\"{}{METADATA_PATH}\"",
        base_url(state, headers)
    );
    if let Ok(challenge) = HeaderValue::from_str(&challenge) {
        let headers = response.headers_mut();
        headers.insert(header::WWW_AUTHENTICATE, challenge);
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}

/// RFC 9728's protected resource metadata of `/mcp`.
#[derive(Serialize)]
pub(super) struct ResourceMetadata {
    resource: String,
    /// Only when tokens must name an issuer (`TALLY_JWT_ISSUER`): the one that issues them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    authorization_servers: Vec<String>,
    bearer_methods_supported: [&'static str; 1],
}

/// The metadata; not stored by caches, as without `TALLY_PUBLIC_URL` it names the `Host` the
/// request came to.
pub(super) async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let document = ResourceMetadata {
        resource: format!("{}/mcp", base_url(&state, &headers)),
        authorization_servers: state.auth.issuer().map(str::to_owned).into_iter().collect(),
        bearer_methods_supported: ["header"],
    };
    let no_store = [(header::CACHE_CONTROL, "no-store")];
    (no_store, Json(document)).into_response()
}

/// This server's address: `TALLY_PUBLIC_URL` when set, else as the client reached it:
/// `http://` and the request's `Host` (tally speaks plain HTTP; `localhost` when the `Host`
/// is missing or not a host).
fn base_url(state: &AppState, headers: &HeaderMap) -> String {
    if let Some(public) = &state.public_url {
        return public.base().to_owned();
    }
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<Authority>().ok());
    match host {
        Some(host) => format!("http://{host}"),
        None => "http://localhost".to_owned(),
    }
}
