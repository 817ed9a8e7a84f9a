//! One hot standby and what a node knows of it: how far it had replayed at its last check or
//! look, whether it answers, since when it has been behind (see `replicas.rs` for the rules).

use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use sqlx::{Executor, Pool};

use super::Backend;
use super::reading::Reading;
use crate::store::tables::Columns;
use crate::store::{ReplicaState, ReplicaStatus, StoreError};

/// How long a standby may take to answer a check.
pub(super) const CHECK_TIMEOUT: Duration = Duration::from_secs(1);
/// A standby behind the watermark for this long is reported as lagging, not catching up.
const LAG_BOUND: Duration = Duration::from_secs(1);

/// A standby's head and how far it has replayed the WAL (bytes). Pointed at a server that is
/// not in recovery (a primary), its current WAL location.
pub(super) const STANDBY_HEAD: &str = "select coalesce(max(position), 0) as position, \
     (coalesce(pg_last_wal_replay_lsn(), pg_current_wal_lsn()) - '0/0'::pg_lsn)::bigint as wal \
     from events";

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

impl<DB: Backend> Standby<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub(super) fn new(name: String, pool: Pool<DB>) -> Standby<DB> {
        Standby {
            name,
            pool,
            replayed: AtomicI64::new(-1),
            replayed_wal: AtomicI64::new(-1),
            reachable: AtomicBool::new(false),
            failures: AtomicU64::new(0),
            behind_since: Mutex::new(None),
            reads: OnceLock::new(),
        }
    }

    /// A connection for a check (in a read-only transaction behind a transaction pooler, as
    /// on the primary).
    async fn reading(&self, pooled: bool, persistent: bool) -> Result<Reading<DB>, StoreError> {
        Reading::on(&self.pool, pooled, persistent).await
    }

    /// Whether it answers and has replayed up to `floor` and `fence`.
    pub(super) fn current(&self, floor: i64, fence: i64) -> bool {
        self.reachable.load(Ordering::Acquire)
            && self.replayed.load(Ordering::Acquire) >= floor
            && self.replayed_wal.load(Ordering::Acquire) >= fence
    }

    /// Whether it answers and is behind, but not for long: worth checking often.
    pub(super) fn catching_up(&self, floor: i64, fence: i64) -> bool {
        let behind = *self.behind_since.lock().expect("standby lock");
        self.reachable.load(Ordering::Acquire)
            && !self.current(floor, fence)
            && behind.is_none_or(|(since, _)| since.elapsed() < LAG_BOUND)
    }

    /// Reads its head; an error or no answer marks it unreachable until a check answers.
    pub(super) async fn check(&self, floor: i64, fence: i64, pooled: bool, persistent: bool) {
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

    pub(super) fn state(&self, floor: i64) -> ReplicaState {
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
