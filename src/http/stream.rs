//! `GET /api/dashboard/stream`: the caller's dashboard as Server-Sent Events, one event each
//! time the figures change, each with a log position they include every change up to, so that
//! a client that reconnects with `Last-Event-ID` misses nothing and is not sent what it has.
//!
//! The position is read before the figures: a change committed in between makes the figures
//! newer than the id, never older, and costs a client that resumes from it one repeat.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use projections::{DashboardFigures, DashboardStats};
use tokio::time::Instant;
use utoipa::IntoParams;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::dashboard::{Everything, figures};
use super::error::ApiError;
use super::extract::{Caller, Session};
use super::openapi::ReadProblems;
use crate::live::Subscription;
use crate::store::ReadFrom;

/// How long a client waits before reconnecting (the `retry:` field).
const RETRY: Duration = Duration::from_secs(2);
/// How often a comment is sent while nothing changes, so that proxies and clients can tell a
/// quiet stream from a dead one.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(stream))
}

/// The request's `Last-Event-ID`: the position of the figures the client has.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
struct LastEventId {
    /// The `id` of the last event the client received (a browser's `EventSource` sends it
    /// when it reconnects): the stream starts with the current figures only if they changed
    /// after it.
    #[param(rename = "Last-Event-ID", value_type = Option<i64>, nullable = false, minimum = 0)]
    position: Option<i64>,
}

impl<S: Send + Sync> FromRequestParts<S> for LastEventId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let Some(value) = parts.headers.get("last-event-id") else {
            return Ok(LastEventId { position: None });
        };
        value
            .to_str()
            .ok()
            .and_then(|value| value.trim().parse::<i64>().ok())
            .filter(|position| *position >= 0)
            .map(|position| LastEventId {
                position: Some(position),
            })
            .ok_or_else(|| {
                ApiError::Malformed("Last-Event-ID must be an event id this stream sent".into())
            })
    }
}

/// The caller's dashboard, live.
///
/// Server-Sent Events. Each event's `data` is the whole `GET /api/dashboard` object and its
/// `id` a log position the figures include every change up to (they may include later ones).
/// The first event comes at once: the current figures (with `Last-Event-ID`, only if they
/// changed after it). Then one event each time they change: the caller's own commands, another
/// user sharing, unsharing or deleting a task shared with the caller, and the start of a UTC
/// day. A change to a quiet stream is sent at once; changes in quick succession are sent as
/// one, the latest, at most one each 50 ms. A comment every 15 s keeps a quiet stream open.
///
/// Browsers: `EventSource` cannot send the `Authorization` header, so read the stream with
/// `fetch`, which can (and send `Last-Event-ID` when reconnecting). The stream ends when the
/// token expires; reconnect with a fresh one.
///
/// 503 when the caller, or this server, has as many streams open as it allows.
#[utoipa::path(
    get,
    path = "/api/dashboard/stream",
    tag = "dashboard",
    operation_id = "streamDashboard",
    security(("bearer" = [])),
    params(LastEventId),
    responses(
        (status = 200, content_type = "text/event-stream", body = String,
            description = "`retry: 2000`, then events `id: <position>` / `data: <the dashboard object>`.",
            example = "retry: 2000\n\nid: 42\ndata: {\"total\":3,\"pending\":2,\"completed\":1,\"shared\":0,\"view_only\":0,\"can_edit\":0,\"created_today\":3,\"completed_today\":1,\"created_this_week\":3,\"completed_this_week\":1,\"completion_rate\":33.33,\"total_shared\":0}\n\n"),
        ReadProblems,
    ),
)]
async fn stream(
    State(state): State<AppState>,
    Session { caller, expires }: Session,
    last_event_id: LastEventId,
    from: ReadFrom,
) -> Result<Response, ApiError> {
    let subscription = state
        .hub
        .subscribe(caller.0.as_str(), last_event_id.position)
        .map_err(|refused| ApiError::Unavailable(refused.to_string()))?;
    let sends_at_once = subscription.sends_at_once();
    let mut feed = Feed {
        expires: expiry(expires),
        state,
        caller,
        subscription,
        last_sent: None,
        from,
    };
    // Read before answering: a database that cannot answer gets a 503, not a stream that ends
    // at once.
    let first = match sends_at_once {
        true => feed.next_event().await?,
        false => None,
    };
    let later = stream::unfold(feed, |mut feed| async move {
        match feed.next_event().await {
            Ok(event) => event.map(|event| (event, feed)),
            Err(error) => {
                // The client reconnects (after `retry`), and is told then if it persists.
                tracing::warn!(%error, "a dashboard stream ended: its figures could not be read");
                None
            }
        }
    });
    let events = stream::iter([Event::default().retry(RETRY)])
        .chain(stream::iter(first))
        .chain(later)
        .map(Ok::<_, Infallible>);
    let mut response = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(KEEP_ALIVE).text("keep-alive"))
        .into_response();
    // Tells nginx (and proxies that follow it) not to hold events back in a buffer.
    response.headers_mut().insert(
        HeaderName::from_static("x-accel-buffering"),
        HeaderValue::from_static("no"),
    );
    Ok(response)
}

/// When a token that expires at `exp` (seconds since the epoch) stops being valid, on tokio's
/// clock.
fn expiry(exp: Option<i64>) -> Option<Instant> {
    let left = exp? - chrono::Utc::now().timestamp();
    Some(Instant::now() + Duration::from_secs(left.max(0) as u64))
}

/// One stream's state: whose figures, and what it sent last.
struct Feed {
    state: AppState,
    caller: Caller,
    /// The stream ends when the caller's token expires: the client reconnects with a new one.
    expires: Option<Instant>,
    subscription: Subscription,
    /// The last event's data: figures read again unchanged are not sent again.
    last_sent: Option<Arc<str>>,
    /// Where its figures are read from: the primary when the request asked for a position this
    /// node had not heard of, or for no cache.
    from: ReadFrom,
}

impl Feed {
    /// The next event: waits until the figures change; `None` when the server is stopping.
    async fn next_event(&mut self) -> Result<Option<Event>, ApiError> {
        loop {
            let expired = async {
                match self.expires {
                    Some(at) => tokio::time::sleep_until(at).await,
                    None => std::future::pending().await,
                }
            };
            let change = tokio::select! {
                change = self.subscription.next_change() => change,
                () = expired => None,
            };
            let Some(change) = change else {
                return Ok(None);
            };
            let data = match &change.shared {
                Some(shared) => {
                    let made = shared
                        .data
                        .get_or_try_init(|| self.data(shared.row.as_ref()));
                    made.await?.clone()
                }
                None => self.data(None).await?,
            };
            if self.last_sent.as_ref() == Some(&data) {
                continue;
            }
            let event = Event::default()
                .id(change.position.to_string())
                .data(&*data);
            self.last_sent = Some(data);
            crate::telemetry::stream_event();
            return Ok(Some(event));
        }
    }

    /// The caller's figures, as an event's `data`: from `row` (as a commit left it), or read.
    async fn data(&self, row: Option<&DashboardStats>) -> Result<Arc<str>, ApiError> {
        match row {
            Some(row) => event_data(row.figures(self.state.clock.now())),
            None => event_data(figures(&self.state, &self.caller.0, self.from).await?),
        }
    }
}

/// `figures` as an event's `data`: the whole `GET /api/dashboard` object.
fn event_data(figures: DashboardFigures) -> Result<Arc<str>, ApiError> {
    let data = serde_json::to_string(&Everything::from(figures))
        .map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(data.into())
}
