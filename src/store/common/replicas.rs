//! Hot standbys that take reads (`TALLY_DATABASE_READ_URL`, PostgreSQL streaming replication;
//! generic over the backend only because the store is, as SQLite has none).
//!
//! A standby's copy of the log says how far it has replayed: its head position. A read may go
//! to a standby only once that head is at least the node's [`Watermark`], the position every
//! read of this node answers (`Tally-Position`) and so must reflect: the node's own commits,
//! the announcements it heard (the hub moves it before it wakes any stream). Writes that
//! append no event (migrations, a rebuild's swap, a repair) are fenced by WAL location
//! instead: the primary's, read when the node opened and whenever it hears of a rewrite, must
//! have been replayed too ([`Replicas::fence`]). A standby replays forward, so a head read
//! earlier is a lower bound of what a later read there sees; a failure there forgets it (a
//! standby restarted or re-cloned may come back at an earlier point), and each URL must name
//! one server, not a balancer over several. Anything else (a standby behind, or down, a read
//! that fails or stalls there, `ReadFrom::Primary`) reads the primary.
//!
//! [`Replicas::follow`] reads every standby's head: as soon as the watermark moves (a commit,
//! an announcement), every [`CHECK_AFTER_CHANGE`] while one catches up, and every
//! [`CHECK_EVERY`] anyway, to notice a standby going down or coming back.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use sqlx::{Executor, Pool};

use super::reading::read;
use super::standby::Standby;
use super::{Backend, SqlxStore};
use crate::store::tables::Columns;
use crate::store::{ReadFrom, ReplicaState, StoreError, Watermark};

/// How often a standby's head is read while the watermark stands still.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// The shortest time between two reads of a standby's head: after a change, a standby on the
/// same network replays within a few milliseconds.
const CHECK_AFTER_CHANGE: Duration = Duration::from_millis(5);
/// How long a read waits for a standby (a connection and the answer) before it reads the
/// primary instead: a standby that stalls (a network that drops packets) costs a read this,
/// until a check (within a second) takes it out.
pub const STANDBY_PATIENCE: Duration = Duration::from_secs(1);

/// The primary's WAL location (bytes): what a standby must have replayed to hold every write
/// committed before. The insert location, not the write location: with
/// `synchronous_commit = off` a committed write may still sit in the WAL buffers.
pub const PRIMARY_WAL: &str = "select (pg_current_wal_insert_lsn() - '0/0'::pg_lsn)::bigint as wal";

/// The standbys, in the order the URL lists them.
pub(crate) struct Replicas<DB: Backend> {
    standbys: Vec<Standby<DB>>,
    /// Set once the node starts following ([`Replicas::follow`]): until then, every read goes
    /// to the primary.
    watermark: OnceLock<Watermark>,
    /// The primary's WAL location a standby must have replayed (see the module's description).
    fence: AtomicI64,
    /// Where the next read starts looking, so that reads spread over the standbys.
    next: AtomicUsize,
}

/// The standby a read goes to, and whether it must first look at its head (the position and
/// WAL location it must have replayed).
pub(crate) struct Pick<'a, DB: Backend> {
    pub standby: &'a Standby<DB>,
    pub look_first: Option<(i64, i64)>,
}

impl<DB: Backend> Replicas<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub fn new(standbys: Vec<(String, Pool<DB>)>) -> Replicas<DB> {
        let standbys = standbys
            .into_iter()
            .map(|(name, pool)| Standby::new(name, pool))
            .collect();
        Replicas {
            standbys,
            watermark: OnceLock::new(),
            fence: AtomicI64::new(i64::MAX),
            next: AtomicUsize::new(0),
        }
    }

    /// From now on a standby must have replayed the primary's WAL up to `wal` too.
    pub fn fence(&self, wal: i64) {
        // `i64::MAX` until the first fence, and after a fence that could not be read.
        let _ = self
            .fence
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |fence| {
                Some(if fence == i64::MAX {
                    wal
                } else {
                    fence.max(wal)
                })
            });
    }

    /// No standby takes reads until the next [`fence`](Self::fence): a write this node heard
    /// of may be on none of them, and how far it went could not be read.
    pub fn close_until_fenced(&self) {
        self.fence.store(i64::MAX, Ordering::Release);
    }

    /// Where a read `from` may go: a standby known to reflect everything it must, else one
    /// that may by now (reachable, and not lagging) once a look at its head on the read's own
    /// connection says so; `None`: the primary.
    pub fn pick(&self, from: ReadFrom) -> Option<Pick<'_, DB>> {
        if from == ReadFrom::Primary {
            return None;
        }
        let floor = self.watermark.get()?.load(Ordering::Acquire);
        let fence = self.fence.load(Ordering::Acquire);
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        let count = self.standbys.len();
        let rotation = (0..count).map(|offset| &self.standbys[(start + offset) % count]);
        let mut worth_a_look = None;
        for standby in rotation {
            if standby.current(floor, fence) {
                return Some(Pick {
                    standby,
                    look_first: None,
                });
            }
            if worth_a_look.is_none() && standby.catching_up(floor, fence) {
                worth_a_look = Some(standby);
            }
        }
        worth_a_look.map(|standby| Pick {
            standby,
            look_first: Some((floor, fence)),
        })
    }

    /// Checks every standby's head until the future is dropped; reads may go to them from now.
    pub async fn follow(&self, watermark: Watermark, pooled: bool, persistent: bool) {
        let watermark = self.watermark.get_or_init(|| watermark).clone();
        let mut checked = None;
        let mut last = Instant::now() - CHECK_EVERY;
        loop {
            let floor = watermark.load(Ordering::Acquire);
            let fence = self.fence.load(Ordering::Acquire);
            let behind = self
                .standbys
                .iter()
                .any(|standby| standby.catching_up(floor, fence));
            let due = last.elapsed() >= CHECK_EVERY
                || (last.elapsed() >= CHECK_AFTER_CHANGE
                    && (behind || checked != Some((floor, fence))));
            if due {
                checked = Some((floor, fence));
                last = Instant::now();
                let checks = self
                    .standbys
                    .iter()
                    .map(|standby| standby.check(floor, fence, pooled, persistent));
                futures_util::future::join_all(checks).await;
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

/// Runs `$body` on a standby that reflects what a read `$from` must, if there is one and the
/// read answers there within [`STANDBY_PATIENCE`]; otherwise on the primary's read pool, as
/// [`read!`] does.
///
/// [`read!`]: super::reading::read
macro_rules! read_nearest {
    ($store:expr, $from:expr, |$connection:ident| $body:expr) => {{
        use $crate::store::common::replicas::{Pick, STANDBY_PATIENCE};
        let store = $store;
        let standby = store
            .replicas
            .as_ref()
            .and_then(|replicas| replicas.pick($from));
        let on_standby = match standby {
            None => None,
            Some(Pick {
                standby,
                look_first,
            }) => {
                let attempt = async {
                    let reading = standby.reading_after(look_first, store.pooled, store.persistent());
                    let Some(mut reading) = reading.await? else {
                        return Ok(None);
                    };
                    let $connection = reading.connection();
                    let result = async { $body }.await;
                    reading.end(Result::map(result, Some)).await
                };
                match tokio::time::timeout(STANDBY_PATIENCE, attempt).await {
                    Ok(Ok(Some(value))) => {
                        standby.served();
                        Some(value)
                    }
                    // Not replayed far enough yet.
                    Ok(Ok(None)) => None,
                    Ok(Err(error)) => {
                        standby.refused(&error);
                        None
                    }
                    // Slow, not necessarily gone: the checks decide that.
                    Err(_) => {
                        tracing::debug!(standby = %standby.name, "no answer in time; reading the primary");
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

impl<DB: Backend> SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// See [`Store::fence_replicas`](crate::store::Store::fence_replicas).
    pub(crate) async fn fence_standbys(&self) -> Result<(), StoreError> {
        let Some(replicas) = &self.replicas else {
            return Ok(());
        };
        let wal = read!(self, false, |connection| {
            sqlx::query(PRIMARY_WAL)
                .persistent(self.persistent())
                .fetch_one(&mut *connection)
                .await?
                .int("wal")
        });
        match wal {
            Ok(wal) => replicas.fence(wal),
            Err(_) => replicas.close_until_fenced(),
        }
        wal.map(drop)
    }
}
