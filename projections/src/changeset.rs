//! A run of events folded onto the stored rows of the tasks it touches, in memory: the final
//! row of each task and share it changed and every change to the figures, ready for the store
//! to write in bulk. The writer's batches, a rebuild's catch-up and `tally verify --repair` all
//! go through it, so rows change one way only.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use uuid::Uuid;

use crate::access::{Access, AccessRow, Needs};
use crate::event::{Event, Permission, RecordedEvent};
use crate::fold::{ShareChange, TaskChange, TeamShareChange, project};
use crate::rows::{ShareRow, TaskRow, TaskView, TeamShareRow};
use crate::stats::{DashboardStats, StatsDelta};
use crate::team::{MemberRow, TeamEvent, TeamRow, TeamView};
use crate::team_stats::{TeamDelta, TeamStats, member_delta, task_team_deltas};
use crate::trend::{DailyRow, daily_changes, rows_of};

/// The rows a run of events has changed so far, on top of the rows loaded before it.
#[derive(Debug, Default)]
pub struct Changeset {
    /// Every task of the run as the events so far have left it (absent: does not exist).
    views: HashMap<Uuid, TaskView>,
    /// Every team of the run, likewise.
    team_views: HashMap<Uuid, TeamView>,
    /// The final row of each task changed (`None`: deleted).
    tasks: HashMap<Uuid, Option<TaskRow>>,
    /// The final row of each share changed (`None`: deleted).
    shares: HashMap<(Uuid, String), Option<ShareRow>>,
    /// The final row of each team share changed, by (task, team) (`None`: withdrawn).
    team_shares: HashMap<(Uuid, Uuid), Option<TeamShareRow>>,
    /// Who sees the run's tasks through shares, as far as the run has needed to know.
    access: Access,
    /// The final row of each team changed (`None`: deleted).
    teams: HashMap<Uuid, Option<TeamRow>>,
    /// The final row of each membership changed (`None`: ended).
    members: HashMap<(Uuid, String), Option<MemberRow>>,
    /// Every change to the figures, in order.
    deltas: Vec<StatsDelta>,
    /// Every change to the teams' figures, in order.
    team_deltas: Vec<TeamDelta>,
}

impl Changeset {
    /// Starts from the stored views of the tasks and teams the run will touch (and of every
    /// team a team share it decides names): a task or team not among them does not exist.
    pub fn new(views: HashMap<Uuid, TaskView>, team_views: HashMap<Uuid, TeamView>) -> Self {
        Changeset {
            views,
            team_views,
            access: Access::partial(),
            ..Changeset::default()
        }
    }

    /// The current view of a task, for deciding a command against it.
    pub fn view(&mut self, task_id: Uuid) -> &TaskView {
        self.views.entry(task_id).or_default()
    }

    /// The current view of a task, how `user_id` sees it (when they do not own it; known to
    /// the run, see [`Access::known`]) and the view of team `team_id`: what a task command is
    /// decided against.
    pub fn standing(
        &mut self,
        task_id: Uuid,
        user_id: &str,
        team_id: Option<Uuid>,
    ) -> (&TaskView, Option<Permission>, Option<&TeamView>) {
        let access = self.access.known(task_id, user_id).flatten();
        let permission = access.and_then(AccessRow::permission);
        let team = team_id
            .and_then(|id| self.team_views.get(&id))
            .filter(|t| t.team.is_some());
        (self.views.entry(task_id).or_default(), permission, team)
    }

    /// The current view of a team, for deciding a command against it.
    pub fn team_view(&mut self, team_id: Uuid) -> &TeamView {
        self.team_views.entry(team_id).or_default()
    }

    /// What must be loaded into [`access_mut`](Self::access_mut) (or by
    /// [`supply_team`](Self::supply_team)) before `recorded` can be applied; ask again after
    /// loading it, until nothing is needed.
    pub fn needs(&self, recorded: &RecordedEvent) -> Needs {
        let id = recorded.stream_id;
        match &recorded.event {
            Event::Task(event) => {
                let none = TaskView::default();
                let prior = self.views.get(&id).unwrap_or(&none);
                let team = event.team_id().and_then(|team| self.team_views.get(&team));
                self.access.task_needs(id, prior, event, team)
            }
            Event::Team(event) => {
                let none = TeamView::default();
                let prior = self.team_views.get(&id).unwrap_or(&none);
                self.access.team_needs(id, prior, event)
            }
        }
    }

    /// Where the access rows the run needs are supplied.
    pub fn access_mut(&mut self) -> &mut Access {
        &mut self.access
    }

    /// Takes the stored tasks shared with `team_id` (each share with its task's owner), under
    /// the run's own changes to them.
    pub fn supply_team(&mut self, team_id: Uuid, found: Vec<(TeamShareRow, String)>) {
        let owner = |task_id: &Uuid| {
            let task = self.views.get(task_id).and_then(|view| view.task.as_ref());
            task.map_or_else(String::new, |task| task.owner_id.clone())
        };
        let changed: Vec<(Uuid, Option<Permission>, String)> = self
            .team_shares
            .iter()
            .filter(|((_, team), _)| *team == team_id)
            .map(|((task, _), row)| (*task, row.as_ref().map(|r| r.permission), owner(task)))
            .collect();
        self.access.supply_team(team_id, found, changed.into_iter());
    }

    /// Folds one event in, through the same [`project`] (or [`TeamView::apply`]) and
    /// [`Access`] every path uses. What [`needs`](Self::needs) named must have been supplied.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
        let event = match &recorded.event {
            Event::Team(event) => return self.apply_team(recorded, event),
            Event::Task(event) => event,
        };
        let view = self.views.entry(recorded.stream_id).or_default();
        let team = event.team_id().and_then(|team| self.team_views.get(&team));
        let shared = self
            .access
            .apply_task_event(recorded.stream_id, view, event, team);
        self.deltas.extend(shared);
        let changes = project(view, recorded);
        self.team_deltas
            .extend(task_team_deltas(view, event, &changes.stats));
        view.apply(&changes);
        match changes.task {
            Some(TaskChange::Upsert(row)) => {
                self.tasks.insert(recorded.stream_id, Some(row));
            }
            Some(TaskChange::Delete) => {
                self.tasks.insert(recorded.stream_id, None);
            }
            None => {}
        }
        for change in changes.shares {
            let (user_id, row) = match change {
                ShareChange::Upsert(row) => (row.user_id.clone(), Some(row)),
                ShareChange::Delete { user_id } => (user_id, None),
            };
            self.shares.insert((recorded.stream_id, user_id), row);
        }
        for change in changes.team_shares {
            let (team_id, row) = match change {
                TeamShareChange::Upsert(row) => (row.team_id, Some(row)),
                TeamShareChange::Delete { team_id } => (team_id, None),
            };
            self.team_shares.insert((recorded.stream_id, team_id), row);
        }
        self.deltas.extend(changes.stats);
    }

    /// Folds a team's event onto its view, keeping the final row of the team and of the
    /// memberships it changed.
    fn apply_team(&mut self, recorded: &RecordedEvent, event: &TeamEvent) {
        let id = recorded.stream_id;
        let view = self.team_views.entry(id).or_default();
        let (shared, unshared) = self.access.apply_team_event(id, view, event);
        self.deltas.extend(shared);
        // A deleted team's shares end with it.
        for task_id in unshared {
            self.team_shares.insert((task_id, id), None);
            if let Some(task) = self.views.get_mut(&task_id) {
                task.team_shares.retain(|share| share.team_id != id);
            }
        }
        let existed = view.team.is_some();
        if existed || matches!(event, TeamEvent::TeamCreated { .. }) {
            self.team_deltas.extend(member_delta(id, event));
        }
        // The memberships the event changes: every one on a deletion (named before the view
        // forgets them), else its member's.
        let touched: Vec<String> = match event {
            TeamEvent::TeamDeleted {} => view.members.iter().map(|m| m.user_id.clone()).collect(),
            _ => event.member().map(str::to_owned).into_iter().collect(),
        };
        view.apply(id, recorded.stream_version, recorded.recorded_at, event);
        if !existed && view.team.is_none() {
            return;
        }
        self.teams.insert(id, view.team.clone());
        for user_id in touched {
            let row = view.members.iter().find(|m| m.user_id == user_id).cloned();
            self.members.insert((id, user_id), row);
        }
    }

    /// The team rows to write and the ids of the teams to delete.
    pub fn teams(&self) -> (Vec<&TeamRow>, Vec<Uuid>) {
        split(&self.teams, |id| *id)
    }

    /// The membership rows to write and the (team, user) keys of those to delete.
    pub fn members(&self) -> (Vec<&MemberRow>, Vec<(Uuid, &str)>) {
        split(&self.members, |(team, user)| (*team, user.as_str()))
    }

    /// The team share rows to write and the (task, team) keys of those to delete.
    pub fn team_shares(&self) -> (Vec<&TeamShareRow>, Vec<(Uuid, Uuid)>) {
        split(&self.team_shares, |key| *key)
    }

    /// The access rows to write and the (task, user) keys of those to delete.
    pub fn access(&self) -> (Vec<&AccessRow>, Vec<(Uuid, &str)>) {
        self.access.changes()
    }

    /// The task rows to write and the ids of the tasks to delete.
    pub fn tasks(&self) -> (Vec<&TaskRow>, Vec<Uuid>) {
        split(&self.tasks, |id| *id)
    }

    /// The share rows to write and the (task, user) keys of the shares to delete.
    pub fn shares(&self) -> (Vec<&ShareRow>, Vec<(Uuid, &str)>) {
        split(&self.shares, |(task, user)| (*task, user.as_str()))
    }

    /// The teams whose figures changed and that still exist, each once: the rows to load
    /// before [`team_stats_after`](Self::team_stats_after).
    pub fn team_stats_teams(&self) -> Vec<Uuid> {
        let teams = self.team_deltas.iter().map(|delta| delta.team_id);
        distinct(teams.filter(|team| !matches!(self.teams.get(team), Some(None))))
    }

    /// The team rows after every change, from the `stored` rows of
    /// [`team_stats_teams`](Self::team_stats_teams) (a team without one starts from zeros).
    pub fn team_stats_after(&self, stored: Vec<TeamStats>) -> Vec<TeamStats> {
        let mut rows: HashMap<Uuid, TeamStats> =
            stored.into_iter().map(|row| (row.team_id, row)).collect();
        let wanted: HashSet<Uuid> = self.team_stats_teams().into_iter().collect();
        for delta in self
            .team_deltas
            .iter()
            .filter(|d| wanted.contains(&d.team_id))
        {
            rows.entry(delta.team_id)
                .or_insert_with(|| TeamStats::empty(delta.team_id))
                .apply(delta);
        }
        rows.into_values().collect()
    }

    /// The users whose figures changed, each once: the rows to load before
    /// [`stats_after`](Self::stats_after).
    pub fn stats_users(&self) -> Vec<&str> {
        distinct(self.deltas.iter().map(|delta| delta.user_id.as_str()))
    }

    /// The changes to the trend's counts, by (user, day), to add to the stored ones.
    pub fn daily_changes(&self) -> Vec<DailyRow> {
        rows_of(&daily_changes(&self.deltas))
    }

    /// The dashboard rows after every change, from the `stored` rows of
    /// [`stats_users`](Self::stats_users) (a user without a row starts from zeros).
    pub fn stats_after(&self, stored: Vec<DashboardStats>) -> Vec<DashboardStats> {
        let mut rows: HashMap<String, DashboardStats> = stored
            .into_iter()
            .map(|row| (row.user_id.clone(), row))
            .collect();
        for delta in &self.deltas {
            match rows.get_mut(&delta.user_id) {
                Some(row) => row.apply(delta),
                None => {
                    let mut row = DashboardStats::empty(&delta.user_id);
                    row.apply(delta);
                    rows.insert(delta.user_id.clone(), row);
                }
            }
        }
        rows.into_values().collect()
    }
}

/// The rows to upsert and the keys to delete of a map of final states.
fn split<'a, K, V, D>(
    finals: &'a HashMap<K, Option<V>>,
    key: impl Fn(&'a K) -> D,
) -> (Vec<&'a V>, Vec<D>) {
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (id, row) in finals {
        match row {
            Some(row) => upserts.push(row),
            None => deletes.push(key(id)),
        }
    }
    (upserts, deletes)
}

/// The distinct values, in first-seen order.
pub fn distinct<T: Eq + Hash + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    values.filter(|value| seen.insert(*value)).collect()
}

#[cfg(test)]
#[path = "changeset_tests.rs"]
mod tests;
