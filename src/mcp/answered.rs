//! The end of a stdio session without losing an answer. rmcp, once stdin ends or its token is
//! cancelled, writes the answers still coming for a few seconds (5 s at stdin's end, 2 s at a
//! cancel) and then closes stdout, while the stop still commits the queued commands: a tool
//! call whose command waited longer (for the write lock, say) would be applied with no answer,
//! and its answer is the client's only way to know. [`Answered`] is the transport between: it
//! counts the tool calls read until their answers are written, and ends the session (the end of
//! stdin, or the stop: then nothing more is read) only once none is left, or the stop's grace
//! has passed since the end began.

use std::collections::HashSet;
use std::pin::pin;
use std::sync::Mutex;

use rmcp::RoleServer;
use rmcp::model::{ClientNotification, ClientRequest, JsonRpcMessage, RequestId};
use rmcp::service::{RxJsonRpcMessage, TxJsonRpcMessage};
use rmcp::transport::Transport;
use std::sync::Arc;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

use crate::connections::SHUTDOWN_GRACE;

/// The tool calls read and not answered yet.
#[derive(Default)]
struct ToolCalls {
    unanswered: Mutex<HashSet<RequestId>>,
    changed: Notify,
}

impl ToolCalls {
    fn left(&self) -> usize {
        self.unanswered.lock().expect("tool calls").len()
    }

    /// Waits until every tool call read is answered, or `deadline`.
    async fn answered_by(&self, deadline: Instant) {
        let all = async {
            loop {
                let mut changed = pin!(self.changed.notified());
                changed.as_mut().enable();
                if self.left() == 0 {
                    return;
                }
                changed.await;
            }
        };
        if tokio::time::timeout_at(deadline, all).await.is_err() {
            tracing::warn!(
                left = self.left(),
                "tool calls still unanswered after {SHUTDOWN_GRACE:?}; stopping"
            );
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

/// A transport that ends its session only once the tool calls it read are answered.
pub(super) struct Answered<T> {
    inner: T,
    calls: Arc<ToolCalls>,
    /// Cancelled when the process is asked to stop: nothing more is read.
    stop: CancellationToken,
    /// Set when the end began (stdin's end or `stop`): the grace runs out then, however often
    /// rmcp asks again (it drops a pending `receive` whenever it has something to write).
    deadline: Option<Instant>,
}

impl<T> Answered<T> {
    /// `inner`, ended at its own end or once `stop` is cancelled.
    pub fn new(inner: T, stop: CancellationToken) -> Answered<T> {
        Answered {
            inner,
            calls: Arc::default(),
            stop,
            deadline: None,
        }
    }

    /// The end of the session: after the tool calls read are answered.
    async fn end(&mut self) {
        let deadline = match self.deadline {
            Some(deadline) => deadline,
            None => {
                let deadline = Instant::now() + SHUTDOWN_GRACE;
                self.deadline = Some(deadline);
                let left = self.calls.left();
                if left > 0 {
                    tracing::info!(left, "answering the tool calls in flight before stopping");
                }
                deadline
            }
        };
        self.calls.answered_by(deadline).await;
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
        let message = if self.stop.is_cancelled() {
            None
        } else {
            tokio::select! {
                message = self.inner.receive() => message,
                () = self.stop.cancelled() => None,
            }
        };
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
            None => self.end().await,
        }
        message
    }

    async fn close(&mut self) -> Result<(), Self::Error> {
        self.inner.close().await
    }
}
