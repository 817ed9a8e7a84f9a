//! Every request has an id: the client's `x-request-id` when it is a plain token, else a new
//! one. It is echoed on the response, carried by every log line of the request (a span), and
//! named as `instance` in problem+json bodies, so a report from a client finds its log lines.

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use tracing::Instrument;

/// The header that carries the id, both ways.
pub static X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest client id kept.
const MAX_LEN: usize = 128;

tokio::task_local! {
    /// The id of the request this task is answering.
    static CURRENT: HeaderValue;
}

/// A request's id, also in its extensions: for work done outside the request's task (an MCP
/// tool call runs in its session's), where [`current`] does not reach.
#[derive(Clone, Debug)]
pub struct RequestId(pub HeaderValue);

/// The id of the request being answered, when there is one.
pub fn current() -> Option<String> {
    CURRENT
        .try_with(|id| id.to_str().map(str::to_owned).ok())
        .ok()
        .flatten()
}

/// The middleware: outermost, so that every answer (refusals by other layers included) has it.
pub async fn request_id(mut request: Request, next: Next) -> Response {
    let id = request
        .headers()
        .get(&X_REQUEST_ID)
        .filter(|value| is_plain_token(value.as_bytes()))
        .cloned()
        .unwrap_or_else(new_id);
    request.extensions_mut().insert(RequestId(id.clone()));
    let span = tracing::info_span!(
        "request",
        request_id = id.to_str().unwrap_or_default(),
        method = %request.method(),
        path = request.uri().path(),
    );
    let started = std::time::Instant::now();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let method = request.method().clone();
    let answer = async move {
        let response = next.run(request).await;
        let took = started.elapsed();
        let status = response.status();
        tracing::debug!(
            status = status.as_u16(),
            micros = took.as_micros() as u64,
            "answered"
        );
        crate::telemetry::http_request(
            route.as_ref().map(MatchedPath::as_str),
            &method,
            status,
            took,
        );
        response
    };
    let mut response = CURRENT.scope(id.clone(), answer.instrument(span)).await;
    response.headers_mut().insert(X_REQUEST_ID.clone(), id);
    response
}

/// 1 to 128 URI-unreserved characters (`A-Z a-z 0-9 - . _ ~`): safe in a log line, a header
/// and as `instance` (a relative URI reference). Anything else is replaced, not echoed.
fn is_plain_token(id: &[u8]) -> bool {
    (1..=MAX_LEN).contains(&id.len())
        && id
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// A UUID v7 whose random part comes from the thread's generator: `Uuid::now_v7` asks the
/// kernel for it, a system call on every request.
fn new_id() -> HeaderValue {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let random: [u8; 10] = rand::random();
    let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
    HeaderValue::from_str(
        id.hyphenated()
            .encode_lower(&mut uuid::Uuid::encode_buffer()),
    )
    .expect("a UUID is a valid header value")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_tokens_are_kept() {
        assert!(is_plain_token(b"0190a4e2-7c1d-7000-8000-0123456789ab"));
        assert!(is_plain_token(b"req_42.retry~1"));
        assert!(!is_plain_token(b""));
        assert!(!is_plain_token(b"two words"));
        assert!(!is_plain_token(b"a\"b"));
        assert!(!is_plain_token(b"urn:x"));
        assert!(!is_plain_token(&[b'a'; MAX_LEN + 1]));
        assert!(is_plain_token(new_id().as_bytes()));
    }
}
