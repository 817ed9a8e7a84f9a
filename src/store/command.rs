//! The steps of one command inside the writer's open transaction, written once for both
//! backends: replay an idempotent repeat, load the task, decide, append, project.

use std::collections::BTreeMap;

use projections::{DashboardStats, RecordedEvent, StatsDelta, TaskEvent, project};
use uuid::Uuid;

use super::write_tx::{NewEvent, StoredResponse, WriteTx};
use super::{CommandError, CommandOutcome, StoreError, Submission, idempotency_cutoff};
use crate::domain::decide;

/// Runs one command. A refusal (`Ok(Err(..))`) has written nothing; a store error
/// (`Err(..)`) means the whole transaction must be rolled back.
pub(crate) async fn run_command<T: WriteTx>(
    tx: &mut T,
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
    let mut deltas: BTreeMap<String, Vec<StatsDelta>> = BTreeMap::new();
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
        for delta in changes.stats {
            deltas.entry(delta.user_id.clone()).or_default().push(delta);
        }
    }
    for (user, user_deltas) in deltas {
        let mut stats = tx
            .load_stats(&user)
            .await?
            .unwrap_or_else(|| DashboardStats::empty(&user));
        for delta in &user_deltas {
            stats.apply(delta);
        }
        tx.save_stats(&stats).await?;
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
