//! What the store fails with, and what each failure means to a caller: an outage (503 with
//! `Retry-After`, nothing applied), a moment's contention (503 too), a refused commit, a lost
//! connection, or a fault a person must look at (500).

use projections::event::UnreadableEvent;
use sqlx::postgres::{PgDatabaseError, PgSeverity};

/// A failure of the database or of the data in it: never the caller's fault.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("database: {0}")]
    Database(#[from] sqlx::Error),
    #[error("database: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error(transparent)]
    Unreadable(#[from] UnreadableEvent),
    #[error("a background task of the store panicked or was cancelled")]
    TaskFailed,
    /// A stored value this code cannot read.
    #[error("unreadable data in the database: {0}")]
    Corrupt(String),
    /// The database did not answer within the time given.
    #[error("the database did not answer in time")]
    TimedOut,
    /// The database was found unreachable a moment ago, so it was not tried for this caller.
    #[error("the database is unreachable")]
    Unreachable,
    /// No connection could be opened at start-up: where to (never with a password) and why,
    /// so that an operator reads more than "pool timed out".
    #[error("cannot connect to the database at {target}: {cause}")]
    CannotConnect { target: String, cause: String },
    /// The SQLite file is no longer where it was opened (deleted, renamed, its folder moved):
    /// the open connections would go on writing to a file nobody opens again.
    #[error("the database file {0} was moved or deleted while open")]
    FileMoved(std::path::PathBuf),
    #[error("another rebuild of this database is running")]
    RebuildRunning,
    #[error(
        "a database URL with pgbouncer=true needs TALLY_DATABASE_DIRECT_URL too: migrations and \
         rebuilds need a session of their own, which a transaction pooler cannot give"
    )]
    NeedsDirectUrl,
    #[error(
        "TALLY_DATABASE_URL={0:?} is not a database tally can use: expected sqlite://PATH or \
         postgres://USER@HOST/DB"
    )]
    UnsupportedUrl(String),
    /// A PostgreSQL URL that does not parse (shown without its password).
    #[error(
        "{variable}={url:?} is not a PostgreSQL URL ({reason}): expected postgres://USER[:PASSWORD]@HOST[:PORT]/DB[?sslmode=…]"
    )]
    BadUrl {
        variable: &'static str,
        url: String,
        reason: String,
    },
}

impl StoreError {
    /// Whether the database could not do the work now rather than refusing it: an outage
    /// ([`is_outage`](Self::is_outage)), or a moment's contention (busy, locked, cancelled,
    /// a deadlock, out of time). Nothing was applied, and the same work may succeed later, so
    /// callers answer 503 with `Retry-After`.
    pub fn is_transient(&self) -> bool {
        if self.is_outage() {
            return true;
        }
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                let code = error.code().unwrap_or_default();
                match error.try_downcast_ref::<PgDatabaseError>() {
                    // Serialization failure, deadlock, lock not available, and the rest of
                    // operator intervention (a cancelled statement).
                    Some(_) => ["40001", "40P01", "55P03", "57"]
                        .iter()
                        .any(|prefix| code.starts_with(prefix)),
                    None => code.parse().is_ok_and(sqlite_busy),
                }
            }
            StoreError::Database(error) => matches!(
                error,
                sqlx::Error::Protocol(_)
                    | sqlx::Error::PoolTimedOut
                    | sqlx::Error::PoolClosed
                    | sqlx::Error::WorkerCrashed
            ),
            StoreError::TimedOut => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(error, _)) => {
                sqlite_busy(error.extended_code.into())
            }
            _ => false,
        }
    }

    /// Whether the database cannot take work until something outside tally changes: it
    /// cannot be reached, refuses connections, is missing, read-only or full, or its disk
    /// fails. Commands cannot commit meanwhile (the writer says so to the health check) and
    /// every caller is answered 503; a moment's contention is not an outage.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(error)) => {
                let code = error.code().unwrap_or_default();
                match error.try_downcast_ref::<PgDatabaseError>() {
                    Some(error) => postgres_outage(&code, error.severity()),
                    None => code.parse().is_ok_and(sqlite_outage),
                }
            }
            StoreError::Database(sqlx::Error::Io(_)) => true,
            StoreError::Unreachable
            | StoreError::CannotConnect { .. }
            | StoreError::FileMoved(_) => true,
            StoreError::Sqlite(rusqlite::Error::SqliteFailure(error, _)) => {
                sqlite_outage(error.extended_code.into())
            }
            _ => false,
        }
    }

    /// Whether an error answered to `commit` proves that nothing was committed: PostgreSQL's
    /// constraint violations and rollbacks (classes 23 and 40); SQLite's busy, read-only, full,
    /// constraint, and a failed write of the log. SQLite answers its commit in process: a
    /// write of the WAL that failed leaves the commit's last frame (the one that marks it
    /// committed) unwritten or torn, so its checksum fails and no reader or recovery takes it,
    /// and SQLite rolls the transaction back. A failed fsync (`SQLITE_IOERR_FSYNC`) may leave
    /// the whole commit on disk, so it stays unknown. On PostgreSQL any other error there (a
    /// connection lost, an error after the commit was written) leaves the outcome unknown.
    pub fn is_commit_refused(&self) -> bool {
        let StoreError::Database(sqlx::Error::Database(error)) = self else {
            return false;
        };
        let code = error.code().unwrap_or_default();
        match error.try_downcast_ref::<PgDatabaseError>() {
            Some(_) => code.starts_with("23") || code.starts_with("40"),
            None => code.parse::<i64>().is_ok_and(|code| {
                [5, 8, 13, 19].contains(&(code & 0xff)) || code == SQLITE_IOERR_WRITE
            }),
        }
    }

    /// Whether no connection could be opened: refused, the server starting or stopping, the
    /// database dropped or closed to connections (`allow_connections false`), the SQLite file
    /// or its folder gone. (A pool that timed out is told apart where the pool is known.)
    pub(crate) fn is_connect_failure(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Io(error)) => {
                error.kind() == std::io::ErrorKind::ConnectionRefused
            }
            StoreError::Database(sqlx::Error::Database(error)) => {
                let code = error.code().unwrap_or_default();
                match error.try_downcast_ref::<PgDatabaseError>() {
                    Some(error) => postgres_cannot_connect(&code, error.severity()),
                    None => code.parse().is_ok_and(sqlite_cannot_open),
                }
            }
            _ => false,
        }
    }

    /// Whether the connection itself failed (closed by the server, reset, unreadable), rather
    /// than a statement on it: what a fresh connection may not repeat.
    pub fn is_connection_lost(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Io(_) | sqlx::Error::Protocol(_)) => true,
            StoreError::Database(sqlx::Error::Database(error)) => {
                let code = error.code().unwrap_or_default();
                error.try_downcast_ref::<PgDatabaseError>().is_some()
                    // connection exception; terminated by an administrator, a crash or a shutdown
                    && (code.starts_with("08") || ["57P01", "57P02", "57P03"].contains(&&*code))
            }
            _ => false,
        }
    }
}

/// `SQLITE_IOERR_WRITE`: a write the operating system refused (read-only file system, an
/// immutable file, a failing disk).
const SQLITE_IOERR_WRITE: i64 = 10 | (3 << 8);

/// PostgreSQL SQLSTATEs that mean "the database cannot take work now".
fn postgres_outage(code: &str, severity: PgSeverity) -> bool {
    const OUTAGE: [&str; 4] = [
        "53",    // insufficient resources: disk full, out of memory, too many connections
        "57P01", // terminated by an administrator (or shutting down)
        "57P02", // crash shutdown
        "25006", // read-only transaction: a standby, or default_transaction_read_only
    ];
    postgres_cannot_connect(code, severity) || OUTAGE.iter().any(|prefix| code.starts_with(prefix))
}

/// PostgreSQL SQLSTATEs that mean no session could begin.
fn postgres_cannot_connect(code: &str, severity: PgSeverity) -> bool {
    const CANNOT_CONNECT: [&str; 3] = [
        "08",    // connection exception
        "57P03", // cannot connect now: starting up, shutting down, in recovery
        "3D000", // the database does not exist (dropped, or not yet created)
    ];
    // 55000 (object not in prerequisite state) has many causes, most of them a statement's;
    // as a FATAL error it ends the session before it began: the database does not allow
    // connections (`alter database … allow_connections false`).
    CANNOT_CONNECT.iter().any(|prefix| code.starts_with(prefix))
        || (code == "55000" && matches!(severity, PgSeverity::Fatal))
}

/// SQLite result codes (extended codes keep the primary one in their low byte) that mean the
/// file cannot be written or opened now. Every one is an operator's to mend, and none applied
/// anything: READONLY (8: permissions, a read-only mount, the file moved away), IOERR (10: the
/// operating system refused a read or write), FULL (13: the disk is full) and CANTOPEN (14:
/// the file or its folder is gone or closed to us). CORRUPT and NOTADB are not here: retrying
/// cannot mend them, so they are 500s for a person to look at.
fn sqlite_outage(code: i64) -> bool {
    [8, 10, 13].contains(&(code & 0xff)) || sqlite_cannot_open(code)
}

/// SQLite's CANTOPEN (14) and its extended codes.
fn sqlite_cannot_open(code: i64) -> bool {
    code & 0xff == 14
}

/// SQLite's busy (5) and locked (6): another connection holds the lock for a moment.
fn sqlite_busy(code: i64) -> bool {
    [5, 6].contains(&(code & 0xff))
}

#[cfg(test)]
mod tests {
    //! The classification of real errors, as SQLite raises them through sqlx and rusqlite (the
    //! fast path): PostgreSQL's are tested against a real server in `tests/api/`.

    use std::str::FromStr;

    use rusqlite::{Connection, OpenFlags};
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{ConnectOptions, Executor};

    use super::StoreError;

    /// A database file with one table, in a folder of its own.
    fn database() -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("tally.db");
        Connection::open(&path)
            .unwrap()
            .execute_batch("create table t (x integer)")
            .unwrap();
        (dir, path)
    }

    #[tokio::test]
    async fn a_write_to_a_read_only_file_is_an_outage_on_both_drivers() {
        let (_dir, path) = database();
        let mut sqlx = SqliteConnectOptions::from_str(&path.display().to_string())
            .unwrap()
            .read_only(true)
            .connect()
            .await
            .unwrap();
        let error = StoreError::from(sqlx.execute("insert into t values (1)").await.unwrap_err());
        assert!(error.is_outage() && error.is_transient(), "{error:?}");
        assert!(error.is_commit_refused(), "{error:?}");

        let rusqlite =
            Connection::open_with_flags(&path, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap();
        let error = StoreError::from(
            rusqlite
                .execute("insert into t values (1)", [])
                .unwrap_err(),
        );
        assert!(error.is_outage() && error.is_transient(), "{error:?}");
    }

    #[test]
    fn a_file_that_cannot_be_opened_is_an_outage() {
        let (dir, _) = database();
        let missing = dir.path().join("gone").join("tally.db");
        let error = StoreError::from(
            Connection::open_with_flags(&missing, OpenFlags::SQLITE_OPEN_READ_ONLY).unwrap_err(),
        );
        assert!(error.is_outage(), "{error:?}");
    }

    /// A file that is not a database: retrying cannot mend it, so it is a 500 for a person.
    #[test]
    fn a_file_that_is_not_a_database_is_no_outage() {
        let (dir, _) = database();
        let junk = dir.path().join("junk.db");
        std::fs::write(&junk, vec![7u8; 4096]).unwrap();
        let connection = Connection::open(&junk).unwrap();
        let error = StoreError::from(
            connection
                .query_row("select count(*) from t", [], |row| row.get::<_, i64>(0))
                .unwrap_err(),
        );
        assert!(!error.is_transient() && !error.is_outage(), "{error:?}");
    }

    #[test]
    fn contention_is_transient_but_no_outage() {
        let (_dir, path) = database();
        let holder = Connection::open(&path).unwrap();
        holder.execute_batch("begin immediate").unwrap();
        let other = Connection::open(&path).unwrap();
        other.busy_timeout(std::time::Duration::ZERO).unwrap();
        let error = StoreError::from(other.execute_batch("begin immediate").unwrap_err());
        assert!(error.is_transient() && !error.is_outage(), "{error:?}");
    }
}
