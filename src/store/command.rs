//! A batch of commands inside the writer's open transaction, written once for both backends:
//! load everything the batch needs in a few bulk reads, decide and project each command in
//! memory against the state its predecessors in the batch left, then write it all in a few bulk
//! statements.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use projections::{
    DashboardStats, RecordedEvent, ShareChange, ShareRow, StatsDelta, TaskChange, TaskEvent,
    TaskRow, TaskView, project,
};
use uuid::Uuid;

use super::write_tx::{KeyedResponse, NewEvent, StoredResponse, Tables, WriteTx};
use super::{CommandError, CommandOutcome, StoreError, Submission, idempotency_cutoff};
use crate::domain::{Command, decide};

/// What a command answers: its outcome, or why it was refused.
pub(crate) type CommandResult = Result<CommandOutcome, CommandError>;

/// Runs `batch` in the open transaction. A refusal (`Ok(Err(..))` in the list) has written
/// nothing; a store error (`Err(..)`) means the whole transaction must be rolled back.
pub(crate) async fn run_batch<T: WriteTx>(
    tx: &mut T,
    batch: &[&Submission],
) -> Result<Vec<CommandResult>, StoreError> {
    let task_ids = distinct(batch.iter().map(|s| s.request.task_id));
    // Only an edit or a share can change nothing; they answer with the task's last position.
    let maybe_unchanged = distinct(
        batch
            .iter()
            .filter(|s| {
                matches!(
                    s.request.command,
                    Command::Edit { .. } | Command::Share { .. }
                )
            })
            .map(|s| s.request.task_id),
    );
    let keys: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|s| {
            let key = s.idempotency.as_ref()?;
            Some((s.request.actor.as_str(), key.key.as_str()))
        })
        .collect();
    let oldest_cutoff = batch
        .iter()
        .map(|s| idempotency_cutoff(s.request.now))
        .min();

    let mut plan = Plan {
        views: tx.load_views(Tables::LIVE, &task_ids).await?,
        stream_heads: if maybe_unchanged.is_empty() {
            HashMap::new()
        } else {
            tx.stream_heads(&maybe_unchanged).await?
        },
        responses: match oldest_cutoff {
            Some(cutoff) if !keys.is_empty() => tx.find_responses(&keys, cutoff).await?,
            _ => HashMap::new(),
        },
        head: tx.head_position().await?,
        ..Plan::default()
    };
    let results = batch
        .iter()
        .map(|submission| plan.command(submission))
        .collect();
    plan.write(tx).await?;
    Ok(results)
}

/// The batch so far: the state commands are decided against, and what is to be written.
#[derive(Default)]
struct Plan {
    /// Every task of the batch as the batch has left it so far (absent: does not exist).
    views: HashMap<Uuid, TaskView>,
    /// The newest position of each task's stream, as the batch has left it.
    stream_heads: HashMap<Uuid, i64>,
    /// Stored responses by (user id, key), the batch's own included.
    responses: HashMap<(String, String), KeyedResponse>,
    /// The keys this batch stores.
    new_responses: Vec<(String, String)>,
    /// The position of the newest event, the batch's own included.
    head: i64,
    events: Vec<NewEvent>,
    /// The final row of each task the batch changed (`None`: deleted).
    tasks: HashMap<Uuid, Option<TaskRow>>,
    /// The final row of each share the batch changed (`None`: deleted).
    shares: HashMap<(Uuid, String), Option<ShareRow>>,
    /// Every change to the figures, in order.
    deltas: Vec<StatsDelta>,
}

impl Plan {
    fn command(&mut self, submission: &Submission) -> CommandResult {
        let request = &submission.request;
        let user_id = request.actor.as_str();
        if let Some(idempotency) = &submission.idempotency {
            let key = (user_id.to_owned(), idempotency.key.clone());
            if let Some(stored) = self.responses.get(&key)
                && stored.created_at >= idempotency_cutoff(request.now)
            {
                return if stored.response.fingerprint == idempotency.fingerprint {
                    Ok(stored.response.outcome)
                } else {
                    Err(CommandError::IdempotencyKeyReuse)
                };
            }
        }
        let view = self.views.entry(request.task_id).or_default();
        let events = decide(view, request)?;
        let mut outcome = CommandOutcome {
            task_id: request.task_id,
            version: view.task.as_ref().map_or(0, |task| task.version),
            position: self
                .stream_heads
                .get(&request.task_id)
                .copied()
                .unwrap_or(0),
            created: matches!(events.first(), Some(TaskEvent::TaskCreated { .. })),
        };
        for event in events {
            self.head += 1;
            outcome.version += 1;
            outcome.position = self.head;
            let recorded = RecordedEvent {
                position: self.head,
                event_id: Uuid::now_v7(),
                task_id: request.task_id,
                stream_version: outcome.version,
                actor: user_id.to_owned(),
                recorded_at: request.now,
                event,
            };
            let changes = project(view, &recorded);
            view.apply(&changes);
            match changes.task {
                Some(TaskChange::Upsert(row)) => {
                    self.tasks.insert(request.task_id, Some(row));
                }
                Some(TaskChange::Delete) => {
                    self.tasks.insert(request.task_id, None);
                }
                None => {}
            }
            for change in changes.shares {
                match change {
                    ShareChange::Upsert(row) => {
                        self.shares
                            .insert((request.task_id, row.user_id.clone()), Some(row));
                    }
                    ShareChange::Delete { user_id } => {
                        self.shares.insert((request.task_id, user_id), None);
                    }
                }
            }
            self.deltas.extend(changes.stats);
            self.events.push(NewEvent {
                recorded,
                correlation_id: submission.correlation_id,
            });
        }
        self.stream_heads.insert(request.task_id, outcome.position);
        if let Some(idempotency) = &submission.idempotency {
            let key = (user_id.to_owned(), idempotency.key.clone());
            let keyed = KeyedResponse {
                user_id: key.0.clone(),
                key: key.1.clone(),
                response: StoredResponse {
                    fingerprint: idempotency.fingerprint.clone(),
                    outcome,
                },
                created_at: request.now,
            };
            self.responses.insert(key.clone(), keyed);
            self.new_responses.push(key);
        }
        Ok(outcome)
    }

    /// Writes the batch: events, then the final task and share rows, then the figures.
    async fn write<T: WriteTx>(self, tx: &mut T) -> Result<(), StoreError> {
        if !self.events.is_empty() {
            tx.append(&self.events).await?;
        }
        let (upserts, deletes) = split(&self.tasks);
        if !deletes.is_empty() {
            tx.delete_tasks(Tables::LIVE, &deletes).await?;
        }
        if !upserts.is_empty() {
            tx.upsert_tasks(Tables::LIVE, &upserts).await?;
        }
        let (upserts, deletes) = split(&self.shares);
        let deletes: Vec<(Uuid, &str)> = deletes.iter().map(|(t, u)| (*t, u.as_str())).collect();
        if !deletes.is_empty() {
            tx.delete_shares(Tables::LIVE, &deletes).await?;
        }
        if !upserts.is_empty() {
            tx.upsert_shares(Tables::LIVE, &upserts).await?;
        }
        apply_deltas(tx, Tables::LIVE, &self.deltas).await?;
        let mut responses = self.responses;
        let new: Vec<KeyedResponse> = self
            .new_responses
            .iter()
            .filter_map(|key| responses.remove(key))
            .collect();
        if !new.is_empty() {
            tx.save_responses(&new).await?;
        }
        Ok(())
    }
}

/// Applies `deltas`, in order, to the dashboard rows of `tables`: each row touched is read
/// once and written once.
pub(crate) async fn apply_deltas<T: WriteTx>(
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
fn distinct<T: Eq + std::hash::Hash + Copy>(values: impl Iterator<Item = T>) -> Vec<T> {
    let mut seen = std::collections::HashSet::new();
    values.filter(|value| seen.insert(*value)).collect()
}
