//! Given a task's current state, when a user sends a command, then these events (or this refusal).

use chrono::{TimeZone, Utc};
use projections::{ShareRow, TaskRow};

use super::*;

const TASK: Uuid = Uuid::from_u128(0x0190_0000_0000_7000_8000_0000_0000_0001);
const OWNER: &str = "alice";
const EDITOR: &str = "bob";
const VIEWER: &str = "carol";
const STRANGER: &str = "mallory";
const TITLE: &str = "Write the report";
const DESCRIPTION: &str = "Quarterly numbers";

fn user(id: &str) -> UserId {
    UserId::parse(id).unwrap()
}

fn title(raw: &str) -> Title {
    Title::parse(raw).unwrap()
}

fn description(raw: &str) -> Description {
    Description::parse(raw).unwrap()
}

/// A task owned by alice at `status` and `version`, shared as `shares` says.
fn given(status: TaskStatus, version: i64, shares: &[(&str, Permission)]) -> TaskView {
    let created_at = Utc.with_ymd_and_hms(2025, 3, 1, 9, 0, 0).unwrap();
    let updated_at = Utc.with_ymd_and_hms(2025, 3, 10, 12, 0, 0).unwrap();
    TaskView {
        task: Some(TaskRow {
            id: TASK,
            owner_id: OWNER.to_owned(),
            title: TITLE.to_owned(),
            description: DESCRIPTION.to_owned(),
            status,
            created_at,
            updated_at,
            completed_at: (status == TaskStatus::Completed).then_some(updated_at),
            version,
        }),
        shares: shares
            .iter()
            .map(|&(user_id, permission)| ShareRow {
                task_id: TASK,
                user_id: user_id.to_owned(),
                permission,
            })
            .collect(),
        team_shares: Vec::new(),
    }
}

/// Bob may edit the task, carol may only view it.
const SHARES: &[(&str, Permission)] = &[(EDITOR, Permission::Edit), (VIEWER, Permission::View)];

/// A pending task at version 3, shared as [`SHARES`] says.
fn pending() -> TaskView {
    given(TaskStatus::Pending, 3, SHARES)
}

/// A completed task at version 3, shared as [`SHARES`] says.
fn completed() -> TaskView {
    given(TaskStatus::Completed, 3, SHARES)
}

/// No task with this id exists.
fn no_task() -> TaskView {
    TaskView::default()
}

/// What a user asks: the command, who asks, and the version `If-Match` names.
struct Asked {
    actor: UserId,
    command: TaskCommand,
    expected_version: Option<ExpectedVersion>,
}

/// `actor` sends `command` without an `If-Match`.
fn when(actor: &str, command: TaskCommand) -> Asked {
    Asked {
        actor: user(actor),
        command,
        expected_version: None,
    }
}

/// `actor` sends `command` with `If-Match: version`.
fn when_at(actor: &str, version: i64, command: TaskCommand) -> Asked {
    Asked {
        expected_version: Some(ExpectedVersion::Strong(version)),
        ..when(actor, command)
    }
}

/// The domain's `decide` of what was asked, by someone who sees the task only through their
/// direct share (if any).
fn decide(view: &TaskView, asked: &Asked) -> Result<Vec<TaskEvent>, DomainError> {
    let standing = Standing {
        access: view.share_of(asked.actor.as_str()),
        team: None,
    };
    super::decide(
        view,
        standing,
        &asked.actor,
        &asked.command,
        asked.expected_version,
    )
}

fn create() -> TaskCommand {
    TaskCommand::Create {
        title: title("Buy milk"),
        description: description("Semi-skimmed"),
    }
}

fn edit(new_title: Option<&str>, new_description: Option<&str>) -> TaskCommand {
    TaskCommand::Edit {
        title: new_title.map(title),
        description: new_description.map(description),
    }
}

fn share(user_id: &str, permission: Permission) -> TaskCommand {
    TaskCommand::Share {
        user_id: user(user_id),
        permission,
    }
}

fn unshare(user_id: &str) -> TaskCommand {
    TaskCommand::Unshare {
        user_id: user(user_id),
    }
}

fn assert_forbidden(result: Result<Vec<TaskEvent>, DomainError>) {
    assert!(
        matches!(result, Err(DomainError::Forbidden(_))),
        "expected Forbidden, got {result:?}"
    );
}

fn assert_invalid_transition(result: Result<Vec<TaskEvent>, DomainError>) {
    assert!(
        matches!(result, Err(DomainError::InvalidTransition(_))),
        "expected InvalidTransition, got {result:?}"
    );
}

// --- create ---

#[test]
fn creating_a_task_that_does_not_exist_makes_the_actor_its_owner() {
    assert_eq!(
        decide(&no_task(), &when(EDITOR, create())),
        Ok(vec![TaskEvent::TaskCreated {
            owner_id: EDITOR.to_owned(),
            title: "Buy milk".to_owned(),
            description: "Semi-skimmed".to_owned(),
        }])
    );
}

#[test]
fn creating_with_if_match_zero_is_accepted() {
    let events = decide(&no_task(), &when_at(OWNER, 0, create())).unwrap();
    assert!(matches!(events.as_slice(), [TaskEvent::TaskCreated { .. }]));
}

#[test]
fn creating_with_if_match_other_than_zero_is_a_version_mismatch() {
    assert_eq!(
        decide(&no_task(), &when_at(OWNER, 3, create())),
        Err(DomainError::VersionMismatch {
            expected: 3,
            current: 0
        })
    );
}

#[test]
fn creating_a_task_that_already_exists_is_refused_for_its_owner() {
    assert_eq!(
        decide(&pending(), &when(OWNER, create())),
        Err(DomainError::TaskExists)
    );
}

// --- edit ---

#[test]
fn the_owner_may_edit_and_the_event_names_only_the_changed_fields() {
    assert_eq!(
        decide(
            &pending(),
            &when(OWNER, edit(Some("New title"), Some(DESCRIPTION)))
        ),
        Ok(vec![TaskEvent::TaskEdited {
            title: Some("New title".to_owned()),
            description: None,
        }])
    );
}

#[test]
fn an_editor_may_edit_a_task() {
    assert_eq!(
        decide(&pending(), &when(EDITOR, edit(None, Some("More detail")))),
        Ok(vec![TaskEvent::TaskEdited {
            title: None,
            description: Some("More detail".to_owned()),
        }])
    );
}

#[test]
fn editing_to_the_same_text_produces_no_events() {
    assert_eq!(
        decide(
            &pending(),
            &when(OWNER, edit(Some(TITLE), Some(DESCRIPTION)))
        ),
        Ok(vec![])
    );
}

#[test]
fn a_viewer_may_not_edit_a_task() {
    assert_forbidden(decide(
        &pending(),
        &when(VIEWER, edit(Some("Mine now"), None)),
    ));
}

#[test]
fn a_stranger_editing_a_task_is_told_it_does_not_exist() {
    assert_eq!(
        decide(&pending(), &when(STRANGER, edit(Some("Mine now"), None))),
        Err(DomainError::TaskNotFound)
    );
}

// --- complete and reopen ---

#[test]
fn completing_a_pending_task_completes_it() {
    assert_eq!(
        decide(&pending(), &when(OWNER, TaskCommand::Complete)),
        Ok(vec![TaskEvent::TaskCompleted {}])
    );
}

#[test]
fn completing_a_completed_task_is_an_invalid_transition() {
    assert_invalid_transition(decide(&completed(), &when(OWNER, TaskCommand::Complete)));
}

#[test]
fn reopening_a_completed_task_reopens_it() {
    assert_eq!(
        decide(&completed(), &when(OWNER, TaskCommand::Reopen)),
        Ok(vec![TaskEvent::TaskReopened {}])
    );
}

#[test]
fn reopening_a_pending_task_is_an_invalid_transition() {
    assert_invalid_transition(decide(&pending(), &when(OWNER, TaskCommand::Reopen)));
}

#[test]
fn a_viewer_may_not_complete_a_task() {
    assert_forbidden(decide(&pending(), &when(VIEWER, TaskCommand::Complete)));
}

#[test]
fn a_viewer_may_not_reopen_a_task() {
    assert_forbidden(decide(&completed(), &when(VIEWER, TaskCommand::Reopen)));
}

#[test]
fn an_editor_may_complete_and_reopen_a_task() {
    assert_eq!(
        decide(&pending(), &when(EDITOR, TaskCommand::Complete)),
        Ok(vec![TaskEvent::TaskCompleted {}])
    );
    assert_eq!(
        decide(&completed(), &when(EDITOR, TaskCommand::Reopen)),
        Ok(vec![TaskEvent::TaskReopened {}])
    );
}

// --- delete ---

#[test]
fn the_owner_may_delete_a_task() {
    assert_eq!(
        decide(&pending(), &when(OWNER, TaskCommand::Delete)),
        Ok(vec![TaskEvent::TaskDeleted {}])
    );
}

#[test]
fn neither_an_editor_nor_a_viewer_may_delete_a_task() {
    assert_forbidden(decide(&pending(), &when(EDITOR, TaskCommand::Delete)));
    assert_forbidden(decide(&pending(), &when(VIEWER, TaskCommand::Delete)));
}

#[test]
fn a_stranger_deleting_a_task_is_told_it_does_not_exist() {
    assert_eq!(
        decide(&pending(), &when(STRANGER, TaskCommand::Delete)),
        Err(DomainError::TaskNotFound)
    );
}

// --- share and unshare ---

#[test]
fn the_owner_may_share_a_task_with_a_new_user() {
    assert_eq!(
        decide(&pending(), &when(OWNER, share("dave", Permission::View))),
        Ok(vec![TaskEvent::TaskShared {
            user_id: "dave".to_owned(),
            permission: Permission::View,
        }])
    );
}

#[test]
fn sharing_again_with_the_same_permission_produces_no_events() {
    assert_eq!(
        decide(&pending(), &when(OWNER, share(EDITOR, Permission::Edit))),
        Ok(vec![])
    );
}

#[test]
fn sharing_again_with_another_permission_changes_it() {
    assert_eq!(
        decide(&pending(), &when(OWNER, share(VIEWER, Permission::Edit))),
        Ok(vec![TaskEvent::SharePermissionChanged {
            user_id: VIEWER.to_owned(),
            permission: Permission::Edit,
        }])
    );
}

/// A pending task shared with as many users as the limit allows (`u0000` … `u0999`, viewers).
fn shared_to_the_limit() -> TaskView {
    let users: Vec<String> = (0..MAX_SHARES_PER_TASK)
        .map(|n| format!("u{n:04}"))
        .collect();
    let shares: Vec<(&str, Permission)> = users
        .iter()
        .map(|user| (user.as_str(), Permission::View))
        .collect();
    given(TaskStatus::Pending, 1_001, &shares)
}

#[test]
fn a_task_shared_with_as_many_users_as_allowed_takes_no_new_one() {
    let full = shared_to_the_limit();
    assert_eq!(
        decide(&full, &when(OWNER, share("newcomer", Permission::View))),
        Err(DomainError::ShareLimit {
            limit: MAX_SHARES_PER_TASK
        })
    );
    let one_less = TaskView {
        shares: full.shares[1..].to_vec(),
        ..full.clone()
    };
    assert_eq!(
        decide(&one_less, &when(OWNER, share("newcomer", Permission::View))),
        Ok(vec![TaskEvent::TaskShared {
            user_id: "newcomer".to_owned(),
            permission: Permission::View,
        }])
    );
}

#[test]
fn at_the_limit_an_existing_share_still_changes_and_a_repeat_still_succeeds() {
    let full = shared_to_the_limit();
    assert_eq!(
        decide(&full, &when(OWNER, share("u0999", Permission::Edit))),
        Ok(vec![TaskEvent::SharePermissionChanged {
            user_id: "u0999".to_owned(),
            permission: Permission::Edit,
        }])
    );
    assert_eq!(
        decide(&full, &when(OWNER, share("u0000", Permission::View))),
        Ok(vec![])
    );
    // Who may share and whether the version matches are decided before the limit.
    assert_forbidden(decide(
        &full,
        &when("u0001", share("newcomer", Permission::View)),
    ));
    assert!(matches!(
        decide(
            &full,
            &when_at(OWNER, 3, share("newcomer", Permission::View))
        ),
        Err(DomainError::VersionMismatch { .. })
    ));
}

#[test]
fn the_owner_may_not_share_a_task_with_themself() {
    assert_eq!(
        decide(&pending(), &when(OWNER, share(OWNER, Permission::Edit))),
        Err(DomainError::ShareWithSelf)
    );
}

#[test]
fn an_editor_may_not_share_a_task() {
    assert_forbidden(decide(
        &pending(),
        &when(EDITOR, share("dave", Permission::View)),
    ));
}

#[test]
fn a_stranger_sharing_a_task_is_told_it_does_not_exist() {
    assert_eq!(
        decide(
            &pending(),
            &when(STRANGER, share(STRANGER, Permission::Edit))
        ),
        Err(DomainError::TaskNotFound)
    );
}

#[test]
fn the_owner_may_withdraw_a_share() {
    assert_eq!(
        decide(&pending(), &when(OWNER, unshare(VIEWER))),
        Ok(vec![TaskEvent::TaskUnshared {
            user_id: VIEWER.to_owned(),
        }])
    );
}

#[test]
fn withdrawing_a_share_that_does_not_exist_is_refused() {
    assert_eq!(
        decide(&pending(), &when(OWNER, unshare("dave"))),
        Err(DomainError::ShareNotFound)
    );
}

#[test]
fn an_editor_may_not_withdraw_a_share() {
    assert_forbidden(decide(&pending(), &when(EDITOR, unshare(VIEWER))));
}

// --- a task that does not exist ---

#[test]
fn every_command_but_create_on_a_missing_task_is_task_not_found() {
    let commands = [
        edit(Some("New title"), None),
        TaskCommand::Complete,
        TaskCommand::Reopen,
        TaskCommand::Delete,
        share(EDITOR, Permission::Edit),
        unshare(EDITOR),
    ];
    for command in commands {
        assert_eq!(
            decide(&no_task(), &when(OWNER, command.clone())),
            Err(DomainError::TaskNotFound),
            "{command:?}"
        );
    }
}

// --- If-Match ---

#[test]
fn an_if_match_equal_to_the_current_version_is_accepted() {
    let view = given(TaskStatus::Pending, 7, &[]);
    assert_eq!(
        decide(&view, &when_at(OWNER, 7, TaskCommand::Complete)),
        Ok(vec![TaskEvent::TaskCompleted {}])
    );
}

#[test]
fn a_stale_if_match_is_a_version_mismatch_naming_both_versions() {
    let view = given(TaskStatus::Pending, 7, &[]);
    assert_eq!(
        decide(&view, &when_at(OWNER, 6, TaskCommand::Complete)),
        Err(DomainError::VersionMismatch {
            expected: 6,
            current: 7
        })
    );
}

#[test]
fn a_weak_if_match_matches_no_version_not_even_the_current_one() {
    let view = given(TaskStatus::Pending, 7, &[]);
    let weak = Asked {
        expected_version: Some(ExpectedVersion::Weak(7)),
        ..when(OWNER, TaskCommand::Complete)
    };
    assert_eq!(
        decide(&view, &weak),
        Err(DomainError::WeakIfMatch { tag: 7, current: 7 })
    );
}

#[test]
fn a_weak_if_match_still_hides_the_task_from_a_stranger_and_comes_after_permission() {
    let weak = |actor| Asked {
        expected_version: Some(ExpectedVersion::Weak(1)),
        ..when(actor, TaskCommand::Complete)
    };
    assert_eq!(
        decide(&pending(), &weak(STRANGER)),
        Err(DomainError::TaskNotFound)
    );
    assert_forbidden(decide(&pending(), &weak(VIEWER)));
}

#[test]
fn a_stranger_with_a_wrong_version_is_still_told_the_task_does_not_exist() {
    let view = given(TaskStatus::Pending, 7, &[]);
    assert_eq!(
        decide(&view, &when_at(STRANGER, 1, TaskCommand::Complete)),
        Err(DomainError::TaskNotFound)
    );
}

#[test]
fn a_viewer_or_editor_with_a_wrong_version_is_told_they_may_not_rather_than_to_retry() {
    assert_forbidden(decide(
        &pending(),
        &when_at(VIEWER, 1, TaskCommand::Complete),
    ));
    assert_forbidden(decide(&pending(), &when_at(EDITOR, 1, TaskCommand::Delete)));
    assert_forbidden(decide(
        &pending(),
        &when_at(EDITOR, 1, share("dave", Permission::View)),
    ));
}

#[path = "team_share_tests.rs"]
mod team_shares;
