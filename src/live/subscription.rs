//! What a stream holds: its user's changes as they come, each with its event's data made once
//! for all the user's streams (from the committed row, or read).

use std::sync::Arc;
use std::time::Duration;

use projections::DashboardStats;
use tokio::sync::{OnceCell, watch};
use tokio::time::Instant;

/// A change of one user's figures, as their streams see it.
#[derive(Clone, Debug)]
pub struct Change {
    /// The figures include every change up to this position.
    pub position: i64,
    /// What the user's streams this change woke share; `None` where no stream was open to
    /// share it (each reads its own figures).
    pub shared: Option<Arc<Shared>>,
}

impl Change {
    pub(super) fn at(position: i64) -> Change {
        Change {
            position,
            shared: None,
        }
    }
}

/// One change's figures, made once for all the user's streams it woke.
#[derive(Debug)]
pub struct Shared {
    /// The user's dashboard row as of the change, where this node committed it: the figures
    /// need no read.
    pub row: Option<DashboardStats>,
    /// The figures as an event's `data` (from `row`, or else read after the change), made by
    /// the first of the streams to wake.
    pub data: OnceCell<Arc<str>>,
}

impl Shared {
    pub(super) fn new(row: Option<DashboardStats>) -> Arc<Shared> {
        Arc::new(Shared {
            row,
            data: OnceCell::new(),
        })
    }
}

/// A stream is handed at most one change per this long: the changes of a burst (a script's
/// commands, a busy shared task) cost its client one event per gap, the latest, rather than
/// one each. A change to a quiet stream goes at once; one that follows another closely waits
/// at most this long, well inside the 100 ms a change may take to reach its streams.
pub const EVENT_GAP: Duration = Duration::from_millis(50);

/// Where a closing stream hands its receiver back: the hub, named by what a stream needs of it
/// alone, so that this module need not know the hub (which makes the subscriptions).
pub(super) trait StreamClosed: Send + Sync {
    /// A stream of `user` closed; `receiver` was its.
    fn stream_closed(&self, user: &str, receiver: watch::Receiver<Change>);
}

/// One open stream: woken when its user's figures may have changed.
pub struct Subscription {
    user: String,
    pub(super) changes: watch::Receiver<Change>,
    send_at_once: bool,
    /// When the last change was handed out.
    last_handed: Option<Instant>,
    hub: Arc<dyn StreamClosed>,
}

impl Subscription {
    pub(super) fn new(
        user: &str,
        changes: watch::Receiver<Change>,
        send_at_once: bool,
        hub: Arc<dyn StreamClosed>,
    ) -> Self {
        Subscription {
            user: user.to_owned(),
            changes,
            send_at_once,
            last_handed: None,
            hub,
        }
    }

    /// Hands out only changes from now on: for a client that reads the figures itself when it
    /// subscribes, to which an at-once change would be a notification of nothing.
    pub fn from_now(mut self) -> Self {
        self.send_at_once = false;
        self.changes.borrow_and_update();
        self
    }

    /// Whether the client's figures are out of date, so the first change is at once.
    pub fn sends_at_once(&self) -> bool {
        self.send_at_once
    }

    /// Waits until the figures may have changed (at once the first time, if the client's
    /// figures are out of date; never sooner than [`EVENT_GAP`] after the last change) and
    /// answers the latest change; `None` when the server is stopping.
    pub async fn next_change(&mut self) -> Option<Change> {
        if std::mem::take(&mut self.send_at_once) {
            self.last_handed = Some(Instant::now());
            // The figures as of now, read by this stream alone: the change's shared figures
            // may be older than this stream.
            return Some(Change::at(self.changes.borrow_and_update().position));
        }
        self.changes.changed().await.ok()?;
        if let Some(next_allowed) = self.last_handed.map(|at| at + EVENT_GAP)
            && next_allowed > Instant::now()
        {
            // Changes published meanwhile replace this one in the channel: the latest wins.
            tokio::time::sleep_until(next_allowed).await;
            // The server began stopping while this stream waited.
            self.changes.has_changed().ok()?;
        }
        self.last_handed = Some(Instant::now());
        Some(self.changes.borrow_and_update().clone())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        // The receiver goes to the hub, which drops it under its lock: two of a user's streams
        // closing at once then cannot both count the other as still open.
        let (_, closed) = watch::channel(Change::at(0));
        let changes = std::mem::replace(&mut self.changes, closed);
        self.hub.stream_closed(&self.user, changes);
    }
}
