//! A run of events folded onto the stored rows of the tasks it touches, in memory: the final
//! row of each task and share it changed and every change to the figures, ready for the store
//! to write in bulk. The writer's batches, a rebuild's catch-up and `tally verify --repair` all
//! go through it, so rows change one way only.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use uuid::Uuid;

use crate::event::{Event, RecordedEvent};
use crate::fold::{ShareChange, TaskChange, project};
use crate::rows::{ShareRow, TaskRow, TaskView};
use crate::stats::{DashboardStats, StatsDelta};
use crate::team::{MemberRow, TeamEvent, TeamRow, TeamView};
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
    /// The final row of each team changed (`None`: deleted).
    teams: HashMap<Uuid, Option<TeamRow>>,
    /// The final row of each membership changed (`None`: ended).
    members: HashMap<(Uuid, String), Option<MemberRow>>,
    /// Every change to the figures, in order.
    deltas: Vec<StatsDelta>,
}

impl Changeset {
    /// Starts from the stored views of the tasks and teams the run will touch.
    pub fn new(views: HashMap<Uuid, TaskView>, team_views: HashMap<Uuid, TeamView>) -> Self {
        Changeset {
            views,
            team_views,
            ..Changeset::default()
        }
    }

    /// The current view of a task, for deciding a command against it.
    pub fn view(&mut self, task_id: Uuid) -> &TaskView {
        self.views.entry(task_id).or_default()
    }

    /// The current view of a team, for deciding a command against it.
    pub fn team_view(&mut self, team_id: Uuid) -> &TeamView {
        self.team_views.entry(team_id).or_default()
    }

    /// Folds one event in, through the same [`project`] (or [`TeamView::apply`]) every path
    /// uses.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
        if let Event::Team(event) = &recorded.event {
            self.apply_team(recorded, event);
            return;
        }
        let view = self.views.entry(recorded.stream_id).or_default();
        let changes = project(view, recorded);
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
        self.deltas.extend(changes.stats);
    }

    /// Folds a team's event onto its view, keeping the final row of the team and of the
    /// memberships it changed.
    fn apply_team(&mut self, recorded: &RecordedEvent, event: &TeamEvent) {
        let id = recorded.stream_id;
        let view = self.team_views.entry(id).or_default();
        let existed = view.team.is_some();
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

    /// The task rows to write and the ids of the tasks to delete.
    pub fn tasks(&self) -> (Vec<&TaskRow>, Vec<Uuid>) {
        split(&self.tasks, |id| *id)
    }

    /// The share rows to write and the (task, user) keys of the shares to delete.
    pub fn shares(&self) -> (Vec<&ShareRow>, Vec<(Uuid, &str)>) {
        split(&self.shares, |(task, user)| (*task, user.as_str()))
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
mod tests {
    use super::*;
    use crate::team::Role;
    use chrono::{TimeZone, Utc};

    fn recorded(position: i64, team: Uuid, event: TeamEvent) -> RecordedEvent {
        RecordedEvent {
            position,
            event_id: Uuid::from_u128(position as u128),
            stream_id: team,
            stream_version: position,
            actor: "ann".into(),
            recorded_at: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
            event: Event::Team(event),
        }
    }

    #[test]
    fn a_team_run_leaves_its_final_rows_and_a_deletion_ends_every_membership() {
        let team = Uuid::from_u128(7);
        let mut changes = Changeset::default();
        let created = TeamEvent::TeamCreated {
            name: "ops".into(),
            admin_id: "ann".into(),
        };
        let joined = TeamEvent::MemberAdded {
            member_id: "bob".into(),
            role: Role::Member,
        };
        changes.apply(&recorded(1, team, created));
        changes.apply(&recorded(2, team, joined));
        let (teams, deleted) = changes.teams();
        assert_eq!((teams.len(), teams[0].version, deleted.len()), (1, 2, 0));
        let (mut members, ended) = changes.members();
        members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        let members: Vec<_> = members
            .iter()
            .map(|m| (m.user_id.as_str(), m.role))
            .collect();
        assert_eq!(members, [("ann", Role::Admin), ("bob", Role::Member)]);
        assert!(ended.is_empty());

        changes.apply(&recorded(3, team, TeamEvent::TeamDeleted {}));
        assert_eq!(changes.teams(), (vec![], vec![team]));
        let (members, mut ended) = changes.members();
        ended.sort();
        assert!(members.is_empty());
        assert_eq!(ended, [(team, "ann"), (team, "bob")]);
    }
}
