//! `tasks`: the current state of every task that exists.

use projections::{TaskRow, TaskStatus};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

/// The columns, as a literal for the queries that join them (`common/sql.rs`).
macro_rules! task_columns {
    () => {
        "id, owner_id, title, description, status, created_at, updated_at, completed_at, version"
    };
}
pub(crate) use task_columns;

pub(crate) const TABLE: Table = Table {
    name: "tasks",
    shadow: "tasks_rebuild",
    columns: task_columns!(),
    key: "id",
    kept: &["owner_id", "created_at"],
};

impl Encode for TaskRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.id)?;
        values.text(&self.owner_id)?;
        values.text(&self.title)?;
        values.text(&self.description)?;
        values.text(self.status.as_str())?;
        values.time(self.created_at)?;
        values.time(self.updated_at)?;
        values.optional_time(self.completed_at)?;
        values.int(self.version)
    }
}

/// A task's key, to delete it.
impl Encode for uuid::Uuid {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(*self)
    }
}

impl Decode for TaskRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let status = row.text("status")?;
        Ok(TaskRow {
            id: row.uuid("id")?,
            owner_id: row.text("owner_id")?,
            title: row.text("title")?,
            description: row.text("description")?,
            status: TaskStatus::parse(&status).ok_or_else(|| corrupt("status", &status))?,
            created_at: row.time("created_at")?,
            updated_at: row.time("updated_at")?,
            completed_at: row.optional_time("completed_at")?,
            version: row.int("version")?,
        })
    }
}
