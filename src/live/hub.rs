//! The node's hub of dashboard streams: which users' figures changed, at which position, told
//! to the streams of those users.
//!
//! One `watch` channel per user who has a stream open (or whose figures changed recently): a
//! publish replaces its value, so a stream that is slow to read sees only the latest change
//! (latest state wins; never more than one pending), and costs no memory for the changes it
//! skipped.
//!
//! A change committed on this node carries the user's dashboard row as the commit left it, so
//! their streams have the figures with no read at all. Any other change (another server's, an
//! unheard one, midnight) is read. Either way the first of the user's streams to wake makes the
//! event's data and the others send what it made, so a user with many streams (tabs, devices)
//! costs at most one read and one serialisation per change, not one per stream.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use projections::DashboardStats;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;
use uuid::Uuid;

use super::announcement::Announcement;
use super::read_cache::ReadCache;
use super::stream_limits::{Refused, StreamLimits};
use super::subscription::{Change, Shared, StreamClosed, Subscription};
use crate::store::Watermark;

/// Users whose last change this node remembers; beyond it, the ones without a stream are
/// forgotten (and a resume from before then gets the figures at once).
const MAX_REMEMBERED: usize = 100_000;

/// See the module's description.
pub struct Hub {
    /// This node, in its announcements.
    node: Uuid,
    known: Mutex<Known>,
    /// `known.latest`, readable without the lock: every read answers it (see
    /// [`Hub::position`]).
    latest: AtomicI64,
    /// What a standby must have replayed to take this node's reads: `latest`, moved before
    /// anything else learns of a change (the kept rows, `latest`, the streams), so that no
    /// read that begins after any of them reads a standby without it.
    standby_floor: Watermark,
    limits: StreamLimits,
    open: AtomicUsize,
    /// Whether other servers' changes are being followed (see `follow`), for tests to wait on.
    following: AtomicBool,
    /// Cancelled once the hub has closed: a token, so that the MCP service's open streams can
    /// end on it too (see [`Hub::closing`]).
    closing: CancellationToken,
    /// Dashboard rows kept in memory, where the node hears every change (PostgreSQL).
    read_cache: Option<ReadCache>,
}

/// What the hub knows of changes, by position.
struct Known {
    /// A client whose figures are as of this position or later is up to date, unless `users`
    /// says otherwise for its user.
    floor: i64,
    /// The newest position published.
    latest: i64,
    /// A client whose figures are as of this position or earlier may hold yesterday's day and
    /// week counters: the head when this node started or last saw a UTC day begin.
    rolled_at: i64,
    /// The log's head when the hub started (see [`Hub::new`]).
    start_head: i64,
    /// Events since the start that this node knows the users of: its own commits, and the
    /// other servers' it heard announced. The log holds `head - start_head` events since;
    /// any more than these went unheard ([`Hub::check_head`]).
    accounted: i64,
    /// How many went unheard at the last check.
    unheard: i64,
    /// This node's commits sent and not yet told ([`Hub::committing`]).
    in_flight: u32,
    /// Each user's last change since `floor` (or `floor`, for one not changed since), with
    /// the user's open streams as receivers.
    users: HashMap<String, watch::Sender<Change>>,
    closed: bool,
}

impl Hub {
    /// A hub on a log whose head is `head` now: changes up to it are not known user by user,
    /// and may predate the last midnight.
    pub fn new(limits: StreamLimits, head: i64) -> Hub {
        Hub {
            node: Uuid::now_v7(),
            known: Mutex::new(Known {
                floor: head,
                latest: head,
                rolled_at: head,
                start_head: head,
                accounted: 0,
                unheard: 0,
                in_flight: 0,
                users: HashMap::new(),
                closed: false,
            }),
            latest: AtomicI64::new(head),
            standby_floor: Arc::new(AtomicI64::new(head)),
            limits,
            open: AtomicUsize::new(0),
            following: AtomicBool::new(false),
            closing: CancellationToken::new(),
            read_cache: None,
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

    /// The newest position this node knows committed: its own commits, the announcements it
    /// heard, the head it last looked at. A read that begins after this call reflects every
    /// event up to it (a batch commits whole, and positions commit in order).
    pub fn position(&self) -> i64 {
        self.latest.load(Ordering::Acquire)
    }

    /// What a standby must have replayed to take this node's reads (at least
    /// [`position`](Self::position)), shared.
    pub fn watermark(&self) -> Watermark {
        self.standby_floor.clone()
    }

    /// A change up to `position` is about to be told: first of all, the standbys must have it.
    fn raise_standby_floor(&self, position: i64) {
        self.standby_floor.fetch_max(position, Ordering::AcqRel);
    }

    /// Moves `known.latest` to `position` (never back) and publishes it to
    /// [`position`](Self::position); called with the lock held, after the kept rows learned of
    /// the change and before any stream is woken.
    fn tell(&self, known: &mut Known, position: i64) {
        known.latest = known.latest.max(position);
        self.latest.store(known.latest, Ordering::Release);
    }

    /// This node is about to send a commit; the guard says how it ended. Until it does, the
    /// head may hold events not yet told, so [`check_head`](Self::check_head) waits.
    pub fn committing(&self) -> Committing<'_> {
        self.known().in_flight += 1;
        Committing { hub: self }
    }

    /// What another server announced (this node's own announcements change nothing, unless
    /// a commit whose outcome was unknown here did land).
    pub fn heard(&self, announcement: &Announcement) {
        let mut known = self.known();
        self.raise_standby_floor(announcement.position);
        if announcement.node != self.node {
            known.account(announcement.position, announcement.events);
        }
        // Before the position moves: a read that answers it must not find an older row.
        if let Some(cache) = &self.read_cache {
            match &announcement.users {
                Some(users) => {
                    cache.changed(announcement.position, users.iter().map(String::as_str))
                }
                None => cache.forget_all(),
            }
        }
        self.tell(&mut known, announcement.position);
        match &announcement.users {
            Some(users) => {
                let users = users.iter().map(|user| (user.as_str(), None));
                known.publish(announcement.position, users);
            }
            None if announcement.is_rewrite() => {
                known.publish_all(announcement.position, "rewrite")
            }
            None => known.publish_all(announcement.position, "too-many-users"),
        }
    }

    /// The log's head is `head`: if it holds events this node has not heard of (announcements
    /// lost while the listener was away, another process writing the SQLite file), every
    /// stream reads its figures again, after `forget_cached` (rows kept in memory are older).
    pub fn check_head(&self, head: i64, forget_cached: impl FnOnce()) {
        let mut known = self.known();
        // A commit of this node may be in the head and not yet told: the next check decides.
        if known.in_flight > 0 {
            return;
        }
        let unheard = head - known.start_head - known.accounted;
        if unheard > known.unheard {
            self.raise_standby_floor(head);
            forget_cached();
            self.forget_rows();
            self.tell(&mut known, head);
            known.publish_all(head, "changes-unheard");
        }
        known.unheard = unheard;
    }

    /// A UTC day began, when the log's head was `head`: the day's (and maybe the week's)
    /// figures fell to zero for everyone.
    pub fn roll_day(&self, head: i64) {
        let mut known = self.known();
        known.rolled_at = known.latest.max(head);
        known.wake_streams(|_| {});
        crate::telemetry::stream_resync("midnight");
    }

    /// Opens a stream for `user`, whose client has the figures as of `last_seen` (its
    /// `Last-Event-ID`), if any.
    pub fn subscribe(
        self: &Arc<Self>,
        user: &str,
        last_seen: Option<i64>,
    ) -> Result<Subscription, Refused> {
        let mut known = self.known();
        if known.closed {
            return Err(Refused::Closed);
        }
        let (floor, rolled_at, latest) = (known.floor, known.rolled_at, known.latest);
        let changes = known
            .users
            .entry(user.to_owned())
            .or_insert_with(|| watch::Sender::new(Change::at(floor)));
        if changes.receiver_count() >= self.limits.per_user {
            return Err(Refused::UserLimit(self.limits.per_user));
        }
        let open = self.open.fetch_add(1, Ordering::AcqRel);
        if open >= self.limits.per_node {
            self.open.fetch_sub(1, Ordering::AcqRel);
            return Err(Refused::NodeLimit(self.limits.per_node));
        }
        let receiver = changes.subscribe();
        // An id past every position this node knows of names figures the log may no longer
        // hold (a database restored from a backup; or another server's change not yet heard,
        // which costs one repeat): the current figures at once.
        let up_to_date = last_seen.is_some_and(|seen| {
            seen >= floor.max(receiver.borrow().position) && seen > rolled_at && seen <= latest
        });
        crate::telemetry::streams_open(open + 1);
        Ok(Subscription::new(user, receiver, !up_to_date, self.clone()))
    }

    /// Ends every stream and refuses new ones: the server is stopping.
    pub fn close(&self) {
        let mut known = self.known();
        known.closed = true;
        // Dropping the senders ends every receiver's wait.
        known.users.clear();
        self.closing.cancel();
    }

    /// Completes once the hub has closed.
    pub async fn closed(&self) {
        self.closing.cancelled().await;
    }

    /// A token cancelled when the hub closes, for what must stop with the streams but is
    /// not one of them (the MCP service's sessions).
    pub fn closing(&self) -> CancellationToken {
        self.closing.clone()
    }

    /// Streams open now.
    pub fn open_streams(&self) -> usize {
        self.open.load(Ordering::Acquire)
    }

    /// Whether other servers' changes are followed now.
    pub fn is_following(&self) -> bool {
        self.following.load(Ordering::SeqCst)
    }

    /// Whether every other server's change is heard from now on. Either way the rows kept in
    /// memory go, after the switch: while not following, changes went unheard, and a read
    /// begun before the switch may not keep its row after it.
    pub(super) fn set_following(&self, following: bool) {
        self.following.store(following, Ordering::SeqCst);
        self.forget_rows();
    }
}

impl StreamClosed for Hub {
    fn stream_closed(&self, user: &str, receiver: watch::Receiver<Change>) {
        let open = self.open.fetch_sub(1, Ordering::AcqRel);
        crate::telemetry::streams_open(open - 1);
        let known = self.known();
        drop(receiver);
        if let Some(changes) = known.users.get(user)
            && changes.receiver_count() == 0
        {
            // The user's last stream: the row and data kept for their streams are of no more
            // use (the position is, for a resume), and would stay until their next change.
            changes.send_if_modified(|last| {
                last.shared = None;
                false
            });
        }
    }
}

impl Known {
    /// Counts a batch of `events` up to `position`, unless the start's head holds it (a batch
    /// is committed whole, so it is wholly before the start or wholly after).
    fn account(&mut self, position: i64, events: i64) {
        if position > self.start_head {
            self.accounted += events;
        }
    }

    /// The figures of `users` changed at `position`, each with its dashboard row as of then
    /// where it is known.
    fn publish<'a>(
        &mut self,
        position: i64,
        users: impl IntoIterator<Item = (&'a str, Option<&'a DashboardStats>)>,
    ) {
        self.latest = self.latest.max(position);
        for (user, row) in users {
            match self.users.get(user) {
                // Only a later position wakes its streams: a repeat (this node's own
                // announcement) costs nothing.
                Some(changes) => {
                    let streams = changes.receiver_count() > 0;
                    changes.send_if_modified(|last| {
                        if position <= last.position {
                            return false;
                        }
                        last.position = position;
                        // Kept only for the streams open now.
                        last.shared = streams.then(|| Shared::new(row.cloned()));
                        true
                    });
                }
                None => {
                    self.users
                        .insert(user.to_owned(), watch::Sender::new(Change::at(position)));
                }
            }
        }
        if self.users.len() > MAX_REMEMBERED {
            self.forget();
        }
    }

    /// Every user's figures may have changed up to `position`, for `reason`: every stream
    /// reads its figures again.
    fn publish_all(&mut self, position: i64, reason: &'static str) {
        self.latest = self.latest.max(position);
        self.forget();
        let floor = self.floor;
        self.wake_streams(|last| last.position = last.position.max(floor));
        crate::telemetry::stream_resync(reason);
    }

    /// Forgets the users without a stream: from now on, a client from before `latest` gets
    /// its figures at once.
    fn forget(&mut self) {
        self.users.retain(|_, changes| changes.receiver_count() > 0);
        self.floor = self.floor.max(self.latest);
    }

    /// Wakes every stream, changing its position by `change`; each user's streams share a
    /// new read (a row kept from a commit may be older than what they must now show).
    fn wake_streams(&self, change: impl Fn(&mut Change)) {
        for changes in self.users.values() {
            if changes.receiver_count() > 0 {
                changes.send_modify(|last| {
                    change(last);
                    last.shared = Some(Shared::new(None));
                });
            }
        }
    }
}

#[path = "hub_commit.rs"]
mod commit;
pub use commit::Committing;

#[path = "hub_rows.rs"]
mod rows;

#[cfg(test)]
#[path = "hub_tests.rs"]
mod tests;
