//! [`Store`] for both backends: queries run the SQL of `sql.rs` on the read pool (the
//! transactions are opened in `transactions.rs`), or on a hot standby (`replicas.rs`); the
//! jobs' statements are `job_statements.rs`, verify's snapshot of one user `user_rows.rs`.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{
    DashboardStats, DayCounts, MemberRow, RecordedEvent, Role, ShareRow, TeamRow, TeamStats,
    TeamView,
};
use sqlx::Executor;
use uuid::Uuid;

use super::binds::{BindRows, bound};
use super::reading::read;
use super::replay_tx::events_after;
use super::replicas::{Replicas, read_nearest};
use super::rows::{StoreRow, views_of};
use super::sql;
use super::{Backend, SqlxStore};
use crate::store::tables::daily_stats::stored_day;
use crate::store::tables::{Columns, Decode};
use crate::store::{
    Checkpoint, PoolUse, ReadFrom, ReplicaState, SHARES_LISTED, Scope, Store, StoreError,
    TaskListQuery, TaskRead, UserRows, Watermark,
};

impl<DB: Backend> SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Whether statements are prepared once per connection and kept (named), or prepared
    /// afresh each time (unnamed): behind a transaction pooler a named statement may not exist
    /// on, or clash with another client's on, the server connection of the next transaction.
    pub(crate) fn persistent(&self) -> bool {
        !self.pooled
    }
}

#[async_trait]
impl<DB: Backend> Store for SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn dashboard_stats(
        &self,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<DashboardStats>, StoreError> {
        DB::dashboard_stats(self, user_id, from).await
    }

    async fn trend(
        &self,
        user_id: &str,
        first: i32,
        last: i32,
        from: ReadFrom,
    ) -> Result<Vec<(i32, DayCounts)>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| {
                a.text(user_id)?;
                a.int(i64::from(first))?;
                a.int(i64::from(last))
            })?;
            let rows = sqlx::query_with(sql::TREND, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?;
            rows.iter()
                .map(|row| {
                    let counts = DayCounts {
                        created: row.int("created")?,
                        completed: row.int("completed")?,
                    };
                    Ok((stored_day(row.int("day")?)?, counts))
                })
                .collect()
        })
    }

    async fn task(
        &self,
        task_id: Uuid,
        reader: &str,
        from: ReadFrom,
    ) -> Result<TaskRead, StoreError> {
        read_nearest!(self, from, |connection| {
            // One statement, so the task and its shares come from one snapshot.
            let arguments = bound::<DB::Arguments>(|a| {
                a.id(task_id)?;
                a.text(reader)?;
                a.int(SHARES_LISTED)
            })?;
            let rows = sqlx::query_with(sql::LOAD_TASK, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?;
            Ok(views_of(&rows)?.pop().unwrap_or_default())
        })
    }

    async fn team_stats(
        &self,
        team_id: Uuid,
        from: ReadFrom,
    ) -> Result<Option<TeamStats>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| a.id(team_id))?;
            sqlx::query_with(sql::LOAD_TEAM_STATS, arguments)
                .persistent(self.persistent())
                .fetch_optional(&mut *connection)
                .await?
                .map(|row| TeamStats::decode(&row))
                .transpose()
        })
    }

    async fn team(&self, team_id: Uuid, from: ReadFrom) -> Result<TeamView, StoreError> {
        read_nearest!(self, from, |connection| {
            // One statement, so the team and its members come from one snapshot.
            let arguments = bound::<DB::Arguments>(|a| a.id(team_id))?;
            let rows = sqlx::query_with(sql::LOAD_TEAM, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?;
            let mut view = TeamView {
                team: rows.first().map(TeamRow::decode).transpose()?,
                members: Vec::with_capacity(rows.len()),
            };
            for row in &rows {
                view.members.push(MemberRow::decode(row)?);
            }
            Ok(view)
        })
    }

    async fn role_in(
        &self,
        team_id: Uuid,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<Role>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| {
                a.id(team_id)?;
                a.text(user_id)
            })?;
            sqlx::query_with(sql::ROLE_IN_TEAM, arguments)
                .persistent(self.persistent())
                .fetch_optional(&mut *connection)
                .await?
                .map(|row| Ok(MemberRow::decode(&row)?.role))
                .transpose()
        })
    }

    async fn teams_of(
        &self,
        user_id: &str,
        after: Option<Uuid>,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<(TeamRow, Role)>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| {
                a.text(user_id)?;
                a.id(after.unwrap_or(Uuid::nil()))?;
                a.int(limit)
            })?;
            let rows = sqlx::query_with(sql::LIST_TEAMS, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?;
            rows.iter()
                .map(|row| Ok((TeamRow::decode(row)?, MemberRow::decode(row)?.role)))
                .collect()
        })
    }

    async fn list_tasks(
        &self,
        query: &TaskListQuery,
        from: ReadFrom,
    ) -> Result<Vec<TaskRead>, StoreError> {
        read_nearest!(self, from, |connection| {
            let sql = match query.scope {
                Scope::Owned => DB::LIST_OWNED,
                Scope::Shared => sql::LIST_SHARED,
                Scope::Team(_) => sql::LIST_TEAM,
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
                a.int(query.limit)?;
                match query.scope {
                    Scope::Owned => a.int(SHARES_LISTED)?,
                    Scope::Team(team_id) => a.id(team_id)?,
                    Scope::Shared => {}
                }
                Ok(())
            })?;
            let rows = sqlx::query_with(sql, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?;
            views_of(&rows)
        })
    }

    async fn task_shares(
        &self,
        task_id: Uuid,
        after: &str,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<ShareRow>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| {
                a.id(task_id)?;
                a.text(after)?;
                a.int(limit)
            })?;
            sqlx::query_with(sql::TASK_SHARES, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(ShareRow::decode)
                .collect()
        })
    }

    async fn task_events(
        &self,
        task_id: Uuid,
        after: i64,
        limit: i64,
        from: ReadFrom,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read_nearest!(self, from, |connection| {
            let arguments = bound::<DB::Arguments>(|a| {
                a.id(task_id)?;
                a.int(after)?;
                a.int(limit)
            })?;
            sqlx::query_with(sql::TASK_EVENTS, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(|row| row.recorded_event())
                .collect()
        })
    }

    async fn events_after(
        &self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read!(self, false, |connection| {
            events_after::<DB>(connection, position, limit, self.persistent()).await
        })
    }

    async fn head_position(&self) -> Result<i64, StoreError> {
        read!(self, false, |connection| {
            sqlx::query(sql::HEAD_POSITION)
                .persistent(self.persistent())
                .fetch_one(&mut *connection)
                .await?
                .int("position")
        })
    }

    async fn checkpoints(&self) -> Result<Vec<Checkpoint>, StoreError> {
        read!(self, false, |connection| {
            sqlx::query(sql::CHECKPOINTS)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(|row| row.checkpoint())
                .collect()
        })
    }

    async fn sample_users(&self, users: u32) -> Result<Vec<String>, StoreError> {
        read!(self, false, |connection| {
            let arguments = bound::<DB::Arguments>(|a| a.int(i64::from(users)))?;
            sqlx::query_with(sql::SAMPLE_USERS, arguments)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(|row| row.text("user_id"))
                .collect()
        })
    }

    async fn user_rows(&self, user_id: &str) -> Result<UserRows, StoreError> {
        self.read_user_rows(user_id).await
    }

    async fn claim_tick(&self, name: &str, tick: DateTime<Utc>) -> Result<bool, StoreError> {
        self.claim_job_tick(name, tick).await
    }

    async fn expire_keys(&self, cutoff: DateTime<Utc>) -> Result<u64, StoreError> {
        self.expire_idempotency_keys(cutoff).await
    }

    async fn close(&self) {
        self.readers.close().await;
        self.writes.close().await;
    }

    fn pools(&self) -> Vec<PoolUse> {
        [("readers", &self.readers), ("writes", &self.writes)]
            .into_iter()
            .map(|(name, pool)| {
                let idle = pool.num_idle() as f64;
                PoolUse {
                    name,
                    in_use: (f64::from(pool.size()) - idle).max(0.0),
                    idle,
                }
            })
            .collect()
    }

    fn listen_options(&self) -> Option<sqlx::postgres::PgConnectOptions> {
        DB::listen_options(self)
    }

    async fn fence_replicas(&self) -> Result<(), StoreError> {
        self.fence_standbys().await
    }

    fn replicas(&self) -> Vec<ReplicaState> {
        self.replicas
            .as_ref()
            .map(Replicas::states)
            .unwrap_or_default()
    }

    async fn follow_replicas(&self, watermark: Watermark) {
        if let Some(replicas) = &self.replicas {
            let (pooled, persistent) = (self.pooled, self.persistent());
            replicas.follow(watermark, pooled, persistent).await;
        }
    }

    fn forget_cached_reads(&self) {
        if let Some(epoch) = &self.write_epoch {
            epoch.advance();
        }
    }
}
