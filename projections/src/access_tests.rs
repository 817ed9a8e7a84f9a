//! The access fold against the recount from shares and memberships.
use super::*;
use crate::ReadModels;
use crate::event::{Event, RecordedEvent};
use crate::team::Role;
use chrono::{TimeZone, Utc};

const TASK: Uuid = Uuid::from_u128(1);
const OPS: Uuid = Uuid::from_u128(2);
const DEV: Uuid = Uuid::from_u128(3);

/// Folds `events` (stream, event) into `models`, versions counted per stream.
fn fold(models: &mut ReadModels, events: Vec<(Uuid, Event)>) {
    for (stream_id, event) in events {
        let position = models.position + 1;
        let version = match &event {
            Event::Task(_) => models
                .tasks
                .get(&stream_id)
                .and_then(|v| v.task.as_ref())
                .map(|t| t.version),
            Event::Team(_) => models
                .teams
                .get(&stream_id)
                .and_then(|v| v.team.as_ref())
                .map(|t| t.version),
        }
        .unwrap_or(0)
            + 1;
        models.apply(&RecordedEvent {
            position,
            event_id: Uuid::from_u128(position as u128),
            stream_id,
            stream_version: version,
            actor: "ann".into(),
            recorded_at: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
            event,
        });
    }
}

fn joined(team: Uuid, member: &str) -> (Uuid, Event) {
    let event = TeamEvent::MemberAdded {
        member_id: member.into(),
        role: Role::Member,
    };
    (team, event.into())
}

fn team_share(permission: Permission, team_id: Uuid) -> (Uuid, Event) {
    let event = TaskEvent::TaskSharedWithTeam {
        team_id,
        permission,
    };
    (TASK, event.into())
}

/// (view_only, can_edit) of `user`, after checking the maintained figures against the
/// recount from shares and memberships.
fn shared(models: &ReadModels, user: &str) -> (i64, i64) {
    let now = Utc.with_ymd_and_hms(2026, 12, 6, 10, 0, 0).unwrap();
    let figures = models.figures(user, now);
    assert_eq!(figures, models.recount(user, now), "{user}");
    (figures.view_only, figures.can_edit)
}

#[test]
fn a_task_seen_directly_and_through_two_teams_counts_once_with_the_best_permission() {
    let mut models = ReadModels::default();
    let created = |name: &str| TeamEvent::TeamCreated {
        name: name.into(),
        admin_id: "ann".into(),
    };
    let task = TaskEvent::TaskCreated {
        owner_id: "ann".into(),
        title: "t".into(),
        description: String::new(),
    };
    let direct = TaskEvent::TaskShared {
        user_id: "bob".into(),
        permission: Permission::View,
    };
    fold(
        &mut models,
        vec![
            (OPS, created("ops").into()),
            (DEV, created("dev").into()),
            joined(OPS, "bob"),
            joined(DEV, "bob"),
            joined(OPS, "cy"),
            (TASK, task.into()),
            (TASK, direct.into()),
            team_share(Permission::View, OPS),
            team_share(Permission::Edit, DEV),
        ],
    );
    assert_eq!(
        shared(&models, "bob"),
        (0, 1),
        "three paths, one task, edit wins"
    );
    assert_eq!(shared(&models, "cy"), (1, 0));
    assert_eq!(shared(&models, "ann"), (0, 0), "the owner is in both teams");

    let left = TeamEvent::MemberRemoved {
        member_id: "bob".into(),
    };
    fold(&mut models, vec![(DEV, left.into())]);
    assert_eq!(
        shared(&models, "bob"),
        (1, 0),
        "still seen through ops and directly"
    );

    fold(&mut models, vec![(OPS, TeamEvent::TeamDeleted {}.into())]);
    assert_eq!(shared(&models, "bob"), (1, 0), "still seen directly");
    assert_eq!(shared(&models, "cy"), (0, 0));
    assert_eq!(models.tasks[&TASK].team_shares.len(), 1, "ops' share ended");

    let rejoined = joined(DEV, "bob");
    fold(
        &mut models,
        vec![rejoined, (TASK, TaskEvent::TaskDeleted {}.into())],
    );
    assert_eq!(shared(&models, "bob"), (0, 0));
    assert_eq!(models.access_rows().count(), 0);
}

#[test]
fn a_path_moves_the_figures_only_when_the_best_permission_moves() {
    let (row, delta) = apply_path(None, TASK, "bob", Path::Team(Permission::Edit, 1));
    assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((0, 1)));
    let (row, delta) = apply_path(row, TASK, "bob", Path::Direct(Some(Permission::View)));
    assert_eq!(delta, None, "edit still wins");
    let (row, delta) = apply_path(row, TASK, "bob", Path::Team(Permission::Edit, -1));
    assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((1, -1)));
    let (row, delta) = apply_path(row, TASK, "bob", Path::Direct(None));
    assert_eq!(delta.map(|d| (d.shared_view, d.shared_edit)), Some((-1, 0)));
    assert_eq!(row, None, "no path, no row");
}
