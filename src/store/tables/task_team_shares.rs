//! `task_team_shares`: which teams each task is shared with, and how.

use projections::{Permission, TeamShareRow};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Tables, Values, tasks};
use crate::store::StoreError;
use crate::store::common::sql::Params;

pub(crate) const TABLE: Table = Table {
    name: "task_team_shares",
    shadow: "task_team_shares_rebuild",
    columns: "task_id, team_id, permission",
    key: "task_id, team_id",
    kept: &[],
};

/// The shares of `teams` teams, each with its task's owner (`owner_id`), team by team.
pub(crate) fn with_owners(params: Params, tables: Tables, teams: usize) -> String {
    format!(
        "select s.task_id, s.team_id, s.permission, t.owner_id from {} s \
         join {} t on t.id = s.task_id where s.team_id in ({}) order by s.team_id, s.task_id",
        TABLE.named(tables),
        tasks::TABLE.named(tables),
        params.list(teams, 1)
    )
}

/// The team share of a task's row in `sql::LOAD_TASK` or `sql::LIST_OWNED` (`share_kind`
/// `team`); `None` for a row of another kind.
pub(crate) fn listed(row: &impl Columns) -> Result<Option<TeamShareRow>, StoreError> {
    if row.optional_text("share_kind")?.as_deref() != Some("team") {
        return Ok(None);
    }
    let permission = row.text("share_permission")?;
    Ok(Some(TeamShareRow {
        task_id: row.uuid("id")?,
        team_id: row.uuid("share_team_id")?,
        permission: Permission::parse(&permission)
            .ok_or_else(|| corrupt("permission", &permission))?,
    }))
}

impl Encode for TeamShareRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.task_id)?;
        values.uuid(self.team_id)?;
        values.text(self.permission.as_str())
    }
}

impl Decode for TeamShareRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let permission = row.text("permission")?;
        Ok(TeamShareRow {
            task_id: row.uuid("task_id")?,
            team_id: row.uuid("team_id")?,
            permission: Permission::parse(&permission)
                .ok_or_else(|| corrupt("permission", &permission))?,
        })
    }
}
