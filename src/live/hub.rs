//! The node's hub of dashboard streams: which users' figures changed, at which position, told
//! to the streams of those users.
//!
//! One `watch` channel per user who has a stream open (or whose figures changed recently): a
//! publish replaces its value, so a stream that is slow to read sees only the latest change
//! (latest state wins; never more than one pending), and costs no memory for the changes it
//! skipped.

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::watch;
use uuid::Uuid;

/// How many streams may be open at once.
#[derive(Clone, Copy, Debug)]
pub struct StreamLimits {
    /// On this node, for one user.
    pub per_user: usize,
    /// On this node, for everyone.
    pub per_node: usize,
}

impl Default for StreamLimits {
    fn default() -> Self {
        StreamLimits {
            per_user: 8,
            per_node: 256,
        }
    }
}

/// Users whose last change this node remembers; beyond it, the ones without a stream are
/// forgotten (and a resume from before then gets the figures at once).
const MAX_REMEMBERED: usize = 100_000;

/// Why a stream cannot be opened.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Refused {
    #[error("this user has {0} dashboard streams open on this server already")]
    UserLimit(usize),
    #[error("this server has {0} dashboard streams open already")]
    NodeLimit(usize),
    #[error("the server is shutting down")]
    Closed,
}

/// See the module's description.
pub struct Hub {
    /// This node, in its announcements: it needs no telling of its own.
    node: Uuid,
    known: Mutex<Known>,
    limits: StreamLimits,
    open: AtomicUsize,
    /// `true` once the hub has closed.
    closing: watch::Sender<bool>,
}

/// What the hub knows of changes, by position.
struct Known {
    /// A client whose figures are as of this position or later is up to date, unless `users`
    /// says otherwise for its user; `None` until the store's head at start is known.
    floor: Option<i64>,
    /// The newest position published.
    latest: i64,
    /// `latest` when this node last saw a UTC day begin: every figure of the day and week
    /// changed then, without a new position.
    rolled_at: i64,
    /// The position of each user's last change since `floor` (or `floor`, for one not
    /// changed since), with the user's open streams as receivers.
    users: HashMap<String, watch::Sender<i64>>,
    closed: bool,
}

impl Hub {
    pub fn new(limits: StreamLimits) -> Hub {
        Hub {
            node: Uuid::now_v7(),
            closing: watch::Sender::new(false),
            known: Mutex::new(Known {
                floor: None,
                latest: 0,
                rolled_at: i64::MIN,
                users: HashMap::new(),
                closed: false,
            }),
            limits,
            open: AtomicUsize::new(0),
        }
    }

    fn known(&self) -> std::sync::MutexGuard<'_, Known> {
        // Nothing panics while holding it; if something did, the data is still coherent.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    pub fn node(&self) -> Uuid {
        self.node
    }

    /// Whether the position everything before it is known is still to be set
    /// ([`start_at`](Self::start_at)).
    pub fn needs_start(&self) -> bool {
        self.known().floor.is_none()
    }

    /// Sets the store's head position when the hub started: changes up to it are not known
    /// user by user. Only the first call does; it answers whether it was the one.
    pub fn start_at(&self, head: i64) -> bool {
        let mut known = self.known();
        if known.floor.is_some() {
            return false;
        }
        known.floor = Some(head);
        known.latest = known.latest.max(head);
        true
    }

    /// The newest position published.
    pub fn latest(&self) -> i64 {
        self.known().latest
    }

    /// The figures of `users` changed in the batch committed at `position`.
    pub fn publish<'a>(&self, position: i64, users: impl IntoIterator<Item = &'a str>) {
        let mut known = self.known();
        known.latest = known.latest.max(position);
        for user in users {
            match known.users.get(user) {
                Some(changes) => changes.send_modify(|last| *last = (*last).max(position)),
                None => {
                    known
                        .users
                        .insert(user.to_owned(), watch::Sender::new(position));
                }
            }
        }
        if known.users.len() > MAX_REMEMBERED {
            known.forget();
        }
    }

    /// Every user's figures may have changed up to `position`, for `reason` (notifications
    /// were lost, too many users to name, another process wrote): every stream reads its
    /// figures again.
    pub fn publish_all(&self, position: i64, reason: &'static str) {
        let mut known = self.known();
        known.latest = known.latest.max(position);
        known.forget();
        let floor = known.floor.unwrap_or(position).max(position);
        known.floor = Some(floor);
        known.wake_all(|last| *last = (*last).max(floor));
        crate::telemetry::stream_resync(reason);
    }

    /// A UTC day began: the day's (and maybe the week's) figures fell to zero for everyone.
    pub fn roll_day(&self) {
        let mut known = self.known();
        known.rolled_at = known.latest;
        known.wake_all(|_| {});
        crate::telemetry::stream_resync("midnight");
    }

    /// Opens a stream for `user`, whose client has the figures as of `last_seen` (its
    /// `Last-Event-ID`), if any. The hub must have [started](Self::start_at).
    pub fn subscribe(
        self: &Arc<Self>,
        user: &str,
        last_seen: Option<i64>,
    ) -> Result<Subscription, Refused> {
        let mut known = self.known();
        if known.closed {
            return Err(Refused::Closed);
        }
        let floor = known.floor.expect("the hub started before streams open");
        let changes = known
            .users
            .entry(user.to_owned())
            .or_insert_with(|| watch::Sender::new(floor));
        if changes.receiver_count() >= self.limits.per_user {
            return Err(Refused::UserLimit(self.limits.per_user));
        }
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        if open >= self.limits.per_node {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::NodeLimit(self.limits.per_node));
        }
        let receiver = changes.subscribe();
        let up_to_date = last_seen
            .is_some_and(|seen| seen >= floor.max(*receiver.borrow()) && seen > known.rolled_at);
        crate::telemetry::streams_open(open + 1);
        Ok(Subscription {
            changes: receiver,
            send_at_once: !up_to_date,
            hub: self.clone(),
        })
    }

    /// Ends every stream and refuses new ones: the server is stopping.
    pub fn close(&self) {
        let mut known = self.known();
        known.closed = true;
        // Dropping the senders ends every receiver's wait.
        known.users.clear();
        self.closing.send_replace(true);
    }

    /// Completes once the hub has closed.
    pub async fn closed(&self) {
        let mut closing = self.closing.subscribe();
        // The sender lives as long as the hub, so this wait ends only by closing.
        let _ = closing.wait_for(|closed| *closed).await;
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }
}

impl Known {
    /// Forgets the users without a stream: from now on, a client from before `latest` gets
    /// its figures at once.
    fn forget(&mut self) {
        self.users.retain(|_, changes| changes.receiver_count() > 0);
        self.floor = Some(
            self.floor
                .map_or(self.latest, |floor| floor.max(self.latest)),
        );
    }

    fn wake_all(&self, change: impl Fn(&mut i64)) {
        for changes in self.users.values() {
            changes.send_modify(&change);
        }
    }
}

/// One open stream: woken when its user's figures may have changed.
pub struct Subscription {
    changes: watch::Receiver<i64>,
    send_at_once: bool,
    hub: Arc<Hub>,
}

impl Subscription {
    /// Whether the client's figures are out of date, so the first change is at once.
    pub fn sends_at_once(&self) -> bool {
        self.send_at_once
    }

    /// Waits until the figures may have changed (at once the first time, if the client's
    /// figures are out of date) and answers the position they are known as of; `None` when
    /// the server is stopping.
    pub async fn next_change(&mut self) -> Option<i64> {
        if !std::mem::take(&mut self.send_at_once) {
            self.changes.changed().await.ok()?;
        }
        Some(*self.changes.borrow_and_update())
    }
}

impl Drop for Subscription {
    fn drop(&mut self) {
        let open = self.hub.open.fetch_sub(1, Ordering::AcqRel);
        crate::telemetry::streams_open(open - 1);
    }
}
