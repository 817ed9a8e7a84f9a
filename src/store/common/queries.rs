//! [`Store`], [`Transactions`] and [`Replay`] for both backends: queries run the SQL of
//! `sql.rs` on the read pool; transactions get a connection of the write pool.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{DashboardStats, ReadModels, RecordedEvent, TaskView};
use sqlx::Executor;
use uuid::Uuid;

use super::binds::{BindRows, bound};
use super::replay_tx::events_after;
use super::rows::{SHARE_FIELDS, StoreRow, views_of};
use super::sql;
use super::sqlx_tx::SqlxTx;
use super::{Backend, SqlxStore};
use crate::store::tx::{Lock, RebuildLock, Replay, ReplayTx, Transactions, Tx};
use crate::store::{Checkpoint, Scope, Store, StoreError, TaskListQuery, UserRows};

impl<DB: Backend> SqlxStore<DB> {
    /// Runs a read. One that failed because its pooled connection was lost (the server
    /// restarted, or ended sessions while they sat idle in the pool) runs again: each lost
    /// connection is dropped from the pool as it fails, so after at most one try per pooled
    /// connection it runs on a fresh one. A read changes nothing, so trying again is safe.
    async fn read<T, F: Future<Output = Result<T, StoreError>>>(
        &self,
        mut read: impl FnMut() -> F,
    ) -> Result<T, StoreError> {
        self.outage.admit()?;
        let mut tries = self.readers.options().get_max_connections();
        let result = loop {
            match read().await {
                Err(error) if error.is_connection_lost() && tries > 0 => {
                    tracing::info!(%error, "a pooled connection was lost; reading again");
                    tries -= 1;
                }
                result => break result,
            }
        };
        self.outage.learn(&result, &self.readers);
        result
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn dashboard_stats(&self, user_id: &str) -> Result<Option<DashboardStats>, StoreError> {
        self.read(|| async { DB::dashboard_stats(self, user_id).await })
            .await
    }

    async fn task(&self, task_id: Uuid) -> Result<TaskView, StoreError> {
        self.read(|| async {
            // One statement, so the task and its shares come from one snapshot.
            let arguments = bound::<DB::Arguments>(|a| a.id(task_id))?;
            let rows = sqlx::query_with(sql::LOAD_TASK, arguments)
                .fetch_all(&self.readers)
                .await?;
            Ok(views_of(&rows)?.pop().unwrap_or_default())
        })
        .await
    }

    async fn list_tasks(&self, query: &TaskListQuery) -> Result<Vec<TaskView>, StoreError> {
        self.read(|| async {
            let sql = match query.scope {
                Scope::Owned => sql::LIST_OWNED,
                Scope::Shared => sql::LIST_SHARED,
            };
            // The wanted status twice, or both for no filter.
            let (first, second) = match query.status {
                Some(status) => (status, status),
                None => (
                    projections::TaskStatus::Pending,
                    projections::TaskStatus::Completed,
                ),
            };
            let arguments = bound::<DB::Arguments>(|a| {
                a.text(&query.user_id)?;
                a.text(first.as_str())?;
                a.text(second.as_str())?;
                a.id(query.before.unwrap_or(Uuid::max()))?;
                a.int(query.limit)
            })?;
            let rows = sqlx::query_with(sql, arguments)
                .fetch_all(&self.readers)
                .await?;
            views_of(&rows)
        })
        .await
    }

    async fn task_events(
        &self,
        task_id: Uuid,
        after: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read(|| async {
            let arguments = bound::<DB::Arguments>(|a| {
                a.id(task_id)?;
                a.int(after)?;
                a.int(limit)
            })?;
            sqlx::query_with(sql::TASK_EVENTS, arguments)
                .fetch_all(&self.readers)
                .await?
                .iter()
                .map(|row| row.recorded_event())
                .collect()
        })
        .await
    }

    async fn events_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        self.read(|| async {
            events_after(&mut *self.readers.acquire().await?, position, limit).await
        })
        .await
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        self.read(|| async {
            sqlx::query(sql::HEAD_POSITION)
                .fetch_one(&self.readers)
                .await?
                .int("position")
        })
        .await
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        self.read(|| async {
            sqlx::query(sql::CHECKPOINTS)
                .fetch_all(&self.readers)
                .await?
                .iter()
                .map(|row| row.checkpoint())
                .collect()
        })
        .await
    }

    async fn sample_users(&self, users: u32) -> Result<Vec<String>, StoreError> {
        self.read(|| async {
            let arguments = bound::<DB::Arguments>(|a| a.int(i64::from(users)))?;
            sqlx::query_with(sql::SAMPLE_USERS, arguments)
                .fetch_all(&self.readers)
                .await?
                .iter()
                .map(|row| row.text("user_id"))
                .collect()
        })
        .await
    }

    async fn user_rows(&self, user_id: &str) -> Result<UserRows, StoreError> {
        self.read(|| async {
            let connection = self.readers.acquire().await?;
            let mut tx = Box::new(SqlxTx::begin(connection, Lock::Snapshot).await?);
            let read = async {
                let by_user = || bound::<DB::Arguments>(|a| a.text(user_id));
                let stats = sqlx::query_with(sql::LOAD_STATS, by_user()?)
                    .fetch_optional(tx.connection())
                    .await?
                    .map(|row| row.stats_row())
                    .transpose()?;
                let tasks = sqlx::query_with(sql::TASKS_OF_USER, by_user()?)
                    .fetch_all(tx.connection())
                    .await?
                    .iter()
                    .map(|row| row.task_row())
                    .collect::<Result<_, _>>()?;
                let shares = sqlx::query_with(sql::SHARES_OF_USER, by_user()?)
                    .fetch_all(tx.connection())
                    .await?
                    .iter()
                    .filter_map(|row| row.share_row(SHARE_FIELDS).transpose())
                    .collect::<Result<_, _>>()?;
                Ok::<_, StoreError>(UserRows {
                    stats,
                    tasks,
                    shares,
                })
            };
            let rows = read.await;
            // Read only: ending it either way changes nothing.
            tx.rollback().await?;
            rows
        })
        .await
    }

    async fn claim_tick(&self, name: &str, tick: DateTime<Utc>) -> Result<bool, StoreError> {
        let arguments = bound::<DB::Arguments>(|a| a.text(name))?;
        sqlx::query_with(sql::ADD_JOB, arguments)
            .execute(&self.writes)
            .await?;
        let arguments = bound::<DB::Arguments>(|a| {
            a.text(name)?;
            a.time(tick)
        })?;
        let claimed = sqlx::query_with(sql::CLAIM_TICK, arguments)
            .execute(&self.writes)
            .await?;
        Ok(DB::rows_affected(&claimed) == 1)
    }

    async fn expire_keys(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        let arguments = bound::<DB::Arguments>(|a| a.time(cutoff))?;
        let expired = sqlx::query_with(sql::EXPIRE_KEYS, arguments)
            .execute(&self.writes)
            .await?;
        Ok(DB::rows_affected(&expired))
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writes.close().await;
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
        let open = async || SqlxTx::begin(self.writes.acquire().await?, lock).await;
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
        let connection = self.writes.acquire().await?;
        Ok(Box::new(SqlxTx::begin(connection, lock).await?))
    }

    async fn lock_rebuilds(&self) -> Result<Box<dyn RebuildLock>, StoreError> {
        DB::lock_rebuilds(self).await
    }

    async fn read_log(&self, after: i64, limit: i64) -> Result<Vec<RecordedEvent>, StoreError> {
        DB::read_log(self, after, limit).await
    }

    async fn write_shadows(&self, models: ReadModels) -> Result<(), StoreError> {
        DB::write_shadows(self, models).await
    }
}
