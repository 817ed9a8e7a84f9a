//! `task_access`: who sees each task they do not own, through which paths, and with which
//! permission (the best path's, kept in a column of its own for the reads).

use projections::{AccessRow, Permission};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

pub(crate) const TABLE: Table = Table {
    name: "task_access",
    shadow: "task_access_rebuild",
    columns: "task_id, user_id, permission, direct, team_view, team_edit",
    key: "task_id, user_id",
    kept: &[],
};

impl Encode for AccessRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        // A stored row always has a path: one without is deleted.
        let permission = self.permission().ok_or("an access row without a path")?;
        values.uuid(self.task_id)?;
        values.text(&self.user_id)?;
        values.text(permission.as_str())?;
        values.optional_text(self.direct.map(Permission::as_str))?;
        values.int(self.team_view)?;
        values.int(self.team_edit)
    }
}

impl Decode for AccessRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let direct = match row.optional_text("direct")? {
            Some(name) => {
                Some(Permission::parse(&name).ok_or_else(|| corrupt("permission", &name))?)
            }
            None => None,
        };
        Ok(AccessRow {
            task_id: row.uuid("task_id")?,
            user_id: row.text("user_id")?,
            direct,
            team_view: row.int("team_view")?,
            team_edit: row.int("team_edit")?,
        })
    }
}
