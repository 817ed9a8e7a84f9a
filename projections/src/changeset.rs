//! A run of events folded onto the stored rows of the tasks it touches, in memory: the final
//! row of each task and share it changed and every change to the figures, ready for the store
//! to write in bulk. The writer's batches, a rebuild's catch-up and `tally verify --repair` all
//! go through it, so rows change one way only.

use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use uuid::Uuid;

use crate::event::RecordedEvent;
use crate::fold::{ShareChange, TaskChange, project};
use crate::rows::{ShareRow, TaskRow, TaskView};
use crate::stats::{DashboardStats, StatsDelta};
use crate::trend::{DailyRow, daily_changes, rows_of};

/// The rows a run of events has changed so far, on top of the rows loaded before it.
#[derive(Debug, Default)]
pub struct Changeset {
    /// Every task of the run as the events so far have left it (absent: does not exist).
    views: HashMap<Uuid, TaskView>,
    /// The final row of each task changed (`None`: deleted).
    tasks: HashMap<Uuid, Option<TaskRow>>,
    /// The final row of each share changed (`None`: deleted).
    shares: HashMap<(Uuid, String), Option<ShareRow>>,
    /// Every change to the figures, in order.
    deltas: Vec<StatsDelta>,
}

impl Changeset {
    /// Starts from the stored views of the tasks the run will touch.
    pub fn new(views: HashMap<Uuid, TaskView>) -> Self {
        Changeset {
            views,
            ..Changeset::default()
        }
    }

    /// The current view of a task, for deciding a command against it.
    pub fn view(&mut self, task_id: Uuid) -> &TaskView {
        self.views.entry(task_id).or_default()
    }

    /// Folds one event in, through the same [`project`] every path uses.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
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
