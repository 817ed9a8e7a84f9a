//! A row's values on their way into a statement and back, said once per row type for every
//! library that binds or reads them: sqlx's arguments and rows on both backends
//! (`common/binds.rs`, `common/rows.rs`), and rusqlite's parameters and rows on SQLite's fast
//! path (`sqlite/values.rs`), which store the same values the way sqlx does.

use chrono::{DateTime, Utc};
use sqlx::error::BoxDynError;
use uuid::Uuid;

use crate::store::StoreError;

/// Where a row's values go, column by column, in its table's order.
pub trait Values<'a> {
    fn uuid(&mut self, value: Uuid) -> Result<(), BoxDynError>;
    fn text(&mut self, value: &'a str) -> Result<(), BoxDynError>;
    fn optional_text(&mut self, value: Option<&'a str>) -> Result<(), BoxDynError>;
    fn int(&mut self, value: i64) -> Result<(), BoxDynError>;
    fn int32(&mut self, value: i32) -> Result<(), BoxDynError>;
    fn time(&mut self, value: DateTime<Utc>) -> Result<(), BoxDynError>;
    fn optional_time(&mut self, value: Option<DateTime<Utc>>) -> Result<(), BoxDynError>;
}

/// A row that writes its table's columns (or a key, its key's).
pub trait Encode {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError>;
}

/// Where a row's values come from, by column name.
pub(crate) trait Columns {
    fn uuid(&self, column: &str) -> Result<Uuid, StoreError>;
    fn text(&self, column: &str) -> Result<String, StoreError>;
    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn int(&self, column: &str) -> Result<i64, StoreError>;
    fn int32(&self, column: &str) -> Result<i32, StoreError>;
    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError>;
    fn optional_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError>;
}

/// A row read back from its table's columns.
pub(crate) trait Decode: Sized {
    fn decode(row: &impl Columns) -> Result<Self, StoreError>;
}

/// A stored value that is not one tally writes.
pub(crate) fn corrupt(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} {value:?}"))
}
