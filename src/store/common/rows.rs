//! Decoding read-model, event and idempotency rows, once for both backends: the column names
//! are the same and sqlx maps each backend's types (TEXT or timestamptz, BLOB or uuid) to the
//! same Rust ones, so one generic implementation serves `SqliteRow` and `PgRow`. The decode
//! bounds are written once, on the blanket impl; generic code asks only for `StoreRow`.

use chrono::{DateTime, Utc};
use projections::{
    Bucket, DailyRow, DashboardStats, DayCounts, Permission, RecordedEvent, ShareRow, TaskEvent,
    TaskRow, TaskStatus, TaskView,
};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::store::tx::IdempotencyRecord;
use crate::store::{Checkpoint, StoreError, TaskRead};

/// The columns of a `task_shares` row.
pub(crate) const SHARE_FIELDS: [&str; 3] = ["task_id", "user_id", "permission"];
/// The share columns of a task joined with its shares (`sql::LOAD_TASK`, `sql::LIST_OWNED`,
/// `sql::LIST_SHARED`).
pub(crate) const LISTED_SHARE_FIELDS: [&str; 3] = ["id", "share_user_id", "share_permission"];

/// A stored day (a `bigint` on PostgreSQL) as a day key.
pub(crate) fn stored_day(day: i64) -> Result<i32, StoreError> {
    i32::try_from(day).map_err(|_| corrupt("day", &day.to_string()))
}

/// A database row that holds one of tally's records.
pub(crate) trait StoreRow {
    /// A `tasks` row (the columns of `sql::task_columns!`).
    fn task_row(&self) -> Result<TaskRow, StoreError>;
    /// A share from the columns named `[task, user, permission]`; `None` where the user
    /// column is null (a task without shares in an outer join).
    fn share_row(&self, columns: [&str; 3]) -> Result<Option<ShareRow>, StoreError>;
    /// A `dashboard_stats` row.
    fn stats_row(&self) -> Result<DashboardStats, StoreError>;
    /// The columns of `sql::DAILY_COLUMNS`.
    fn daily_row(&self) -> Result<DailyRow, StoreError>;
    /// An `events` row.
    fn recorded_event(&self) -> Result<RecordedEvent, StoreError>;
    /// An `idempotency_keys` row.
    fn idempotency_record(&self) -> Result<IdempotencyRecord, StoreError>;
    /// A `projection_checkpoints` row.
    fn checkpoint(&self) -> Result<Checkpoint, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn uuid(&self, column: &str) -> Result<Uuid, StoreError>;
}

fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} {value:?}"))
}

impl<R> StoreRow for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Json<serde_json::Value>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn task_row(&self) -> Result<TaskRow, StoreError> {
        let status: String = self.try_get("status")?;
        Ok(TaskRow {
            id: self.try_get("id")?,
            owner_id: self.try_get("owner_id")?,
            title: self.try_get("title")?,
            description: self.try_get("description")?,
            status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            created_at: self.try_get("created_at")?,
            updated_at: self.try_get("updated_at")?,
            completed_at: self.try_get("completed_at")?,
            version: self.try_get("version")?,
        })
    }

    fn share_row(
        &self,
        [task, user, permission]: [&str; 3],
    ) -> Result<Option<ShareRow>, StoreError> {
        let user_id: Option<String> = self.try_get(user)?;
        let Some(user_id) = user_id else {
            return Ok(None);
        };
        let permission: String = self.try_get(permission)?;
        Ok(Some(ShareRow {
            task_id: self.try_get(task)?,
            user_id,
            permission: Permission::parse(&permission)
                .ok_or_else(|| corrupt("permission", &permission))?,
        }))
    }

    fn stats_row(&self) -> Result<DashboardStats, StoreError> {
        let bucket = |key: &str, count: &str| -> Result<Bucket, StoreError> {
            Ok(Bucket {
                key: self.try_get(key)?,
                count: self.try_get(count)?,
            })
        };
        Ok(DashboardStats {
            user_id: self.try_get("user_id")?,
            pending: self.try_get("pending")?,
            completed: self.try_get("completed")?,
            shared_view: self.try_get("shared_view")?,
            shared_edit: self.try_get("shared_edit")?,
            created_day: bucket("created_day", "created_day_count")?,
            created_week: bucket("created_week", "created_week_count")?,
            completed_day: bucket("completed_day", "completed_day_count")?,
            completed_week: bucket("completed_week", "completed_week_count")?,
        })
    }

    fn daily_row(&self) -> Result<DailyRow, StoreError> {
        Ok(DailyRow {
            user_id: self.try_get("user_id")?,
            day: stored_day(self.try_get("day")?)?,
            counts: DayCounts {
                created: self.try_get("created")?,
                completed: self.try_get("completed")?,
            },
        })
    }

    fn recorded_event(&self) -> Result<RecordedEvent, StoreError> {
        let event_type: String = self.try_get("event_type")?;
        let Json(payload) = self.try_get("payload")?;
        Ok(RecordedEvent {
            position: self.try_get("position")?,
            event_id: self.try_get("event_id")?,
            task_id: self.try_get("stream_id")?,
            stream_version: self.try_get("stream_version")?,
            actor: self.try_get("actor")?,
            recorded_at: self.try_get("recorded_at")?,
            event: TaskEvent::from_stored(&event_type, self.try_get("event_version")?, payload)?,
        })
    }

    fn checkpoint(&self) -> Result<Checkpoint, StoreError> {
        Ok(Checkpoint {
            name: self.try_get("name")?,
            version: self.try_get("version")?,
            position: self.try_get("position")?,
            updated_at: self.try_get("updated_at")?,
        })
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn idempotency_record(&self) -> Result<IdempotencyRecord, StoreError> {
        Ok(IdempotencyRecord {
            user_id: self.try_get("user_id")?,
            key: self.try_get("key")?,
            fingerprint: self.try_get("fingerprint")?,
            task_id: self.try_get("task_id")?,
            version: self.try_get("version")?,
            position: self.try_get("position")?,
            created: self.try_get("created")?,
            refusal: self.try_get("refusal")?,
            created_at: self.try_get("created_at")?,
        })
    }
}

/// Task rows each joined with one share (or none), grouped by task in the order they come:
/// the shape of `sql::LOAD_TASK`, `sql::LIST_OWNED` and `sql::LIST_SHARED`.
pub(crate) fn views_of<R: StoreRow>(rows: &[R]) -> Result<Vec<TaskRead>, StoreError> {
    let mut reads: Vec<TaskRead> = Vec::new();
    for row in rows {
        let task = row.task_row()?;
        let share = row.share_row(LISTED_SHARE_FIELDS)?;
        match reads.last_mut() {
            Some(read) if read.view.task.as_ref().is_some_and(|t| t.id == task.id) => {}
            _ => reads.push(TaskRead {
                view: TaskView {
                    task: Some(task),
                    shares: Vec::new(),
                },
                shares_total: row.optional_int("shares_total")?,
            }),
        }
        if let (Some(share), Some(read)) = (share, reads.last_mut()) {
            read.view.shares.push(share);
        }
    }
    Ok(reads)
}
