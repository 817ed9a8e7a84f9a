//! A team's stream: its events, its rows (`teams`, `team_members`) and the fold from one to the
//! other. A team is its own stream in the log, beside the tasks' streams, so it has a version
//! that `If-Match` names and commands that are decided and folded like a task's.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// What a member may do in a team.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    /// Sees the team, its members and what is shared with it; may leave.
    Member,
    /// Also renames and deletes the team and adds, removes and promotes members.
    Admin,
}

impl Role {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
        }
    }

    /// Parses the stored or requested name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "member" => Some(Role::Member),
            "admin" => Some(Role::Admin),
            _ => None,
        }
    }
}

/// Something that happened to a team. The variant name is the stored `event_type`; the fields
/// are the stored JSON payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum TeamEvent {
    /// The team came into being with `admin_id` (its creator) as its one admin.
    TeamCreated { name: String, admin_id: String },
    /// An admin renamed it.
    TeamRenamed { name: String },
    /// An admin deleted it: its members and its shares are gone.
    TeamDeleted {},
    /// A user who was not a member became one.
    MemberAdded { member_id: String, role: Role },
    /// A member's role changed.
    MemberRoleChanged { member_id: String, role: Role },
    /// A member left or was removed.
    MemberRemoved { member_id: String },
}

impl TeamEvent {
    /// Every team `event_type`: what tells a team's stored event from a task's.
    pub const TYPES: [&'static str; 6] = [
        "TeamCreated",
        "TeamRenamed",
        "TeamDeleted",
        "MemberAdded",
        "MemberRoleChanged",
        "MemberRemoved",
    ];

    /// The stored `event_type` column.
    pub fn event_type(&self) -> &'static str {
        match self {
            TeamEvent::TeamCreated { .. } => "TeamCreated",
            TeamEvent::TeamRenamed { .. } => "TeamRenamed",
            TeamEvent::TeamDeleted {} => "TeamDeleted",
            TeamEvent::MemberAdded { .. } => "MemberAdded",
            TeamEvent::MemberRoleChanged { .. } => "MemberRoleChanged",
            TeamEvent::MemberRemoved { .. } => "MemberRemoved",
        }
    }

    /// The member the event is about, if it is about one.
    pub fn member(&self) -> Option<&str> {
        match self {
            TeamEvent::MemberAdded { member_id, .. }
            | TeamEvent::MemberRoleChanged { member_id, .. }
            | TeamEvent::MemberRemoved { member_id } => Some(member_id),
            TeamEvent::TeamCreated { admin_id, .. } => Some(admin_id),
            TeamEvent::TeamRenamed { .. } | TeamEvent::TeamDeleted {} => None,
        }
    }
}

/// One row of the `teams` read model.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamRow {
    pub id: Uuid,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// The team stream's version: the number of events in it.
    pub version: i64,
}

/// One row of the `team_members` read model.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct MemberRow {
    pub team_id: Uuid,
    pub user_id: String,
    pub role: Role,
}

/// Everything the read models hold about one team: what its commands are decided against and
/// what the fold starts from. `team` is `None` for a team that does not exist.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamView {
    pub team: Option<TeamRow>,
    pub members: Vec<MemberRow>,
}

impl TeamView {
    /// The role of `user_id` in the team, if they are a member.
    pub fn role_of(&self, user_id: &str) -> Option<Role> {
        self.members
            .iter()
            .find(|member| member.user_id == user_id)
            .map(|member| member.role)
    }

    /// How many admins the team has.
    pub fn admins(&self) -> usize {
        self.members
            .iter()
            .filter(|member| member.role == Role::Admin)
            .count()
    }

    /// Evolves the view by one event of its stream (`id`, its version after the event, when).
    ///
    /// An event that does not fit the view (a rename of a team that does not exist) changes
    /// nothing: the write side never records one, and replay must not invent rows.
    pub fn apply(&mut self, id: Uuid, version: i64, at: DateTime<Utc>, event: &TeamEvent) {
        let Some(team) = self.team.as_mut() else {
            if let TeamEvent::TeamCreated { name, admin_id } = event {
                self.team = Some(TeamRow {
                    id,
                    name: name.clone(),
                    created_at: at,
                    version,
                });
                self.members = vec![MemberRow {
                    team_id: id,
                    user_id: admin_id.clone(),
                    role: Role::Admin,
                }];
            }
            return;
        };
        match event {
            TeamEvent::TeamCreated { .. } => return,
            TeamEvent::TeamRenamed { name } => team.name = name.clone(),
            TeamEvent::TeamDeleted {} => {
                *self = TeamView::default();
                return;
            }
            TeamEvent::MemberAdded { member_id, role }
            | TeamEvent::MemberRoleChanged { member_id, role } => {
                match self.members.iter_mut().find(|m| &m.user_id == member_id) {
                    Some(member) => member.role = *role,
                    None => self.members.push(MemberRow {
                        team_id: id,
                        user_id: member_id.clone(),
                        role: *role,
                    }),
                }
            }
            TeamEvent::MemberRemoved { member_id } => {
                self.members.retain(|member| &member.user_id != member_id);
            }
        }
        team.version = version;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fold(events: &[TeamEvent]) -> TeamView {
        let at = Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap();
        let mut view = TeamView::default();
        for (i, event) in events.iter().enumerate() {
            view.apply(Uuid::from_u128(7), i as i64 + 1, at, event);
        }
        view
    }

    fn added(member: &str, role: Role) -> TeamEvent {
        TeamEvent::MemberAdded {
            member_id: member.into(),
            role,
        }
    }

    #[test]
    fn a_team_begins_with_its_creator_as_its_one_admin() {
        let view = fold(&[TeamEvent::TeamCreated {
            name: "ops".into(),
            admin_id: "ann".into(),
        }]);
        assert_eq!(
            view.team.as_ref().map(|t| (t.name.as_str(), t.version)),
            Some(("ops", 1))
        );
        assert_eq!(view.role_of("ann"), Some(Role::Admin));
        assert_eq!(view.admins(), 1);
    }

    #[test]
    fn members_come_change_role_and_go_and_the_version_counts_every_event() {
        let view = fold(&[
            TeamEvent::TeamCreated {
                name: "ops".into(),
                admin_id: "ann".into(),
            },
            added("bob", Role::Member),
            added("cat", Role::Member),
            TeamEvent::MemberRoleChanged {
                member_id: "bob".into(),
                role: Role::Admin,
            },
            TeamEvent::MemberRemoved {
                member_id: "cat".into(),
            },
            TeamEvent::TeamRenamed { name: "dev".into() },
        ]);
        let team = view.team.as_ref().unwrap();
        assert_eq!((team.name.as_str(), team.version), ("dev", 6));
        assert_eq!(view.role_of("bob"), Some(Role::Admin));
        assert_eq!(view.role_of("cat"), None);
        assert_eq!(view.admins(), 2);
    }

    #[test]
    fn a_deleted_team_has_no_row_and_no_members_and_events_after_it_change_nothing() {
        let view = fold(&[
            TeamEvent::TeamCreated {
                name: "ops".into(),
                admin_id: "ann".into(),
            },
            added("bob", Role::Member),
            TeamEvent::TeamDeleted {},
            added("cat", Role::Admin),
        ]);
        assert_eq!(view, TeamView::default());
    }
}
