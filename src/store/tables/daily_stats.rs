//! `daily_stats`: each user's tasks created and completed per UTC day, for the trend.

use projections::{DailyRow, DayCounts};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Tables, Values};
use crate::store::StoreError;
use crate::store::common::sql::Params;

pub(crate) const TABLE: Table = Table {
    name: "daily_stats",
    shadow: "daily_stats_rebuild",
    columns: "user_id, day, created, completed",
    key: "user_id, day",
    kept: &[],
};

/// Adds `rows` rows' counts to those stored for their (user, day): the fold's changes. (A
/// rebuild's or a repair's rows replace them: [`Table::upsert`].)
pub(crate) fn add(params: Params, tables: Tables, rows: usize) -> String {
    let table = TABLE.named(tables);
    let set = format!(
        "created = {table}.created + excluded.created, \
         completed = {table}.completed + excluded.completed"
    );
    TABLE.upsert_setting(params, tables, rows, &set)
}

/// The rows that count something, for verify.
pub(crate) fn counting(tables: Tables) -> String {
    let mut sql = TABLE.select_where(tables, "created <> 0 or completed <> 0");
    sql.push_str(" order by user_id, day");
    sql
}

impl Encode for DailyRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.text(&self.user_id)?;
        // A `bigint` on PostgreSQL.
        values.int(i64::from(self.day))?;
        values.int(self.counts.created)?;
        values.int(self.counts.completed)
    }
}

impl Decode for DailyRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        Ok(DailyRow {
            user_id: row.text("user_id")?,
            day: stored_day(row.int("day")?)?,
            counts: DayCounts {
                created: row.int("created")?,
                completed: row.int("completed")?,
            },
        })
    }
}

/// A stored day (a `bigint` on PostgreSQL) as a day key.
pub(crate) fn stored_day(day: i64) -> Result<i32, StoreError> {
    i32::try_from(day).map_err(|_| corrupt("day", &day.to_string()))
}
