//! Reading through the read pool: the [`read!`] macro every query runs in, which retries a
//! read whose pooled connection was lost, and [`Reading`], its connection alone or in a
//! read-only transaction.

use sqlx::pool::PoolConnection;
use sqlx::{Executor, Pool};

use super::sqlx_tx::SqlxTx;
use super::{Backend, SqlxStore};
use crate::store::StoreError;
use crate::store::tx::Lock;

/// Runs `$body` with `$connection` bound to a connection of `$store`'s read pool (in one
/// snapshot transaction when `$snapshot` says so, or behind a transaction pooler, where a
/// statement's parse and its execution could otherwise reach two server connections).
///
/// A read that failed because its pooled connection was lost (the server restarted, or ended
/// sessions while they sat idle in the pool) runs again: each lost connection is dropped from
/// the pool as it fails, so after at most one try per pooled connection it runs on a fresh
/// one. A read changes nothing, so trying again is safe. While the database is known to be
/// unreachable, it is not tried (see `outage.rs`).
///
/// A macro rather than a method taking an async closure: a closure that borrows both the
/// connection and the caller's arguments trips rustc's `Send` inference under `async_trait`.
macro_rules! read {
    ($store:expr, $snapshot:expr, |$connection:ident| $body:expr) => {{
        let store = $store;
        store.outage.admit()?;
        let mut tries = store.readers.options().get_max_connections();
        let result = loop {
            let attempt = async {
                let mut reading =
                    $crate::store::common::reading::Reading::begin(store, $snapshot).await?;
                let $connection = reading.connection();
                let result = async { $body }.await;
                reading.end(result).await
            }
            .await;
            match attempt {
                Err(error) if error.is_connection_lost() && tries > 0 => {
                    tracing::info!(%error, "a pooled connection was lost; reading again");
                    tries -= 1;
                }
                result => break result,
            }
        };
        store.outage.learn(&result, &store.readers);
        result
    }};
}
pub(crate) use read;

/// A connection of the read pool, alone or in a read-only transaction.
pub(crate) enum Reading<DB: Backend> {
    Alone(PoolConnection<DB>),
    InTransaction(Box<SqlxTx<DB>>),
}

impl<DB: Backend> Reading<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    pub async fn begin(store: &SqlxStore<DB>, snapshot: bool) -> Result<Self, StoreError> {
        Reading::on(&store.readers, snapshot || store.pooled, store.persistent()).await
    }

    /// A connection of `pool`, in a read-only snapshot transaction when `transaction` says so.
    pub async fn on(
        pool: &Pool<DB>,
        transaction: bool,
        persistent: bool,
    ) -> Result<Self, StoreError> {
        Reading::with(pool.acquire().await?, transaction, persistent).await
    }

    /// [`on`](Self::on), with a connection already taken from the pool.
    pub async fn with(
        connection: PoolConnection<DB>,
        transaction: bool,
        persistent: bool,
    ) -> Result<Self, StoreError> {
        if !transaction {
            return Ok(Reading::Alone(connection));
        }
        let tx = SqlxTx::begin(connection, Lock::Snapshot, persistent, None).await?;
        Ok(Reading::InTransaction(Box::new(tx)))
    }

    pub fn connection(&mut self) -> &mut DB::Connection {
        match self {
            Reading::Alone(connection) => connection,
            Reading::InTransaction(tx) => tx.connection(),
        }
    }

    /// Ends the transaction, if any (read only: rolled back), and hands on what was read.
    pub async fn end<T>(self, read: Result<T, StoreError>) -> Result<T, StoreError> {
        match self {
            Reading::Alone(_) => read,
            Reading::InTransaction(tx) => {
                let ended = tx.end("rollback").await;
                let value = read?;
                ended.map(|()| value)
            }
        }
    }
}
