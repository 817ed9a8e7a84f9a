//! [`ReplayTx`] for both backends: what rebuild and verify read and write inside a
//! transaction beyond a batch's statements — the log in pages, every row, checkpoints and the
//! shadow tables (whose DDL each backend writes its own way).

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::RecordedEvent;
use sqlx::{AssertSqlSafe, Executor};
use uuid::Uuid;

use super::Backend;
use super::binds::{BindRows, bound};
use super::rows::StoreRow;
use super::sql;
use super::sqlx_tx::SqlxTx;
use crate::store::StoreError;
use crate::store::tables::{
    Decode, READ_MODELS, Table, daily_stats, dashboard_stats, task_access, task_shares,
    task_team_shares, tasks, team_members, team_stats, teams,
};
use crate::store::tx::{ReplayTx, StreamCursor, Tables, TaskRange, WholeTables};

#[async_trait]
impl<DB: Backend> ReplayTx for SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn events_after(
        &mut self,
        position: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let persistent = self.persistent;
        events_after::<DB>(self.connection(), position, limit, persistent).await
    }

    async fn events_by_stream(
        &mut self,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        let persistent = self.persistent;
        events_by_stream::<DB>(self.connection(), after, head, limit, persistent).await
    }

    async fn task_range(
        &mut self,
        tables: Tables,
        from: Uuid,
        to: Uuid,
    ) -> Result<TaskRange, StoreError> {
        Ok(TaskRange {
            tasks: self.in_range(&tasks::TABLE, tables, from, to).await?,
            shares: self.in_range(&task_shares::TABLE, tables, from, to).await?,
            team_shares: self
                .in_range(&task_team_shares::TABLE, tables, from, to)
                .await?,
            access: self.in_range(&task_access::TABLE, tables, from, to).await?,
        })
    }

    async fn whole_tables(&mut self, tables: Tables) -> Result<WholeTables, StoreError> {
        // No parameters: sent as simple queries, never prepared.
        let connection = self.connection();
        let sql = dashboard_stats::TABLE.select_where(tables, "true");
        let stats = connection.fetch_all(AssertSqlSafe(sql)).await?;
        let sql = daily_stats::counting(tables);
        let daily = connection.fetch_all(AssertSqlSafe(sql)).await?;
        let sql = teams::TABLE.select_where(tables, "true");
        let teams = connection.fetch_all(AssertSqlSafe(sql)).await?;
        let sql = team_members::TABLE.select_where(tables, "true");
        let members = connection.fetch_all(AssertSqlSafe(sql)).await?;
        let sql = team_stats::TABLE.select_where(tables, "true");
        let team_stats = connection.fetch_all(AssertSqlSafe(sql)).await?;
        Ok(WholeTables {
            stats: stats.iter().map(Decode::decode).collect::<Result<_, _>>()?,
            daily: daily.iter().map(Decode::decode).collect::<Result<_, _>>()?,
            teams: teams.iter().map(Decode::decode).collect::<Result<_, _>>()?,
            team_stats: team_stats
                .iter()
                .map(Decode::decode)
                .collect::<Result<_, _>>()?,
            members: members
                .iter()
                .map(Decode::decode)
                .collect::<Result<_, _>>()?,
        })
    }

    async fn set_checkpoint(
        &mut self,
        name: &str,
        version: i32,
        position: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let arguments = bound::<DB::Arguments>(|a| {
            a.text(name)?;
            a.int32(version)?;
            a.int(position)?;
            a.time(at)
        })?;
        sqlx::query_with(sql::SET_CHECKPOINT, arguments)
            .persistent(self.persistent)
            .execute(self.connection())
            .await?;
        Ok(())
    }

    async fn create_shadows(&mut self) -> Result<(), StoreError> {
        self.drop_shadows().await?;
        DB::create_shadows(self.connection()).await
    }

    async fn swap_in(&mut self, tables: &[&'static Table]) -> Result<(), StoreError> {
        DB::swap_in(self.connection(), tables).await
    }

    async fn drop_shadows(&mut self) -> Result<(), StoreError> {
        for table in READ_MODELS {
            let sql = AssertSqlSafe(format!("drop table if exists {}", table.shadow));
            self.connection().execute(sql).await?;
        }
        Ok(())
    }
}

/// Every event after `position`, in position order, at most `limit`.
pub(crate) async fn events_after<'c, DB: Backend>(
    connection: &'c mut DB::Connection,
    position: i64,
    limit: i64,
    persistent: bool,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let arguments = bound::<DB::Arguments>(|a| {
        a.int(position)?;
        a.int(limit)
    })?;
    sqlx::query_with(sql::EVENTS_AFTER, arguments)
        .persistent(persistent)
        .fetch_all(connection)
        .await?
        .iter()
        .map(|row| row.recorded_event())
        .collect()
}

/// Up to `limit` events of the log stream after stream: see [`sql::EVENTS_BY_STREAM`].
pub(crate) async fn events_by_stream<'c, DB: Backend>(
    connection: &'c mut DB::Connection,
    (stream, version): StreamCursor,
    head: i64,
    limit: i64,
    persistent: bool,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let arguments = bound::<DB::Arguments>(|a| {
        a.id(stream)?;
        a.int(version)?;
        a.int(head)?;
        a.int(limit)
    })?;
    sqlx::query_with(sql::EVENTS_BY_STREAM, arguments)
        .persistent(persistent)
        .fetch_all(connection)
        .await?
        .iter()
        .map(|row| row.recorded_event())
        .collect()
}

impl<DB: Backend> SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// The rows of `table` whose first key column (a task id) lies in `from..=to`.
    async fn in_range<R: Decode>(
        &mut self,
        table: &'static Table,
        tables: Tables,
        from: Uuid,
        to: Uuid,
    ) -> Result<Vec<R>, StoreError> {
        let column = table.first_key();
        let arguments = bound::<DB::Arguments>(|a| {
            a.id(from)?;
            a.id(to)
        })?;
        // Built per table, so not prepared: the shadow tables come and go.
        let sql = table.select_where(tables, &format!("{column} >= $1 and {column} <= $2"));
        sqlx::query_with(AssertSqlSafe(sql), arguments)
            .persistent(false)
            .fetch_all(&mut *self.connection())
            .await?
            .iter()
            .map(R::decode)
            .collect()
    }
}
