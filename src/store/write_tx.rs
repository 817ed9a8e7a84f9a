//! What one command reads and writes inside the writer's transaction, as a trait, and its one
//! implementation for both backends' connections (the SQL is the same; see [`super::sql`]).

use std::future::Future;

use chrono::{DateTime, Utc};
use projections::{DashboardStats, RowChanges, TaskEvent, TaskView};
use uuid::Uuid;

use super::{CommandOutcome, StoreError};

/// A response stored under an idempotency key.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    pub fingerprint: String,
    pub outcome: CommandOutcome,
}

/// The reads and writes a command needs, on a connection whose transaction the writer opened.
pub(crate) trait WriteTx: Send {
    fn find_response(
        &mut self,
        user_id: &str,
        key: &str,
        not_before: DateTime<Utc>,
    ) -> impl Future<Output = Result<Option<StoredResponse>, StoreError>> + Send;
    fn save_response(
        &mut self,
        user_id: &str,
        key: &str,
        response: &StoredResponse,
        now: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn load_view(
        &mut self,
        task_id: Uuid,
    ) -> impl Future<Output = Result<TaskView, StoreError>> + Send;
    /// Position of the task's newest event, 0 when it has none.
    fn stream_head(
        &mut self,
        task_id: Uuid,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Appends one event and returns its global position.
    fn append(
        &mut self,
        event: &NewEvent<'_>,
    ) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// Writes the task and share rows of `changes` (not the stats).
    fn write_rows(
        &mut self,
        task_id: Uuid,
        changes: &RowChanges,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn load_stats(
        &mut self,
        user_id: &str,
    ) -> impl Future<Output = Result<Option<DashboardStats>, StoreError>> + Send;
    fn save_stats(
        &mut self,
        stats: &DashboardStats,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// An event about to be appended.
pub(crate) struct NewEvent<'a> {
    pub event_id: Uuid,
    pub task_id: Uuid,
    pub stream_version: i64,
    pub event: &'a TaskEvent,
    pub actor: &'a str,
    pub correlation_id: Uuid,
    pub recorded_at: DateTime<Utc>,
}

/// Implements [`WriteTx`] for a wrapper around a pooled connection of either backend.
macro_rules! impl_write_tx {
    ($connection:ty) => {
        impl $crate::store::write_tx::WriteTx for $connection {
            async fn find_response(
                &mut self,
                user_id: &str,
                key: &str,
                not_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<Option<$crate::store::write_tx::StoredResponse>, $crate::store::StoreError>
            {
                use $crate::store::rows::StoreRow;
                sqlx::query($crate::store::sql::FIND_RESPONSE)
                    .bind(user_id)
                    .bind(key)
                    .bind(not_before)
                    .fetch_optional(&mut *self.0)
                    .await?
                    .map(|row| row.stored_response())
                    .transpose()
            }

            async fn save_response(
                &mut self,
                user_id: &str,
                key: &str,
                response: &$crate::store::write_tx::StoredResponse,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                let outcome = &response.outcome;
                sqlx::query($crate::store::sql::SAVE_RESPONSE)
                    .bind(user_id)
                    .bind(key)
                    .bind(&response.fingerprint)
                    .bind(outcome.task_id)
                    .bind(outcome.version)
                    .bind(outcome.position)
                    .bind(outcome.created)
                    .bind(now)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn load_view(
                &mut self,
                task_id: uuid::Uuid,
            ) -> Result<projections::TaskView, $crate::store::StoreError> {
                $crate::store::rows::fetch_view!(&mut *self.0, task_id).await
            }

            async fn stream_head(
                &mut self,
                task_id: uuid::Uuid,
            ) -> Result<i64, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::sql::STREAM_HEAD)
                    .bind(task_id)
                    .fetch_one(&mut *self.0)
                    .await?)
            }

            async fn append(
                &mut self,
                event: &$crate::store::write_tx::NewEvent<'_>,
            ) -> Result<i64, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::sql::APPEND)
                    .bind(event.event_id)
                    .bind(event.task_id)
                    .bind(event.stream_version)
                    .bind(event.event.event_type())
                    .bind(projections::event::EVENT_VERSION)
                    .bind(sqlx::types::Json(event.event.payload()))
                    .bind(event.actor)
                    .bind(event.correlation_id)
                    .bind(event.recorded_at)
                    .fetch_one(&mut *self.0)
                    .await?)
            }

            async fn write_rows(
                &mut self,
                task_id: uuid::Uuid,
                changes: &projections::RowChanges,
            ) -> Result<(), $crate::store::StoreError> {
                use projections::{ShareChange, TaskChange};
                use $crate::store::sql;
                match &changes.task {
                    Some(TaskChange::Upsert(task)) => {
                        sqlx::query(sql::UPSERT_TASK)
                            .bind(task.id)
                            .bind(&task.owner_id)
                            .bind(&task.title)
                            .bind(&task.description)
                            .bind(task.status.as_str())
                            .bind(task.created_at)
                            .bind(task.updated_at)
                            .bind(task.completed_at)
                            .bind(task.version)
                            .execute(&mut *self.0)
                            .await?;
                    }
                    Some(TaskChange::Delete) => {
                        sqlx::query(sql::DELETE_TASK)
                            .bind(task_id)
                            .execute(&mut *self.0)
                            .await?;
                    }
                    None => {}
                }
                for change in &changes.shares {
                    match change {
                        ShareChange::Upsert(share) => {
                            sqlx::query(sql::UPSERT_SHARE)
                                .bind(task_id)
                                .bind(&share.user_id)
                                .bind(share.permission.as_str())
                                .execute(&mut *self.0)
                                .await?;
                        }
                        ShareChange::Delete { user_id } => {
                            sqlx::query(sql::DELETE_SHARE)
                                .bind(task_id)
                                .bind(user_id)
                                .execute(&mut *self.0)
                                .await?;
                        }
                    }
                }
                Ok(())
            }

            async fn load_stats(
                &mut self,
                user_id: &str,
            ) -> Result<Option<projections::DashboardStats>, $crate::store::StoreError> {
                use $crate::store::rows::StoreRow;
                sqlx::query($crate::store::sql::LOAD_STATS)
                    .bind(user_id)
                    .fetch_optional(&mut *self.0)
                    .await?
                    .map(|row| row.stats_row())
                    .transpose()
            }

            async fn save_stats(
                &mut self,
                stats: &projections::DashboardStats,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::sql::SAVE_STATS)
                    .bind(&stats.user_id)
                    .bind(stats.pending)
                    .bind(stats.completed)
                    .bind(stats.shared_view)
                    .bind(stats.shared_edit)
                    .bind(stats.created_day.key)
                    .bind(stats.created_day.count)
                    .bind(stats.created_week.key)
                    .bind(stats.created_week.count)
                    .bind(stats.completed_day.key)
                    .bind(stats.completed_day.count)
                    .bind(stats.completed_week.key)
                    .bind(stats.completed_week.count)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }
        }
    };
}

pub(crate) use impl_write_tx;
