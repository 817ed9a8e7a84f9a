//! What a stream holds: its user's changes as they come, each with how its figures are had
//! (the committed row, or one read shared by the user's streams).

use std::sync::Arc;

use projections::DashboardStats;
use tokio::sync::{OnceCell, watch};

use super::hub::Hub;

/// A change of one user's figures, as their streams see it.
#[derive(Clone, Debug)]
pub struct Change {
    /// The figures include every change up to this position.
    pub position: i64,
    /// The user's dashboard row as of `position`, where this node committed it and a stream
    /// was open to use it: the figures need no read.
    pub stats: Option<Arc<DashboardStats>>,
    /// Otherwise, the figures (as the stream's `data`) read after this change, once for all
    /// the user's streams it woke; `None` where no stream was open to share it (each reads
    /// its own).
    pub shared_read: Option<SharedRead>,
}

/// See [`Change::shared_read`].
pub type SharedRead = Arc<OnceCell<Arc<str>>>;

impl Change {
    pub(super) fn at(position: i64) -> Change {
        Change {
            position,
            stats: None,
            shared_read: None,
        }
    }
}

/// One open stream: woken when its user's figures may have changed.
pub struct Subscription {
    pub(super) changes: watch::Receiver<Change>,
    send_at_once: bool,
    hub: Arc<Hub>,
}

impl Subscription {
    pub(super) fn new(changes: watch::Receiver<Change>, send_at_once: bool, hub: Arc<Hub>) -> Self {
        Subscription {
            changes,
            send_at_once,
            hub,
        }
    }

    /// Whether the client's figures are out of date, so the first change is at once.
    pub fn sends_at_once(&self) -> bool {
        self.send_at_once
    }

    /// Waits until the figures may have changed (at once the first time, if the client's
    /// figures are out of date) and answers that change; `None` when the server is stopping.
    pub async fn next_change(&mut self) -> Option<Change> {
        if std::mem::take(&mut self.send_at_once) {
            // The figures as of now, read by this stream alone: the change's shared read
            // may be older than this stream.
            return Some(Change::at(self.changes.borrow_and_update().position));
        }
        self.changes.changed().await.ok()?;
        Some(self.changes.borrow_and_update().clone())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.stream_closed();
    }
}
