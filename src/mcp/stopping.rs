//! `/mcp` at a graceful stop. Open event streams (`GET /mcp`) end when it begins, as the
//! dashboard's do, or the stop would wait for clients. A tool call in flight is not cut off:
//! its command may be applied already, and its answer is the client's only way to know.
//! rmcp's own cancellation (which ends every session and the answers they still owe) waits
//! until the POSTs in flight are answered, or the grace of the stop has passed.

use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

/// POSTs to `/mcp` whose answers are not sent yet, and the tokens of the stop.
pub(super) struct Stopping {
    /// Cancelled when the stop begins (the hub's).
    closing: CancellationToken,
    /// rmcp's, cancelled once the answers in flight are sent.
    sessions: CancellationToken,
    in_flight: AtomicUsize,
    idle: Notify,
}

impl Stopping {
    /// Watches `closing`; the token to give rmcp is [`Stopping::sessions`].
    pub fn watch(closing: CancellationToken) -> Arc<Stopping> {
        let stopping = Arc::new(Stopping {
            closing,
            sessions: CancellationToken::new(),
            in_flight: AtomicUsize::new(0),
            idle: Notify::new(),
        });
        tokio::spawn(stopping.clone().end_sessions());
        stopping
    }

    pub fn sessions(&self) -> CancellationToken {
        self.sessions.clone()
    }

    async fn end_sessions(self: Arc<Self>) {
        self.closing.cancelled().await;
        let answered = async {
            loop {
                let mut idle = pin!(self.idle.notified());
                idle.as_mut().enable();
                if self.in_flight.load(Ordering::Acquire) == 0 {
                    return;
                }
                idle.await;
            }
        };
        let _ = tokio::time::timeout(crate::connections::SHUTDOWN_GRACE, answered).await;
        self.sessions.cancel();
    }
}

/// One POST in flight, until its answer is sent or dropped.
struct InFlight(Arc<Stopping>);

impl Drop for InFlight {
    fn drop(&mut self) {
        if self.0.in_flight.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

/// Counts a POST until its answer (an event stream that ends after the result) is sent; ends
/// a GET's event stream when the stop begins.
pub(super) async fn around(
    State(stopping): State<Arc<Stopping>>,
    request: Request,
    next: Next,
) -> Response {
    if request.method() == Method::GET {
        let closing = stopping.closing.clone();
        let response = next.run(request).await;
        return response.map(|body| {
            Body::from_stream(
                body.into_data_stream()
                    .take_until(closing.cancelled_owned()),
            )
        });
    }
    stopping.in_flight.fetch_add(1, Ordering::AcqRel);
    let in_flight = InFlight(stopping);
    let response = next.run(request).await;
    response.map(|body| {
        Body::from_stream(body.into_data_stream().map(move |chunk| {
            let _answering = &in_flight;
            chunk
        }))
    })
}
