//! The fold: one event plus the prior rows of its task gives the row changes to write.

use crate::event::{Event, RecordedEvent, TaskEvent};
use uuid::Uuid;

use crate::rows::{ShareRow, TaskRow, TaskStatus, TaskView, TeamShareRow};
use crate::stats::{DatedCounter, StatsDelta};

/// What happens to the task's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskChange {
    Upsert(TaskRow),
    Delete,
}

/// What happens to one share row of the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ShareChange {
    Upsert(ShareRow),
    Delete { user_id: String },
}

/// What happens to one team share row of the task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TeamShareChange {
    Upsert(TeamShareRow),
    Delete { team_id: Uuid },
}

/// Every change one event causes to its task's rows and to its owner's figures. What it
/// changes for the users who see the task through shares is [`crate::access`]'s.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RowChanges {
    pub task: Option<TaskChange>,
    pub shares: Vec<ShareChange>,
    pub team_shares: Vec<TeamShareChange>,
    pub stats: Vec<StatsDelta>,
}

/// Projects `event` onto the rows of its task as they were before it (`prior`).
///
/// An event that does not fit the prior rows (e.g. a completion of a task that does not exist)
/// changes nothing: the write side never records one, and replay must not invent figures.
pub fn project(prior: &TaskView, recorded: &RecordedEvent) -> RowChanges {
    // A team's events are folded by its own view (`TeamView::apply`).
    let Event::Task(event) = &recorded.event else {
        return RowChanges::default();
    };
    let at = recorded.recorded_at;
    let Some(task) = prior.task.as_ref() else {
        return match event {
            TaskEvent::TaskCreated {
                owner_id,
                title,
                description,
            } => RowChanges {
                task: Some(TaskChange::Upsert(TaskRow {
                    id: recorded.stream_id,
                    owner_id: owner_id.clone(),
                    title: title.clone(),
                    description: description.clone(),
                    status: TaskStatus::Pending,
                    created_at: at,
                    updated_at: at,
                    completed_at: None,
                    version: recorded.stream_version,
                })),
                stats: vec![pending_in(owner_id, 1).dated(DatedCounter::Created, at, 1)],
                ..RowChanges::default()
            },
            _ => RowChanges::default(),
        };
    };
    let mut next = task.clone();
    next.updated_at = at;
    next.version = recorded.stream_version;
    let mut changes = RowChanges::default();
    match event {
        TaskEvent::TaskCreated { .. } => return RowChanges::default(),
        TaskEvent::TaskEdited { title, description } => {
            if let Some(title) = title {
                next.title = title.clone();
            }
            if let Some(description) = description {
                next.description = description.clone();
            }
        }
        TaskEvent::TaskCompleted {} => {
            if task.status == TaskStatus::Completed {
                return RowChanges::default();
            }
            next.status = TaskStatus::Completed;
            next.completed_at = Some(at);
            let mut owner = pending_in(&task.owner_id, -1);
            owner.completed = 1;
            changes
                .stats
                .push(owner.dated(DatedCounter::Completed, at, 1));
        }
        TaskEvent::TaskReopened {} => {
            let Some(completed_at) = task.completed_at else {
                return RowChanges::default();
            };
            next.status = TaskStatus::Pending;
            next.completed_at = None;
            let mut owner = pending_in(&task.owner_id, 1);
            owner.completed = -1;
            changes
                .stats
                .push(owner.dated(DatedCounter::Completed, completed_at, -1));
        }
        TaskEvent::TaskDeleted {} => {
            changes.task = Some(TaskChange::Delete);
            changes.shares = prior
                .shares
                .iter()
                .map(|share| ShareChange::Delete {
                    user_id: share.user_id.clone(),
                })
                .collect();
            changes.team_shares = prior
                .team_shares
                .iter()
                .map(|share| TeamShareChange::Delete {
                    team_id: share.team_id,
                })
                .collect();
            changes.stats.push(contribution(task, -1));
            return changes;
        }
        TaskEvent::TaskShared {
            user_id,
            permission,
        }
        | TaskEvent::SharePermissionChanged {
            user_id,
            permission,
        } => {
            changes.shares.push(ShareChange::Upsert(ShareRow {
                task_id: task.id,
                user_id: user_id.clone(),
                permission: *permission,
            }));
        }
        TaskEvent::TaskUnshared { user_id } => {
            if prior.share_of(user_id).is_some() {
                changes.shares.push(ShareChange::Delete {
                    user_id: user_id.clone(),
                });
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
            changes
                .team_shares
                .push(TeamShareChange::Upsert(TeamShareRow {
                    task_id: task.id,
                    team_id: *team_id,
                    permission: *permission,
                }));
        }
        TaskEvent::TaskUnsharedFromTeam { team_id } => {
            if prior.team_share_of(*team_id).is_some() {
                changes
                    .team_shares
                    .push(TeamShareChange::Delete { team_id: *team_id });
            }
        }
    }
    changes.task = Some(TaskChange::Upsert(next));
    changes
}

/// A change of `delta` pending tasks for `owner_id`.
fn pending_in(owner_id: &str, delta: i64) -> StatsDelta {
    StatsDelta {
        pending: delta,
        ..StatsDelta::for_user(owner_id)
    }
}

/// `task` as it is counted in its owner's row (`sign` 1), or taken out of it (-1): pending or
/// completed, and in the day and week it was created and completed.
pub fn contribution(task: &TaskRow, sign: i64) -> StatsDelta {
    let owner =
        StatsDelta::for_user(&task.owner_id).dated(DatedCounter::Created, task.created_at, sign);
    match task.completed_at {
        Some(completed_at) => StatsDelta {
            completed: sign,
            ..owner.dated(DatedCounter::Completed, completed_at, sign)
        },
        None => StatsDelta {
            pending: sign,
            ..owner
        },
    }
}

impl TaskView {
    /// Evolves the view by the changes [`project`] computed for it.
    pub fn apply(&mut self, changes: &RowChanges) {
        match &changes.task {
            Some(TaskChange::Upsert(row)) => self.task = Some(row.clone()),
            Some(TaskChange::Delete) => self.task = None,
            None => {}
        }
        for change in &changes.shares {
            match change {
                ShareChange::Upsert(row) => {
                    match self.shares.iter_mut().find(|s| s.user_id == row.user_id) {
                        Some(existing) => *existing = row.clone(),
                        None => self.shares.push(row.clone()),
                    }
                }
                ShareChange::Delete { user_id } => self.shares.retain(|s| &s.user_id != user_id),
            }
        }
        for change in &changes.team_shares {
            match change {
                TeamShareChange::Upsert(row) => {
                    match self
                        .team_shares
                        .iter_mut()
                        .find(|s| s.team_id == row.team_id)
                    {
                        Some(existing) => *existing = row.clone(),
                        None => self.team_shares.push(row.clone()),
                    }
                }
                TeamShareChange::Delete { team_id } => {
                    self.team_shares.retain(|s| s.team_id != *team_id)
                }
            }
        }
    }
}
