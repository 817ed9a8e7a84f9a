//! What every request is held to, in one layer inside CORS (so that its refusals carry CORS's
//! headers): a declared body no larger than [`MAX_BODY_BYTES`], a read answered within
//! [`REQUEST_TIMEOUT`], and an API read's position (CONTRACT.md, "Consistency";
//! [`consistency`](super::consistency)).
//!
//! Commands are not cut off here: cancelling one whose batch has begun could not say whether
//! it was applied. Their time is bounded where that is known, by the writer's
//! [`Deadlines`](crate::commands::Deadlines), and their body's by the commands' router.
//!
//! A service of its own rather than `middleware::from_fn` layers, which clone the inner
//! service and box a future each for every request: most reads go through without either.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, Method, header};
use axum::response::{IntoResponse, Response};
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tokio::time::error::Elapsed;
use tower::{Layer, Service};

use super::consistency::{self, Admission, ReadFrom};
use super::error::ApiError;
use super::{AppState, MAX_BODY_BYTES, REQUEST_TIMEOUT};

/// The layer, with what the positions are read from.
#[derive(Clone)]
pub struct BoundsLayer {
    state: AppState,
}

impl BoundsLayer {
    pub fn new(state: AppState) -> Self {
        BoundsLayer { state }
    }
}

impl<S> Layer<S> for BoundsLayer {
    type Service = Bounds<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Bounds {
            inner,
            state: self.state.clone(),
        }
    }
}

#[derive(Clone)]
pub struct Bounds<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for Bounds<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Bounded<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request) -> Self::Future {
        // Refused before any handler runs, whether or not the route reads a body (a streamed
        // one is cut off by `DefaultBodyLimit`).
        if declares_too_large(request.headers()) {
            return Bounded::refused(ApiError::PayloadTooLarge);
        }
        if !request.method().is_safe() {
            return Bounded::Unbounded {
                inner: self.inner.call(request),
            };
        }
        let mut position = None;
        if is_api_read(&request) {
            match consistency::admit(&self.state, request.headers()) {
                Admission::Refused(error) => return Bounded::refused(error),
                Admission::Beyond { wanted } => return self.after_head(request, wanted),
                Admission::Now { position: at, from } => {
                    // The nearest is what a handler assumes without it: no map to allocate
                    // for most reads.
                    if from == ReadFrom::Primary {
                        request.extensions_mut().insert(from);
                    }
                    position = Some(at);
                }
            }
        }
        Bounded::Timed {
            inner: self.inner.call(request),
            deadline: None,
            position,
        }
    }
}

impl<S> Bounds<S>
where
    S: Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
{
    /// A read wanting a position not heard of here: the log's head first (one query, within
    /// the read's time), then the read on the primary.
    fn after_head(&mut self, mut request: Request, wanted: i64) -> Bounded<S::Future> {
        // The service made ready for this request goes with it; a clone stays for the next.
        let fresh = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, fresh);
        let state = self.state.clone();
        let read = async move {
            let head = match consistency::beyond(&state, wanted).await {
                Ok(head) => head,
                Err(refused) => return refused.into_response(),
            };
            request.extensions_mut().insert(ReadFrom::Primary);
            let Ok(mut response) = inner.call(request).await;
            consistency::answer_position(&mut response, head);
            response
        };
        Bounded::Later {
            read: Box::pin(tokio::time::timeout(REQUEST_TIMEOUT, read)),
        }
    }
}

/// A `Content-Length` over the limit.
fn declares_too_large(headers: &HeaderMap) -> bool {
    headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok())
        .is_some_and(|length| length > MAX_BODY_BYTES as u64)
}

/// A read of an API route (`/api/…`): the answers that carry a position.
fn is_api_read(request: &Request) -> bool {
    matches!(*request.method(), Method::GET | Method::HEAD)
        && request
            .extensions()
            .get::<MatchedPath>()
            .is_some_and(|route| route.as_str().starts_with("/api/"))
}

type LaterRead = Pin<Box<dyn Future<Output = Result<Response, Elapsed>> + Send>>;

pin_project! {
    /// A request's answer within its bounds.
    #[project = BoundedProjection]
    pub enum Bounded<F> {
        Refused { refusal: Option<Response> },
        Unbounded { #[pin] inner: F },
        // The deadline is set when the read first waits: most reads of SQLite are answered
        // at once, and a timer made for each (a clock read and a count on the runtime's
        // shared handle) cost them 2%.
        Timed { #[pin] inner: F, deadline: Option<Pin<Box<Sleep>>>, position: Option<i64> },
        Later { read: LaterRead },
    }
}

impl<F> Bounded<F> {
    fn refused(error: ApiError) -> Self {
        Bounded::Refused {
            refusal: Some(error.into_response()),
        }
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Bounded<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let answer = match self.project() {
            BoundedProjection::Refused { refusal } => refusal
                .take()
                .expect("an answer is polled until ready, once"),
            BoundedProjection::Unbounded { inner } => return inner.poll(cx),
            BoundedProjection::Timed {
                inner,
                deadline,
                position,
            } => match inner.poll(cx) {
                Poll::Ready(Ok(mut response)) => {
                    if let Some(position) = *position {
                        consistency::answer_position(&mut response, position);
                    }
                    response
                }
                Poll::Pending => {
                    let deadline = deadline
                        .get_or_insert_with(|| Box::pin(tokio::time::sleep(REQUEST_TIMEOUT)));
                    ready!(deadline.as_mut().poll(cx));
                    too_long()
                }
            },
            BoundedProjection::Later { read } => {
                ready!(read.as_mut().poll(cx)).unwrap_or_else(|_| too_long())
            }
        };
        Poll::Ready(Ok(answer))
    }
}

fn too_long() -> Response {
    ApiError::Timeout("the request took too long").into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;

    type Answering = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn timed(inner: Answering, position: Option<i64>) -> Bounded<Answering> {
        Bounded::Timed {
            inner,
            deadline: None,
            position,
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_never_answers_is_answered_with_a_timeout_at_its_deadline() {
        let started = tokio::time::Instant::now();
        let Ok(answer) = timed(Box::pin(std::future::pending()), Some(3)).await;
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(started.elapsed(), REQUEST_TIMEOUT);
        assert!(answer.headers().get(consistency::POSITION).is_none());
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_that_answers_in_time_says_its_position() {
        let slow = async {
            tokio::time::sleep(REQUEST_TIMEOUT / 2).await;
            Ok(StatusCode::OK.into_response())
        };
        let Ok(answer) = timed(Box::pin(slow), Some(42)).await;
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(answer.headers()[consistency::POSITION], "42");
    }
}
