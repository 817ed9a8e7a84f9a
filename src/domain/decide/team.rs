//! `decide_team`: a command against a team's current state gives its events or a refusal.

use projections::{Role, TeamEvent, TeamView};

use super::{ExpectedVersion, check_version};
use crate::domain::error::{DomainError, Forbidden};
use crate::domain::values::{TeamName, UserId};

/// What a user asks to do to a team.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TeamCommand {
    Create {
        name: TeamName,
    },
    Rename {
        name: TeamName,
    },
    Delete,
    /// Adds `user_id` with `role`, or gives a member that role.
    SetMember {
        user_id: UserId,
        role: Role,
    },
    /// Removes a member; a member may remove themselves (leave).
    RemoveMember {
        user_id: UserId,
    },
}

impl TeamCommand {
    /// The command's name, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            TeamCommand::Create { .. } => "create_team",
            TeamCommand::Rename { .. } => "rename_team",
            TeamCommand::Delete => "delete_team",
            TeamCommand::SetMember { .. } => "set_member",
            TeamCommand::RemoveMember { .. } => "remove_member",
        }
    }
}

/// The most members a team may have. Joining and leaving move the figures of every task the
/// team is shared with, and a team share moves every member's: this keeps one command's work
/// bounded.
pub const MAX_MEMBERS_PER_TEAM: usize = 1_000;

/// Decides `command`, asked by `actor` with `If-Match` `expected`, against the team's `view`.
///
/// An empty result changes nothing (a rename to the same name, a member given the role they
/// have); it succeeds without appending.
pub fn decide_team(
    view: &TeamView,
    actor: &UserId,
    command: &TeamCommand,
    expected: Option<ExpectedVersion>,
) -> Result<Vec<TeamEvent>, DomainError> {
    let Some(team) = &view.team else {
        return match command {
            TeamCommand::Create { name } => {
                check_version(expected, 0)?;
                Ok(vec![TeamEvent::TeamCreated {
                    name: name.as_str().to_owned(),
                    admin_id: actor.as_str().to_owned(),
                }])
            }
            _ => Err(DomainError::TeamNotFound),
        };
    };
    // A team is invisible to those outside it: 404, never 403.
    let Some(role) = view.role_of(actor.as_str()) else {
        return Err(DomainError::TeamNotFound);
    };
    let leaving = matches!(command, TeamCommand::RemoveMember { user_id } if user_id == actor);
    if role != Role::Admin && !leaving {
        return Err(DomainError::Forbidden(Forbidden::OnlyAdmins));
    }
    check_version(expected, team.version)?;
    let last_admin = |member: &str| view.role_of(member) == Some(Role::Admin) && view.admins() == 1;
    match command {
        TeamCommand::Create { .. } => Err(DomainError::TeamExists),
        TeamCommand::Rename { name } if name.as_str() == team.name => Ok(vec![]),
        TeamCommand::Rename { name } => Ok(vec![TeamEvent::TeamRenamed {
            name: name.as_str().to_owned(),
        }]),
        TeamCommand::Delete => Ok(vec![TeamEvent::TeamDeleted {}]),
        TeamCommand::SetMember { user_id, role } => {
            let member_id = user_id.as_str().to_owned();
            let role = *role;
            match view.role_of(&member_id) {
                Some(current) if current == role => Ok(vec![]),
                Some(_) if last_admin(&member_id) => Err(DomainError::LastAdmin),
                Some(_) => Ok(vec![TeamEvent::MemberRoleChanged { member_id, role }]),
                None if view.members.len() >= MAX_MEMBERS_PER_TEAM => {
                    Err(DomainError::MemberLimit {
                        limit: MAX_MEMBERS_PER_TEAM,
                    })
                }
                None => Ok(vec![TeamEvent::MemberAdded { member_id, role }]),
            }
        }
        TeamCommand::RemoveMember { user_id } => match view.role_of(user_id.as_str()) {
            None => Err(DomainError::MemberNotFound),
            Some(_) if last_admin(user_id.as_str()) => Err(DomainError::LastAdmin),
            Some(_) => Ok(vec![TeamEvent::MemberRemoved {
                member_id: user_id.as_str().to_owned(),
            }]),
        },
    }
}

#[cfg(test)]
#[path = "team_tests.rs"]
mod tests;
