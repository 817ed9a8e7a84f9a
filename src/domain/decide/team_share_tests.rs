//! Sharing a task with a team: who may, with which team, and the limit.
use super::*;
use projections::{MemberRow, Role, TeamRow, TeamShareRow};

const TEAM: Uuid = Uuid::from_u128(9);

/// A team of `members` (the first its admin).
fn team(members: &[&str]) -> TeamView {
    let created_at = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
    TeamView {
        team: Some(TeamRow {
            id: TEAM,
            name: "ops".into(),
            created_at,
            version: 1,
        }),
        members: members
            .iter()
            .enumerate()
            .map(|(i, user)| MemberRow {
                team_id: TEAM,
                user_id: (*user).to_owned(),
                role: if i == 0 { Role::Admin } else { Role::Member },
            })
            .collect(),
    }
}

fn share_with_team(permission: Permission) -> TaskCommand {
    TaskCommand::ShareWithTeam {
        team_id: TEAM,
        permission,
    }
}

fn decide_in(
    view: &TaskView,
    access: Option<Permission>,
    team: &TeamView,
    asked: &Asked,
) -> Result<Vec<TaskEvent>, DomainError> {
    let standing = Standing {
        access,
        team: Some(team),
    };
    super::super::decide(
        view,
        standing,
        &asked.actor,
        &asked.command,
        asked.expected_version,
    )
}

#[test]
fn the_owner_shares_with_a_team_they_are_in_and_a_repeat_changes_nothing() {
    let mut view = given(TaskStatus::Pending, 1, &[]);
    let ops = team(&[OWNER, "bob"]);
    let asked = when(OWNER, share_with_team(Permission::View));
    assert_eq!(
        decide_in(&view, None, &ops, &asked),
        Ok(vec![TaskEvent::TaskSharedWithTeam {
            team_id: TEAM,
            permission: Permission::View,
        }])
    );
    view.team_shares.push(TeamShareRow {
        task_id: TASK,
        team_id: TEAM,
        permission: Permission::View,
    });
    assert_eq!(decide_in(&view, None, &ops, &asked), Ok(vec![]));
    let edit = when(OWNER, share_with_team(Permission::Edit));
    assert_eq!(
        decide_in(&view, None, &ops, &edit),
        Ok(vec![TaskEvent::TeamSharePermissionChanged {
            team_id: TEAM,
            permission: Permission::Edit,
        }])
    );
    let unshare = when(OWNER, TaskCommand::UnshareFromTeam { team_id: TEAM });
    let outsider = team(&["bob"]);
    assert_eq!(
        decide_in(&view, None, &outsider, &unshare),
        Ok(vec![TaskEvent::TaskUnsharedFromTeam { team_id: TEAM }]),
        "a share outlives the owner's membership, and they may still withdraw it"
    );
}

#[test]
fn a_team_the_owner_is_not_in_is_not_found_and_an_absent_share_cannot_be_withdrawn() {
    let view = given(TaskStatus::Pending, 1, &[]);
    let asked = when(OWNER, share_with_team(Permission::View));
    let theirs = team(&["bob"]);
    assert_eq!(
        decide_in(&view, None, &theirs, &asked),
        Err(DomainError::TeamNotFound)
    );
    let standing = Standing::default();
    let decided = super::super::decide(&view, standing, &asked.actor, &asked.command, None);
    assert_eq!(decided, Err(DomainError::TeamNotFound), "no such team");
    let unshare = when(OWNER, TaskCommand::UnshareFromTeam { team_id: TEAM });
    assert_eq!(
        decide_in(&view, None, &theirs, &unshare),
        Err(DomainError::ShareNotFound)
    );
}

#[test]
fn only_the_owner_shares_with_teams_and_a_team_path_gives_its_permission() {
    let view = given(TaskStatus::Pending, 1, &[]);
    let ops = team(&[OWNER, "bob"]);
    let asked = when("bob", share_with_team(Permission::View));
    assert_eq!(
        decide_in(&view, Some(Permission::Edit), &ops, &asked),
        Err(DomainError::Forbidden(Forbidden::OnlyOwnerShares))
    );
    let complete = when("bob", TaskCommand::Complete);
    assert_eq!(
        decide_in(&view, Some(Permission::Edit), &ops, &complete),
        Ok(vec![TaskEvent::TaskCompleted {}]),
        "edit through a team"
    );
    assert_eq!(
        decide_in(&view, Some(Permission::View), &ops, &complete),
        Err(DomainError::Forbidden(Forbidden::ViewerChanges))
    );
    assert_eq!(
        decide_in(&view, None, &ops, &complete),
        Err(DomainError::TaskNotFound)
    );
}

#[test]
fn a_task_is_shared_with_at_most_the_limit_of_teams() {
    let mut view = given(TaskStatus::Pending, 1, &[]);
    view.team_shares = (0..MAX_TEAM_SHARES_PER_TASK as u128)
        .map(|n| TeamShareRow {
            task_id: TASK,
            team_id: Uuid::from_u128(1_000_000 + n),
            permission: Permission::View,
        })
        .collect();
    let ops = team(&[OWNER]);
    let asked = when(OWNER, share_with_team(Permission::View));
    assert_eq!(
        decide_in(&view, None, &ops, &asked),
        Err(DomainError::TeamShareLimit {
            limit: MAX_TEAM_SHARES_PER_TASK
        })
    );
}
