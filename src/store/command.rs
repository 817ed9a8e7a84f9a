//! The steps of one command inside the writer's open transaction, written once for both
//! backends: replay an idempotent repeat, load the task, decide, append, project.

use std::collections::HashMap;
use std::collections::hash_map::Entry;

use projections::{DashboardStats, RecordedEvent, StatsDelta, TaskEvent, project};
use uuid::Uuid;

use super::write_tx::{NewEvent, StoredResponse, WriteTx};
use super::{CommandError, CommandOutcome, StoreError, Submission, idempotency_cutoff};
use crate::domain::decide;

/// The dashboard rows the commands of one transaction have changed so far. Each row is read at
/// most once and written once, just before the commit: a batch of commands by one user costs
/// two statements for their figures, not two per command.
#[derive(Default)]
pub(crate) struct PendingStats(HashMap<String, DashboardStats>);

impl PendingStats {
    async fn apply<T: WriteTx>(
        &mut self,
        tx: &mut T,
        delta: &StatsDelta,
    ) -> Result<(), StoreError> {
        let stats = match self.0.entry(delta.user_id.clone()) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) => {
                let stored = tx.load_stats(&delta.user_id).await?;
                entry.insert(stored.unwrap_or_else(|| DashboardStats::empty(&delta.user_id)))
            }
        };
        stats.apply(delta);
        Ok(())
    }

    /// Writes every changed row; call once, before the commit.
    pub async fn flush<T: WriteTx>(self, tx: &mut T) -> Result<(), StoreError> {
        for stats in self.0.values() {
            tx.save_stats(stats).await?;
        }
        Ok(())
    }
}

/// Runs one command. A refusal (`Ok(Err(..))`) has written nothing; a store error
/// (`Err(..)`) means the whole transaction must be rolled back.
pub(crate) async fn run_command<T: WriteTx>(
    tx: &mut T,
    pending: &mut PendingStats,
    submission: &Submission,
) -> Result<Result<CommandOutcome, CommandError>, StoreError> {
    let request = &submission.request;
    let user_id = request.actor.as_str();
    if let Some(idempotency) = &submission.idempotency {
        let cutoff = idempotency_cutoff(request.now);
        if let Some(stored) = tx.find_response(user_id, &idempotency.key, cutoff).await? {
            return Ok(if stored.fingerprint == idempotency.fingerprint {
                Ok(stored.outcome)
            } else {
                Err(CommandError::IdempotencyKeyReuse)
            });
        }
    }
    let mut view = tx.load_view(request.task_id).await?;
    let events = match decide(&view, request) {
        Ok(events) => events,
        Err(refusal) => return Ok(Err(refusal.into())),
    };
    let current_version = view.task.as_ref().map_or(0, |task| task.version);
    let mut outcome = CommandOutcome {
        task_id: request.task_id,
        version: current_version,
        position: 0,
        created: matches!(events.first(), Some(TaskEvent::TaskCreated { .. })),
    };
    if events.is_empty() {
        outcome.position = tx.stream_head(request.task_id).await?;
    }
    for event in &events {
        outcome.version += 1;
        let new = NewEvent {
            event_id: Uuid::now_v7(),
            task_id: request.task_id,
            stream_version: outcome.version,
            event,
            actor: user_id,
            correlation_id: submission.correlation_id,
            recorded_at: request.now,
        };
        outcome.position = tx.append(&new).await?;
        let recorded = RecordedEvent {
            position: outcome.position,
            event_id: new.event_id,
            task_id: new.task_id,
            stream_version: new.stream_version,
            actor: user_id.to_owned(),
            recorded_at: new.recorded_at,
            event: event.clone(),
        };
        let changes = project(&view, &recorded);
        tx.write_rows(request.task_id, &changes).await?;
        view.apply(&changes);
        for delta in &changes.stats {
            pending.apply(tx, delta).await?;
        }
    }
    if let Some(idempotency) = &submission.idempotency {
        let stored = StoredResponse {
            fingerprint: idempotency.fingerprint.clone(),
            outcome,
        };
        tx.save_response(user_id, &idempotency.key, &stored, request.now)
            .await?;
    }
    Ok(Ok(outcome))
}
