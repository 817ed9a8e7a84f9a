//! The scheduled jobs' statements, each in a write transaction of its own (so that they work
//! behind a transaction pooler too).

use chrono::{DateTime, Utc};
use sqlx::Executor;

use super::binds::{BindRows, bound};
use super::sql;
use super::sqlx_tx::SqlxTx;
use super::{Backend, SqlxStore};
use crate::store::StoreError;
use crate::store::tx::{Lock, finish};

impl<DB: Backend> SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// A transaction for a scheduled job's statements (in one, they work behind a
    /// transaction pooler too).
    async fn job_transaction(&self) -> Result<Box<SqlxTx<DB>>, StoreError> {
        Ok(Box::new(self.write_transaction(Lock::Writers).await?))
    }

    /// See [`Store::claim_tick`](crate::store::Store::claim_tick).
    pub(crate) async fn claim_job_tick(
        &self,
        name: &str,
        tick: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.job_transaction().await?;
        let claimed = async {
            let arguments = bound::<DB::Arguments>(|a| a.text(name))?;
            sqlx::query_with(sql::ADD_JOB, arguments)
                .persistent(tx.persistent)
                .execute(tx.connection())
                .await?;
            let arguments = bound::<DB::Arguments>(|a| {
                a.text(name)?;
                a.time(tick)
            })?;
            let claimed = sqlx::query_with(sql::CLAIM_TICK, arguments)
                .persistent(tx.persistent)
                .execute(tx.connection())
                .await?;
            Ok(DB::rows_affected(&claimed) == 1)
        }
        .await;
        finish(tx, claimed).await
    }

    /// See [`Store::expire_keys`](crate::store::Store::expire_keys).
    pub(crate) async fn expire_idempotency_keys(
        &self,
        cutoff: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let mut tx = self.job_transaction().await?;
        let expired = async {
            let arguments = bound::<DB::Arguments>(|a| a.time(cutoff))?;
            let expired = sqlx::query_with(sql::EXPIRE_KEYS, arguments)
                .persistent(tx.persistent)
                .execute(tx.connection())
                .await?;
            Ok(DB::rows_affected(&expired))
        }
        .await;
        finish(tx, expired).await
    }
}
