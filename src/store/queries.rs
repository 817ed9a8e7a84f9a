//! The [`Store`](super::Store) implementation both backends share: commands go to the
//! group-committing writer, queries run the same SQL on the backend's read pool.
//!
//! A store struct using it has `readers` and `writes` pools and a `writer`; it provides
//! `close_pools`, `write_backend` and `read_stats` (the dashboard row, the hottest read, which
//! each backend reads its own way).

/// Implements [`Store`](crate::store::Store) for a backend's store struct.
macro_rules! impl_store {
    ($store:ty, $snapshot:expr) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn execute(
                &self,
                submission: $crate::store::Submission,
            ) -> Result<$crate::store::CommandOutcome, $crate::store::CommandError> {
                self.writer.submit(submission).await
            }

            async fn execute_in_order(
                &self,
                submissions: Vec<$crate::store::Submission>,
            ) -> Vec<Result<$crate::store::CommandOutcome, $crate::store::CommandError>> {
                self.writer.submit_in_order(submissions).await
            }

            async fn dashboard_stats(
                &self,
                user_id: &str,
            ) -> Result<Option<projections::DashboardStats>, $crate::store::StoreError> {
                self.read_stats(user_id).await
            }

            async fn task(
                &self,
                task_id: uuid::Uuid,
            ) -> Result<projections::TaskView, $crate::store::StoreError> {
                // One statement, so the task and its shares come from one snapshot.
                let rows = sqlx::query($crate::store::sql::LOAD_TASK)
                    .bind(task_id)
                    .fetch_all(&self.readers)
                    .await?;
                Ok($crate::store::rows::views_of(&rows)?
                    .pop()
                    .unwrap_or_default())
            }

            async fn list_tasks(
                &self,
                query: &$crate::store::TaskListQuery,
            ) -> Result<Vec<projections::TaskView>, $crate::store::StoreError> {
                let sql = match query.scope {
                    $crate::store::Scope::Owned => $crate::store::sql::LIST_OWNED,
                    $crate::store::Scope::Shared => $crate::store::sql::LIST_SHARED,
                };
                let (first, second) = $crate::store::status_filter(query.status);
                let rows = sqlx::query(sql)
                    .bind(&query.user_id)
                    .bind(first)
                    .bind(second)
                    .bind(query.before.unwrap_or(uuid::Uuid::max()))
                    .bind(query.limit)
                    .fetch_all(&self.readers)
                    .await?;
                $crate::store::rows::views_of(&rows)
            }

            async fn task_events(
                &self,
                task_id: uuid::Uuid,
            ) -> Result<Vec<projections::RecordedEvent>, $crate::store::StoreError> {
                use $crate::store::rows::StoreRow;
                sqlx::query($crate::store::sql::TASK_EVENTS)
                    .bind(task_id)
                    .fetch_all(&self.readers)
                    .await?
                    .iter()
                    .map(|row| row.recorded_event())
                    .collect()
            }

            async fn events_after(
                &self,
                position: i64,
                limit: i64,
            ) -> Result<Vec<projections::RecordedEvent>, $crate::store::StoreError> {
                use $crate::store::rows::StoreRow;
                sqlx::query($crate::store::sql::EVENTS_AFTER)
                    .bind(position)
                    .bind(limit)
                    .fetch_all(&self.readers)
                    .await?
                    .iter()
                    .map(|row| row.recorded_event())
                    .collect()
            }

            async fn head_position(&self) -> Result<i64, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::sql::HEAD_POSITION)
                    .fetch_one(&self.readers)
                    .await?)
            }

            async fn checkpoints(
                &self,
            ) -> Result<Vec<$crate::store::Checkpoint>, $crate::store::StoreError> {
                let rows: Vec<(String, i32, i64, chrono::DateTime<chrono::Utc>)> =
                    sqlx::query_as($crate::store::sql::CHECKPOINTS)
                        .fetch_all(&self.readers)
                        .await?;
                Ok(rows
                    .into_iter()
                    .map(
                        |(name, version, position, updated_at)| $crate::store::Checkpoint {
                            name,
                            version,
                            position,
                            updated_at,
                        },
                    )
                    .collect())
            }

            async fn rebuild(
                &self,
                projections: &[$crate::store::Projection],
                progress: &indicatif::ProgressBar,
            ) -> Result<$crate::store::RebuildReport, $crate::store::StoreError> {
                $crate::store::rebuild::rebuild(&self.write_backend(), projections, progress).await
            }

            async fn verify(
                &self,
                repair: bool,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<$crate::store::VerifyReport, $crate::store::StoreError> {
                $crate::store::verify::verify(&self.write_backend(), repair, now).await
            }

            async fn check_sample(
                &self,
                users: u32,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<Vec<$crate::store::UserDrift>, $crate::store::StoreError> {
                use sqlx::Executor;
                use $crate::store::rows::{SHARE_COLUMNS, StoreRow};
                let sample: Vec<String> = sqlx::query_scalar($crate::store::sql::SAMPLE_USERS)
                    .bind(i64::from(users))
                    .fetch_all(&self.readers)
                    .await?;
                let mut drifted = Vec::new();
                for user in sample {
                    // Rolled back if dropped on an error: never back to the pool mid-transaction.
                    let mut connection = self.readers.begin().await?;
                    if let Some(isolation) = $snapshot {
                        connection.execute(isolation).await?;
                    }
                    let stats = sqlx::query($crate::store::sql::LOAD_STATS)
                        .bind(&user)
                        .fetch_optional(&mut *connection)
                        .await?
                        .map(|row| row.stats_row())
                        .transpose()?;
                    let tasks = sqlx::query($crate::store::sql::TASKS_OF_USER)
                        .bind(&user)
                        .fetch_all(&mut *connection)
                        .await?
                        .iter()
                        .map(|row| row.task_row())
                        .collect::<Result<_, _>>()?;
                    let shares = sqlx::query($crate::store::sql::SHARES_OF_USER)
                        .bind(&user)
                        .fetch_all(&mut *connection)
                        .await?
                        .iter()
                        .filter_map(|row| row.share_row(SHARE_COLUMNS).transpose())
                        .collect::<Result<_, _>>()?;
                    connection.commit().await?;
                    drifted.extend($crate::store::verify::check_user(
                        &user,
                        stats.as_ref(),
                        tasks,
                        shares,
                        now,
                    ));
                }
                Ok(drifted)
            }

            async fn claim_tick(
                &self,
                name: &str,
                tick: chrono::DateTime<chrono::Utc>,
            ) -> Result<bool, $crate::store::StoreError> {
                sqlx::query($crate::store::sql::ADD_JOB)
                    .bind(name)
                    .execute(&self.writes)
                    .await?;
                let claimed = sqlx::query($crate::store::sql::CLAIM_TICK)
                    .bind(name)
                    .bind(tick)
                    .execute(&self.writes)
                    .await?;
                Ok(claimed.rows_affected() == 1)
            }

            async fn roll_over(
                &self,
                now: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::store::StoreError> {
                use $crate::store::rebuild::{Lock, in_transaction};
                let (day, week) = (
                    projections::calendar::day_key(now),
                    projections::calendar::week_key(now),
                );
                let mut rolled = 0;
                // A chunk per transaction: the writers wait for one chunk, never for the table.
                loop {
                    let changed =
                        in_transaction(&self.write_backend(), Lock::Writers, async |tx| {
                            Ok(sqlx::query($crate::store::sql::ROLL_OVER)
                                .bind(day)
                                .bind(week)
                                .execute(&mut *tx.0)
                                .await?
                                .rows_affected())
                        })
                        .await?;
                    rolled += changed;
                    if changed == 0 {
                        return Ok(rolled);
                    }
                }
            }

            async fn expire_keys(
                &self,
                cutoff: chrono::DateTime<chrono::Utc>,
            ) -> Result<u64, $crate::store::StoreError> {
                Ok(sqlx::query($crate::store::sql::EXPIRE_KEYS)
                    .bind(cutoff)
                    .execute(&self.writes)
                    .await?
                    .rows_affected())
            }

            async fn close(&self) {
                self.writer.close().await;
                self.close_pools().await;
            }
        }
    };
}

pub(crate) use impl_store;
