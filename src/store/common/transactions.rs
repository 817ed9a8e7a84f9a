//! [`Transactions`] and [`Replay`] for both backends: every transaction, a batch's, a job's or
//! a rebuild's, gets a connection of the write pool.

use async_trait::async_trait;
use projections::{ReadModels, RecordedEvent};
use sqlx::Executor;

use super::sqlx_tx::SqlxTx;
use super::{Backend, SqlxStore};
use crate::store::StoreError;
use crate::store::tx::{Lock, RebuildLock, Replay, ReplayTx, StreamCursor, Transactions, Tx};

impl<DB: Backend> SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// A transaction on a connection of the write pool, begun under `lock`.
    pub(super) async fn write_transaction(&self, lock: Lock) -> Result<SqlxTx<DB>, StoreError> {
        SqlxTx::begin(
            self.writes.acquire().await?,
            lock,
            self.persistent(),
            self.write_epoch.clone(),
        )
        .await
    }
}

#[async_trait]
impl<DB: Backend> Transactions for SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// A pooled connection the server has closed since its last use (a restart, a terminated
    /// session) fails its first statement; nothing ran on it, so the transaction opens once more
    /// on a fresh connection rather than failing a batch of commands.
    async fn begin(&self, lock: Lock) -> Result<Box<dyn Tx>, StoreError> {
        self.outage.admit()?;
        DB::check_writable(self)?;
        let open = async || self.write_transaction(lock).await;
        let tx = match open().await {
            Err(error) if error.is_connection_lost() => {
                tracing::info!(%error, "a pooled connection was lost; opening another");
                open().await
            }
            tx => tx,
        };
        self.outage.learn(&tx, &self.writes);
        Ok(Box::new(tx?))
    }
}

#[async_trait]
impl<DB: Backend> Replay for SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn begin_replay(&self, lock: Lock) -> Result<Box<dyn ReplayTx>, StoreError> {
        Ok(Box::new(self.write_transaction(lock).await?))
    }

    async fn lock_rebuilds(&self) -> Result<Box<dyn RebuildLock>, StoreError> {
        DB::lock_rebuilds(self).await
    }

    async fn prepare_stream_reads(&self) -> Result<(), StoreError> {
        DB::prepare_stream_reads(self).await
    }

    async fn analyze_after_bulk_load(&self) {
        DB::analyze_after_bulk_load(self).await
    }

    async fn read_streams(
        &self,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        DB::read_streams(self, after, head, limit).await
    }

    async fn write_shadows(&self, models: ReadModels) -> Result<(), StoreError> {
        DB::write_shadows(self, models).await
    }
}
