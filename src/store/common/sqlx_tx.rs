//! [`Tx`] and [`ReplayTx`] for both backends: the bulk statements of `sql.rs` run on one pooled
//! connection inside the transaction [`Backend::begin`] opened.

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{DashboardStats, RecordedEvent, ShareRow, TaskRow, TaskView};
use sqlx::pool::PoolConnection;
use sqlx::{AssertSqlSafe, Executor};
use uuid::Uuid;

use super::binds::{BindRows, bound};
use super::rows::{SHARE_COLUMNS, StoreRow};
use super::{Backend, sql};
use crate::store::StoreError;
use crate::store::tx::{AllRows, IdempotencyRecord, Lock, NewEvent, ReplayTx, Tables, Tx};

/// A pooled connection with an open transaction.
pub(crate) struct SqlxTx<DB: Backend> {
    connection: PoolConnection<DB>,
}

impl<DB: Backend> SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Opens the transaction `lock` names on `connection`.
    pub async fn begin(mut connection: PoolConnection<DB>, lock: Lock) -> Result<Self, StoreError> {
        for statement in DB::begin(lock) {
            if let Err(error) = connection.execute(*statement).await {
                // A half-opened transaction must never go back to the pool.
                connection.close_on_drop();
                return Err(error.into());
            }
        }
        Ok(SqlxTx { connection })
    }

    /// The connection, for statements of its own inside the transaction.
    pub fn connection(&mut self) -> &mut DB::Connection {
        &mut self.connection
    }

    /// Runs the statement `sql` once per chunk of `rows`, each chunk bound by `bind`, for
    /// statements of `columns` parameters a row that `statement(rows in chunk)` builds.
    async fn each_chunk<T>(
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
            let sql = AssertSqlSafe(statement(chunk.len()));
            found.extend(
                sqlx::query_with::<DB, _>(sql, arguments)
                    .fetch_all(&mut *self.connection)
                    .await?,
            );
        }
        Ok(found)
    }
}

#[async_trait]
impl<DB: Backend> Tx for SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn head_position(&mut self) -> Result<i64, StoreError> {
        sqlx::query(sql::HEAD_POSITION)
            .fetch_one(&mut *self.connection)
            .await?
            .int("position")
    }

    async fn stream_heads(&mut self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, StoreError> {
        let statement = |n| sql::stream_heads(DB::PARAMS, n);
        let rows = self
            .each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?;
        let mut heads = HashMap::with_capacity(rows.len());
        for row in rows {
            if let Some(head) = row.optional_int("position")? {
                heads.insert(row.uuid("stream_id")?, head);
            }
        }
        Ok(heads)
    }

    async fn find_responses(
        &mut self,
        keys: &[(&str, &str)],
        not_before: DateTime<Utc>,
    ) -> Result<Vec<IdempotencyRecord>, StoreError> {
        let mut found = Vec::new();
        // Two parameters a key, and the cutoff bound last.
        for chunk in keys.chunks(sql::rows_per_statement(2) - 1) {
            let mut arguments = DB::Arguments::default();
            for (user_id, key) in chunk {
                arguments.text(user_id).map_err(sqlx::Error::Encode)?;
                arguments.text(key).map_err(sqlx::Error::Encode)?;
            }
            arguments.time(not_before).map_err(sqlx::Error::Encode)?;
            let sql = AssertSqlSafe(sql::find_responses(DB::PARAMS, chunk.len()));
            for row in sqlx::query_with::<DB, _>(sql, arguments)
                .fetch_all(&mut *self.connection)
                .await?
            {
                found.push(row.idempotency_record()?);
            }
        }
        Ok(found)
    }

    async fn save_responses(&mut self, records: &[IdempotencyRecord]) -> Result<(), StoreError> {
        let statement = |n| sql::save_responses(DB::PARAMS, n);
        self.each_chunk(records, 9, statement, |a, r| a.record(r))
            .await?;
        Ok(())
    }

    async fn load_views(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, TaskView>, StoreError> {
        let mut views = HashMap::with_capacity(task_ids.len());
        let statement = |n| sql::tasks_by_id(DB::PARAMS, tables.tasks, n);
        for row in self
            .each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?
        {
            let task = row.task_row()?;
            let view = TaskView {
                task: Some(task),
                shares: Vec::new(),
            };
            views.insert(view.task.as_ref().map_or(Uuid::nil(), |t| t.id), view);
        }
        if views.is_empty() {
            return Ok(views);
        }
        let statement = |n| DB::shares_of_tasks(tables.shares, n);
        for row in self
            .each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?
        {
            if let Some(share) = row.share_row(SHARE_COLUMNS)?
                && let Some(view) = views.get_mut(&share.task_id)
            {
                view.shares.push(share);
            }
        }
        Ok(views)
    }

    async fn append(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let statement = |n| sql::append_events(DB::PARAMS, DB::INSERT_EVENTS_OPTION, n);
        self.each_chunk(events, 10, statement, |a, e| a.event(e))
            .await?;
        Ok(())
    }

    async fn upsert_tasks(&mut self, tables: Tables, tasks: &[&TaskRow]) -> Result<(), StoreError> {
        let statement = |n| sql::upsert_tasks(DB::PARAMS, tables.tasks, n);
        self.each_chunk(tasks, 9, statement, |a, t| a.task(t))
            .await?;
        Ok(())
    }

    async fn delete_tasks(&mut self, tables: Tables, task_ids: &[Uuid]) -> Result<(), StoreError> {
        let statement = |n| sql::delete_tasks(DB::PARAMS, tables.tasks, n);
        self.each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?;
        Ok(())
    }

    async fn upsert_shares(
        &mut self,
        tables: Tables,
        shares: &[&ShareRow],
    ) -> Result<(), StoreError> {
        let statement = |n| sql::upsert_shares(DB::PARAMS, tables.shares, n);
        self.each_chunk(shares, 3, statement, |a, s| a.share(s))
            .await?;
        Ok(())
    }

    async fn delete_shares(
        &mut self,
        tables: Tables,
        shares: &[(Uuid, &str)],
    ) -> Result<(), StoreError> {
        let statement = |n| sql::delete_shares(DB::PARAMS, tables.shares, n);
        let bind = |a: &mut DB::Arguments, (task, user): &(Uuid, &str)| {
            a.id(*task)?;
            a.text(user)
        };
        self.each_chunk(shares, 2, statement, bind).await?;
        Ok(())
    }

    async fn load_stats(
        &mut self,
        tables: Tables,
        user_ids: &[&str],
    ) -> Result<Vec<DashboardStats>, StoreError> {
        let statement = |n| sql::stats_of_users(DB::PARAMS, tables.stats, n);
        self.each_chunk(user_ids, 1, statement, |a, user| a.text(user))
            .await?
            .iter()
            .map(|row| row.stats_row())
            .collect()
    }

    async fn save_stats(
        &mut self,
        tables: Tables,
        stats: &[&DashboardStats],
    ) -> Result<(), StoreError> {
        let statement = |n| sql::save_stats(DB::PARAMS, tables.stats, n);
        self.each_chunk(stats, 13, statement, |a, row| a.stats(row))
            .await?;
        Ok(())
    }

    async fn save_checkpoints(
        &mut self,
        position: i64,
        at: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let arguments = bound::<DB::Arguments>(|a| {
            a.int(position)?;
            a.time(at)
        })?;
        sqlx::query_with(sql::SAVE_LIVE_CHECKPOINTS, arguments)
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn roll_over(&mut self, day: i32, week: i32) -> Result<u64, StoreError> {
        let arguments = bound::<DB::Arguments>(|a| {
            a.int32(day)?;
            a.int32(week)
        })?;
        let rolled = sqlx::query_with(sql::ROLL_OVER, arguments)
            .execute(&mut *self.connection)
            .await?;
        Ok(DB::rows_affected(&rolled))
    }

    async fn commit(mut self: Box<Self>) -> Result<(), StoreError> {
        if let Err(error) = self.connection.execute("commit").await {
            self.connection.close_on_drop();
            return Err(error.into());
        }
        Ok(())
    }

    async fn rollback(mut self: Box<Self>) -> Result<(), StoreError> {
        if let Err(error) = self.connection.execute("rollback").await {
            // Never hand a connection in an unknown transaction state back to the pool.
            self.connection.close_on_drop();
            return Err(error.into());
        }
        Ok(())
    }
}

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
        events_after(&mut self.connection, position, limit).await
    }

    async fn all_rows(&mut self, tables: Tables) -> Result<AllRows, StoreError> {
        let connection = &mut *self.connection;
        let sql = AssertSqlSafe(sql::all_of(sql::TASK_COLUMNS, tables.tasks));
        let tasks = sqlx::query(sql).fetch_all(&mut *connection).await?;
        let sql = AssertSqlSafe(sql::all_of(sql::SHARE_COLUMNS, tables.shares));
        let shares = sqlx::query(sql).fetch_all(&mut *connection).await?;
        let sql = AssertSqlSafe(sql::all_of(sql::STATS_COLUMNS, tables.stats));
        let stats = sqlx::query(sql).fetch_all(&mut *connection).await?;
        Ok(AllRows {
            tasks: tasks
                .iter()
                .map(|row| row.task_row())
                .collect::<Result<_, _>>()?,
            shares: shares
                .iter()
                .filter_map(|row| row.share_row(SHARE_COLUMNS).transpose())
                .collect::<Result<_, _>>()?,
            stats: stats
                .iter()
                .map(|row| row.stats_row())
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
            .execute(&mut *self.connection)
            .await?;
        Ok(())
    }

    async fn create_shadows(&mut self) -> Result<(), StoreError> {
        self.drop_shadows().await?;
        DB::create_shadows(&mut self.connection).await
    }

    async fn swap_in(&mut self, tables: &[(&'static str, &'static str)]) -> Result<(), StoreError> {
        DB::swap_in(&mut self.connection, tables).await
    }

    async fn drop_shadows(&mut self) -> Result<(), StoreError> {
        for (_, shadow) in Tables::PAIRS {
            let sql = AssertSqlSafe(format!("drop table if exists {shadow}"));
            self.connection.execute(sql).await?;
        }
        Ok(())
    }
}

/// Every event after `position`, in position order, at most `limit`.
pub(crate) async fn events_after<'c, DB: Backend>(
    connection: &'c mut DB::Connection,
    position: i64,
    limit: i64,
) -> Result<Vec<RecordedEvent>, StoreError>
where
    &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    let arguments = bound::<DB::Arguments>(|a| {
        a.int(position)?;
        a.int(limit)
    })?;
    sqlx::query_with(sql::EVENTS_AFTER, arguments)
        .fetch_all(connection)
        .await?
        .iter()
        .map(|row| row.recorded_event())
        .collect()
}
