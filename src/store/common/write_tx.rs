//! [`Tx`] for both backends: the bulk statements a batch of commands reads and writes, with
//! their SQL, run inside the transaction [`SqlxTx::begin`] opened. The column lists and the
//! placeholders come from `sql.rs`; what differs between the backends from [`Backend`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{Changeset, DailyRow, DashboardStats, ShareRow, TaskRow, TaskView};
use sqlx::Executor;
use uuid::Uuid;

use super::Backend;
use super::binds::{BindRows, bound};
use super::rows::{SHARE_FIELDS, StoreRow};
use super::sql::{
    DAILY_COLUMNS, EVENT_INSERT_COLUMNS, HEAD_POSITION, IDEMPOTENCY_COLUMNS, Params, SHARE_COLUMNS,
    STATS_COLUMNS, TASK_COLUMNS,
};
use super::sqlx_tx::SqlxTx;
use crate::live::announcement;
use crate::store::StoreError;
use crate::store::tx::{DailyWrite, IdempotencyRecord, NewEvent, Tables, Tx};

#[async_trait]
impl<DB: Backend> Tx for SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    async fn head_position(&mut self) -> Result<i64, StoreError> {
        sqlx::query(HEAD_POSITION)
            .persistent(self.persistent)
            .fetch_one(self.connection())
            .await?
            .int("position")
    }

    async fn stream_heads(&mut self, task_ids: &[Uuid]) -> Result<HashMap<Uuid, i64>, StoreError> {
        let statement = |n| stream_heads(DB::PARAMS, n);
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
    ) -> Result<Vec<IdempotencyRecord>, StoreError> {
        let statement = |n| find_responses(DB::PARAMS, n);
        let bind = |a: &mut DB::Arguments, (user_id, key): &(&str, &str)| {
            a.text(user_id)?;
            a.text(key)
        };
        self.each_chunk(keys, 2, statement, bind)
            .await?
            .iter()
            .map(|row| row.idempotency_record())
            .collect()
    }

    async fn save_responses(&mut self, records: &[IdempotencyRecord]) -> Result<(), StoreError> {
        let statement = |n| save_responses(DB::PARAMS, n);
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
        let statement = |n| tasks_by_id(DB::PARAMS, tables.tasks, n);
        for row in self
            .each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?
        {
            let task = row.task_row()?;
            let id = task.id;
            let view = TaskView {
                task: Some(task),
                shares: Vec::new(),
            };
            views.insert(id, view);
        }
        if views.is_empty() {
            return Ok(views);
        }
        let statement = |n| DB::shares_of_tasks(tables.shares, n);
        for row in self
            .each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?
        {
            if let Some(share) = row.share_row(SHARE_FIELDS)?
                && let Some(view) = views.get_mut(&share.task_id)
            {
                view.shares.push(share);
            }
        }
        Ok(views)
    }

    async fn append(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let statement = |n| append_events(DB::PARAMS, DB::INSERT_EVENTS_OPTION, n);
        self.each_chunk(events, 10, statement, |a, e| a.event(e))
            .await?;
        Ok(())
    }

    async fn upsert_tasks(&mut self, tables: Tables, tasks: &[&TaskRow]) -> Result<(), StoreError> {
        let statement = |n| upsert_tasks(DB::PARAMS, tables.tasks, n);
        self.each_chunk(tasks, 9, statement, |a, t| a.task(t))
            .await?;
        Ok(())
    }

    async fn delete_tasks(&mut self, tables: Tables, task_ids: &[Uuid]) -> Result<(), StoreError> {
        let statement = |n| delete_tasks(DB::PARAMS, tables.tasks, n);
        self.each_chunk(task_ids, 1, statement, |a, id| a.id(*id))
            .await?;
        Ok(())
    }

    async fn upsert_shares(
        &mut self,
        tables: Tables,
        shares: &[&ShareRow],
    ) -> Result<(), StoreError> {
        let statement = |n| upsert_shares(DB::PARAMS, tables.shares, n);
        self.each_chunk(shares, 3, statement, |a, s| a.share(s))
            .await?;
        Ok(())
    }

    async fn delete_shares(
        &mut self,
        tables: Tables,
        shares: &[(Uuid, &str)],
    ) -> Result<(), StoreError> {
        let statement = |n| delete_shares(DB::PARAMS, tables.shares, n);
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
        let statement = |n| stats_of_users(DB::PARAMS, tables.stats, n);
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
        let statement = |n| save_stats(DB::PARAMS, tables.stats, n);
        self.each_chunk(stats, 13, statement, |a, row| a.stats(row))
            .await?;
        Ok(())
    }

    async fn save_daily(
        &mut self,
        tables: Tables,
        rows: &[DailyRow],
        write: DailyWrite,
    ) -> Result<(), StoreError> {
        let statement = |n| save_daily(DB::PARAMS, tables.daily, n, write);
        let bind = |a: &mut DB::Arguments, row: &DailyRow| {
            a.text(&row.user_id)?;
            a.int(i64::from(row.day))?;
            a.int(row.counts.created)?;
            a.int(row.counts.completed)
        };
        self.each_chunk(rows, 4, statement, bind).await?;
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
        sqlx::query_with(SAVE_LIVE_CHECKPOINTS, arguments)
            .persistent(self.persistent)
            .execute(self.connection())
            .await?;
        Ok(())
    }

    async fn announce(
        &mut self,
        node: Uuid,
        position: i64,
        events: usize,
        users: &[String],
    ) -> Result<(), StoreError> {
        let Some(statement) = DB::ANNOUNCE else {
            return Ok(());
        };
        let payload = announcement::payload(node, position, events, users, Utc::now());
        let arguments = bound::<DB::Arguments>(|a| {
            a.text(announcement::CHANNEL)?;
            a.text(&payload)
        })?;
        sqlx::query_with(statement, arguments)
            .persistent(self.persistent)
            .execute(self.connection())
            .await?;
        Ok(())
    }

    async fn roll_over(&mut self, day: i32, week: i32) -> Result<u64, StoreError> {
        let arguments = bound::<DB::Arguments>(|a| {
            a.int32(day)?;
            a.int32(week)
        })?;
        let rolled = sqlx::query_with(ROLL_OVER, arguments)
            .persistent(self.persistent)
            .execute(self.connection())
            .await?;
        Ok(DB::rows_affected(&rolled))
    }

    async fn write_changeset(
        &mut self,
        tables: Tables,
        changes: &Changeset,
    ) -> Result<(), StoreError> {
        // No rows, no statement: `each_chunk` runs one per chunk.
        let (upserts, deletes) = changes.tasks();
        self.delete_tasks(tables, &deletes).await?;
        self.upsert_tasks(tables, &upserts).await?;
        let (upserts, deletes) = changes.shares();
        self.delete_shares(tables, &deletes).await?;
        self.upsert_shares(tables, &upserts).await?;
        // Each dashboard row touched is read once and written once.
        let users = changes.stats_users();
        let stats = changes.stats_after(self.load_stats(tables, &users).await?);
        self.save_stats(tables, &stats.iter().collect::<Vec<_>>())
            .await?;
        self.save_daily(tables, &changes.daily_changes(), DailyWrite::Add)
            .await
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.end("commit").await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.end("rollback").await
    }
}

/// The upsert of [`save_responses`]. A key older than the replay window, which lookups no
/// longer see, is overwritten.
const SAVE_RESPONSES_TAIL: &str = "on conflict (user_id, key) do update set \
     fingerprint = excluded.fingerprint, task_id = excluded.task_id, \
     version = excluded.version, position = excluded.position, created = excluded.created, \
     created_at = excluded.created_at, refusal = excluded.refusal";

/// The upsert of `insert into <stats> (STATS_COLUMNS) values (…), (…)`.
const SAVE_STATS_TAIL: &str = "on conflict (user_id) do update set pending = excluded.pending, \
     completed = excluded.completed, shared_view = excluded.shared_view, \
     shared_edit = excluded.shared_edit, created_day = excluded.created_day, \
     created_day_count = excluded.created_day_count, created_week = excluded.created_week, \
     created_week_count = excluded.created_week_count, completed_day = excluded.completed_day, \
     completed_day_count = excluded.completed_day_count, \
     completed_week = excluded.completed_week, completed_week_count = excluded.completed_week_count";

/// The upsert of `insert into <tasks> (TASK_COLUMNS) values (…), (…)`.
const UPSERT_TASK_TAIL: &str = "on conflict (id) do update set title = excluded.title, \
     description = excluded.description, status = excluded.status, \
     updated_at = excluded.updated_at, completed_at = excluded.completed_at, \
     version = excluded.version";

/// Every projection is applied by the live write path, in the transaction of its events.
const SAVE_LIVE_CHECKPOINTS: &str =
    "update projection_checkpoints set position = $1, updated_at = $2 where position < $1";

/// One chunk of the day/week roll-over: `$1` is today's day key, `$2` this week's key. Every
/// right-hand side reads the row as it was, so each count is kept only if its key is current.
const ROLL_OVER: &str = "update dashboard_stats set \
     created_day_count = case when created_day = $1 then created_day_count else 0 end, \
     completed_day_count = case when completed_day = $1 then completed_day_count else 0 end, \
     created_week_count = case when created_week = $2 then created_week_count else 0 end, \
     completed_week_count = case when completed_week = $2 then completed_week_count else 0 end, \
     created_day = $1, completed_day = $1, created_week = $2, completed_week = $2 \
     where user_id in (select user_id from dashboard_stats \
     where created_day <> $1 or completed_day <> $1 or created_week <> $2 or completed_week <> $2 \
     limit 10000)";

const UPSERT_SHARE_TAIL: &str =
    "on conflict (task_id, user_id) do update set permission = excluded.permission";

/// Upserts `rows` task rows into `table`.
fn upsert_tasks(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(9, rows, 1);
    format!("insert into {table} ({TASK_COLUMNS}) values {values} {UPSERT_TASK_TAIL}")
}

fn delete_tasks(params: Params, table: &str, ids: usize) -> String {
    format!("delete from {table} where id in ({})", params.list(ids, 1))
}

/// Upserts `rows` share rows into `table`.
fn upsert_shares(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(3, rows, 1);
    format!("insert into {table} ({SHARE_COLUMNS}) values {values} {UPSERT_SHARE_TAIL}")
}

fn delete_shares(params: Params, table: &str, keys: usize) -> String {
    let keys = params.tuples(2, keys, 1);
    format!("delete from {table} where (task_id, user_id) in ({keys})")
}

/// The tasks of `table` among `ids` ids.
fn tasks_by_id(params: Params, table: &str, ids: usize) -> String {
    format!(
        "select {TASK_COLUMNS} from {table} where id in ({})",
        params.list(ids, 1)
    )
}

/// The dashboard rows of `table` among `users` user ids.
fn stats_of_users(params: Params, table: &str, users: usize) -> String {
    let users = params.list(users, 1);
    format!("select {STATS_COLUMNS} from {table} where user_id in ({users})")
}

/// Upserts `rows` dashboard rows into `table`.
fn save_stats(params: Params, table: &str, rows: usize) -> String {
    let values = params.tuples(13, rows, 1);
    format!("insert into {table} ({STATS_COLUMNS}) values {values} {SAVE_STATS_TAIL}")
}

/// Adds `rows` trend rows to `table`'s counts, or replaces them.
fn save_daily(params: Params, table: &str, rows: usize, write: DailyWrite) -> String {
    let values = params.tuples(4, rows, 1);
    let (created, completed) = match write {
        DailyWrite::Add => (
            format!("{table}.created + excluded.created"),
            format!("{table}.completed + excluded.completed"),
        ),
        DailyWrite::Replace => ("excluded.created".into(), "excluded.completed".into()),
    };
    format!(
        "insert into {table} ({DAILY_COLUMNS}) values {values} on conflict (user_id, day) \
         do update set created = {created}, completed = {completed}"
    )
}

/// Upserts `rows` idempotency records.
fn save_responses(params: Params, rows: usize) -> String {
    let values = params.tuples(9, rows, 1);
    format!(
        "insert into idempotency_keys ({IDEMPOTENCY_COLUMNS}) values {values} \
         {SAVE_RESPONSES_TAIL}"
    )
}

/// The stored responses under `keys` (user id, key) pairs.
fn find_responses(params: Params, keys: usize) -> String {
    let pairs = params.tuples(2, keys, 1);
    format!("select {IDEMPOTENCY_COLUMNS} from idempotency_keys where (user_id, key) in ({pairs})")
}

/// The newest position of each of `streams` streams: one probe of the
/// `(stream_id, stream_version)` key per stream, whatever the planner knows. `stream_id in (…)
/// group by stream_id` became a scan of the whole log on a PostgreSQL whose statistics lagged
/// behind a bulk load, and `max(position)` walks the position index backwards.
fn stream_heads(params: Params, streams: usize) -> String {
    format!(
        "select v.column1 as stream_id, (select position from events \
         where stream_id = v.column1 order by stream_version desc limit 1) as position \
         from (values {}) as v",
        params.tuples(1, streams, 1)
    )
}

/// Appends `rows` events, with the backend's `option` (see `Backend::INSERT_EVENTS_OPTION`).
fn append_events(params: Params, option: &str, rows: usize) -> String {
    let values = params.tuples(10, rows, 1);
    format!("insert into events ({EVENT_INSERT_COLUMNS}) {option} values {values}")
}
