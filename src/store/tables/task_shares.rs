//! `task_shares`: who each task is shared with, and how.

use projections::{Permission, ShareRow};
use sqlx::error::BoxDynError;

use super::values::corrupt;
use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

pub(crate) const TABLE: Table = Table {
    name: "task_shares",
    shadow: "task_shares_rebuild",
    columns: "task_id, user_id, permission",
    key: "task_id, user_id",
    kept: &[],
};

/// The share columns of a task joined with its shares (`sql::LOAD_TASK`, `sql::LIST_OWNED`,
/// `sql::LIST_SHARED`): the task's id, and the share's user and permission renamed.
pub(crate) const LISTED: [&str; 3] = ["id", "share_user_id", "share_permission"];

/// A share from the columns named `[task, user, permission]`; `None` where the user column is
/// null (a task without shares, in an outer join).
pub(crate) fn decode_from(
    row: &impl Columns,
    [task, user, permission]: [&str; 3],
) -> Result<Option<ShareRow>, StoreError> {
    let Some(user_id) = row.optional_text(user)? else {
        return Ok(None);
    };
    let permission = row.text(permission)?;
    Ok(Some(ShareRow {
        task_id: row.uuid(task)?,
        user_id,
        permission: Permission::parse(&permission)
            .ok_or_else(|| corrupt("permission", &permission))?,
    }))
}

impl Encode for ShareRow {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.task_id)?;
        values.text(&self.user_id)?;
        values.text(self.permission.as_str())
    }
}

impl Decode for ShareRow {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        decode_from(row, ["task_id", "user_id", "permission"])?
            .ok_or_else(|| corrupt("share", "without a user"))
    }
}
