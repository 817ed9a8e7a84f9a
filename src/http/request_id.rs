//! Every request has an id: the client's `x-request-id` when it is a plain token, else a new
//! one. It is echoed on the response, carried by every log line of the request (a span), and
//! named as `instance` in problem+json bodies, so a report from a client finds its log lines.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, Method};
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::task::futures::TaskLocalFuture;
use tower::{Layer, Service};
use tracing::Instrument;
use tracing::instrument::Instrumented;

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

/// The layer: outermost, so that every answer (refusals by other layers included) has it.
///
/// A service of its own rather than `middleware::from_fn`, which clones the inner service and
/// boxes a future for every request: on the hottest reads the three `from_fn` layers this and
/// [`Bounds`](super::bounds::Bounds) replace cost a quarter of the throughput (BENCHMARKS.md).
#[derive(Clone, Copy, Debug, Default)]
pub struct RequestIds;

impl<S> Layer<S> for RequestIds {
    type Service = WithRequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithRequestId { inner }
    }
}

#[derive(Clone, Debug)]
pub struct WithRequestId<S> {
    inner: S,
}

impl<S> Service<Request> for WithRequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
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
        let route = request.extensions().get::<MatchedPath>().cloned();
        let method = request.method().clone();
        let started = Instant::now();
        // The inner layers' synchronous part runs in the request's span and scope too.
        let inner = CURRENT.sync_scope(id.clone(), || span.in_scope(|| self.inner.call(request)));
        Answer {
            inner: CURRENT.scope(id.clone(), inner.instrument(span.clone())),
            answered: Some(Answered {
                id,
                span,
                route,
                method,
                started,
            }),
        }
    }
}

/// What the answer's end needs of the request.
struct Answered {
    id: HeaderValue,
    span: tracing::Span,
    route: Option<MatchedPath>,
    method: Method,
    started: Instant,
}

pin_project! {
    /// The inner answer, in the request's span and scope, then logged, counted and given the
    /// id.
    pub struct Answer<F> {
        #[pin]
        inner: TaskLocalFuture<HeaderValue, Instrumented<F>>,
        answered: Option<Answered>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Answer<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Ok(mut response) = ready!(this.inner.poll(cx));
        let answered = this
            .answered
            .take()
            .expect("an answer is polled until ready, once");
        let took = answered.started.elapsed();
        let status = response.status();
        answered.span.in_scope(|| {
            tracing::debug!(
                status = status.as_u16(),
                micros = took.as_micros() as u64,
                "answered"
            );
        });
        crate::telemetry::http_request(
            answered.route.as_ref().map(MatchedPath::as_str),
            &answered.method,
            status,
            took,
        );
        response
            .headers_mut()
            .insert(X_REQUEST_ID.clone(), answered.id);
        Poll::Ready(Ok(response))
    }
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
