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

use projections::{DashboardStats, Event, ReadModels, RecordedEvent};
use rusqlite::{Connection, OpenFlags, OptionalExtension, TransactionBehavior};
use thread_local::ThreadLocal;

use super::values::{Fetched, Parameters, corrupt};
use crate::store::common::sql::{EVENTS_BY_STREAM, LOAD_STATS, Params};
use crate::store::common::sqlx_tx::WriteEpoch;
use crate::store::rebuild::ROWS_PER_TRANSACTION;
use crate::store::tables::{self, Columns, Decode, Row, Table, Tables};
use crate::store::tx::StreamCursor;
use crate::store::{ReadFrom, StoreError};

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
    /// the last write ended, or a fresh read (always, [`ReadFrom::Primary`]).
    pub fn dashboard_stats(
        &self,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<DashboardStats>, StoreError> {
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
        if from == ReadFrom::Nearest
            && let Some(stats) = reader.rows.get(user_id)
        {
            return Ok(stats.clone());
        }
        let connection = match reader.connection.take() {
            Some(connection) => connection,
            None => read_only(&self.path)?,
        };
        // A connection whose read failed is dropped, not reused (a replaced file, an I/O error).
        let stats = connection
            .prepare_cached(LOAD_STATS)?
            .query_row([user_id], |row| Ok(DashboardStats::decode(&Fetched(row))))
            .optional()?
            .transpose()?;
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
        events.push(RecordedEvent {
            position: row.get("position")?,
            event_id: Fetched(row).uuid("event_id")?,
            stream_id: Fetched(row).uuid("stream_id")?,
            stream_version: row.get("stream_version")?,
            actor: row.get("actor")?,
            recorded_at: Fetched(row).time("recorded_at")?,
            event: Event::from_stored(&event_type, row.get("event_version")?, payload)?,
        });
    }
    Ok(events)
}

/// Writes a rebuild's folded models into the empty shadow tables, in place. Blocking. Values
/// are encoded exactly as sqlx encodes them (see `values.rs`), so the rows equal those the
/// live path writes. Through sqlx, binding the rows cost ≈ 6 µs each, most of a rebuild's
/// write phase.
pub(crate) fn write_shadows(path: &Path, models: &ReadModels) -> Result<(), StoreError> {
    let mut connection = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE)?;
    connection.busy_timeout(Duration::from_secs(10))?;
    let daily = models.daily_rows();
    for (table, rows) in tables::rows_of(models, &daily) {
        insert_all(&mut connection, table, &rows)?;
    }
    Ok(())
}

/// Inserts `rows` into `table`'s shadow, one prepared statement run per row,
/// `ROWS_PER_TRANSACTION` rows per transaction.
fn insert_all(
    connection: &mut Connection,
    table: &Table,
    rows: &[&Row<'_>],
) -> Result<(), StoreError> {
    let sql = table.insert(Params::Positional, Tables::Shadow);
    for chunk in rows.chunks(ROWS_PER_TRANSACTION) {
        let tx = connection.transaction_with_behavior(TransactionBehavior::Immediate)?;
        {
            let mut statement = tx.prepare_cached(&sql)?;
            let mut values = Parameters(Vec::with_capacity(table.width()));
            for row in chunk {
                values.0.clear();
                row.encode(&mut values).map_err(sqlx::Error::Encode)?;
                statement.execute(rusqlite::params_from_iter(&values.0))?;
            }
        }
        tx.commit()?;
    }
    Ok(())
}
