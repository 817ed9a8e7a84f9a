//! A batch of commands inside the writer's open transaction, written once for both backends:
//! load everything the batch needs in a few bulk reads, decide and project each command in
//! memory against the state its predecessors in the batch left, then write it all in a few bulk
//! statements.

use std::collections::HashMap;

use projections::{RecordedEvent, TaskEvent};
use uuid::Uuid;

use super::projector::{Projector, distinct};
use super::write_tx::{KeyedResponse, NewEvent, StoredResponse, Tables, WriteTx};
use super::{CommandError, CommandOutcome, StoreError, Submission, idempotency_cutoff};
use crate::domain::{Command, DomainError, decide};

/// What a command answers: its outcome, or why it was refused.
pub(crate) type CommandResult = Result<CommandOutcome, CommandError>;

/// Runs `batch` in the open transaction. A refusal (`Ok(Err(..))` in the list) has appended
/// nothing (it stores only its answer, under its idempotency key); a store error (`Err(..)`)
/// means the whole transaction must be rolled back.
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
        projector: Projector::new(tx.load_views(Tables::LIVE, &task_ids).await?),
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
        new_responses: Vec::new(),
        events: Vec::new(),
    };
    let results = batch
        .iter()
        .map(|submission| plan.command(submission))
        .collect();
    plan.write(tx).await?;
    Ok(results)
}

/// The batch so far: the state commands are decided against, and what is to be written.
struct Plan {
    projector: Projector,
    /// The newest position of each task's stream, as the batch has left it.
    stream_heads: HashMap<Uuid, i64>,
    /// Stored responses by (user id, key), the batch's own included.
    responses: HashMap<(String, String), KeyedResponse>,
    /// The keys this batch stores.
    new_responses: Vec<(String, String)>,
    /// The position of the newest event, the batch's own included.
    head: i64,
    events: Vec<NewEvent>,
}

impl Plan {
    /// Replays the stored answer of a repeated request, or decides the command and keeps its
    /// answer, success or refusal, under its idempotency key.
    fn command(&mut self, submission: &Submission) -> CommandResult {
        let request = &submission.request;
        let Some(idempotency) = &submission.idempotency else {
            return Ok(self.decide(submission)?);
        };
        let key = (request.actor.as_str().to_owned(), idempotency.key.clone());
        if let Some(stored) = self.responses.get(&key)
            && stored.created_at >= idempotency_cutoff(request.now)
        {
            return if stored.response.fingerprint == idempotency.fingerprint {
                Ok(stored.response.outcome.clone()?)
            } else {
                Err(CommandError::IdempotencyKeyReuse)
            };
        }
        let outcome = self.decide(submission);
        let keyed = KeyedResponse {
            user_id: key.0.clone(),
            key: key.1.clone(),
            task_id: request.task_id,
            response: StoredResponse {
                fingerprint: idempotency.fingerprint.clone(),
                outcome: outcome.clone(),
            },
            created_at: request.now,
        };
        self.responses.insert(key.clone(), keyed);
        self.new_responses.push(key);
        Ok(outcome?)
    }

    /// Decides the command against the batch's state and records its events.
    fn decide(&mut self, submission: &Submission) -> Result<CommandOutcome, DomainError> {
        let request = &submission.request;
        let view = self.projector.view(request.task_id);
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
                actor: request.actor.as_str().to_owned(),
                recorded_at: request.now,
                event,
            };
            self.projector.apply(&recorded);
            self.events.push(NewEvent {
                recorded,
                correlation_id: submission.correlation_id,
            });
        }
        self.stream_heads.insert(request.task_id, outcome.position);
        Ok(outcome)
    }

    /// Writes the batch: events, rows and figures, stored responses, and the checkpoint.
    async fn write<T: WriteTx>(self, tx: &mut T) -> Result<(), StoreError> {
        if self.events.is_empty() && self.new_responses.is_empty() {
            return Ok(());
        }
        if let Some(last) = self.events.last() {
            tx.append(&self.events).await?;
            tx.save_checkpoints(self.head, last.recorded.recorded_at)
                .await?;
        }
        self.projector.write(tx, Tables::LIVE).await?;
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
