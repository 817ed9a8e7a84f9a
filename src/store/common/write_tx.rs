//! [`Tx`] for both backends: the bulk statements a batch of commands reads and writes (their
//! SQL in `write_sql.rs`), run inside the transaction [`SqlxTx::begin`] opened. The column
//! lists and the placeholders come from `sql.rs`; what differs between the backends from
//! [`Backend`].

use std::collections::HashMap;

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use projections::{
    AccessRow, Changeset, DailyRow, DashboardStats, MemberRow, ShareRow, TaskRow, TaskView,
    TeamRow, TeamShareRow, TeamStats, TeamView,
};
use sqlx::Executor;
use sqlx::error::BoxDynError;
use uuid::Uuid;

use super::Backend;
use super::binds::{BindRows, bound};
use super::children::Parent;
use super::rows::StoreRow;
use super::sql::HEAD_POSITION;
use super::sqlx_tx::SqlxTx;
use super::write_sql::{
    PROBE_WRITE, ROLL_OVER, SAVE_LIVE_CHECKPOINTS, append_events, find_responses, save_responses,
    stream_heads,
};
use crate::live::announcement;
use crate::store::StoreError;
use crate::store::tables::{
    Columns, Decode, Encode, Row, Table, daily_stats, dashboard_stats, rows, rows_at, task_access,
    task_shares, task_team_shares, tasks, team_keys, team_members, team_stats, teams, user_keys,
};
use crate::store::tx::{IdempotencyRecord, NewEvent, Tables, Tx};

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
        let tasks: Parent<TaskRow> = (&tasks::TABLE, |task| task.id);
        let shares: Parent<ShareRow> = (&task_shares::TABLE, |share| share.task_id);
        let found = self.with_children(tables, task_ids, tasks, shares).await?;
        let mut views: HashMap<Uuid, TaskView> = found
            .into_iter()
            .map(|(id, (task, shares))| {
                let view = TaskView {
                    task: Some(task),
                    shares,
                    team_shares: Vec::new(),
                };
                (id, view)
            })
            .collect();
        if views.is_empty() {
            return Ok(views);
        }
        let team_shares: Vec<TeamShareRow> = self
            .children(tables, task_ids, &task_team_shares::TABLE)
            .await?;
        for share in team_shares {
            if let Some(view) = views.get_mut(&share.task_id) {
                view.team_shares.push(share);
            }
        }
        Ok(views)
    }

    async fn load_access(
        &mut self,
        tables: Tables,
        keys: &[(Uuid, String)],
    ) -> Result<Vec<AccessRow>, StoreError> {
        let table = &task_access::TABLE;
        let statement = |n| table.select_keys(DB::PARAMS, tables, n);
        let bind = |a: &mut DB::Arguments, (task, user): &(Uuid, String)| {
            a.id(*task)?;
            a.text(user)
        };
        self.each_chunk(keys, 2, statement, bind)
            .await?
            .iter()
            .map(AccessRow::decode)
            .collect()
    }

    async fn load_task_access(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> Result<Vec<AccessRow>, StoreError> {
        self.children(tables, task_ids, &task_access::TABLE).await
    }

    async fn load_team_tasks(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<Vec<(TeamShareRow, String)>, StoreError> {
        let statement = |n| task_team_shares::with_owners(DB::PARAMS, tables, n);
        self.each_chunk(team_ids, 1, statement, |a, id| a.id(*id))
            .await?
            .iter()
            .map(|row| Ok((TeamShareRow::decode(row)?, row.text("owner_id")?)))
            .collect()
    }

    async fn load_team_views(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<HashMap<Uuid, TeamView>, StoreError> {
        let teams: Parent<TeamRow> = (&teams::TABLE, |team| team.id);
        let members: Parent<MemberRow> = (&team_members::TABLE, |member| member.team_id);
        let found = self.with_children(tables, team_ids, teams, members).await?;
        Ok(found
            .into_iter()
            .map(|(id, (team, members))| {
                (
                    id,
                    TeamView {
                        team: Some(team),
                        members,
                    },
                )
            })
            .collect())
    }

    async fn append(&mut self, events: &[NewEvent]) -> Result<(), StoreError> {
        let statement = |n| append_events(DB::PARAMS, DB::INSERT_EVENTS_OPTION, n);
        self.each_chunk(events, 10, statement, |a, e| a.event(e))
            .await?;
        Ok(())
    }

    async fn upsert(
        &mut self,
        table: &'static Table,
        tables: Tables,
        rows: &[&Row<'_>],
    ) -> Result<(), StoreError> {
        let statement = |n| table.upsert(DB::PARAMS, tables, n);
        self.each_chunk(rows, table.width(), statement, encode)
            .await?;
        Ok(())
    }

    async fn delete(
        &mut self,
        table: &'static Table,
        tables: Tables,
        keys: &[&Row<'_>],
    ) -> Result<(), StoreError> {
        let statement = |n| table.delete(DB::PARAMS, tables, n);
        self.each_chunk(keys, table.key_width(), statement, encode)
            .await?;
        Ok(())
    }

    async fn load_team_stats(
        &mut self,
        tables: Tables,
        team_ids: &[Uuid],
    ) -> Result<Vec<TeamStats>, StoreError> {
        let table = &team_stats::TABLE;
        let statement = |n| DB::rows_where_in(table, tables, table.key, n);
        self.each_chunk(team_ids, 1, statement, |a, id| a.id(*id))
            .await?
            .iter()
            .map(TeamStats::decode)
            .collect()
    }

    async fn load_stats(
        &mut self,
        tables: Tables,
        user_ids: &[&str],
    ) -> Result<Vec<DashboardStats>, StoreError> {
        let statement = |n| DB::rows_where_in(&dashboard_stats::TABLE, tables, "user_id", n);
        self.each_chunk(user_ids, 1, statement, |a, user| a.text(user))
            .await?
            .iter()
            .map(DashboardStats::decode)
            .collect()
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

    async fn probe_write(&mut self) -> Result<(), StoreError> {
        sqlx::query(PROBE_WRITE)
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
        users: Option<&[&str]>,
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
    ) -> Result<Vec<DashboardStats>, StoreError> {
        // No rows, no statement: `each_chunk` runs one per chunk.
        let (upserts, deletes) = changes.tasks();
        self.delete(&tasks::TABLE, tables, &rows(&deletes)).await?;
        self.upsert(&tasks::TABLE, tables, &rows_at(&upserts))
            .await?;
        let (upserts, deletes) = changes.shares();
        self.delete(&task_shares::TABLE, tables, &rows(&user_keys(&deletes)))
            .await?;
        self.upsert(&task_shares::TABLE, tables, &rows_at(&upserts))
            .await?;
        let (upserts, deletes) = changes.team_shares();
        self.delete(
            &task_team_shares::TABLE,
            tables,
            &rows(&team_keys(&deletes)),
        )
        .await?;
        self.upsert(&task_team_shares::TABLE, tables, &rows_at(&upserts))
            .await?;
        let (upserts, deletes) = changes.access();
        self.delete(&task_access::TABLE, tables, &rows(&user_keys(&deletes)))
            .await?;
        self.upsert(&task_access::TABLE, tables, &rows_at(&upserts))
            .await?;
        let (upserts, deletes) = changes.teams();
        self.delete(&teams::TABLE, tables, &rows(&deletes)).await?;
        self.delete(&team_stats::TABLE, tables, &rows(&deletes))
            .await?;
        self.upsert(&teams::TABLE, tables, &rows_at(&upserts))
            .await?;
        let (upserts, deletes) = changes.members();
        self.delete(&team_members::TABLE, tables, &rows(&user_keys(&deletes)))
            .await?;
        self.upsert(&team_members::TABLE, tables, &rows_at(&upserts))
            .await?;
        // Each dashboard row touched is read once and written once.
        let users = changes.stats_users();
        let stats = changes.stats_after(self.load_stats(tables, &users).await?);
        self.upsert(&dashboard_stats::TABLE, tables, &rows(&stats))
            .await?;
        self.add_daily(tables, &changes.daily_changes()).await?;
        let teams = changes.team_stats_teams();
        if !teams.is_empty() {
            let after = changes.team_stats_after(self.load_team_stats(tables, &teams).await?);
            self.upsert(&team_stats::TABLE, tables, &rows(&after))
                .await?;
        }
        Ok(stats)
    }

    async fn commit(self: Box<Self>) -> Result<(), StoreError> {
        self.end("commit").await
    }

    async fn rollback(self: Box<Self>) -> Result<(), StoreError> {
        self.end("rollback").await
    }
}

impl<DB: Backend> SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// Adds each row's counts to the trend's counts of its (user, day) in `tables`.
    async fn add_daily(&mut self, tables: Tables, rows: &[DailyRow]) -> Result<(), StoreError> {
        let table = &daily_stats::TABLE;
        let statement = |n| daily_stats::add(DB::PARAMS, tables, n);
        self.each_chunk(rows, table.width(), statement, |a, row| row.encode(a))
            .await?;
        Ok(())
    }
}

/// Binds `row`'s columns.
fn encode<A: BindRows>(arguments: &mut A, row: &&Row<'_>) -> Result<(), BoxDynError> {
    row.encode(arguments)
}
