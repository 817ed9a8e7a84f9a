//! Hot standbys that take reads (`TALLY_DATABASE_READ_URL`, PostgreSQL streaming replication).
//!
//! A standby's copy of the log says how far it has replayed: its head position. A read may go
//! to a standby only once that head is at least the node's [`Watermark`], the position every
//! read of this node answers (`Tally-Position`) and so must reflect: the node's own commits,
//! the announcements it heard. A standby only moves forward, so a head read earlier is a
//! lower bound of what any later read there sees. Anything else (a standby behind, or down,
//! a read that failed there, `ReadFrom::Primary`) reads the primary.
//!
//! [`Replicas::follow`] reads each standby's head: as soon as the watermark moves (a commit,
//! an announcement), at most every [`CHECK_AFTER_CHANGE`], and every [`CHECK_EVERY`] anyway,
//! to notice a standby going down or coming back.

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::{Executor, Pool};

use super::{Backend, sql};
use crate::store::tables::Columns;
use crate::store::{ReadFrom, ReplicaState, ReplicaStatus, StoreError, Watermark};

/// How often a standby's head is read while the watermark stands still.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// The shortest time between two reads of a standby's head: after a change, a standby on the
/// same network replays within a few milliseconds.
const CHECK_AFTER_CHANGE: Duration = Duration::from_millis(5);
/// How long a standby may take to answer a check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// A standby behind the watermark for this long is reported as lagging, not catching up.
pub const LAG_BOUND: Duration = Duration::from_secs(1);

/// The standbys, in the order the URL lists them.
pub(crate) struct Replicas<DB: Backend> {
    standbys: Vec<Standby<DB>>,
    /// Set once the node starts following ([`Replicas::follow`]): until then, every read goes
    /// to the primary.
    watermark: OnceLock<Watermark>,
    /// Where the next read starts looking, so that reads spread over the standbys.
    next: AtomicUsize,
}

/// One standby and what the node knows of it.
pub(crate) struct Standby<DB: Backend> {
    /// `host:port/database`, never the password.
    pub name: String,
    pub pool: Pool<DB>,
    /// The head it had replayed at its last check (-1 before the first).
    replayed: AtomicI64,
    reachable: AtomicBool,
    /// Since when it has been behind the watermark, while it is.
    behind_since: Mutex<Option<Instant>>,
}

impl<DB: Backend> Replicas<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub fn new(standbys: Vec<(String, Pool<DB>)>) -> Replicas<DB> {
        let standbys = standbys
            .into_iter()
            .map(|(name, pool)| Standby {
                name,
                pool,
                replayed: AtomicI64::new(-1),
                reachable: AtomicBool::new(false),
                behind_since: Mutex::new(None),
            })
            .collect();
        Replicas {
            standbys,
            watermark: OnceLock::new(),
            next: AtomicUsize::new(0),
        }
    }

    /// A standby that reflects everything a read `from` must, if one does.
    pub fn pick(&self, from: ReadFrom) -> Option<&Standby<DB>> {
        if from == ReadFrom::Primary {
            return None;
        }
        let floor = self.watermark.get()?.load(Ordering::Acquire);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.standbys.len();
        (0..count)
            .map(|offset| &self.standbys[(start + offset) % count])
            .find(|standby| {
                standby.reachable.load(Ordering::Acquire)
                    && standby.replayed.load(Ordering::Acquire) >= floor
            })
    }

    /// Checks every standby's head until the future is dropped; reads may go to them from now.
    pub async fn follow(&self, watermark: Watermark, persistent: bool) {
        let watermark = self.watermark.get_or_init(|| watermark).clone();
        let mut checked = None;
        let mut last = Instant::now() - CHECK_EVERY;
        loop {
            let floor = watermark.load(Ordering::Acquire);
            let behind = self
                .standbys
                .iter()
                .any(|standby| standby.catching_up(floor));
            let due = last.elapsed() >= CHECK_EVERY
                || (last.elapsed() >= CHECK_AFTER_CHANGE && (behind || checked != Some(floor)));
            if due {
                checked = Some(floor);
                last = Instant::now();
                for standby in &self.standbys {
                    standby.check(floor, persistent).await;
                }
            }
            tokio::time::sleep(CHECK_AFTER_CHANGE).await;
        }
    }

    /// What health and metrics show.
    pub fn states(&self) -> Vec<ReplicaState> {
        let floor = self
            .watermark
            .get()
            .map_or(0, |watermark| watermark.load(Ordering::Acquire));
        self.standbys
            .iter()
            .map(|standby| standby.state(floor))
            .collect()
    }
}

impl<DB: Backend> Standby<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Reads its head; an error or no answer marks it unreachable until a check answers.
    async fn check(&self, floor: i64, persistent: bool) {
        let head = async {
            let mut connection = self.pool.acquire().await.map_err(StoreError::from)?;
            sqlx::query(sql::HEAD_POSITION)
                .persistent(persistent)
                .fetch_one(&mut *connection)
                .await?
                .int("position")
        };
        match tokio::time::timeout(CHECK_TIMEOUT, head).await {
            Ok(Ok(head)) => {
                self.replayed.fetch_max(head, Ordering::AcqRel);
                if !self.reachable.swap(true, Ordering::AcqRel) {
                    tracing::info!(standby = %self.name, head, "reads may go to this standby");
                }
                let mut behind_since = self.behind_since.lock().expect("standby lock");
                match head >= floor {
                    true => *behind_since = None,
                    false => {
                        behind_since.get_or_insert_with(Instant::now);
                    }
                }
            }
            Ok(Err(error)) => self.failed(&error.to_string()),
            Err(_) => self.failed(&format!("no answer within {CHECK_TIMEOUT:?}")),
        }
    }

    /// Whether it is reachable and behind `floor`, but not for long: worth checking often.
    fn catching_up(&self, floor: i64) -> bool {
        let since = *self.behind_since.lock().expect("standby lock");
        self.reachable.load(Ordering::Acquire)
            && self.replayed.load(Ordering::Acquire) < floor
            && since.is_none_or(|since| since.elapsed() < LAG_BOUND)
    }

    /// A read or a check failed here: reads go elsewhere until a check answers again.
    pub fn failed(&self, error: &str) {
        if self.reachable.swap(false, Ordering::AcqRel) {
            tracing::warn!(standby = %self.name, %error, "standby unreachable; reading the primary");
        }
    }

    fn state(&self, floor: i64) -> ReplicaState {
        let replayed = self.replayed.load(Ordering::Acquire);
        let behind_since = *self.behind_since.lock().expect("standby lock");
        let status = match (self.reachable.load(Ordering::Acquire), behind_since) {
            (false, _) => ReplicaStatus::Unreachable,
            (true, None) => ReplicaStatus::Current,
            (true, Some(since)) if since.elapsed() < LAG_BOUND => ReplicaStatus::CatchingUp,
            (true, Some(_)) => ReplicaStatus::Lagging,
        };
        ReplicaState {
            name: self.name.clone(),
            status,
            replayed: (replayed >= 0).then_some(replayed),
            behind: (floor - replayed.max(0)).max(0),
        }
    }
}

/// Runs `$body` on a standby that reflects what a read `$from` must, if there is one and the
/// read succeeds there; otherwise on the primary's read pool, as [`read!`] does.
///
/// [`read!`]: super::reading::read
macro_rules! read_nearest {
    ($store:expr, $from:expr, |$connection:ident| $body:expr) => {{
        let store = $store;
        let standby = store
            .replicas
            .as_ref()
            .and_then(|replicas| replicas.pick($from));
        let on_standby = match standby {
            None => None,
            Some(standby) => {
                let attempt: Result<_, $crate::store::StoreError> = async {
                    let mut held = standby.pool.acquire().await?;
                    let $connection = &mut *held;
                    $body
                }
                .await;
                match attempt {
                    Ok(value) => Some(value),
                    Err(error) => {
                        standby.failed(&error.to_string());
                        None
                    }
                }
            }
        };
        match on_standby {
            Some(value) => Ok(value),
            None => $crate::store::common::reading::read!(store, false, |$connection| $body),
        }
    }};
}
pub(crate) use read_nearest;
