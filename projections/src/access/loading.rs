//! What a run over stored rows must load before it folds an event, and taking it in.

use std::collections::BTreeMap;

use uuid::Uuid;

use super::{Access, AccessRow, TeamTask};
use crate::event::{Permission, TaskEvent};
use crate::rows::{TaskView, TeamShareRow};
use crate::team::{TeamEvent, TeamView};

/// What must be loaded before an event can be folded.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Needs {
    /// Access rows by (task, user).
    pub rows: Vec<(Uuid, String)>,
    /// Every access row of these tasks.
    pub tasks: Vec<Uuid>,
    /// The tasks shared with these teams.
    pub teams: Vec<Uuid>,
}

impl Needs {
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty() && self.tasks.is_empty() && self.teams.is_empty()
    }
}

impl Access {
    /// What folding task event `event` on `prior` needs, with `team` the view of the team a
    /// team share names.
    pub fn task_needs(
        &self,
        task_id: Uuid,
        prior: &TaskView,
        event: &TaskEvent,
        team: Option<&TeamView>,
    ) -> Needs {
        let mut needs = Needs::default();
        if !self.partial {
            return needs;
        }
        let Some(task) = &prior.task else {
            return needs;
        };
        match event {
            TaskEvent::TaskShared { user_id, .. }
            | TaskEvent::SharePermissionChanged { user_id, .. }
            | TaskEvent::TaskUnshared { user_id } => self.need_row(&mut needs, task_id, user_id),
            TaskEvent::TaskSharedWithTeam { .. }
            | TaskEvent::TeamSharePermissionChanged { .. }
            | TaskEvent::TaskUnsharedFromTeam { .. } => {
                for member in team.iter().flat_map(|team| &team.members) {
                    if member.user_id != task.owner_id {
                        self.need_row(&mut needs, task_id, &member.user_id);
                    }
                }
            }
            TaskEvent::TaskDeleted {} if !self.whole.contains(&task_id) => {
                needs.tasks.push(task_id)
            }
            _ => {}
        }
        needs
    }

    /// What folding team event `event` on `prior` needs.
    pub fn team_needs(&self, team_id: Uuid, prior: &TeamView, event: &TeamEvent) -> Needs {
        let mut needs = Needs::default();
        let members: Vec<&str> = match event {
            TeamEvent::MemberAdded { member_id, .. } | TeamEvent::MemberRemoved { member_id } => {
                vec![member_id]
            }
            TeamEvent::TeamDeleted {} => prior.members.iter().map(|m| m.user_id.as_str()).collect(),
            _ => return needs,
        };
        if !self.partial || prior.team.is_none() {
            return needs;
        }
        let Some(tasks) = self.by_team.get(&team_id) else {
            needs.teams.push(team_id);
            return needs;
        };
        for (task_id, shared) in tasks {
            for member in members.iter().filter(|m| **m != shared.owner_id) {
                self.need_row(&mut needs, *task_id, member);
            }
        }
        needs
    }

    /// The row of (`task_id`, `user_id`) when known (`Some(None)`: known to be absent); `None`
    /// until it is loaded.
    pub fn known(&self, task_id: Uuid, user_id: &str) -> Option<Option<&AccessRow>> {
        match self.rows.get(&(task_id, user_id.to_owned())) {
            Some(row) => Some(row.as_ref()),
            None if !self.partial || self.whole.contains(&task_id) => Some(None),
            None => None,
        }
    }

    fn need_row(&self, needs: &mut Needs, task_id: Uuid, user_id: &str) {
        let key = (task_id, user_id.to_owned());
        if !self.whole.contains(&task_id) && !self.rows.contains_key(&key) {
            needs.rows.push(key);
        }
    }

    /// Takes the stored rows found for `keys`: a key without one has no row. What the run
    /// already knows stays as it is.
    pub fn supply_rows(&mut self, keys: &[(Uuid, String)], found: Vec<AccessRow>) {
        for row in found {
            let key = (row.task_id, row.user_id.clone());
            self.rows.entry(key).or_insert(Some(row));
        }
        for key in keys {
            self.rows.entry(key.clone()).or_insert(None);
        }
    }

    /// Takes every stored row of `task_id`.
    pub fn supply_task(&mut self, task_id: Uuid, found: Vec<AccessRow>) {
        self.supply_rows(&[], found);
        self.whole.insert(task_id);
    }

    /// Takes the stored tasks shared with `team_id`, with their owners, and lays over them the
    /// run's own changes to the team's shares (task, permission or `None` for withdrawn, owner).
    pub fn supply_team(
        &mut self,
        team_id: Uuid,
        found: Vec<(TeamShareRow, String)>,
        changed: impl Iterator<Item = (Uuid, Option<Permission>, String)>,
    ) {
        let mut tasks: BTreeMap<Uuid, TeamTask> = found
            .into_iter()
            .map(|(share, owner_id)| {
                let shared = TeamTask {
                    permission: share.permission,
                    owner_id,
                };
                (share.task_id, shared)
            })
            .collect();
        for (task_id, permission, owner_id) in changed {
            match permission {
                Some(permission) => {
                    tasks.insert(
                        task_id,
                        TeamTask {
                            permission,
                            owner_id,
                        },
                    );
                }
                None => {
                    tasks.remove(&task_id);
                }
            }
        }
        self.by_team.insert(team_id, tasks);
    }
}
