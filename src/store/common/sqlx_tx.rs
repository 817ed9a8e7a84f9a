//! A transaction on one pooled connection of either backend, opened with the statements
//! [`Backend::begin`] names. `write_tx.rs` and `replay_tx.rs` implement the transaction traits
//! on it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Executor};

use super::{Backend, sql};
use crate::store::StoreError;
use crate::store::tx::Lock;

/// Moves whenever a write transaction of a store begins or ends, committed or not. A reader that
/// keeps rows in memory (the SQLite fast path) reads it before it reads the database and keeps
/// a row only while it has not moved: any write may have changed the row.
#[derive(Clone, Debug, Default)]
pub(crate) struct WriteEpoch(Arc<AtomicU64>);

impl WriteEpoch {
    pub fn current(&self) -> u64 {
        self.0.load(Ordering::Acquire)
    }

    /// Called when a write transaction has ended (its commit visible to readers, before anyone
    /// is told of it), and again when the next one has begun: a commit abandoned mid-flight (a
    /// deadline) may land after the first call, but always before the next write begins.
    pub fn advance(&self) {
        self.0.fetch_add(1, Ordering::Release);
    }
}

/// A pooled connection with an open transaction. Dropped before it ends (a panic, a cancelled
/// future), its connection is closed rather than handed back to the pool mid-transaction.
pub(crate) struct SqlxTx<DB: Backend> {
    connection: PoolConnection<DB>,
    ended: bool,
    /// Whether its statements are kept prepared (see `SqlxStore::persistent`).
    pub persistent: bool,
    /// The store's write epoch, for a transaction that may write.
    epoch: Option<WriteEpoch>,
}

impl<DB: Backend> Drop for SqlxTx<DB> {
    fn drop(&mut self) {
        if !self.ended {
            self.connection.close_on_drop();
        }
        // Ended or dropped mid-commit (its outcome then unknown), the data may have changed.
        if let Some(epoch) = &self.epoch {
            epoch.advance();
        }
    }
}

impl<DB: Backend> SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Opens the transaction `lock` names on `connection`; one that may write advances `epoch`
    /// when it ends. Failed or cancelled part-way (a deadline), the half-open transaction is
    /// dropped and its connection closed with it.
    pub async fn begin(
        connection: PoolConnection<DB>,
        lock: Lock,
        persistent: bool,
        epoch: Option<WriteEpoch>,
    ) -> Result<Self, StoreError> {
        let mut tx = SqlxTx {
            connection,
            ended: false,
            persistent,
            epoch,
        };
        for statement in DB::begin(lock) {
            tx.connection.execute(*statement).await?;
        }
        if let Some(epoch) = &tx.epoch {
            epoch.advance();
        }
        Ok(tx)
    }

    /// The connection, for statements of its own inside the transaction.
    pub fn connection(&mut self) -> &mut DB::Connection {
        &mut self.connection
    }

    /// Runs the statement `sql` once per chunk of `rows`, each chunk bound by `bind`, for
    /// statements of `columns` parameters a row that `statement(rows in chunk)` builds.
    pub async fn each_chunk<T>(
        &mut self,
        rows: &[T],
        columns: usize,
        statement: impl Fn(usize) -> String,
        bind: impl Fn(&mut DB::Arguments, &T) -> Result<(), sqlx::error::BoxDynError>,
    ) -> Result<Vec<DB::Row>, StoreError> {
        let mut found = Vec::new();
        for chunk in rows.chunks(sql::rows_per_statement(columns)) {
            let mut arguments = DB::Arguments::default();
            for row in chunk {
                bind(&mut arguments, row).map_err(sqlx::Error::Encode)?;
            }
            // A row of another table (or a key instead of a row) would shift every value after
            // it into the wrong column.
            debug_assert_eq!(
                sqlx::Arguments::len(&arguments),
                columns * chunk.len(),
                "values bound"
            );
            let sql = AssertSqlSafe(statement(chunk.len()));
            found.extend(
                sqlx::query_with::<DB, _>(sql, arguments)
                    .persistent(self.persistent)
                    .fetch_all(&mut *self.connection)
                    .await?,
            );
        }
        Ok(found)
    }

    /// Commits or rolls back; a connection whose transaction state is then unknown is closed,
    /// never handed back to the pool.
    pub async fn end(mut self: Box<Self>, statement: &'static str) -> Result<(), StoreError> {
        self.connection.execute(statement).await?;
        self.ended = true;
        Ok(())
    }
}
