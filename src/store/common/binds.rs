//! Encoding tally's rows as bind parameters, once for both backends: each row type binds its
//! columns in the order of the constants in `sql.rs`. The encode bounds are written once, on
//! the blanket impl; generic code asks only for `BindRows`.

use chrono::{DateTime, Utc};
use projections::{DashboardStats, ShareRow, TaskRow};
use sqlx::error::BoxDynError;
use sqlx::types::Json;
use sqlx::{Arguments, Encode, Type};
use uuid::Uuid;

use crate::store::tx::{IdempotencyRecord, NewEvent};

/// A statement's arguments, filled row by row.
pub(crate) trait BindRows: Arguments {
    fn id(&mut self, id: Uuid) -> Result<(), BoxDynError>;
    fn text(&mut self, text: &str) -> Result<(), BoxDynError>;
    fn int(&mut self, value: i64) -> Result<(), BoxDynError>;
    fn int32(&mut self, value: i32) -> Result<(), BoxDynError>;
    fn time(&mut self, at: DateTime<Utc>) -> Result<(), BoxDynError>;
    /// The columns of `sql::TASK_COLUMNS`.
    fn task(&mut self, task: &TaskRow) -> Result<(), BoxDynError>;
    /// The columns of `sql::SHARE_COLUMNS`.
    fn share(&mut self, share: &ShareRow) -> Result<(), BoxDynError>;
    /// The columns of `sql::STATS_COLUMNS`.
    fn stats(&mut self, row: &DashboardStats) -> Result<(), BoxDynError>;
    /// The columns of `sql::EVENT_INSERT_COLUMNS`.
    fn event(&mut self, new: &NewEvent) -> Result<(), BoxDynError>;
    /// The columns of `sql::IDEMPOTENCY_COLUMNS`.
    fn record(&mut self, record: &IdempotencyRecord) -> Result<(), BoxDynError>;
}

impl<A> BindRows for A
where
    A: Arguments,
    for<'q> Uuid: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> &'q str: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> Option<&'q str>: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> i64: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> i32: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> bool: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> DateTime<Utc>: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> Option<DateTime<Utc>>: Encode<'q, A::Database> + Type<A::Database>,
    for<'q> Json<serde_json::Value>: Encode<'q, A::Database> + Type<A::Database>,
{
    fn id(&mut self, id: Uuid) -> Result<(), BoxDynError> {
        self.add(id)
    }

    fn text(&mut self, text: &str) -> Result<(), BoxDynError> {
        self.add(text)
    }

    fn int(&mut self, value: i64) -> Result<(), BoxDynError> {
        self.add(value)
    }

    fn int32(&mut self, value: i32) -> Result<(), BoxDynError> {
        self.add(value)
    }

    fn time(&mut self, at: DateTime<Utc>) -> Result<(), BoxDynError> {
        self.add(at)
    }

    fn task(&mut self, task: &TaskRow) -> Result<(), BoxDynError> {
        self.add(task.id)?;
        self.add(task.owner_id.as_str())?;
        self.add(task.title.as_str())?;
        self.add(task.description.as_str())?;
        self.add(task.status.as_str())?;
        self.add(task.created_at)?;
        self.add(task.updated_at)?;
        self.add(task.completed_at)?;
        self.add(task.version)
    }

    fn share(&mut self, share: &ShareRow) -> Result<(), BoxDynError> {
        self.add(share.task_id)?;
        self.add(share.user_id.as_str())?;
        self.add(share.permission.as_str())
    }

    fn stats(&mut self, row: &DashboardStats) -> Result<(), BoxDynError> {
        self.add(row.user_id.as_str())?;
        self.add(row.pending)?;
        self.add(row.completed)?;
        self.add(row.shared_view)?;
        self.add(row.shared_edit)?;
        for bucket in [
            row.created_day,
            row.created_week,
            row.completed_day,
            row.completed_week,
        ] {
            self.add(bucket.key)?;
            self.add(bucket.count)?;
        }
        Ok(())
    }

    fn event(&mut self, new: &NewEvent) -> Result<(), BoxDynError> {
        let recorded = &new.recorded;
        self.add(recorded.position)?;
        self.add(recorded.event_id)?;
        self.add(recorded.task_id)?;
        self.add(recorded.stream_version)?;
        self.add(recorded.event.event_type())?;
        self.add(recorded.event.version())?;
        self.add(Json(recorded.event.payload()))?;
        self.add(recorded.actor.as_str())?;
        self.add(new.correlation_id)?;
        self.add(recorded.recorded_at)
    }

    fn record(&mut self, record: &IdempotencyRecord) -> Result<(), BoxDynError> {
        self.add(record.user_id.as_str())?;
        self.add(record.key.as_str())?;
        self.add(record.fingerprint.as_str())?;
        self.add(record.task_id)?;
        self.add(record.version)?;
        self.add(record.position)?;
        self.add(record.created)?;
        self.add(record.created_at)?;
        self.add(record.refusal.as_deref())
    }
}

/// The arguments `fill` adds, for a statement of a few fixed parameters.
pub(crate) fn bound<A: BindRows>(
    fill: impl FnOnce(&mut A) -> Result<(), BoxDynError>,
) -> Result<A, crate::store::StoreError> {
    let mut arguments = A::default();
    fill(&mut arguments).map_err(sqlx::Error::Encode)?;
    Ok(arguments)
}

#[cfg(test)]
mod tests {
    //! A column list and the binds of its row must agree: a column added to one and not the
    //! other would shift every later value into the wrong column.

    use chrono::Utc;
    use projections::{Permission, TaskEvent, TaskStatus};
    use sqlx::postgres::PgArguments;
    use sqlx::sqlite::SqliteArguments;

    use super::*;
    use crate::store::common::sql::{
        EVENT_INSERT_COLUMNS, IDEMPOTENCY_COLUMNS, SHARE_COLUMNS, STATS_COLUMNS, TASK_COLUMNS,
    };

    fn columns(list: &str) -> usize {
        list.split(',').count()
    }

    /// How many values each row type binds, on arguments of type `A`.
    fn bound_counts<A: BindRows>() -> [usize; 5] {
        let now = Utc::now();
        let task = TaskRow {
            id: Uuid::now_v7(),
            owner_id: "ann".into(),
            title: "t".into(),
            description: String::new(),
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        };
        let share = ShareRow {
            task_id: task.id,
            user_id: "ben".into(),
            permission: Permission::View,
        };
        let event = NewEvent {
            recorded: projections::RecordedEvent {
                position: 1,
                event_id: Uuid::now_v7(),
                task_id: task.id,
                stream_version: 1,
                actor: "ann".into(),
                recorded_at: now,
                event: TaskEvent::TaskCompleted {},
            },
            correlation_id: Uuid::now_v7(),
        };
        let record = IdempotencyRecord {
            user_id: "ann".into(),
            key: "k".into(),
            fingerprint: "f".into(),
            task_id: task.id,
            version: 1,
            position: 1,
            created: true,
            refusal: None,
            created_at: now,
        };
        let count = |bind: &dyn Fn(&mut A) -> Result<(), BoxDynError>| {
            let mut arguments = A::default();
            bind(&mut arguments).expect("bound");
            arguments.len()
        };
        [
            count(&|a| a.task(&task)),
            count(&|a| a.share(&share)),
            count(&|a| a.stats(&DashboardStats::empty("ann"))),
            count(&|a| a.event(&event)),
            count(&|a| a.record(&record)),
        ]
    }

    #[test]
    fn every_row_binds_one_value_per_column_of_its_list() {
        let lists = [
            TASK_COLUMNS,
            SHARE_COLUMNS,
            STATS_COLUMNS,
            EVENT_INSERT_COLUMNS,
            IDEMPOTENCY_COLUMNS,
        ]
        .map(columns);
        assert_eq!(bound_counts::<SqliteArguments>(), lists);
        assert_eq!(bound_counts::<PgArguments>(), lists);
    }
}
