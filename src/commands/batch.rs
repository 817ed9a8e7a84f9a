//! The batch step: a batch of commands inside the writer's open transaction. Load everything
//! the batch needs in a few bulk reads; for each command in turn, replay its stored answer or
//! decide it against the state its predecessors in the batch left, and fold its events in
//! memory; then write it all in a few bulk statements.

use std::collections::HashMap;

use projections::changeset::distinct;
use projections::{Changeset, DashboardStats, Event, Needs, RecordedEvent, TaskEvent, TeamEvent};
use uuid::Uuid;

use super::responses::{KeyedResponse, StoredResponse, stored_responses};
use super::{CommandError, CommandOutcome, CommandResult, Submission, idempotency_cutoff};
use crate::domain::{
    Command, DomainError, Standing, TaskCommand, TeamCommand, decide, decide_team,
};
use crate::live::Hub;
use crate::store::StoreError;
use crate::store::tx::{IdempotencyRecord, NewEvent, Tables, Tx, load, load_and_apply};

/// What a batch appended, once committed.
pub(super) struct Appended {
    pub events: usize,
    /// The position of its last event.
    pub position: i64,
    /// The dashboard rows it changed, as it left them.
    pub stats: Vec<DashboardStats>,
}

/// Runs `batch` in the open transaction: each command's answer, and what they appended. A
/// refusal (`Ok(Err(..))` in the list) has appended nothing (it stores only its answer, under
/// its idempotency key); a store error (`Err(..)`) means the whole transaction must be rolled
/// back.
pub(super) async fn run_batch(
    tx: &mut dyn Tx,
    hub: &Hub,
    batch: &[&Submission],
) -> Result<(Vec<CommandResult>, Appended), StoreError> {
    let streams = |kind: fn(&Command) -> bool| {
        distinct(
            batch
                .iter()
                .filter(|s| kind(&s.request.command))
                .map(|s| s.request.stream_id),
        )
    };
    let task_ids = streams(|command| matches!(command, Command::Task(_)));
    // Team commands' teams, and those a team share names: its decision needs their members.
    let named = batch.iter().filter_map(|s| match &s.request.command {
        Command::Task(
            TaskCommand::ShareWithTeam { team_id, .. } | TaskCommand::UnshareFromTeam { team_id },
        ) => Some(*team_id),
        _ => None,
    });
    let team_ids = distinct(
        streams(|command| matches!(command, Command::Team(_)))
            .into_iter()
            .chain(named),
    );
    // Only these can change nothing; they answer with their stream's last position.
    let maybe_unchanged = streams(|command| {
        matches!(
            command,
            Command::Task(
                TaskCommand::Edit { .. }
                    | TaskCommand::Share { .. }
                    | TaskCommand::ShareWithTeam { .. }
            ) | Command::Team(TeamCommand::Rename { .. } | TeamCommand::SetMember { .. })
        )
    });
    let keys: Vec<(&str, &str)> = batch
        .iter()
        .filter_map(|s| {
            let key = s.idempotency.as_ref()?;
            Some((s.request.actor.as_str(), key.key.as_str()))
        })
        .collect();

    let mut changes = Changeset::new(
        tx.load_views(Tables::Live, &task_ids).await?,
        tx.load_team_views(Tables::Live, &team_ids).await?,
    );
    preload_access(tx, &mut changes, batch).await?;
    let mut plan = Plan {
        changes,
        // No ids or keys, no statement.
        stream_heads: tx.stream_heads(&maybe_unchanged).await?,
        // Expired ones too: each command checks the window against its own time.
        responses: stored_responses(tx, &keys).await?,
        head: tx.head_position().await?,
        new_responses: Vec::new(),
        events: Vec::new(),
    };
    let mut results = Vec::with_capacity(batch.len());
    for submission in batch {
        results.push(plan.command(tx, submission).await?);
    }
    let (events, position) = (plan.events.len(), plan.head);
    let stats = plan.write(tx).await?;
    if events > 0 {
        // Heard by other servers if, and once, this transaction commits.
        let users: Vec<&str> = stats.iter().map(|row| row.user_id.as_str()).collect();
        tx.announce(hub.node(), position, events, Some(&users))
            .await?;
    }
    let appended = Appended {
        events,
        position,
        stats,
    };
    Ok((results, appended))
}

/// The batch so far: the state commands are decided against, and what is to be written.
struct Plan {
    changes: Changeset,
    /// The newest position of each stream, as the batch has left it.
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
    async fn command(
        &mut self,
        tx: &mut dyn Tx,
        submission: &Submission,
    ) -> Result<CommandResult, StoreError> {
        let request = &submission.request;
        let Some(idempotency) = &submission.idempotency else {
            return Ok(self.decide(tx, submission).await?.map_err(Into::into));
        };
        let key = (request.actor.as_str().to_owned(), idempotency.key.clone());
        if let Some(stored) = self.responses.get(&key)
            && stored.created_at >= idempotency_cutoff(request.now)
        {
            return Ok(if stored.response.fingerprint == idempotency.fingerprint {
                stored.response.outcome.clone().map_err(Into::into)
            } else {
                Err(CommandError::IdempotencyKeyReuse)
            });
        }
        let outcome = self.decide(tx, submission).await?;
        let keyed = KeyedResponse {
            user_id: key.0.clone(),
            key: key.1.clone(),
            stream_id: request.stream_id,
            response: StoredResponse {
                fingerprint: idempotency.fingerprint.clone(),
                outcome: outcome.clone(),
            },
            created_at: request.now,
        };
        self.responses.insert(key.clone(), keyed);
        self.new_responses.push(key);
        Ok(outcome.map_err(Into::into))
    }

    /// Decides the command against the batch's state and records its events: its answer, or
    /// a store error that ends the batch.
    async fn decide(
        &mut self,
        tx: &mut dyn Tx,
        submission: &Submission,
    ) -> Result<Result<CommandOutcome, DomainError>, StoreError> {
        let request = &submission.request;
        let (actor, expected) = (&request.actor, request.expected_version);
        let decided = match &request.command {
            Command::Task(command) => {
                let id = request.stream_id;
                self.know_access(tx, id, actor.as_str()).await?;
                let (view, access, team) =
                    self.changes.standing(id, actor.as_str(), command.team_id());
                let standing = Standing { access, team };
                let version = view.task.as_ref().map_or(0, |task| task.version);
                decide(view, standing, actor, command, expected)
                    .map(|events| (version, events.into_iter().map(Event::Task).collect()))
            }
            Command::Team(command) => {
                let view = self.changes.team_view(request.stream_id);
                let version = view.team.as_ref().map_or(0, |team| team.version);
                decide_team(view, actor, command, expected)
                    .map(|events| (version, events.into_iter().map(Event::Team).collect()))
            }
        };
        let (version, events): (i64, Vec<Event>) = match decided {
            Ok(decided) => decided,
            Err(refusal) => return Ok(Err(refusal)),
        };
        let mut outcome = CommandOutcome {
            stream_id: request.stream_id,
            version,
            position: self
                .stream_heads
                .get(&request.stream_id)
                .copied()
                .unwrap_or(0),
            created: matches!(
                events.first(),
                Some(
                    Event::Task(TaskEvent::TaskCreated { .. })
                        | Event::Team(TeamEvent::TeamCreated { .. })
                )
            ),
        };
        for event in events {
            self.head += 1;
            outcome.version += 1;
            outcome.position = self.head;
            let recorded = RecordedEvent {
                position: self.head,
                event_id: Uuid::now_v7(),
                stream_id: request.stream_id,
                stream_version: outcome.version,
                actor: request.actor.as_str().to_owned(),
                recorded_at: request.now,
                event,
            };
            load_and_apply(tx, Tables::Live, &mut self.changes, &recorded).await?;
            self.events.push(NewEvent {
                recorded,
                correlation_id: submission.correlation_id,
            });
        }
        self.stream_heads
            .insert(request.stream_id, outcome.position);
        Ok(Ok(outcome))
    }

    /// Loads how `user_id` sees task `task_id` unless the batch knows already (a task created
    /// earlier in the batch, say): its commands are decided against it.
    async fn know_access(
        &mut self,
        tx: &mut dyn Tx,
        task_id: Uuid,
        user_id: &str,
    ) -> Result<(), StoreError> {
        let owner = self
            .changes
            .view(task_id)
            .task
            .as_ref()
            .map(|t| t.owner_id.as_str());
        // A task that does not exist, or its owner: nothing to know (and no round trip).
        if owner.is_none_or(|owner| owner == user_id)
            || self.changes.access_mut().known(task_id, user_id).is_some()
        {
            return Ok(());
        }
        let keys = [(task_id, user_id.to_owned())];
        let found = tx.load_access(Tables::Live, &keys).await?;
        self.changes.access_mut().supply_rows(&keys, found);
        Ok(())
    }

    /// Writes the batch: events, rows and figures, stored responses, and the checkpoint.
    /// Answers the dashboard rows it changed.
    async fn write(self, tx: &mut dyn Tx) -> Result<Vec<DashboardStats>, StoreError> {
        if self.events.is_empty() && self.new_responses.is_empty() {
            return Ok(Vec::new());
        }
        if let Some(last) = self.events.last() {
            tx.append(&self.events).await?;
            tx.save_checkpoints(self.head, last.recorded.recorded_at)
                .await?;
        }
        let stats = tx.write_changeset(Tables::Live, &self.changes).await?;
        let mut responses = self.responses;
        let new: Vec<IdempotencyRecord> = self
            .new_responses
            .iter()
            .filter_map(|key| responses.remove(key))
            .map(KeyedResponse::into_record)
            .collect();
        if !new.is_empty() {
            tx.save_responses(&new).await?;
        }
        Ok(stats)
    }
}

/// Loads, in a statement or two for the whole batch, the access rows its commands are most
/// likely to need: how each actor who does not own the task sees it, the rows a share moves,
/// every row of a task to delete. Otherwise each command would load its own (see
/// `Plan::know_access` and `load_and_apply`), a round trip each.
async fn preload_access(
    tx: &mut dyn Tx,
    changes: &mut Changeset,
    batch: &[&Submission],
) -> Result<(), StoreError> {
    let mut needs = Needs::default();
    for submission in batch {
        let request = &submission.request;
        let (task_id, actor) = (request.stream_id, request.actor.as_str());
        let Command::Task(command) = &request.command else {
            continue;
        };
        let owner = changes
            .view(task_id)
            .task
            .as_ref()
            .map(|t| t.owner_id.as_str());
        if owner.is_some_and(|owner| owner != actor) {
            needs.rows.push((task_id, actor.to_owned()));
        }
        match command {
            TaskCommand::Share { user_id, .. } | TaskCommand::Unshare { user_id } => {
                needs.rows.push((task_id, user_id.as_str().to_owned()));
            }
            TaskCommand::Delete => needs.tasks.push(task_id),
            _ => {}
        }
    }
    needs.tasks = distinct(needs.tasks.into_iter());
    load(tx, Tables::Live, changes, needs).await
}
