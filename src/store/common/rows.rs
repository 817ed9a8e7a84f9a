//! Decoding rows, once for both backends: the column names are the same and sqlx maps each
//! backend's types (TEXT or timestamptz, BLOB or uuid) to the same Rust ones, so one generic
//! implementation serves `SqliteRow` and `PgRow`: [`Columns`] for the read models' rows (each
//! decoded in its table's module, `store/tables/`), [`StoreRow`] for the log's, the
//! idempotency keys' and the checkpoints'. The decode bounds are written once, on the blanket
//! impls; generic code asks only for `StoreRow`.

use chrono::{DateTime, Utc};
use projections::{Event, RecordedEvent, TaskRow, TaskView};
use sqlx::types::Json;
use sqlx::{ColumnIndex, Decode, Row, Type};
use uuid::Uuid;

use crate::store::tables::{self, Columns, Decode as _};
use crate::store::tx::IdempotencyRecord;
use crate::store::{Checkpoint, StoreError, TaskRead};

/// A database row that holds one of tally's records.
pub(crate) trait StoreRow: Columns {
    /// An `events` row.
    fn recorded_event(&self) -> Result<RecordedEvent, StoreError>;
    /// An `idempotency_keys` row.
    fn idempotency_record(&self) -> Result<IdempotencyRecord, StoreError>;
    /// A `projection_checkpoints` row.
    fn checkpoint(&self) -> Result<Checkpoint, StoreError>;
    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError>;
}

impl<R> Columns for R
where
    R: Row,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<DateTime<Utc>>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn int32(&self, column: &str) -> Result<i32, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        Ok(self.try_get(column)?)
    }

    fn optional_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        Ok(self.try_get(column)?)
    }
}

impl<R> StoreRow for R
where
    R: Row + Columns,
    for<'a> &'a str: ColumnIndex<R>,
    for<'r> Uuid: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> String: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<i64>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Option<String>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i64: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> i32: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> bool: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> DateTime<Utc>: Decode<'r, R::Database> + Type<R::Database>,
    for<'r> Json<serde_json::Value>: Decode<'r, R::Database> + Type<R::Database>,
{
    fn recorded_event(&self) -> Result<RecordedEvent, StoreError> {
        let event_type: String = self.try_get("event_type")?;
        let Json(payload) = self.try_get("payload")?;
        Ok(RecordedEvent {
            position: self.try_get("position")?,
            event_id: self.try_get("event_id")?,
            stream_id: self.try_get("stream_id")?,
            stream_version: self.try_get("stream_version")?,
            actor: self.try_get("actor")?,
            recorded_at: self.try_get("recorded_at")?,
            event: Event::from_stored(&event_type, self.try_get("event_version")?, payload)?,
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

    fn optional_int(&self, column: &str) -> Result<Option<i64>, StoreError> {
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
        let task = TaskRow::decode(row)?;
        let share = tables::task_shares::decode_from(row, tables::task_shares::LISTED)?;
        let team_share = tables::task_team_shares::listed(row)?;
        match reads.last_mut() {
            Some(read) if read.view.task.as_ref().is_some_and(|t| t.id == task.id) => {}
            _ => reads.push(TaskRead {
                view: TaskView {
                    task: Some(task),
                    shares: Vec::new(),
                    team_shares: Vec::new(),
                },
                shares_total: row.optional_int("shares_total")?,
            }),
        }
        if let Some(read) = reads.last_mut() {
            read.view.shares.extend(share);
            read.view.team_shares.extend(team_share);
        }
    }
    Ok(reads)
}
