//! `decide`: a command against a task's current state gives events or a refusal.

use chrono::{DateTime, Utc};
use projections::{Permission, TaskEvent, TaskStatus, TaskView, TeamView};
use uuid::Uuid;

use super::error::{DomainError, Forbidden, Transition};
use super::values::{Description, Title, UserId};

mod team;

pub use team::{MAX_MEMBERS_PER_TEAM, TeamCommand, decide_team};

/// What a user asks to do: to a task, or to a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    Task(TaskCommand),
    Team(TeamCommand),
}

impl Command {
    /// The command's name, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Command::Task(command) => command.kind(),
            Command::Team(command) => command.kind(),
        }
    }
}

impl From<TaskCommand> for Command {
    fn from(command: TaskCommand) -> Self {
        Command::Task(command)
    }
}

impl From<TeamCommand> for Command {
    fn from(command: TeamCommand) -> Self {
        Command::Team(command)
    }
}

/// What a user asks to do to a task.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TaskCommand {
    Create {
        title: Title,
        description: Description,
    },
    Edit {
        title: Option<Title>,
        description: Option<Description>,
    },
    Complete,
    Reopen,
    Delete,
    Share {
        user_id: UserId,
        permission: Permission,
    },
    Unshare {
        user_id: UserId,
    },
    /// Shares the task with every member of a team the owner belongs to.
    ShareWithTeam {
        team_id: Uuid,
        permission: Permission,
    },
    UnshareFromTeam {
        team_id: Uuid,
    },
}

impl TaskCommand {
    /// The team a team share command names.
    pub fn team_id(&self) -> Option<Uuid> {
        match self {
            TaskCommand::ShareWithTeam { team_id, .. }
            | TaskCommand::UnshareFromTeam { team_id } => Some(*team_id),
            _ => None,
        }
    }

    /// The command's name, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            TaskCommand::Create { .. } => "create",
            TaskCommand::Edit { .. } => "edit",
            TaskCommand::Complete => "complete",
            TaskCommand::Reopen => "reopen",
            TaskCommand::Delete => "delete",
            TaskCommand::Share { .. } => "share",
            TaskCommand::Unshare { .. } => "unshare",
            TaskCommand::ShareWithTeam { .. } => "share_with_team",
            TaskCommand::UnshareFromTeam { .. } => "unshare_from_team",
        }
    }
}

/// The most users one task may be shared with. Every share is loaded with the task when a
/// command is decided and every sharee's figures move when it is deleted, so the work of one
/// command on the task stays bounded.
pub const MAX_SHARES_PER_TASK: usize = 1_000;

/// The most teams one task may be shared with: with [`MAX_MEMBERS_PER_TEAM`], what
/// bounds the access rows one team share command moves.
pub const MAX_TEAM_SHARES_PER_TASK: usize = 1_000;

/// What a task command is decided against besides the task's own rows.
#[derive(Clone, Copy, Debug, Default)]
pub struct Standing<'a> {
    /// How the actor sees the task when they do not own it: the best of their direct share
    /// and their teams' shares (`None`: they cannot see it).
    pub access: Option<Permission>,
    /// The team a team share command names (`None`: it does not exist).
    pub team: Option<&'a TeamView>,
}

/// A command with everything needed to decide it: who asks, about which task or team (the
/// stream), when, and which version of it they believe is current (`If-Match`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandRequest {
    pub stream_id: Uuid,
    pub actor: UserId,
    pub command: Command,
    pub expected_version: Option<ExpectedVersion>,
    pub now: DateTime<Utc>,
}

/// The version `If-Match` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExpectedVersion {
    /// `"3"` (or a bare `3`): the task must be at version 3.
    Strong(i64),
    /// `W/"3"`: If-Match compares strongly (RFC 9110 §13.1.1), so a weak tag matches nothing.
    Weak(i64),
}

/// The caller's standing towards a task.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Owner,
    Editor,
    Viewer,
}

/// Decides `command`, asked by `actor` with `If-Match` `expected`, against the task's current
/// `view` and the actor's `standing`.
///
/// An empty result is a command that changes nothing (an edit to the same text, a share that
/// already has this permission); it succeeds without appending.
pub fn decide(
    view: &TaskView,
    standing: Standing<'_>,
    actor: &UserId,
    command: &TaskCommand,
    expected: Option<ExpectedVersion>,
) -> Result<Vec<TaskEvent>, DomainError> {
    let Some(task) = &view.task else {
        return match command {
            TaskCommand::Create { title, description } => {
                check_version(expected, 0)?;
                Ok(vec![TaskEvent::TaskCreated {
                    owner_id: actor.as_str().to_owned(),
                    title: title.as_str().to_owned(),
                    description: description.as_str().to_owned(),
                }])
            }
            _ => Err(DomainError::TaskNotFound),
        };
    };
    let role = if task.owner_id == actor.as_str() {
        Role::Owner
    } else {
        match standing.access {
            Some(Permission::Edit) => Role::Editor,
            Some(Permission::View) => Role::Viewer,
            None => return Err(DomainError::TaskNotFound),
        }
    };
    // Permission first: a stale `If-Match` from someone who may not do this at all is a 403,
    // since retrying with the right version would not help them.
    require_permission(role, command)?;
    check_version(expected, task.version)?;
    match command {
        TaskCommand::Create { .. } => Err(DomainError::TaskExists),
        TaskCommand::Edit { title, description } => {
            let title = title
                .as_ref()
                .filter(|t| t.as_str() != task.title)
                .map(|t| t.as_str().to_owned());
            let description = description
                .as_ref()
                .filter(|d| d.as_str() != task.description)
                .map(|d| d.as_str().to_owned());
            if title.is_none() && description.is_none() {
                return Ok(vec![]);
            }
            Ok(vec![TaskEvent::TaskEdited { title, description }])
        }
        TaskCommand::Complete => match task.status {
            TaskStatus::Pending => Ok(vec![TaskEvent::TaskCompleted {}]),
            TaskStatus::Completed => {
                Err(DomainError::InvalidTransition(Transition::AlreadyCompleted))
            }
        },
        TaskCommand::Reopen => match task.status {
            TaskStatus::Completed => Ok(vec![TaskEvent::TaskReopened {}]),
            TaskStatus::Pending => Err(DomainError::InvalidTransition(Transition::NotCompleted)),
        },
        TaskCommand::Delete => Ok(vec![TaskEvent::TaskDeleted {}]),
        TaskCommand::Share {
            user_id,
            permission,
        } => {
            if user_id.as_str() == task.owner_id {
                return Err(DomainError::ShareWithSelf);
            }
            let user_id = user_id.as_str().to_owned();
            let permission = *permission;
            Ok(match view.share_of(&user_id) {
                Some(current) if current == permission => vec![],
                Some(_) => vec![TaskEvent::SharePermissionChanged {
                    user_id,
                    permission,
                }],
                None if view.shares.len() >= MAX_SHARES_PER_TASK => {
                    return Err(DomainError::ShareLimit {
                        limit: MAX_SHARES_PER_TASK,
                    });
                }
                None => vec![TaskEvent::TaskShared {
                    user_id,
                    permission,
                }],
            })
        }
        TaskCommand::Unshare { user_id } => match view.share_of(user_id.as_str()) {
            Some(_) => Ok(vec![TaskEvent::TaskUnshared {
                user_id: user_id.as_str().to_owned(),
            }]),
            None => Err(DomainError::ShareNotFound),
        },
        TaskCommand::ShareWithTeam {
            team_id,
            permission,
        } => {
            // A team the owner is not in is as good as absent to them.
            let member = standing.team.and_then(|team| team.role_of(actor.as_str()));
            if member.is_none() {
                return Err(DomainError::TeamNotFound);
            }
            let (team_id, permission) = (*team_id, *permission);
            Ok(match view.team_share_of(team_id) {
                Some(current) if current == permission => vec![],
                Some(_) => vec![TaskEvent::TeamSharePermissionChanged {
                    team_id,
                    permission,
                }],
                None if view.team_shares.len() >= MAX_TEAM_SHARES_PER_TASK => {
                    return Err(DomainError::TeamShareLimit {
                        limit: MAX_TEAM_SHARES_PER_TASK,
                    });
                }
                None => vec![TaskEvent::TaskSharedWithTeam {
                    team_id,
                    permission,
                }],
            })
        }
        // The owner may withdraw a share from a team they have left since.
        TaskCommand::UnshareFromTeam { team_id } => match view.team_share_of(*team_id) {
            Some(_) => Ok(vec![TaskEvent::TaskUnsharedFromTeam { team_id: *team_id }]),
            None => Err(DomainError::ShareNotFound),
        },
    }
}

fn check_version(expected: Option<ExpectedVersion>, current: i64) -> Result<(), DomainError> {
    match expected {
        Some(ExpectedVersion::Strong(expected)) if expected != current => {
            Err(DomainError::VersionMismatch { expected, current })
        }
        Some(ExpectedVersion::Weak(tag)) => Err(DomainError::WeakIfMatch { tag, current }),
        _ => Ok(()),
    }
}

/// Whether `role` may run `command` at all.
fn require_permission(role: Role, command: &TaskCommand) -> Result<(), DomainError> {
    match command {
        TaskCommand::Create { .. } => Ok(()),
        TaskCommand::Edit { .. } | TaskCommand::Complete | TaskCommand::Reopen => {
            require_editor(role)
        }
        TaskCommand::Delete => require_owner(role, Forbidden::OnlyOwnerDeletes),
        TaskCommand::Share { .. } | TaskCommand::ShareWithTeam { .. } => {
            require_owner(role, Forbidden::OnlyOwnerShares)
        }
        TaskCommand::Unshare { .. } | TaskCommand::UnshareFromTeam { .. } => {
            require_owner(role, Forbidden::OnlyOwnerUnshares)
        }
    }
}

fn require_editor(role: Role) -> Result<(), DomainError> {
    match role {
        Role::Owner | Role::Editor => Ok(()),
        Role::Viewer => Err(DomainError::Forbidden(Forbidden::ViewerChanges)),
    }
}

fn require_owner(role: Role, why: Forbidden) -> Result<(), DomainError> {
    match role {
        Role::Owner => Ok(()),
        Role::Editor | Role::Viewer => Err(DomainError::Forbidden(why)),
    }
}

#[cfg(test)]
mod tests;
