//! Who sees a task they do not own, and how: the `task_access` read model.
//!
//! A user sees a task through a direct share and through every team they belong to that the
//! task is shared with. Their permission is the highest of those paths (edit wins) and the task
//! counts once in their `shared` figures. A row keeps the paths as counts, so a path that comes
//! or goes changes one row, and the user's figures move only when the row's permission does:
//! exact without recounting anything.
//!
//! [`Access`] holds the rows (and, for each team, the tasks shared with it) that a run of events
//! reads and changes. Some events fan out over rows of other streams (a team's share over its
//! members, a member's joining over the team's tasks); [`Access::task_needs`] and
//! [`Access::team_needs`] name what must be known first, the store loads it, and the apply
//! steps then fold the event exactly as the in-memory models do with everything known.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use uuid::Uuid;

mod loading;
mod row;
pub use loading::Needs;
pub use row::{AccessRow, Path, access_rows, apply_path};

use crate::event::{Permission, TaskEvent};
use crate::rows::TaskView;
use crate::stats::StatsDelta;
use crate::team::{TeamEvent, TeamView};

/// A task shared with a team, as the team's fan-out needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamTask {
    pub permission: Permission,
    /// Its owner, who sees it as theirs, not through the team.
    pub owner_id: String,
}

/// The access rows and team tasks known to a run of events, and what it changed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Access {
    /// Whether what is not here is unknown until loaded (a run over stored rows); otherwise
    /// it does not exist (the in-memory models know everything).
    partial: bool,
    /// Known rows by (task, user): loaded or changed (`None`: no row).
    rows: BTreeMap<(Uuid, String), Option<AccessRow>>,
    /// Tasks every row of which is known.
    whole: HashSet<Uuid>,
    /// The tasks shared with each known team.
    by_team: HashMap<Uuid, BTreeMap<Uuid, TeamTask>>,
    /// The keys of the rows the run changed.
    changed: BTreeSet<(Uuid, String)>,
}

impl Access {
    /// Nothing known yet: every row and team is loaded before it is used.
    pub fn partial() -> Self {
        Access {
            partial: true,
            ..Access::default()
        }
    }

    /// Everything known: these rows and no other.
    pub fn with_rows(rows: impl IntoIterator<Item = AccessRow>) -> Self {
        let rows = rows
            .into_iter()
            .map(|row| ((row.task_id, row.user_id.clone()), Some(row)))
            .collect();
        Access {
            rows,
            ..Access::default()
        }
    }

    /// Folds task event `event` on `prior` (before the event), with `team` the view of the
    /// team a team share names: the changes to the figures of the users who see the task.
    pub fn apply_task_event(
        &mut self,
        task_id: Uuid,
        prior: &TaskView,
        event: &TaskEvent,
        team: Option<&TeamView>,
    ) -> Vec<StatsDelta> {
        let Some(task) = &prior.task else {
            return Vec::new();
        };
        let mut deltas = Vec::new();
        match event {
            TaskEvent::TaskShared {
                user_id,
                permission,
            }
            | TaskEvent::SharePermissionChanged {
                user_id,
                permission,
            } => self.take(
                task_id,
                user_id,
                Path::Direct(Some(*permission)),
                &mut deltas,
            ),
            TaskEvent::TaskUnshared { user_id } => {
                if prior.share_of(user_id).is_some() {
                    self.take(task_id, user_id, Path::Direct(None), &mut deltas);
                }
            }
            TaskEvent::TaskSharedWithTeam {
                team_id,
                permission,
            }
            | TaskEvent::TeamSharePermissionChanged {
                team_id,
                permission,
            } => {
                let before = prior.team_share_of(*team_id);
                self.retake_team(
                    task_id,
                    &task.owner_id,
                    team,
                    before,
                    Some(*permission),
                    &mut deltas,
                );
                if let Some(tasks) = self.team_tasks(*team_id) {
                    let shared = TeamTask {
                        permission: *permission,
                        owner_id: task.owner_id.clone(),
                    };
                    tasks.insert(task_id, shared);
                }
            }
            TaskEvent::TaskUnsharedFromTeam { team_id } => {
                let before = prior.team_share_of(*team_id);
                self.retake_team(task_id, &task.owner_id, team, before, None, &mut deltas);
                if let Some(tasks) = self.team_tasks(*team_id) {
                    tasks.remove(&task_id);
                }
            }
            TaskEvent::TaskDeleted {} => {
                let keys: Vec<(Uuid, String)> = self
                    .rows
                    .range((task_id, String::new())..)
                    .take_while(|((task, _), _)| *task == task_id)
                    .filter(|(_, row)| row.is_some())
                    .map(|(key, _)| key.clone())
                    .collect();
                for key in keys {
                    if let Some(Some(row)) = self.rows.insert(key.clone(), None)
                        && let Some(permission) = row.permission()
                    {
                        deltas.push(StatsDelta::for_user(&key.1).shared(permission, -1));
                    }
                    self.changed.insert(key);
                }
                for share in &prior.team_shares {
                    if let Some(tasks) = self.team_tasks(share.team_id) {
                        tasks.remove(&task_id);
                    }
                }
            }
            TaskEvent::TaskCreated { .. }
            | TaskEvent::TaskEdited { .. }
            | TaskEvent::TaskCompleted {}
            | TaskEvent::TaskReopened {} => {}
        }
        deltas
    }

    /// Folds team event `event` on `prior` (before the event): the changes to the figures of
    /// the members whose paths moved, and the tasks whose share with the team ended (the team
    /// was deleted).
    pub fn apply_team_event(
        &mut self,
        team_id: Uuid,
        prior: &TeamView,
        event: &TeamEvent,
    ) -> (Vec<StatsDelta>, Vec<Uuid>) {
        let mut deltas = Vec::new();
        if prior.team.is_none() {
            return (deltas, Vec::new());
        }
        let (members, delta): (Vec<&str>, i64) = match event {
            TeamEvent::MemberAdded { member_id, .. } => (vec![member_id], 1),
            TeamEvent::MemberRemoved { member_id } => (vec![member_id], -1),
            TeamEvent::TeamDeleted {} => (
                prior.members.iter().map(|m| m.user_id.as_str()).collect(),
                -1,
            ),
            _ => return (deltas, Vec::new()),
        };
        let tasks = self.by_team.get(&team_id).cloned().unwrap_or_default();
        for (task_id, shared) in &tasks {
            for member in members.iter().filter(|m| **m != shared.owner_id) {
                let path = Path::Team(shared.permission, delta);
                self.take(*task_id, member, path, &mut deltas);
            }
        }
        if !matches!(event, TeamEvent::TeamDeleted {}) {
            return (deltas, Vec::new());
        }
        self.by_team.insert(team_id, BTreeMap::new());
        (deltas, tasks.into_keys().collect())
    }

    /// The tasks shared with `team_id`, where known, to keep up to date.
    fn team_tasks(&mut self, team_id: Uuid) -> Option<&mut BTreeMap<Uuid, TeamTask>> {
        if self.partial {
            self.by_team.get_mut(&team_id)
        } else {
            Some(self.by_team.entry(team_id).or_default())
        }
    }

    /// Moves every member's path through `team` (but the owner's) from `before` to `after`.
    fn retake_team(
        &mut self,
        task_id: Uuid,
        owner_id: &str,
        team: Option<&TeamView>,
        before: Option<Permission>,
        after: Option<Permission>,
        deltas: &mut Vec<StatsDelta>,
    ) {
        if before == after {
            return;
        }
        for member in team.iter().flat_map(|team| &team.members) {
            if member.user_id == owner_id {
                continue;
            }
            if let Some(before) = before {
                self.take(task_id, &member.user_id, Path::Team(before, -1), deltas);
            }
            if let Some(after) = after {
                self.take(task_id, &member.user_id, Path::Team(after, 1), deltas);
            }
        }
    }

    /// Applies one path change to a known row.
    fn take(&mut self, task_id: Uuid, user_id: &str, path: Path, deltas: &mut Vec<StatsDelta>) {
        let key = (task_id, user_id.to_owned());
        let stored = match self.rows.remove(&key) {
            Some(row) => row,
            None if !self.partial || self.whole.contains(&task_id) => None,
            None => panic!("access row {key:?} used before it was loaded"),
        };
        let (row, delta) = apply_path(stored, task_id, user_id, path);
        deltas.extend(delta);
        self.rows.insert(key.clone(), row);
        self.changed.insert(key);
    }

    /// The rows to write and the keys of those to delete.
    pub fn changes(&self) -> (Vec<&AccessRow>, Vec<(Uuid, &str)>) {
        let mut upserts = Vec::new();
        let mut deletes = Vec::new();
        for key in &self.changed {
            match self.rows.get(key) {
                Some(Some(row)) => upserts.push(row),
                _ => deletes.push((key.0, key.1.as_str())),
            }
        }
        (upserts, deletes)
    }

    /// Every known row: every row of the in-memory models.
    pub fn rows(&self) -> impl Iterator<Item = &AccessRow> {
        self.rows.values().flatten()
    }
}

#[cfg(test)]
#[path = "access_tests.rs"]
mod tests;
