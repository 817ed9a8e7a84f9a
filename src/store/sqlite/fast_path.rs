//! The SQLite fast path: dashboard rows (and, for rebuilds, pages of the log and the shadow
//! tables) read and written straight through SQLite's C library with rusqlite, on the calling
//! thread.
//!
//! sqlx runs each SQLite connection on a worker thread of its own, so every statement costs two
//! thread hops: measured here, ≈47 µs for the one-row dashboard read against ≈5 µs for the same
//! prepared statement run in place (see BENCHMARKS.md). The dashboard read is the hottest route,
//! so it alone goes through rusqlite, on read-only connections to the same file. The lookup is
//! one primary-key probe of a few pages that the page cache holds, short enough to run on an
//! async worker without blocking it noticeably. A thread keeps the rows it read until any write
//! transaction of this process ends ([`WriteEpoch`]), so a command's answer is reflected by the
//! next read exactly as through the sqlx path; a write by another process on the same file shows
//! within [`MEMO_AGE`].

use std::cell::RefCell;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use chrono::{DateTime, SecondsFormat, Utc};
use projections::{
    Bucket, DashboardStats, ReadModels, RecordedEvent, ShareRow, TaskEvent, TaskRow,
};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row, TransactionBehavior};
use thread_local::ThreadLocal;
use uuid::Uuid;

use crate::store::StoreError;
use crate::store::common::sql::{
    DAILY_COLUMNS, EVENTS_BY_STREAM, LOAD_STATS, Params, SHARE_COLUMNS, STATS_COLUMNS, TASK_COLUMNS,
};
use crate::store::common::sqlx_tx::WriteEpoch;
use crate::store::rebuild::ROWS_PER_TRANSACTION;
use crate::store::tx::{StreamCursor, Tables};

/// How long a thread reuses a row it read while no write of this process begins or ends: the
/// bound on how late it sees a change another process made (`tally rebuild`, `verify --repair`,
/// `seed` run beside a server, or a second `tally serve` on the same file). Changes made here
/// are seen at once.
const MEMO_AGE: Duration = Duration::from_secs(1);
/// At most this many rows kept per thread (≈ 2 MiB, beside the connection's own page cache),
/// whatever the number of users. Threads that read are the runtime's workers, which live as
/// long as the store.
const MEMO_ROWS: usize = 10_000;

/// Dashboard rows read on each thread's own read-only connection, and the database file for the
/// rest.
pub(crate) struct FastPath {
    path: PathBuf,
    /// The file's device and inode when it was opened (see [`FastPath::check_in_place`]).
    file: Option<(u64, u64)>,
    /// Advanced by every write transaction of this process.
    epoch: WriteEpoch,
    /// One per thread that reads: no lock to share, and a thread's connection and rows stay in
    /// its own CPU cache. The two worker threads taking one pool's mutex and SQLite's WAL-index lock
    /// for every read spent more time waiting for each other than reading (BENCHMARKS.md).
    threads: ThreadLocal<RefCell<ThreadReader>>,
}

struct ThreadReader {
    /// `None` after a read failed: the next read opens a new one.
    connection: Option<Connection>,
    /// Rows read since the write epoch was `epoch` and the clock `since`.
    epoch: u64,
    since: Instant,
    rows: HashMap<String, Option<DashboardStats>>,
}

impl FastPath {
    pub fn new(path: &Path, epoch: WriteEpoch) -> Self {
        FastPath {
            path: path.to_owned(),
            file: identity(path),
            epoch,
            threads: ThreadLocal::new(),
        }
    }

    /// `user_id`'s row, `None` for a user no event has touched: the row this thread read since
    /// the last write ended, or a fresh read.
    pub fn dashboard_stats(&self, user_id: &str) -> Result<Option<DashboardStats>, StoreError> {
        // Read before the database: a write that ends after this moment makes the row read
        // below one that the next call does not reuse.
        let epoch = self.epoch.current();
        let reader = self.threads.get_or(|| {
            RefCell::new(ThreadReader {
                connection: None,
                epoch,
                since: Instant::now(),
                rows: HashMap::new(),
            })
        });
        // No await below: nothing else runs on this thread while the reader is borrowed.
        let reader = &mut *reader.borrow_mut();
        let now = Instant::now();
        if reader.epoch != epoch || now.duration_since(reader.since) > MEMO_AGE {
            reader.rows.clear();
            reader.epoch = epoch;
            reader.since = now;
        }
        if let Some(stats) = reader.rows.get(user_id) {
            return Ok(stats.clone());
        }
        let connection = match reader.connection.take() {
            Some(connection) => connection,
            None => read_only(&self.path)?,
        };
        // A connection whose read failed is dropped, not reused (a replaced file, an I/O error).
        let stats = connection
            .prepare_cached(LOAD_STATS)?
            .query_row([user_id], stats_row)
            .optional()?;
        reader.connection = Some(connection);
        if reader.rows.len() >= MEMO_ROWS {
            reader.rows.clear();
        }
        reader.rows.insert(user_id.to_owned(), stats.clone());
        Ok(stats)
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file at the path is still the one opened. In WAL mode SQLite does not look
    /// (it does in rollback mode: `SQLITE_READONLY_DBMOVED`), and its open connections would go
    /// on committing to a deleted file, lost when the server stops, or to one moved away.
    /// One `stat` a write transaction.
    pub fn check_in_place(&self) -> Result<(), StoreError> {
        match self.file {
            Some(file) if identity(&self.path) != Some(file) => {
                Err(StoreError::FileMoved(self.path.clone()))
            }
            _ => Ok(()),
        }
    }
}

/// The device and inode of the file at `path`, if there is one.
#[cfg(unix)]
fn identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .ok()
        .map(|meta| (meta.dev(), meta.ino()))
}

#[cfg(not(unix))]
fn identity(_: &Path) -> Option<(u64, u64)> {
    None
}

fn read_only(path: &Path) -> Result<Connection, StoreError> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    connection.busy_timeout(Duration::from_secs(10))?;
    Ok(connection)
}

/// Up to `limit` events of the log stream after stream (see `sql::EVENTS_BY_STREAM`).
/// Blocking: a rebuild calls it on a blocking thread. sqlx hands every row over from its worker
/// thread one by one, which made reading the log, not folding it, most of a rebuild's time
/// (≈8 µs an event).
pub(crate) fn read_events(
    path: &Path,
    (stream, version): StreamCursor,
    head: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError> {
    let connection = read_only(path)?;
    let mut statement = connection.prepare(EVENTS_BY_STREAM)?;
    let mut rows = statement.query(rusqlite::params![stream.as_bytes(), version, head, limit])?;
    let mut events = Vec::with_capacity(usize::try_from(limit).unwrap_or(0).min(100_000));
    while let Some(row) = rows.next()? {
        let event_type: String = row.get("event_type")?;
        let payload: String = row.get("payload")?;
        let payload = serde_json::from_str(&payload).map_err(|e| corrupt("payload", &e))?;
        let recorded_at: String = row.get("recorded_at")?;
        events.push(RecordedEvent {
            position: row.get("position")?,
            event_id: uuid(row, "event_id")?,
            task_id: uuid(row, "stream_id")?,
            stream_version: row.get("stream_version")?,
            actor: row.get("actor")?,
            recorded_at: DateTime::parse_from_rfc3339(&recorded_at)
                .map_err(|e| corrupt("recorded_at", &e))?
                .with_timezone(&Utc),
            event: TaskEvent::from_stored(&event_type, row.get("event_version")?, payload)?,
        });
    }
    Ok(events)
}

fn uuid(row: &Row<'_>, column: &str) -> Result<Uuid, StoreError> {
    let bytes: Vec<u8> = row.get(column)?;
    Uuid::from_slice(&bytes).map_err(|e| corrupt(column, &e))
}

fn corrupt(what: &str, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}

fn stats_row(row: &Row<'_>) -> rusqlite::Result<DashboardStats> {
    let bucket = |key: &str, count: &str| -> rusqlite::Result<Bucket> {
        Ok(Bucket {
            key: row.get(key)?,
            count: row.get(count)?,
        })
    };
    Ok(DashboardStats {
        user_id: row.get("user_id")?,
        pending: row.get("pending")?,
        completed: row.get("completed")?,
        shared_view: row.get("shared_view")?,
        shared_edit: row.get("shared_edit")?,
        created_day: bucket("created_day", "created_day_count")?,
        created_week: bucket("created_week", "created_week_count")?,
        completed_day: bucket("completed_day", "completed_day_count")?,
        completed_week: bucket("completed_week", "completed_week_count")?,
    })
}

/// Writes a rebuild's folded models into the empty shadow tables, in place. Blocking. Values
/// are encoded exactly as sqlx encodes them (uuid as 16-byte blob, times as RFC 3339 with
/// `SecondsFormat::AutoSi`), so the rows equal those the live path writes. Through sqlx, binding
/// the rows cost ≈ 6 µs each, most of a rebuild's write phase.
pub(crate) fn write_shadows(path: &Path, models: &ReadModels) -> Result<(), StoreError> {
    let mut connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    let shadow = Tables::SHADOW;
    let tasks: Vec<&TaskRow> = models.task_rows().collect();
    let sql = format!(
        "insert into {} ({TASK_COLUMNS}) values ({})",
        shadow.tasks,
        Params::Positional.list(9, 1)
    );
    insert_all(&mut connection, &sql, &tasks, |insert, task| {
        insert.execute(rusqlite::params![
            task.id.as_bytes(),
            task.owner_id,
            task.title,
            task.description,
            task.status.as_str(),
            time(task.created_at),
            time(task.updated_at),
            task.completed_at.map(time),
            task.version,
        ])
    })?;
    let shares: Vec<&ShareRow> = models.share_rows().collect();
    let sql = format!(
        "insert into {} ({SHARE_COLUMNS}) values ({})",
        shadow.shares,
        Params::Positional.list(3, 1)
    );
    insert_all(&mut connection, &sql, &shares, |insert, share| {
        insert.execute(rusqlite::params![
            share.task_id.as_bytes(),
            share.user_id,
            share.permission.as_str(),
        ])
    })?;
    let stats: Vec<&DashboardStats> = models.stats.values().collect();
    let sql = format!(
        "insert into {} ({STATS_COLUMNS}) values ({})",
        shadow.stats,
        Params::Positional.list(13, 1)
    );
    insert_all(&mut connection, &sql, &stats, |insert, row| {
        insert.execute(rusqlite::params![
            row.user_id,
            row.pending,
            row.completed,
            row.shared_view,
            row.shared_edit,
            row.created_day.key,
            row.created_day.count,
            row.created_week.key,
            row.created_week.count,
            row.completed_day.key,
            row.completed_day.count,
            row.completed_week.key,
            row.completed_week.count,
        ])
    })?;
    let daily = models.daily_rows();
    let sql = format!(
        "insert into {} ({DAILY_COLUMNS}) values ({})",
        shadow.daily,
        Params::Positional.list(4, 1)
    );
    insert_all(&mut connection, &sql, &daily, |insert, row| {
        insert.execute(rusqlite::params![
            row.user_id,
            row.day,
            row.counts.created,
            row.counts.completed,
        ])
    })
}

/// Runs the prepared `sql` once per row, `ROWS_PER_TRANSACTION` rows per transaction.
fn insert_all<T>(
    connection: &mut Connection,
    sql: &str,
    rows: &[T],
    insert: impl Fn(&mut rusqlite::CachedStatement<'_>, &T) -> rusqlite::Result<usize>,
) -> Result<(), StoreError> {
    for chunk in rows.chunks(ROWS_PER_TRANSACTION) {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut statement = tx.prepare_cached(sql)?;
            for row in chunk {
                insert(&mut statement, row)?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}

/// A time as sqlx's SQLite driver stores it.
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}
