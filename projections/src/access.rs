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

use crate::event::{Permission, TaskEvent};
use crate::rows::{TaskView, TeamShareRow};
use crate::stats::StatsDelta;
use crate::team::{TeamEvent, TeamView};

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

/// A task shared with a team, as the team's fan-out needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamTask {
    pub permission: Permission,
    /// Its owner, who sees it as theirs, not through the team.
    pub owner_id: String,
}

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
mod tests {
    use super::*;
    use crate::ReadModels;
    use crate::event::{Event, RecordedEvent};
    use crate::team::Role;
    use chrono::{TimeZone, Utc};

    const TASK: Uuid = Uuid::from_u128(1);
    const OPS: Uuid = Uuid::from_u128(2);
    const DEV: Uuid = Uuid::from_u128(3);

    /// Folds `events` (stream, event) into `models`, versions counted per stream.
    fn fold(models: &mut ReadModels, events: Vec<(Uuid, Event)>) {
        for (stream_id, event) in events {
            let position = models.position + 1;
            let version = match &event {
                Event::Task(_) => models
                    .tasks
                    .get(&stream_id)
                    .and_then(|v| v.task.as_ref())
                    .map(|t| t.version),
                Event::Team(_) => models
                    .teams
                    .get(&stream_id)
                    .and_then(|v| v.team.as_ref())
                    .map(|t| t.version),
            }
            .unwrap_or(0)
                + 1;
            models.apply(&RecordedEvent {
                position,
                event_id: Uuid::from_u128(position as u128),
                stream_id,
                stream_version: version,
                actor: "ann".into(),
                recorded_at: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
                event,
            });
        }
    }

    fn joined(team: Uuid, member: &str) -> (Uuid, Event) {
        let event = TeamEvent::MemberAdded {
            member_id: member.into(),
            role: Role::Member,
        };
        (team, event.into())
    }

    fn team_share(permission: Permission, team_id: Uuid) -> (Uuid, Event) {
        let event = TaskEvent::TaskSharedWithTeam {
            team_id,
            permission,
        };
        (TASK, event.into())
    }

    /// (view_only, can_edit) of `user`, after checking the maintained figures against the
    /// recount from shares and memberships.
    fn shared(models: &ReadModels, user: &str) -> (i64, i64) {
        let now = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
        let figures = models.figures(user, now);
        assert_eq!(figures, models.recount(user, now), "{user}");
        (figures.view_only, figures.can_edit)
    }

    #[test]
    fn a_task_seen_directly_and_through_two_teams_counts_once_with_the_best_permission() {
        let mut models = ReadModels::default();
        let created = |name: &str| TeamEvent::TeamCreated {
            name: name.into(),
            admin_id: "ann".into(),
        };
        let task = TaskEvent::TaskCreated {
            owner_id: "ann".into(),
            title: "t".into(),
            description: String::new(),
        };
        let direct = TaskEvent::TaskShared {
            user_id: "bob".into(),
            permission: Permission::View,
        };
        fold(
            &mut models,
            vec![
                (OPS, created("ops").into()),
                (DEV, created("dev").into()),
                joined(OPS, "bob"),
                joined(DEV, "bob"),
                joined(OPS, "cy"),
                (TASK, task.into()),
                (TASK, direct.into()),
                team_share(Permission::View, OPS),
                team_share(Permission::Edit, DEV),
            ],
        );
        assert_eq!(
            shared(&models, "bob"),
            (0, 1),
            "three paths, one task, edit wins"
        );
        assert_eq!(shared(&models, "cy"), (1, 0));
        assert_eq!(shared(&models, "ann"), (0, 0), "the owner is in both teams");

        let left = TeamEvent::MemberRemoved {
            member_id: "bob".into(),
        };
        fold(&mut models, vec![(DEV, left.into())]);
        assert_eq!(
            shared(&models, "bob"),
            (1, 0),
            "still seen through ops and directly"
        );

        fold(&mut models, vec![(OPS, TeamEvent::TeamDeleted {}.into())]);
        assert_eq!(shared(&models, "bob"), (1, 0), "still seen directly");
        assert_eq!(shared(&models, "cy"), (0, 0));
        assert_eq!(models.tasks[&TASK].team_shares.len(), 1, "ops' share ended");

        let rejoined = joined(DEV, "bob");
        fold(
            &mut models,
            vec![rejoined, (TASK, TaskEvent::TaskDeleted {}.into())],
        );
        assert_eq!(shared(&models, "bob"), (0, 0));
        assert_eq!(models.access_rows().count(), 0);
    }

    #[test]
    fn a_path_moves_the_figures_only_when_the_best_permission_moves() {
        let (row, delta) = apply_path(None, TASK, "bob", Path::Team(Permission::Edit, 1));
        assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((0, 1)));
        let (row, delta) = apply_path(row, TASK, "bob", Path::Direct(Some(Permission::View)));
        assert_eq!(delta, None, "edit still wins");
        let (row, delta) = apply_path(row, TASK, "bob", Path::Team(Permission::Edit, -1));
        assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((1, -1)));
        let (row, delta) = apply_path(row, TASK, "bob", Path::Direct(None));
        assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((-1, 0)));
        assert_eq!(row, None, "no path, no row");
    }
}
