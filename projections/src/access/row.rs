//! One user's paths to one task, and the figures a path's change moves.

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::event::Permission;
use crate::rows::TaskView;
use crate::stats::StatsDelta;
use crate::team::TeamView;

/// One row of `task_access`: the paths by which one user who does not own a task sees it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct AccessRow {
    pub task_id: Uuid,
    pub user_id: String,
    /// Their direct share, if any.
    pub direct: Option<Permission>,
    /// How many of their teams the task is shared with for viewing, and for editing.
    pub team_view: i64,
    pub team_edit: i64,
}

impl AccessRow {
    /// A row without paths.
    pub fn new(task_id: Uuid, user_id: &str) -> Self {
        AccessRow {
            task_id,
            user_id: user_id.to_owned(),
            direct: None,
            team_view: 0,
            team_edit: 0,
        }
    }

    /// The permission of the best path; `None` when no path is left.
    pub fn permission(&self) -> Option<Permission> {
        if self.direct == Some(Permission::Edit) || self.team_edit > 0 {
            Some(Permission::Edit)
        } else if self.direct.is_some() || self.team_view > 0 {
            Some(Permission::View)
        } else {
            None
        }
    }

    /// Takes one path change.
    pub fn take(&mut self, path: Path) {
        match path {
            Path::Direct(permission) => self.direct = permission,
            Path::Team(Permission::View, delta) => self.team_view += delta,
            Path::Team(Permission::Edit, delta) => self.team_edit += delta,
        }
    }
}

/// A change to one of a user's paths to a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path {
    /// Their direct share is now this (`None`: withdrawn).
    Direct(Option<Permission>),
    /// One more (`1`) or one fewer (`-1`) team shares the task with them with this permission.
    Team(Permission, i64),
}

/// Applies `path` to the row of (`task_id`, `user_id`) (`None`: no path yet): the row after
/// (`None`: no path left) and the change to the user's figures when their permission moved.
pub fn apply_path(
    row: Option<AccessRow>,
    task_id: Uuid,
    user_id: &str,
    path: Path,
) -> (Option<AccessRow>, Option<StatsDelta>) {
    let mut row = row.unwrap_or_else(|| AccessRow::new(task_id, user_id));
    let before = row.permission();
    row.take(path);
    let after = row.permission();
    let delta = (before != after).then(|| {
        let mut delta = StatsDelta::for_user(user_id);
        if let Some(before) = before {
            delta = delta.shared(before, -1);
        }
        if let Some(after) = after {
            delta = delta.shared(after, 1);
        }
        delta
    });
    (after.is_some().then_some(row), delta)
}

/// The access rows of the task of `view` worked out from its shares and the final members of
/// `teams` (a team not among them shares nothing), through the same [`AccessRow::take`] the
/// live path uses: what a rebuild and a verify write and compare.
pub fn access_rows(view: &TaskView, teams: &BTreeMap<Uuid, TeamView>) -> Vec<AccessRow> {
    let Some(task) = &view.task else {
        return Vec::new();
    };
    let mut rows: BTreeMap<String, AccessRow> = BTreeMap::new();
    let mut take = |user_id: &str, path: Path| {
        rows.entry(user_id.to_owned())
            .or_insert_with(|| AccessRow::new(task.id, user_id))
            .take(path);
    };
    for share in &view.shares {
        take(&share.user_id, Path::Direct(Some(share.permission)));
    }
    for share in &view.team_shares {
        let members = teams
            .get(&share.team_id)
            .into_iter()
            .flat_map(|team| &team.members);
        for member in members.filter(|member| member.user_id != task.owner_id) {
            take(&member.user_id, Path::Team(share.permission, 1));
        }
    }
    rows.into_values().collect()
}
