//! `teams`: every team that exists.

use projections::TeamRow;
use sqlx::error::BoxDynError;

use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

pub(crate) const TABLE: Table = Table {
    name: "teams",
    shadow: "teams_rebuild",
    columns: "id, name, created_at, version",
    key: "id",
    kept: &["created_at"],
};

impl Encode for TeamRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.id)?;
        values.text(&self.name)?;
        values.time(self.created_at)?;
        values.int(self.version)
    }
}

impl Decode for TeamRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        Ok(TeamRow {
            id: row.uuid("id")?,
            name: row.text("name")?,
            created_at: row.time("created_at")?,
            version: row.int("version")?,
        })
    }
}
