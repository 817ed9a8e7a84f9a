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

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::{Executor, Pool};

use super::Backend;
use super::reading::Reading;
use crate::store::tables::Columns;
use crate::store::{ReadFrom, ReplicaState, ReplicaStatus, StoreError, Watermark};

/// How often a standby's head is read while the watermark stands still.
const CHECK_EVERY: Duration = Duration::from_millis(250);
/// The shortest time between two reads of a standby's head: after a change, a standby on the
/// same network replays within a few milliseconds.
const CHECK_AFTER_CHANGE: Duration = Duration::from_millis(5);
/// How long a standby may take to answer a check.
const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// How long a read waits for a standby (a connection and the answer) before it reads the
/// primary instead: a standby that stalls (a network that drops packets) costs a read this,
/// until a check (within [`CHECK_TIMEOUT`]) takes it out.
pub const STANDBY_PATIENCE: Duration = Duration::from_secs(1);
/// A standby behind the watermark for this long is reported as lagging, not catching up.
pub const LAG_BOUND: Duration = Duration::from_secs(1);

/// A standby's head and how far it has replayed the WAL (bytes). Pointed at a server that is
/// not in recovery (a primary), its current WAL location.
const STANDBY_HEAD: &str = "select coalesce(max(position), 0) as position, \
     (coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn()) - '0/0'::pg_lsn)::bigint as wal \
     from events";
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

/// One standby and what the node knows of it.
pub(crate) struct Standby<DB: Backend> {
    /// `host:port/database`, never the password.
    pub name: String,
    pool: Pool<DB>,
    /// The head it had replayed at its last check (-1 before the first, and after a failure).
    replayed: AtomicI64,
    /// The WAL location it had replayed at its last check.
    replayed_wal: AtomicI64,
    reachable: AtomicBool,
    /// Counts failures: a check begun before one does not bring the standby back.
    failures: AtomicU64,
    /// While it is behind: since when, and what it was behind then. Under steady writes the
    /// watermark moves on before every check, so "behind at the last check" says nothing;
    /// how long ago it was behind something it has still not replayed is its lag.
    behind_since: Mutex<Option<(Instant, (i64, i64))>>,
    /// `tally_replica_reads_total` for it, registered at its first read (after the recorder).
    reads: OnceLock<metrics::Counter>,
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
                replayed_wal: AtomicI64::new(-1),
                reachable: AtomicBool::new(false),
                failures: AtomicU64::new(0),
                behind_since: Mutex::new(None),
                reads: OnceLock::new(),
            })
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

impl<DB: Backend> Standby<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// A connection for a check (in a read-only transaction behind a transaction pooler, as
    /// on the primary).
    async fn reading(&self, pooled: bool, persistent: bool) -> Result<Reading<DB>, StoreError> {
        Reading::on(&self.pool, pooled, persistent).await
    }

    /// Whether it answers and has replayed up to `floor` and `fence`.
    fn current(&self, floor: i64, fence: i64) -> bool {
        self.reachable.load(Ordering::Acquire)
            && self.replayed.load(Ordering::Acquire) >= floor
            && self.replayed_wal.load(Ordering::Acquire) >= fence
    }

    /// Whether it answers and is behind, but not for long: worth checking often.
    fn catching_up(&self, floor: i64, fence: i64) -> bool {
        let behind = *self.behind_since.lock().expect("standby lock");
        self.reachable.load(Ordering::Acquire)
            && !self.current(floor, fence)
            && behind.is_none_or(|(since, _)| since.elapsed() < LAG_BOUND)
    }

    /// Reads its head; an error or no answer marks it unreachable until a check answers.
    async fn check(&self, floor: i64, fence: i64, pooled: bool, persistent: bool) {
        let failures = self.failures.load(Ordering::Acquire);
        let head = async {
            let mut reading = self.reading(pooled, persistent).await?;
            let read = async {
                let row = sqlx::query(STANDBY_HEAD)
                    .persistent(persistent)
                    .fetch_one(&mut *reading.connection())
                    .await?;
                Ok((row.int("position")?, row.int("wal")?))
            }
            .await;
            reading.end(read).await
        };
        let (head, wal) = match tokio::time::timeout(CHECK_TIMEOUT, head).await {
            Ok(Ok(head)) => head,
            Ok(Err(error)) => return self.failed(&error.to_string()),
            Err(_) => return self.failed(&format!("no answer within {CHECK_TIMEOUT:?}")),
        };
        let mut behind_since = self.behind_since.lock().expect("standby lock");
        // A failure since the check began: what it read may be from before a restart.
        if self.failures.load(Ordering::Acquire) != failures {
            return;
        }
        self.replayed.store(head, Ordering::Release);
        self.replayed_wal.store(wal, Ordering::Release);
        if !self.reachable.swap(true, Ordering::AcqRel) {
            tracing::info!(standby = %self.name, head, "reads may go to this standby");
        }
        *behind_since = match (self.current(floor, fence), *behind_since) {
            (true, _) => None,
            // Still short of what it was behind then: lagging since then.
            (false, Some((since, (then_floor, then_fence))))
                if head < then_floor || wal < then_fence =>
            {
                Some((since, (then_floor, then_fence)))
            }
            // Caught up with that, behind something newer.
            (false, _) => Some((Instant::now(), (floor, fence))),
        };
    }

    /// A connection for a read that must reflect `look_first` (the position and WAL location),
    /// if given: `None` when the standby has not replayed that far. The look runs on the bare
    /// connection, before the read's transaction (behind a pooler) takes its snapshot, and in
    /// the simple protocol (one message, safe behind a pooler); what it read is kept for the
    /// next reads, unless the standby failed meanwhile.
    pub async fn reading_after(
        &self,
        look_first: Option<(i64, i64)>,
        pooled: bool,
        persistent: bool,
    ) -> Result<Option<Reading<DB>>, StoreError> {
        let mut connection = self.pool.acquire().await?;
        if let Some((floor, fence)) = look_first {
            let failures = self.failures.load(Ordering::Acquire);
            let row = sqlx::raw_sql(sqlx::AssertSqlSafe(STANDBY_HEAD))
                .fetch_one(&mut *connection)
                .await?;
            let (head, wal) = (row.int("position")?, row.int("wal")?);
            let _behind_since = self.behind_since.lock().expect("standby lock");
            if self.failures.load(Ordering::Acquire) == failures {
                self.replayed.fetch_max(head, Ordering::AcqRel);
                self.replayed_wal.fetch_max(wal, Ordering::AcqRel);
            }
            if head < floor || wal < fence {
                return Ok(None);
            }
        }
        Reading::with(connection, pooled, persistent)
            .await
            .map(Some)
    }

    /// A read here answered.
    pub fn served(&self) {
        self.reads
            .get_or_init(
                || metrics::counter!("tally_replica_reads_total", "replica" => self.name.clone()),
            )
            .increment(1);
    }

    /// A read here failed: the primary answers it. A lost or refused connection takes the
    /// standby out until a check answers; anything else (a query cancelled by a conflict with
    /// replay, a busy pool) is this read's alone.
    pub fn refused(&self, error: &StoreError) {
        if error.is_connection_lost() || error.is_connect_failure() {
            self.failed(&error.to_string());
        } else {
            tracing::debug!(standby = %self.name, %error, "read on the primary instead");
        }
    }

    /// It failed a check or a read, or stalled: reads go elsewhere until a check answers, and
    /// what it had replayed is forgotten.
    pub fn failed(&self, error: &str) {
        let _behind_since = self.behind_since.lock().expect("standby lock");
        self.failures.fetch_add(1, Ordering::AcqRel);
        self.replayed.store(-1, Ordering::Release);
        self.replayed_wal.store(-1, Ordering::Release);
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
            (true, Some((since, _))) if since.elapsed() < LAG_BOUND => ReplicaStatus::CatchingUp,
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
