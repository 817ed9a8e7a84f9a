//! Encoding values as bind parameters, once for both backends: the read models' rows through
//! [`Values`] (each row type's columns in its table's order, see `store/tables/`), the log's
//! and the idempotency keys' rows in the order of the constants in `sql.rs`. The encode bounds
//! are written once, on the blanket impl; generic code asks only for `BindRows`.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use sqlx::types::Json;
use sqlx::{Arguments, Encode, Type};
use uuid::Uuid;

use crate::store::tables::Values;
use crate::store::tx::{IdempotencyRecord, NewEvent};

/// A statement's arguments, filled row by row.
pub(crate) trait BindRows: Arguments {
    fn id(&mut self, id: Uuid) -> Result<(), BoxDynError>;
    fn text(&mut self, text: &str) -> Result<(), BoxDynError>;
    fn optional_text(&mut self, text: Option<&str>) -> Result<(), BoxDynError>;
    fn int(&mut self, value: i64) -> Result<(), BoxDynError>;
    fn int32(&mut self, value: i32) -> Result<(), BoxDynError>;
    fn time(&mut self, at: DateTime<Utc>) -> Result<(), BoxDynError>;
    fn optional_time(&mut self, at: Option<DateTime<Utc>>) -> Result<(), BoxDynError>;
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

    fn optional_text(&mut self, text: Option<&str>) -> Result<(), BoxDynError> {
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

    fn optional_time(&mut self, at: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
        self.add(at)
    }

    fn event(&mut self, new: &NewEvent) -> Result<(), BoxDynError> {
        let recorded = &new.recorded;
        self.add(recorded.position)?;
        self.add(recorded.event_id)?;
        self.add(recorded.stream_id)?;
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

/// A read model's row binds its columns through these.
impl<'a, A: BindRows> Values<'a> for A {
    fn uuid(&mut self, value: Uuid) -> Result<(), BoxDynError> {
        BindRows::id(self, value)
    }

    fn text(&mut self, value: &'a str) -> Result<(), BoxDynError> {
        BindRows::text(self, value)
    }

    fn optional_text(&mut self, value: Option<&'a str>) -> Result<(), BoxDynError> {
        BindRows::optional_text(self, value)
    }

    fn int(&mut self, value: i64) -> Result<(), BoxDynError> {
        BindRows::int(self, value)
    }

    fn int32(&mut self, value: i32) -> Result<(), BoxDynError> {
        BindRows::int32(self, value)
    }

    fn time(&mut self, value: DateTime<Utc>) -> Result<(), BoxDynError> {
        BindRows::time(self, value)
    }

    fn optional_time(&mut self, value: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
        BindRows::optional_time(self, value)
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
    //! other would shift every later value into the wrong column. (Each read model's rows are
    //! checked against their table in `store/tables/`.)

    use chrono::Utc;
    use projections::TaskEvent;
    use sqlx::postgres::PgArguments;
    use sqlx::sqlite::SqliteArguments;

    use super::*;
    use crate::store::common::sql::{EVENT_INSERT_COLUMNS, IDEMPOTENCY_COLUMNS};

    fn columns(list: &str) -> usize {
        list.split(',').count()
    }

    /// How many values an event and an idempotency record bind, on arguments of type `A`.
    fn bound_counts<A: BindRows>() -> [usize; 2] {
        let now = Utc::now();
        let event = NewEvent {
            recorded: projections::RecordedEvent {
                position: 1,
                event_id: Uuid::now_v7(),
                stream_id: Uuid::now_v7(),
                stream_version: 1,
                actor: "ann".into(),
                recorded_at: now,
                event: TaskEvent::TaskCompleted {}.into(),
            },
            correlation_id: Uuid::now_v7(),
        };
        let record = IdempotencyRecord {
            user_id: "ann".into(),
            key: "k".into(),
            fingerprint: "f".into(),
            task_id: event.recorded.stream_id,
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
        [count(&|a| a.event(&event)), count(&|a| a.record(&record))]
    }

    #[test]
    fn every_row_binds_one_value_per_column_of_its_list() {
        let lists = [EVENT_INSERT_COLUMNS, IDEMPOTENCY_COLUMNS].map(columns);
        assert_eq!(bound_counts::<SqliteArguments>(), lists);
        assert_eq!(bound_counts::<PgArguments>(), lists);
    }
}
