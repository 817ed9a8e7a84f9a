//! The end of a stdio session without losing an answer. rmcp, once stdin ends or its token is
//! cancelled, writes the answers still coming for a few seconds (5 s at stdin's end, 2 s at a
//! cancel) and then closes stdout, while the stop still commits the queued commands: a tool
//! call whose command waited longer (for the write lock, say) would be applied with no answer,
//! and its answer is the client's only way to know. [`Answered`] is the transport between: it
//! counts the tool calls read until their answers are written, holds stdin's end back until
//! none is left, and lets the stop wait the same way ([`ToolCalls::answered`]) before it
//! cancels the session; both bounded by the stop's grace.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::{Arc, Mutex};

use rmcp::RoleServer;
use rmcp::model::{ClientNotification, ClientRequest, JsonRpcMessage, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use tokio::sync::Notify;

use crate::connections::SHUTDOWN_GRACE;

/// The tool calls read and not answered yet.
#[derive(Default)]
pub(super) struct ToolCalls {
    unanswered: Mutex<HashSet<RequestId>>,
    changed: Notify,
}

impl ToolCalls {
    /// Waits until every tool call read is answered, or the stop's grace has passed.
    pub async fn answered(&self) {
        let all = async {
            loop {
                let mut changed = pin!(self.changed.notified());
                changed.as_mut().enable();
                let left = self.unanswered.lock().expect("tool calls").len();
                if left == 0 {
                    return;
                }
                tracing::info!(left, "answering the tool calls in flight before stopping");
                changed.await;
            }
        };
        if tokio::time::timeout(SHUTDOWN_GRACE, all).await.is_err() {
            tracing::warn!("tool calls still unanswered after {SHUTDOWN_GRACE:?}; stopping");
        }
    }

    fn read(&self, id: RequestId) {
        tracing::debug!(%id, "tool call read");
        self.unanswered.lock().expect("tool calls").insert(id);
    }

    fn done(&self, id: &RequestId) {
        if self.unanswered.lock().expect("tool calls").remove(id) {
            self.changed.notify_waiters();
        }
    }
}

/// A transport that keeps [`ToolCalls`] for the one it wraps.
pub(super) struct Answered<T> {
    inner: T,
    calls: Arc<ToolCalls>,
}

impl<T> Answered<T> {
    pub fn new(inner: T) -> (Answered<T>, Arc<ToolCalls>) {
        let calls = Arc::new(ToolCalls::default());
        let answered = Answered {
            inner,
            calls: calls.clone(),
        };
        (answered, calls)
    }
}

impl<T: Transport<RoleServer>> Transport<RoleServer> for Answered<T> {
    type Error = T::Error;

    fn send(
        &mut self,
        message: TxJsonRpcMessage<RoleServer>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send + 'static {
        let answers = match &message {
            JsonRpcMessage::Response(response) => Some(response.id.clone()),
            JsonRpcMessage::Error(error) => error.id.clone(),
            _ => None,
        };
        let calls = self.calls.clone();
        let sent = self.inner.send(message);
        async move {
            let sent = sent.await;
            // Written (or failed for good: there is no one left to write it to).
            if let Some(id) = answers {
                calls.done(&id);
            }
            sent
        }
    }

    async fn receive(&mut self) -> Option<RxJsonRpcMessage<RoleServer>> {
        let message = self.inner.receive().await;
        match &message {
            Some(JsonRpcMessage::Request(request)) => {
                if let ClientRequest::CallToolRequest(_) = request.request {
                    self.calls.read(request.id.clone());
                }
            }
            // A call the client gave up on gets no answer (rmcp drops it).
            Some(JsonRpcMessage::Notification(notification)) => {
                if let ClientNotification::CancelledNotification(cancelled) =
                    &notification.notification
                    && let Some(id) = &cancelled.params.request_id
                {
                    self.calls.done(id);
                }
            }
            Some(_) => {}
            None => self.calls.answered().await,
        }
        message
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
