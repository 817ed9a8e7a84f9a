//! Events folded onto stored rows in memory, then written back in bulk: the one way rows
//! change, whether the events were just decided (the writer) or read back from the log
//! (catch-up and rebuild).

use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;

use projections::{
    DashboardStats, RecordedEvent, ShareChange, ShareRow, StatsDelta, TaskChange, TaskRow,
    TaskView, project,
};
use uuid::Uuid;

use super::StoreError;
use super::write_tx::{Tables, WriteTx};

/// The rows a run of events has changed so far, on top of the rows loaded before it.
pub(crate) struct Projector {
    /// Every task of the run as the events so far have left it (absent: does not exist).
    views: HashMap<Uuid, TaskView>,
    /// The final row of each task changed (`None`: deleted).
    tasks: HashMap<Uuid, Option<TaskRow>>,
    /// The final row of each share changed (`None`: deleted).
    shares: HashMap<(Uuid, String), Option<ShareRow>>,
    /// Every change to the figures, in order.
    deltas: Vec<StatsDelta>,
}

impl Projector {
    /// Starts from the stored views of the tasks the run will touch.
    pub fn new(views: HashMap<Uuid, TaskView>) -> Self {
        Projector {
            views,
            tasks: HashMap::new(),
            shares: HashMap::new(),
            deltas: Vec::new(),
        }
    }

    /// The current view of a task, for deciding a command against it.
    pub fn view(&mut self, task_id: Uuid) -> &TaskView {
        self.views.entry(task_id).or_default()
    }

    /// Folds one event in, through the same [`project`] every path uses.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
        let view = self.views.entry(recorded.task_id).or_default();
        let changes = project(view, recorded);
        view.apply(&changes);
        match changes.task {
            Some(TaskChange::Upsert(row)) => {
                self.tasks.insert(recorded.task_id, Some(row));
            }
            Some(TaskChange::Delete) => {
                self.tasks.insert(recorded.task_id, None);
            }
            None => {}
        }
        for change in changes.shares {
            let (user_id, row) = match change {
                ShareChange::Upsert(row) => (row.user_id.clone(), Some(row)),
                ShareChange::Delete { user_id } => (user_id, None),
            };
            self.shares.insert((recorded.task_id, user_id), row);
        }
        self.deltas.extend(changes.stats);
    }

    /// Writes the final task and share rows, then the figures, to `tables`.
    pub async fn write<T: WriteTx>(self, tx: &mut T, tables: Tables) -> Result<(), StoreError> {
        let (upserts, deletes) = split(&self.tasks);
        if !deletes.is_empty() {
            tx.delete_tasks(tables, &deletes).await?;
        }
        if !upserts.is_empty() {
            tx.upsert_tasks(tables, &upserts).await?;
        }
        let (upserts, deletes) = split(&self.shares);
        let deletes: Vec<(Uuid, &str)> = deletes.iter().map(|(t, u)| (*t, u.as_str())).collect();
        if !deletes.is_empty() {
            tx.delete_shares(tables, &deletes).await?;
        }
        if !upserts.is_empty() {
            tx.upsert_shares(tables, &upserts).await?;
        }
        apply_deltas(tx, tables, &self.deltas).await
    }
}

/// Folds `events` (in position order) onto the rows of `tables` and writes the result.
pub(crate) async fn project_events<T: WriteTx>(
    tx: &mut T,
    tables: Tables,
    events: &[RecordedEvent],
) -> Result<(), StoreError> {
    let task_ids = distinct(events.iter().map(|event| event.task_id));
    let mut projector = Projector::new(tx.load_views(tables, &task_ids).await?);
    for event in events {
        projector.apply(event);
    }
    projector.write(tx, tables).await
}

/// Applies `deltas`, in order, to the dashboard rows of `tables`: each row touched is read
/// once and written once.
async fn apply_deltas<T: WriteTx>(
    tx: &mut T,
    tables: Tables,
    deltas: &[StatsDelta],
) -> Result<(), StoreError> {
    if deltas.is_empty() {
        return Ok(());
    }
    let users = distinct(deltas.iter().map(|delta| delta.user_id.as_str()));
    let mut rows: HashMap<&str, DashboardStats> = HashMap::with_capacity(users.len());
    let stored = tx.load_stats(tables, &users).await?;
    for row in &stored {
        rows.insert(row.user_id.as_str(), row.clone());
    }
    for delta in deltas {
        match rows.entry(delta.user_id.as_str()) {
            Entry::Occupied(row) => row.into_mut().apply(delta),
            Entry::Vacant(slot) => slot
                .insert(DashboardStats::empty(&delta.user_id))
                .apply(delta),
        }
    }
    let rows: Vec<&DashboardStats> = rows.values().collect();
    tx.save_stats(tables, &rows).await
}

/// The rows to upsert and the keys to delete of a map of final states.
fn split<K: Clone, V>(finals: &HashMap<K, Option<V>>) -> (Vec<&V>, Vec<K>) {
    let mut upserts = Vec::new();
    let mut deletes = Vec::new();
    for (key, row) in finals {
        match row {
            Some(row) => upserts.push(row),
            None => deletes.push(key.clone()),
        }
    }
    (upserts, deletes)
}

/// The distinct values, in first-seen order.
pub(crate) fn distinct<T: Eq + Hash + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = HashSet::new();
    values.filter(|value| seen.insert(*value)).collect()
}
