//! Who may call `/mcp`: the holder of a bearer token the API would take, checked by the API's
//! own extractor; and where a client without one learns how to get one (RFC 9728's protected
//! resource metadata, which the 401's `WWW-Authenticate` points to).

use axum::Json;
use axum::extract::{FromRequestParts, Request, State};
use axum::http::{HeaderMap, HeaderValue, header, uri::Authority};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::http::AppState;
use crate::http::extract::Caller;

/// Where the metadata is served (also with `/mcp` appended, as RFC 9728 §3.1 derives it from
/// the resource's URL).
pub(super) const METADATA_PATH: &str = "/.well-known/oauth-protected-resource";

/// Lets a request on with its verified caller in its extensions (where the tools find it: the
/// caller's identity comes from the token only, never from a tool's arguments), or answers the API's 401 with where to learn
/// about tokens.
pub(super) async fn bearer(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let (mut parts, body) = request.into_parts();
    match Caller::from_request_parts(&mut parts, &state).await {
        Ok(caller) => {
            parts.extensions.insert(caller);
            next.run(Request::from_parts(parts, body)).await
        }
        Err(refusal) => {
            let mut response = refusal.into_response();
            let challenge = format!(
                "Bearer realm=\"tally\", resource_metadata=\"{}{METADATA_PATH}\"",
                base_url(&parts.headers)
            );
            if let Ok(challenge) = HeaderValue::from_str(&challenge) {
                response
                    .headers_mut()
                    .insert(header::WWW_AUTHENTICATE, challenge);
            }
            response
        }
    }
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

pub(super) async fn metadata(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let document = ResourceMetadata {
        resource: format!("{}/mcp", base_url(&headers)),
        authorization_servers: state.auth.issuer().map(str::to_owned).into_iter().collect(),
        bearer_methods_supported: ["header"],
    };
    Json(document).into_response()
}

/// This server's address as the client reached it: `http://` and the request's `Host` (tally
/// speaks plain HTTP; `localhost` when the `Host` is missing or not a host).
fn base_url(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<Authority>().ok());
    match host {
        Some(host) => format!("http://{host}"),
        None => "http://localhost".to_owned(),
    }
}
