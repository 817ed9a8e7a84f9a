//! Given a team's current state, when a user sends a command, then these events (or this
//! refusal).

use chrono::{TimeZone, Utc};
use projections::{MemberRow, TeamRow};
use uuid::Uuid;

use super::*;

const TEAM: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0007);
const ADMIN: &str = "alice";
const MEMBER: &str = "bob";
const STRANGER: &str = "mallory";

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn name(raw: &str) -> TeamName {
    TeamName::parse(raw).unwrap()
}

/// The team "ops" at version 4 with `members`.
fn given(members: &[(&str, Role)]) -> TeamView {
    TeamView {
        team: Some(TeamRow {
            id: TEAM,
            name: "ops".into(),
            created_at: Utc.with_ymd_and_hms(2026, 12, 1, 9, 0, 0).unwrap(),
            version: 4,
        }),
        members: members
            .iter()
            .map(|&(user_id, role)| MemberRow {
                team_id: TEAM,
                user_id: user_id.into(),
                role,
            })
            .collect(),
    }
}

/// Alice the one admin, bob a member.
fn team() -> TeamView {
    given(&[(ADMIN, Role::Admin), (MEMBER, Role::Member)])
}

fn set(member: &str, role: Role) -> TeamCommand {
    TeamCommand::SetMember {
        user_id: user(member),
        role,
    }
}

fn remove(member: &str) -> TeamCommand {
    TeamCommand::RemoveMember {
        user_id: user(member),
    }
}

fn by(actor: &str, view: &TeamView, command: TeamCommand) -> Result<Vec<TeamEvent>, DomainError> {
    decide_team(view, &user(actor), &command, None)
}

#[test]
fn whoever_creates_a_team_is_its_first_admin() {
    let created = by(
        MEMBER,
        &TeamView::default(),
        TeamCommand::Create { name: name("ops") },
    );
    assert_eq!(
        created,
        Ok(vec![TeamEvent::TeamCreated {
            name: "ops".into(),
            admin_id: MEMBER.into(),
        }])
    );
}

#[test]
fn a_team_is_not_found_by_anyone_outside_it_whatever_they_ask() {
    let commands = [
        TeamCommand::Rename { name: name("x") },
        TeamCommand::Delete,
        set(STRANGER, Role::Admin),
        remove(STRANGER),
        remove(MEMBER),
    ];
    for command in commands {
        let stale = decide_team(
            &team(),
            &user(STRANGER),
            &command,
            Some(ExpectedVersion::Strong(1)),
        );
        assert_eq!(stale, Err(DomainError::TeamNotFound), "{command:?}");
        let gone = by(ADMIN, &TeamView::default(), command);
        assert_eq!(gone, Err(DomainError::TeamNotFound));
    }
}

#[test]
fn a_plain_member_may_only_leave_and_is_refused_the_rest_before_if_match() {
    for command in [
        TeamCommand::Rename { name: name("x") },
        TeamCommand::Delete,
        set(STRANGER, Role::Member),
        set(MEMBER, Role::Admin),
        remove(ADMIN),
    ] {
        let refused = decide_team(
            &team(),
            &user(MEMBER),
            &command,
            Some(ExpectedVersion::Strong(1)),
        );
        assert_eq!(
            refused,
            Err(DomainError::Forbidden(Forbidden::OnlyAdmins)),
            "{command:?}"
        );
    }
    assert_eq!(
        by(MEMBER, &team(), remove(MEMBER)),
        Ok(vec![TeamEvent::MemberRemoved {
            member_id: MEMBER.into()
        }])
    );
}

#[test]
fn an_admin_adds_promotes_and_removes_members_and_a_repeat_changes_nothing() {
    assert_eq!(
        by(ADMIN, &team(), set("carol", Role::Member)),
        Ok(vec![TeamEvent::MemberAdded {
            member_id: "carol".into(),
            role: Role::Member
        }])
    );
    assert_eq!(by(ADMIN, &team(), set(MEMBER, Role::Member)), Ok(vec![]));
    assert_eq!(
        by(ADMIN, &team(), set(MEMBER, Role::Admin)),
        Ok(vec![TeamEvent::MemberRoleChanged {
            member_id: MEMBER.into(),
            role: Role::Admin
        }])
    );
    assert_eq!(
        by(ADMIN, &team(), remove(MEMBER)),
        Ok(vec![TeamEvent::MemberRemoved {
            member_id: MEMBER.into()
        }])
    );
    assert_eq!(
        by(ADMIN, &team(), remove("carol")),
        Err(DomainError::MemberNotFound)
    );
    assert_eq!(
        by(ADMIN, &team(), TeamCommand::Rename { name: name("ops") }),
        Ok(vec![])
    );
    assert_eq!(
        by(ADMIN, &team(), TeamCommand::Delete),
        Ok(vec![TeamEvent::TeamDeleted {}])
    );
}

#[test]
fn the_last_admin_can_neither_leave_nor_step_down_but_one_of_two_can() {
    assert_eq!(
        by(ADMIN, &team(), remove(ADMIN)),
        Err(DomainError::LastAdmin)
    );
    assert_eq!(
        by(ADMIN, &team(), set(ADMIN, Role::Member)),
        Err(DomainError::LastAdmin)
    );
    let two = given(&[(ADMIN, Role::Admin), (MEMBER, Role::Admin)]);
    assert!(matches!(
        by(ADMIN, &two, set(ADMIN, Role::Member)).as_deref(),
        Ok([TeamEvent::MemberRoleChanged { .. }])
    ));
    assert!(matches!(
        by(MEMBER, &two, remove(ADMIN)).as_deref(),
        Ok([TeamEvent::MemberRemoved { .. }])
    ));
}

#[test]
fn a_full_team_takes_no_new_member_but_still_changes_roles() {
    let names: Vec<String> = (1..MAX_MEMBERS_PER_TEAM).map(|n| format!("u{n}")).collect();
    let mut members = vec![(ADMIN, Role::Admin)];
    members.extend(names.iter().map(|n| (n.as_str(), Role::Member)));
    let full = given(&members);
    assert_eq!(full.members.len(), MAX_MEMBERS_PER_TEAM);
    assert_eq!(
        by(ADMIN, &full, set("newcomer", Role::Member)),
        Err(DomainError::MemberLimit {
            limit: MAX_MEMBERS_PER_TEAM
        })
    );
    assert!(by(ADMIN, &full, set("u1", Role::Admin)).is_ok_and(|events| events.len() == 1));
}

#[test]
fn if_match_names_the_teams_version_and_a_weak_tag_matches_none() {
    let expect = |expected| decide_team(&team(), &user(ADMIN), &TeamCommand::Delete, expected);
    assert_eq!(
        expect(Some(ExpectedVersion::Strong(3))),
        Err(DomainError::VersionMismatch {
            expected: 3,
            current: 4
        })
    );
    assert_eq!(
        expect(Some(ExpectedVersion::Weak(4))),
        Err(DomainError::WeakIfMatch { tag: 4, current: 4 })
    );
    assert!(expect(Some(ExpectedVersion::Strong(4))).is_ok());
}
