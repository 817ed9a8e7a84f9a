//! What a batch of commands reads and writes inside the writer's transaction, as a trait of
//! bulk statements, and its one implementation for both backends' connections.
//!
//! Every method takes all the rows of the batch at once: a batch of 256 commands costs a handful
//! of statements rather than a handful per command. That matters because each statement is a
//! round trip (to the server, or to sqlx's SQLite worker thread), and round trips, not SQL, are
//! what a small command spends its time on.

use std::collections::HashMap;
use std::future::Future;

use chrono::{DateTime, Utc};
use projections::{DashboardStats, RecordedEvent, ShareRow, TaskRow, TaskView};
use uuid::Uuid;

use super::{CommandOutcome, StoreError};
use crate::domain::DomainError;

/// A response stored under an idempotency key: what the command answered, success or refusal.
#[derive(Clone, Debug)]
pub(crate) struct StoredResponse {
    pub fingerprint: String,
    pub outcome: Result<CommandOutcome, DomainError>,
}

/// An idempotency key as stored: whose, which, and the response it replays.
pub(crate) struct KeyedResponse {
    pub user_id: String,
    pub key: String,
    /// The task the command named.
    pub task_id: Uuid,
    pub response: StoredResponse,
    pub created_at: DateTime<Utc>,
}

/// An event about to be appended, its position already assigned.
pub(crate) struct NewEvent {
    pub recorded: RecordedEvent,
    pub correlation_id: Uuid,
}

/// Every row of the read models, as stored.
#[derive(Debug, Default)]
pub(crate) struct AllRows {
    pub tasks: Vec<TaskRow>,
    pub shares: Vec<ShareRow>,
    pub stats: Vec<DashboardStats>,
}

/// The read-model tables a write goes to: the live ones, or a rebuild's shadow copies.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Tables {
    pub tasks: &'static str,
    pub shares: &'static str,
    pub stats: &'static str,
}

impl Tables {
    pub const LIVE: Tables = Tables {
        tasks: "tasks",
        shares: "task_shares",
        stats: "dashboard_stats",
    };

    /// Where a rebuild builds the read models before it swaps them in.
    pub const SHADOW: Tables = Tables {
        tasks: "tasks_rebuild",
        shares: "task_shares_rebuild",
        stats: "dashboard_stats_rebuild",
    };
}

/// The bulk reads and writes of a batch, on a connection whose transaction the writer opened.
pub(crate) trait WriteTx: Send {
    /// The position of the newest event; the batch's events follow it.
    fn head_position(&mut self) -> impl Future<Output = Result<i64, StoreError>> + Send;
    /// The position of each task's newest event (tasks without events are absent).
    fn stream_heads(
        &mut self,
        task_ids: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, i64>, StoreError>> + Send;
    /// Responses stored at or after `not_before` under any of `keys` (user id, key).
    fn find_responses(
        &mut self,
        keys: &[(&str, &str)],
        not_before: DateTime<Utc>,
    ) -> impl Future<Output = Result<HashMap<(String, String), KeyedResponse>, StoreError>> + Send;
    fn save_responses(
        &mut self,
        responses: &[KeyedResponse],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// The current rows of each task that exists, with its shares.
    fn load_views(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> impl Future<Output = Result<HashMap<Uuid, TaskView>, StoreError>> + Send;
    fn append(
        &mut self,
        events: &[NewEvent],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn upsert_tasks(
        &mut self,
        tables: Tables,
        tasks: &[&TaskRow],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_tasks(
        &mut self,
        tables: Tables,
        task_ids: &[Uuid],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn upsert_shares(
        &mut self,
        tables: Tables,
        shares: &[&ShareRow],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn delete_shares(
        &mut self,
        tables: Tables,
        shares: &[(Uuid, &str)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn load_stats(
        &mut self,
        tables: Tables,
        user_ids: &[&str],
    ) -> impl Future<Output = Result<Vec<DashboardStats>, StoreError>> + Send;
    fn save_stats(
        &mut self,
        tables: Tables,
        stats: &[&DashboardStats],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Every event after `position`, in position order, at most `limit`.
    fn events_after(
        &mut self,
        position: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;
    /// Every task, share and dashboard row of `tables`, for comparison with a fold.
    fn all_rows(
        &mut self,
        tables: Tables,
    ) -> impl Future<Output = Result<AllRows, StoreError>> + Send;
    /// Sets the checkpoint of each of `names` to `position` at `version`.
    fn set_checkpoints(
        &mut self,
        names: &[&str],
        version: i32,
        position: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Records that the live read models have applied the log up to `position`.
    fn save_checkpoints(
        &mut self,
        position: i64,
        at: DateTime<Utc>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Bind parameters per statement: below SQLite's 32,766 and PostgreSQL's 65,535.
pub(crate) const MAX_PARAMETERS: usize = 30_000;

/// How many rows of `columns` values fit in one statement.
pub(crate) fn rows_per_statement(columns: usize) -> usize {
    MAX_PARAMETERS / columns
}

/// How a backend writes bind parameters. PostgreSQL wants `$1, $2, …`. SQLite takes those too,
/// but sqlx then maps every `$n` to its index by name, which is quadratic in the number of
/// parameters: with the thousands a bulk statement binds, that lookup was 55% of `tally seed`'s
/// CPU time (perf). Plain `?` binds by position.
#[derive(Clone, Copy)]
pub(crate) enum Params {
    Numbered,
    Positional,
}

/// `($1, $2), ($3, $4), …`: `rows` tuples of `columns` placeholders.
pub(crate) fn placeholders(style: Params, columns: usize, rows: usize) -> String {
    let mut sql = String::with_capacity(rows * columns * 5);
    for row in 0..rows {
        if row > 0 {
            sql.push_str(", ");
        }
        sql.push('(');
        for column in 0..columns {
            if column > 0 {
                sql.push_str(", ");
            }
            match style {
                Params::Numbered => {
                    sql.push('$');
                    sql.push_str(&(row * columns + column + 1).to_string());
                }
                Params::Positional => sql.push('?'),
            }
        }
        sql.push(')');
    }
    sql
}

/// `$1, $2, …`: `count` placeholders.
pub(crate) fn list(style: Params, count: usize) -> String {
    let placeholder = |n: usize| match style {
        Params::Numbered => format!("${n}"),
        Params::Positional => "?".to_owned(),
    };
    (1..=count).map(placeholder).collect::<Vec<_>>().join(", ")
}

/// Implements [`WriteTx`] for a wrapper around a pooled connection of either backend.
/// `$insert_events` is the backend's `insert into events (…)` head (PostgreSQL must say
/// `overriding system value` to take the writer's positions); `$shares_of_tasks(table, n)`
/// its query for the shares of `n` tasks, bound one id each, ordered by task and user.
macro_rules! impl_write_tx {
    ($connection:ty, $insert_events:expr, $params:expr, $shares_of_tasks:path) => {
        impl $crate::store::write_tx::WriteTx for $connection {
            async fn head_position(&mut self) -> Result<i64, $crate::store::StoreError> {
                Ok(sqlx::query_scalar($crate::store::sql::HEAD_POSITION)
                    .fetch_one(&mut *self.0)
                    .await?)
            }

            async fn stream_heads(
                &mut self,
                task_ids: &[uuid::Uuid],
            ) -> Result<std::collections::HashMap<uuid::Uuid, i64>, $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                let mut heads = std::collections::HashMap::new();
                for chunk in task_ids.chunks(rows_per_statement(1)) {
                    // One probe of the `(stream_id, stream_version)` key per stream, whatever
                    // the planner knows: `stream_id in (…) group by stream_id` became a scan of
                    // the whole log on a PostgreSQL whose statistics lagged behind a bulk load,
                    // and `max(position)` walks the position index backwards.
                    let sql = format!(
                        "select v.column1, (select position from events \
                         where stream_id = v.column1 order by stream_version desc limit 1) \
                         from (values {}) as v",
                        placeholders($params, 1, chunk.len())
                    );
                    let mut query =
                        sqlx::query_as::<_, (uuid::Uuid, Option<i64>)>(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    let found = query.fetch_all(&mut *self.0).await?;
                    heads.extend(found.into_iter().filter_map(|(id, head)| Some((id, head?))));
                }
                Ok(heads)
            }

            async fn find_responses(
                &mut self,
                keys: &[(&str, &str)],
                not_before: chrono::DateTime<chrono::Utc>,
            ) -> Result<
                std::collections::HashMap<(String, String), $crate::store::write_tx::KeyedResponse>,
                $crate::store::StoreError,
            > {
                use sqlx::Row;
                use $crate::store::rows::StoreRow;
                use $crate::store::write_tx::{KeyedResponse, placeholders, rows_per_statement};
                let mut found = std::collections::HashMap::new();
                for chunk in keys.chunks(rows_per_statement(2) - 1) {
                    // The cutoff is bound last, so it comes last in either style.
                    let cutoff = match $params {
                        $crate::store::write_tx::Params::Numbered => {
                            format!("${}", chunk.len() * 2 + 1)
                        }
                        $crate::store::write_tx::Params::Positional => "?".to_owned(),
                    };
                    let sql = format!(
                        "select user_id, key, fingerprint, task_id, version, position, created, \
                         created_at, refusal from idempotency_keys \
                         where (user_id, key) in ({}) and created_at >= {cutoff}",
                        placeholders($params, 2, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (user_id, key) in chunk {
                        query = query.bind(*user_id).bind(*key);
                    }
                    for row in query.bind(not_before).fetch_all(&mut *self.0).await? {
                        let keyed = KeyedResponse {
                            user_id: row.try_get("user_id")?,
                            key: row.try_get("key")?,
                            task_id: row.try_get("task_id")?,
                            response: row.stored_response()?,
                            created_at: row.try_get("created_at")?,
                        };
                        found.insert((keyed.user_id.clone(), keyed.key.clone()), keyed);
                    }
                }
                Ok(found)
            }

            async fn save_responses(
                &mut self,
                responses: &[$crate::store::write_tx::KeyedResponse],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                const COLUMNS: usize = 9;
                for chunk in responses.chunks(rows_per_statement(COLUMNS)) {
                    let sql = format!(
                        "{} {} {}",
                        $crate::store::sql::SAVE_RESPONSES_HEAD,
                        placeholders($params, COLUMNS, chunk.len()),
                        $crate::store::sql::SAVE_RESPONSES_TAIL
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for keyed in chunk {
                        // A refusal keeps the task id it named and zeros in the other columns.
                        let (outcome, refusal) = match &keyed.response.outcome {
                            Ok(outcome) => (*outcome, None),
                            Err(refusal) => (
                                $crate::store::CommandOutcome {
                                    task_id: keyed.task_id,
                                    version: 0,
                                    position: 0,
                                    created: false,
                                },
                                Some(refusal.to_stored()),
                            ),
                        };
                        query = query
                            .bind(&keyed.user_id)
                            .bind(&keyed.key)
                            .bind(&keyed.response.fingerprint)
                            .bind(outcome.task_id)
                            .bind(outcome.version)
                            .bind(outcome.position)
                            .bind(outcome.created)
                            .bind(keyed.created_at)
                            .bind(refusal);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn load_views(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                task_ids: &[uuid::Uuid],
            ) -> Result<
                std::collections::HashMap<uuid::Uuid, projections::TaskView>,
                $crate::store::StoreError,
            > {
                use $crate::store::rows::{SHARE_COLUMNS, StoreRow};
                use $crate::store::write_tx::{list, rows_per_statement};
                let mut views = std::collections::HashMap::new();
                for chunk in task_ids.chunks(rows_per_statement(1)) {
                    let ids = list($params, chunk.len());
                    let sql = format!(
                        "select {} from {} where id in ({ids})",
                        $crate::store::sql::TASK_COLUMNS,
                        tables.tasks
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    for row in query.fetch_all(&mut *self.0).await? {
                        let task = row.task_row()?;
                        let id = task.id;
                        let view = projections::TaskView {
                            task: Some(task),
                            shares: Vec::new(),
                        };
                        views.insert(id, view);
                    }
                    if views.is_empty() {
                        continue;
                    }
                    let sql = $shares_of_tasks(tables.shares, chunk.len());
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    for row in query.fetch_all(&mut *self.0).await? {
                        if let Some(share) = row.share_row(SHARE_COLUMNS)?
                            && let Some(view) = views.get_mut(&share.task_id)
                        {
                            view.shares.push(share);
                        }
                    }
                }
                Ok(views)
            }

            async fn append(
                &mut self,
                events: &[$crate::store::write_tx::NewEvent],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                const COLUMNS: usize = 10;
                for chunk in events.chunks(rows_per_statement(COLUMNS)) {
                    let sql = format!(
                        "{} values {}",
                        $insert_events,
                        placeholders($params, COLUMNS, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for new in chunk {
                        let recorded = &new.recorded;
                        query = query
                            .bind(recorded.position)
                            .bind(recorded.event_id)
                            .bind(recorded.task_id)
                            .bind(recorded.stream_version)
                            .bind(recorded.event.event_type())
                            .bind(recorded.event.version())
                            .bind(sqlx::types::Json(recorded.event.payload()))
                            .bind(&recorded.actor)
                            .bind(new.correlation_id)
                            .bind(recorded.recorded_at);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn upsert_tasks(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                tasks: &[&projections::TaskRow],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                const COLUMNS: usize = 9;
                for chunk in tasks.chunks(rows_per_statement(COLUMNS)) {
                    let sql = format!(
                        "insert into {} ({}) values {} {}",
                        tables.tasks,
                        $crate::store::sql::TASK_COLUMNS,
                        placeholders($params, COLUMNS, chunk.len()),
                        $crate::store::sql::UPSERT_TASK_TAIL
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for task in chunk {
                        query = query
                            .bind(task.id)
                            .bind(&task.owner_id)
                            .bind(&task.title)
                            .bind(&task.description)
                            .bind(task.status.as_str())
                            .bind(task.created_at)
                            .bind(task.updated_at)
                            .bind(task.completed_at)
                            .bind(task.version);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn delete_tasks(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                task_ids: &[uuid::Uuid],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{list, rows_per_statement};
                for chunk in task_ids.chunks(rows_per_statement(1)) {
                    let ids = list($params, chunk.len());
                    let sql = format!("delete from {} where id in ({ids})", tables.tasks);
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for id in chunk {
                        query = query.bind(id);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn upsert_shares(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                shares: &[&projections::ShareRow],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                const COLUMNS: usize = 3;
                for chunk in shares.chunks(rows_per_statement(COLUMNS)) {
                    let sql = format!(
                        "insert into {} (task_id, user_id, permission) values {} \
                         on conflict (task_id, user_id) do update \
                         set permission = excluded.permission",
                        tables.shares,
                        placeholders($params, COLUMNS, chunk.len()),
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for share in chunk {
                        query = query
                            .bind(share.task_id)
                            .bind(&share.user_id)
                            .bind(share.permission.as_str());
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn delete_shares(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                shares: &[(uuid::Uuid, &str)],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                for chunk in shares.chunks(rows_per_statement(2)) {
                    let sql = format!(
                        "delete from {} where (task_id, user_id) in ({})",
                        tables.shares,
                        placeholders($params, 2, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for (task_id, user_id) in chunk {
                        query = query.bind(task_id).bind(*user_id);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn load_stats(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                user_ids: &[&str],
            ) -> Result<Vec<projections::DashboardStats>, $crate::store::StoreError> {
                use $crate::store::rows::StoreRow;
                use $crate::store::write_tx::{list, rows_per_statement};
                let mut found = Vec::with_capacity(user_ids.len());
                for chunk in user_ids.chunks(rows_per_statement(1)) {
                    let sql = format!(
                        "select {} from {} where user_id in ({})",
                        $crate::store::sql::STATS_COLUMNS,
                        tables.stats,
                        list($params, chunk.len())
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for user_id in chunk {
                        query = query.bind(*user_id);
                    }
                    for row in query.fetch_all(&mut *self.0).await? {
                        found.push(row.stats_row()?);
                    }
                }
                Ok(found)
            }

            async fn save_stats(
                &mut self,
                tables: $crate::store::write_tx::Tables,
                stats: &[&projections::DashboardStats],
            ) -> Result<(), $crate::store::StoreError> {
                use $crate::store::write_tx::{placeholders, rows_per_statement};
                const COLUMNS: usize = 13;
                for chunk in stats.chunks(rows_per_statement(COLUMNS)) {
                    let sql = format!(
                        "insert into {} ({}) values {} {}",
                        tables.stats,
                        $crate::store::sql::STATS_COLUMNS,
                        placeholders($params, COLUMNS, chunk.len()),
                        $crate::store::sql::SAVE_STATS_TAIL
                    );
                    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
                    for row in chunk {
                        query = query
                            .bind(&row.user_id)
                            .bind(row.pending)
                            .bind(row.completed)
                            .bind(row.shared_view)
                            .bind(row.shared_edit)
                            .bind(row.created_day.key)
                            .bind(row.created_day.count)
                            .bind(row.created_week.key)
                            .bind(row.created_week.count)
                            .bind(row.completed_day.key)
                            .bind(row.completed_day.count)
                            .bind(row.completed_week.key)
                            .bind(row.completed_week.count);
                    }
                    query.execute(&mut *self.0).await?;
                }
                Ok(())
            }

            async fn save_checkpoints(
                &mut self,
                position: i64,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                sqlx::query($crate::store::sql::SAVE_LIVE_CHECKPOINTS)
                    .bind(position)
                    .bind(at)
                    .execute(&mut *self.0)
                    .await?;
                Ok(())
            }

            async fn events_after(
                &mut self,
                position: i64,
                limit: i64,
            ) -> Result<Vec<projections::RecordedEvent>, $crate::store::StoreError> {
                use $crate::store::rows::StoreRow;
                sqlx::query($crate::store::sql::EVENTS_AFTER)
                    .bind(position)
                    .bind(limit)
                    .fetch_all(&mut *self.0)
                    .await?
                    .iter()
                    .map(|row| row.recorded_event())
                    .collect()
            }

            async fn all_rows(
                &mut self,
                tables: $crate::store::write_tx::Tables,
            ) -> Result<$crate::store::write_tx::AllRows, $crate::store::StoreError> {
                use $crate::store::rows::{SHARE_COLUMNS, StoreRow};
                let sql = format!(
                    "select {} from {}",
                    $crate::store::sql::TASK_COLUMNS,
                    tables.tasks
                );
                let tasks = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.0)
                    .await?
                    .iter()
                    .map(|row| row.task_row())
                    .collect::<Result<_, _>>()?;
                let sql = format!("select task_id, user_id, permission from {}", tables.shares);
                let shares = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.0)
                    .await?
                    .iter()
                    .filter_map(|row| row.share_row(SHARE_COLUMNS).transpose())
                    .collect::<Result<_, _>>()?;
                let sql = format!(
                    "select {} from {}",
                    $crate::store::sql::STATS_COLUMNS,
                    tables.stats
                );
                let stats = sqlx::query(sqlx::AssertSqlSafe(sql))
                    .fetch_all(&mut *self.0)
                    .await?
                    .iter()
                    .map(|row| row.stats_row())
                    .collect::<Result<_, _>>()?;
                Ok($crate::store::write_tx::AllRows {
                    tasks,
                    shares,
                    stats,
                })
            }

            async fn set_checkpoints(
                &mut self,
                names: &[&str],
                version: i32,
                position: i64,
                at: chrono::DateTime<chrono::Utc>,
            ) -> Result<(), $crate::store::StoreError> {
                for name in names {
                    sqlx::query($crate::store::sql::SET_CHECKPOINT)
                        .bind(*name)
                        .bind(version)
                        .bind(position)
                        .bind(at)
                        .execute(&mut *self.0)
                        .await?;
                }
                Ok(())
            }
        }
    };
}

pub(crate) use impl_write_tx;
