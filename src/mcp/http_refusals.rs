//! rmcp answers its own HTTP refusals (a `Host` it does not accept, an unknown session, a
//! body it will not read…) in plain text; clients of `/mcp` get the contract's problem
//! documents instead, as from the rest of the API.

use axum::body::{Body, to_bytes};
use axum::extract::Request;
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

/// rmcp's refusals are a line of text; more is not one of them.
const LONGEST_REFUSAL: usize = 4096;

/// Turns rmcp's plain-text refusals into problem documents of the same status (its 500s, such
/// as "empty response", into the API's `internal`, its text logged rather than sent). Answers
/// in JSON (JSON-RPC errors, the API's problems) pass as they are, as do statuses the contract
/// has no problem type for (406: the client must accept both JSON and event streams), with
/// rmcp's own headers.
pub(super) async fn as_problems(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let plain_text = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_none_or(|value| value.as_bytes().starts_with(b"text/plain"));
    if !(response.status().is_client_error() || response.status().is_server_error()) || !plain_text
    {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let bytes = to_bytes(body, LONGEST_REFUSAL).await.unwrap_or_default();
    let text = String::from_utf8_lossy(&bytes).trim().to_owned();
    if parts.status.is_server_error() && parts.status != StatusCode::SERVICE_UNAVAILABLE {
        return ApiError::Internal(format!("rmcp answered {}: {text}", parts.status).into())
            .into_response();
    }
    match problem(parts.status, text) {
        Some(problem) => problem.into_response(),
        None => {
            // The body is rmcp's own again; its length is the new body's to state.
            parts.headers.remove(header::CONTENT_LENGTH);
            Response::from_parts(parts, Body::from(bytes))
        }
    }
}

/// The API's problem for a status rmcp refuses with, saying what rmcp said.
fn problem(status: StatusCode, detail: String) -> Option<ApiError> {
    let error = match status {
        StatusCode::BAD_REQUEST => ApiError::Malformed(detail),
        StatusCode::FORBIDDEN => ApiError::Forbidden(detail),
        StatusCode::NOT_FOUND => ApiError::NotFound(detail),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge,
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(detail),
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable(detail),
        _ => return None,
    };
    Some(error)
}
