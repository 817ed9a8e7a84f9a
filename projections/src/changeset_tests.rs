//! A run's final rows, and a run over stored rows against the in-memory models.
use super::*;
use crate::team::Role;
use chrono::{TimeZone, Utc};

fn recorded(position: i64, team: Uuid, event: TeamEvent) -> RecordedEvent {
    RecordedEvent {
        position,
        event_id: Uuid::from_u128(position as u128),
        stream_id: team,
        stream_version: position,
        actor: "ann".into(),
        recorded_at: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
        event: Event::Team(event),
    }
}

#[test]
fn a_team_run_leaves_its_final_rows_and_a_deletion_ends_every_membership() {
    let team = Uuid::from_u128(7);
    let mut changes = Changeset::default();
    let created = TeamEvent::TeamCreated {
        name: "ops".into(),
        admin_id: "ann".into(),
    };
    let joined = TeamEvent::MemberAdded {
        member_id: "bob".into(),
        role: Role::Member,
    };
    changes.apply(&recorded(1, team, created));
    changes.apply(&recorded(2, team, joined));
    let (teams, deleted) = changes.teams();
    assert_eq!((teams.len(), teams[0].version, deleted.len()), (1, 2, 0));
    let (mut members, ended) = changes.members();
    members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
    let members: Vec<_> = members
        .iter()
        .map(|m| (m.user_id.as_str(), m.role))
        .collect();
    assert_eq!(members, [("ann", Role::Admin), ("bob", Role::Member)]);
    assert!(ended.is_empty());

    changes.apply(&recorded(3, team, TeamEvent::TeamDeleted {}));
    assert_eq!(changes.teams(), (vec![], vec![team]));
    let (members, mut ended) = changes.members();
    ended.sort();
    assert!(members.is_empty());
    assert_eq!(ended, [(team, "ann"), (team, "bob")]);
}

mod access {
    //! The run over stored rows, loading what each event needs, against the in-memory models
    //! that know everything: the same figures and rows.
    use super::*;
    use crate::ReadModels;
    use crate::event::TaskEvent;
    use crate::team::Role;
    use chrono::{TimeZone, Utc};
    use std::collections::BTreeMap;

    const TASK: Uuid = Uuid::from_u128(1);
    const OPS: Uuid = Uuid::from_u128(2);

    fn recorded(models: &ReadModels, stream_id: Uuid, event: Event) -> RecordedEvent {
        let version = match &event {
            Event::Task(_) => models.tasks.get(&stream_id).and_then(|v| v.task.as_ref()),
            Event::Team(_) => None,
        }
        .map(|task| task.version)
        .or_else(|| Some(models.teams.get(&stream_id)?.team.as_ref()?.version))
        .unwrap_or(0);
        RecordedEvent {
            position: models.position + 1,
            event_id: Uuid::from_u128(models.position as u128 + 1),
            stream_id,
            stream_version: version + 1,
            actor: "ann".into(),
            recorded_at: Utc.with_ymd_and_hms(2026, 12, 6, 9, 0, 0).unwrap(),
            event,
        }
    }

    /// Folds `event` into a run that starts from `stored` and loads what it needs from it,
    /// as a batch does from the database; answers the run.
    fn run_over(stored: &ReadModels, recorded: &RecordedEvent) -> Changeset {
        let views = stored.tasks.clone().into_iter().collect();
        let teams = stored.teams.clone().into_iter().collect();
        let mut changes = Changeset::new(views, teams);
        loop {
            let needs = changes.needs(recorded);
            if needs.is_empty() {
                break;
            }
            let found = stored
                .access_rows()
                .filter(|row| needs.rows.contains(&(row.task_id, row.user_id.clone())))
                .cloned()
                .collect();
            changes.access_mut().supply_rows(&needs.rows, found);
            for task_id in needs.tasks {
                let rows = stored.access_rows().filter(|row| row.task_id == task_id);
                changes
                    .access_mut()
                    .supply_task(task_id, rows.cloned().collect());
            }
            for team_id in needs.teams {
                let shares = stored
                    .team_share_rows()
                    .filter(|share| share.team_id == team_id)
                    .map(|share| {
                        let owner = stored.tasks[&share.task_id].task.as_ref().unwrap();
                        (share.clone(), owner.owner_id.clone())
                    })
                    .collect();
                changes.supply_team(team_id, shares);
            }
        }
        changes.apply(recorded);
        changes
    }

    #[test]
    fn a_run_that_loads_what_each_event_needs_moves_figures_and_rows_as_the_models_do() {
        let mut models = ReadModels::default();
        let member = |id: &str| TeamEvent::MemberAdded {
            member_id: id.into(),
            role: Role::Member,
        };
        let history: Vec<(Uuid, Event)> = vec![
            (
                OPS,
                TeamEvent::TeamCreated {
                    name: "ops".into(),
                    admin_id: "ann".into(),
                }
                .into(),
            ),
            (OPS, member("bob").into()),
            (
                TASK,
                TaskEvent::TaskCreated {
                    owner_id: "ann".into(),
                    title: "t".into(),
                    description: String::new(),
                }
                .into(),
            ),
            (
                TASK,
                TaskEvent::TaskShared {
                    user_id: "cy".into(),
                    permission: Permission::Edit,
                }
                .into(),
            ),
            (
                TASK,
                TaskEvent::TaskSharedWithTeam {
                    team_id: OPS,
                    permission: Permission::View,
                }
                .into(),
            ),
            (OPS, member("cy").into()),
            (
                TASK,
                TaskEvent::TeamSharePermissionChanged {
                    team_id: OPS,
                    permission: Permission::Edit,
                }
                .into(),
            ),
            (
                OPS,
                TeamEvent::MemberRemoved {
                    member_id: "bob".into(),
                }
                .into(),
            ),
            (
                TASK,
                TaskEvent::TaskUnshared {
                    user_id: "cy".into(),
                }
                .into(),
            ),
            (OPS, member("dan").into()),
            (OPS, TeamEvent::TeamDeleted {}.into()),
            (
                TASK,
                TaskEvent::TaskShared {
                    user_id: "bob".into(),
                    permission: Permission::View,
                }
                .into(),
            ),
            (TASK, TaskEvent::TaskDeleted {}.into()),
        ];
        for (stream_id, event) in history {
            let recorded = recorded(&models, stream_id, event);
            let changes = run_over(&models, &recorded);
            let stored_stats: Vec<DashboardStats> = models.stats.values().cloned().collect();
            let mut access: BTreeMap<(Uuid, String), AccessRow> = models
                .access_rows()
                .map(|row| ((row.task_id, row.user_id.clone()), row.clone()))
                .collect();
            let (upserts, deletes) = changes.access();
            for (task, user) in deletes {
                access.remove(&(task, user.to_owned()));
            }
            for row in upserts {
                access.insert((row.task_id, row.user_id.clone()), row.clone());
            }
            models.apply(&recorded);
            let expected: Vec<&AccessRow> = models.access_rows().collect();
            assert_eq!(
                access.values().collect::<Vec<_>>(),
                expected,
                "{recorded:?}"
            );
            for row in changes.stats_after(stored_stats) {
                assert_eq!(Some(&row), models.stats.get(&row.user_id), "{recorded:?}");
            }
        }
        assert!(models.access_rows().next().is_none());
    }
}
