//! `team_members`: who is in each team, and as what.

use projections::{MemberRow, Role};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

pub(crate) const TABLE: Table = Table {
    name: "team_members",
    shadow: "team_members_rebuild",
    columns: "team_id, user_id, role",
    key: "team_id, user_id",
    kept: &[],
};

impl Encode for MemberRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.team_id)?;
        values.text(&self.user_id)?;
        values.text(self.role.as_str())
    }
}

impl Decode for MemberRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let role = row.text("role")?;
        Ok(MemberRow {
            team_id: row.uuid("team_id")?,
            user_id: row.text("user_id")?,
            role: Role::parse(&role).ok_or_else(|| corrupt("role", &role))?,
        })
    }
}
