//! The task and share read models: the current state of every task that exists.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::event::Permission;

/// Whether a task is done.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TaskStatus {
    Pending,
    Completed,
}

impl TaskStatus {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            TaskStatus::Pending => "pending",
            TaskStatus::Completed => "completed",
        }
    }

    /// Parses the stored or requested name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "pending" => Some(TaskStatus::Pending),
            "completed" => Some(TaskStatus::Completed),
            _ => None,
        }
    }
}

/// One row of the `tasks` read model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TaskRow {
    pub id: Uuid,
    pub owner_id: String,
    pub title: String,
    pub description: String,
    pub status: TaskStatus,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// The latest completion while the task is completed; `None` while it is pending.
    pub completed_at: Option<DateTime<Utc>>,
    /// The task stream's version: the number of events in it.
    pub version: i64,
}

/// One row of the `task_shares` read model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ShareRow {
    pub task_id: Uuid,
    pub user_id: String,
    pub permission: Permission,
}

/// One row of the `task_team_shares` read model: a task shared with every member of a team.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TeamShareRow {
    pub task_id: Uuid,
    pub team_id: Uuid,
    pub permission: Permission,
}

/// Everything the read models hold about one task: what commands are decided against and what
/// the fold starts from. `task` is `None` for a task that does not exist (never created, or
/// deleted).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TaskView {
    pub task: Option<TaskRow>,
    pub shares: Vec<ShareRow>,
    /// The teams it is shared with.
    pub team_shares: Vec<TeamShareRow>,
}

impl TaskView {
    /// The permission `user_id` holds through a share, if any.
    pub fn share_of(&self, user_id: &str) -> Option<Permission> {
        self.shares
            .iter()
            .find(|share| share.user_id == user_id)
            .map(|share| share.permission)
    }

    /// The permission the members of `team_id` hold through the team's share, if any.
    pub fn team_share_of(&self, team_id: Uuid) -> Option<Permission> {
        self.team_shares
            .iter()
            .find(|share| share.team_id == team_id)
            .map(|share| share.permission)
    }
}
