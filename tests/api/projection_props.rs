//! The invariant that matters most: for any history of commands, the incrementally maintained
//! `dashboard_stats` rows equal (a) a from-scratch fold of the same events and (b) `COUNT(*)`
//! over the `tasks` and `task_shares` read models, at the moment of the last command and at
//! later moments across day and week boundaries; and the `daily_stats` trend equals the fold's
//! and `COUNT(*)` per day.
//!
//! Random steps (several users, shares, deletes, reopen/complete cycles, teams made, renamed,
//! joined, left and deleted, waits of minutes to days, landing on midnights and Mondays) go
//! through the real store, and each user's stored teams must be the fold's; refused commands are part
//! of the randomness. Some steps are sent together as a burst, so that the writer decides them
//! in one batch, each against the state the ones before it left. A failing case shrinks to a
//! short list of steps and prints it.

use chrono::{DateTime, Datelike, Duration, SubsecRound, TimeZone, Utc};
use std::collections::BTreeMap;

use projections::{
    AccessRow, DashboardFigures, DashboardStats, DayCounts, Permission, ReadModels, Role,
};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use tally::commands::{CommandError, Submission};
use tally::domain::{self, Command, CommandRequest, Description, TeamName, Title, UserId};
use tally::store::ReadFrom;
use uuid::Uuid;

use crate::support::{Backend, TestApp};

/// The users of every history; few enough that shares and refusals between them are common.
const USERS: [&str; 4] = ["ada", "bo", "cy", "dee"];

/// More events than any history appends: reads the whole log at once.
const WHOLE_LOG: i64 = 1_000_000;

#[test]
fn dashboard_stats_equal_a_fresh_fold_and_count_queries_after_any_history_on_sqlite() {
    check_random_histories(Backend::Sqlite, 48);
}

#[test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
fn dashboard_stats_equal_a_fresh_fold_and_count_queries_after_any_history_on_postgres() {
    check_random_histories(Backend::Postgres, 8);
}

/// Runs `cases` random histories, each on a fresh app of `backend`, and fails with the
/// shrunk history when one breaks the invariant.
fn check_random_histories(backend: Backend, cases: u32) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    // A failure prints the shrunk history, which is the whole reproduction; nothing is
    // written into the source tree.
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let histories = proptest::collection::vec(step(), 1..60);
    let result = runner.run(&histories, |steps| {
        runtime.block_on(async {
            let app = TestApp::start(backend)
                .await
                .expect("the backend was checked to be available");
            let verdict = replay_and_compare(&app, &steps).await;
            app.store.close().await;
            verdict
        })
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
}

/// One abstract step: wait, then have someone do something.
#[derive(Clone, Debug)]
struct Step {
    wait: Wait,
    action: Action,
    /// Sent at once with the next step, without waiting for this one's answer.
    with_next: bool,
}

/// How the clock moves before a step.
#[derive(Clone, Debug)]
enum Wait {
    No,
    Minutes(i64),
    Hours(i64),
    /// To the last microsecond of the current UTC day.
    UntilJustBeforeMidnight,
    /// To 00:00 of the next UTC day.
    UntilMidnight,
    /// To 00:00 of the next Monday: a new ISO week.
    UntilMonday,
}

#[derive(Clone, Debug)]
enum Action {
    Create {
        by: &'static str,
    },
    /// A command on one of the tasks created so far (deleted ones included).
    OnTask {
        task: Index,
        by: Actor,
        command: TaskCommand,
    },
    CreateTeam {
        by: &'static str,
    },
    /// A command on one of the teams created so far (deleted ones included).
    OnTeam {
        team: Index,
        by: Actor,
        command: TeamCommand,
    },
}

#[derive(Clone, Debug)]
enum TeamCommand {
    Rename(u8),
    Delete,
    Set { who: &'static str, role: Role },
    Remove { who: &'static str },
}

/// Who runs a command: the task's owner or the team's creator (its first admin), or anyone.
#[derive(Clone, Debug)]
enum Actor {
    Owner,
    User(&'static str),
}

#[derive(Clone, Debug)]
enum TaskCommand {
    Edit {
        title: Option<u8>,
        description: Option<u8>,
    },
    Complete,
    Reopen,
    Delete,
    Share {
        with: &'static str,
        permission: Permission,
    },
    Unshare {
        with: &'static str,
    },
    /// With one of the teams created so far (deleted ones included).
    ShareWithTeam {
        team: Index,
        permission: Permission,
    },
    UnshareFromTeam {
        team: Index,
    },
}

fn user() -> impl Strategy<Value = &'static str> {
    prop::sample::select(USERS.as_slice())
}

fn step() -> impl Strategy<Value = Step> {
    let wait = prop_oneof![
        3 => Just(Wait::No),
        3 => (1..=59i64).prop_map(Wait::Minutes),
        4 => (1..=60i64).prop_map(Wait::Hours),
        1 => Just(Wait::UntilJustBeforeMidnight),
        1 => Just(Wait::UntilMidnight),
        1 => Just(Wait::UntilMonday),
    ];
    let actor = prop_oneof![3 => Just(Actor::Owner), 1 => user().prop_map(Actor::User)];
    let permission = prop_oneof![Just(Permission::View), Just(Permission::Edit)];
    let command = prop_oneof![
        4 => Just(TaskCommand::Complete),
        3 => Just(TaskCommand::Reopen),
        1 => (proptest::option::of(0..3u8), proptest::option::of(0..3u8))
            .prop_map(|(title, description)| TaskCommand::Edit { title, description }),
        1 => Just(TaskCommand::Delete),
        3 => (user(), permission.clone())
            .prop_map(|(with, permission)| TaskCommand::Share { with, permission }),
        2 => user().prop_map(|with| TaskCommand::Unshare { with }),
        3 => (any::<Index>(), permission.clone())
            .prop_map(|(team, permission)| TaskCommand::ShareWithTeam { team, permission }),
        1 => any::<Index>().prop_map(|team| TaskCommand::UnshareFromTeam { team }),
    ];
    let role = prop_oneof![Just(Role::Member), Just(Role::Admin)];
    let team_command = prop_oneof![
        1 => (0..3u8).prop_map(TeamCommand::Rename),
        1 => Just(TeamCommand::Delete),
        4 => (user(), role).prop_map(|(who, role)| TeamCommand::Set { who, role }),
        2 => user().prop_map(|who| TeamCommand::Remove { who }),
    ];
    let action = prop_oneof![
        4 => user().prop_map(|by| Action::Create { by }),
        12 => (any::<Index>(), actor.clone(), command)
            .prop_map(|(task, by, command)| Action::OnTask { task, by, command }),
        2 => user().prop_map(|by| Action::CreateTeam { by }),
        5 => (any::<Index>(), actor.clone(), team_command)
            .prop_map(|(team, by, command)| Action::OnTeam { team, by, command }),
    ];
    let with_next = prop::bool::weighted(0.4);
    (wait, action, with_next).prop_map(|(wait, action, with_next)| Step {
        wait,
        action,
        with_next,
    })
}

impl Wait {
    fn after(&self, now: DateTime<Utc>) -> DateTime<Utc> {
        let midnight = |at: DateTime<Utc>| {
            Utc.from_utc_datetime(&at.date_naive().and_hms_opt(0, 0, 0).unwrap())
                + Duration::days(1)
        };
        let later = match self {
            Wait::No => now,
            Wait::Minutes(minutes) => now + Duration::minutes(*minutes),
            Wait::Hours(hours) => now + Duration::hours(*hours),
            Wait::UntilJustBeforeMidnight => midnight(now) - Duration::microseconds(1),
            Wait::UntilMidnight => midnight(now),
            Wait::UntilMonday => {
                let days_left = 6 - i64::from(now.weekday().num_days_from_monday());
                midnight(now) + Duration::days(days_left)
            }
        };
        // Never backwards: "just before midnight" when it already is that moment stays put.
        later.max(now).trunc_subsecs(6)
    }
}

/// The tasks a history has created so far, with their owners.
type CreatedTasks = Vec<(Uuid, &'static str)>;

/// The teams a history has created so far, with their creators.
type CreatedTeams = Vec<(Uuid, &'static str)>;

/// The command request `step` stands for at `now`; `None` when it names a task (or team) and
/// there is none yet.
fn request(
    action: &Action,
    tasks: &mut CreatedTasks,
    teams: &mut CreatedTeams,
    now: DateTime<Utc>,
) -> Option<CommandRequest> {
    let (stream_id, actor, command): (Uuid, &str, Command) = match action {
        Action::Create { by } => {
            let task_id = Uuid::now_v7();
            tasks.push((task_id, by));
            let title = Title::parse(&format!("task {}", tasks.len())).unwrap();
            let command = domain::TaskCommand::Create {
                title,
                description: Description::default(),
            };
            (task_id, *by, command.into())
        }
        Action::OnTask { task, by, command } => {
            if tasks.is_empty() {
                return None;
            }
            let (task_id, owner) = tasks[task.index(tasks.len())];
            let actor = match by {
                Actor::Owner => owner,
                Actor::User(user) => user,
            };
            (task_id, actor, task_command(command, teams)?.into())
        }
        Action::CreateTeam { by } => {
            let team_id = Uuid::now_v7();
            teams.push((team_id, by));
            let name = TeamName::parse(&format!("team {}", teams.len())).unwrap();
            (team_id, *by, domain::TeamCommand::Create { name }.into())
        }
        Action::OnTeam { team, by, command } => {
            if teams.is_empty() {
                return None;
            }
            let (team_id, creator) = teams[team.index(teams.len())];
            let actor = match by {
                Actor::Owner => creator,
                Actor::User(user) => user,
            };
            (team_id, actor, team_command(command).into())
        }
    };
    Some(CommandRequest {
        stream_id,
        actor: UserId::parse(actor).unwrap(),
        command,
        expected_version: None,
        now,
    })
}

/// The domain's command; `None` for a team share when there is no team yet.
fn task_command(command: &TaskCommand, teams: &CreatedTeams) -> Option<domain::TaskCommand> {
    let team = |index: &Index| (!teams.is_empty()).then(|| teams[index.index(teams.len())].0);
    Some(match command {
        TaskCommand::Edit { title, description } => domain::TaskCommand::Edit {
            title: title.map(|n| Title::parse(&format!("title {n}")).unwrap()),
            description: description.map(|n| Description::parse(&format!("text {n}")).unwrap()),
        },
        TaskCommand::Complete => domain::TaskCommand::Complete,
        TaskCommand::Reopen => domain::TaskCommand::Reopen,
        TaskCommand::Delete => domain::TaskCommand::Delete,
        TaskCommand::Share { with, permission } => domain::TaskCommand::Share {
            user_id: UserId::parse(with).unwrap(),
            permission: *permission,
        },
        TaskCommand::Unshare { with } => domain::TaskCommand::Unshare {
            user_id: UserId::parse(with).unwrap(),
        },
        TaskCommand::ShareWithTeam {
            team: index,
            permission,
        } => domain::TaskCommand::ShareWithTeam {
            team_id: team(index)?,
            permission: *permission,
        },
        TaskCommand::UnshareFromTeam { team: index } => domain::TaskCommand::UnshareFromTeam {
            team_id: team(index)?,
        },
    })
}

fn team_command(command: &TeamCommand) -> domain::TeamCommand {
    let user = |who: &str| UserId::parse(who).unwrap();
    match command {
        TeamCommand::Rename(n) => domain::TeamCommand::Rename {
            name: TeamName::parse(&format!("name {n}")).unwrap(),
        },
        TeamCommand::Delete => domain::TeamCommand::Delete,
        TeamCommand::Set { who, role } => domain::TeamCommand::SetMember {
            user_id: user(who),
            role: *role,
        },
        TeamCommand::Remove { who } => domain::TeamCommand::RemoveMember { user_id: user(who) },
    }
}

/// Replays `steps` through the store, checking the stored rows against a fold after every
/// step, then against a fresh fold and `COUNT(*)` queries at the end and at later moments.
async fn replay_and_compare(app: &TestApp, steps: &[Step]) -> Result<(), TestCaseError> {
    let mut now = app.clock.now().trunc_subsecs(6);
    let mut tasks = CreatedTasks::new();
    let mut teams = Vec::new();
    let mut folded = ReadModels::default();
    let mut burst = Vec::new();
    for (number, step) in steps.iter().enumerate() {
        now = step.wait.after(now);
        if let Some(request) = request(&step.action, &mut tasks, &mut teams, now) {
            burst.push(Submission {
                request,
                idempotency: None,
                correlation_id: Uuid::now_v7(),
            });
        }
        if step.with_next && number + 1 < steps.len() {
            continue;
        }
        let mut sent = tokio::task::JoinSet::new();
        for submission in burst.drain(..) {
            let commands = app.commands.clone();
            sent.spawn(async move { commands.execute(submission).await });
        }
        let answers = sent.join_all().await;
        for answer in answers {
            match answer {
                Ok(_) | Err(CommandError::Domain(_)) => {}
                Err(failure) => {
                    return Err(TestCaseError::fail(format!(
                        "the burst ending at step {number} ({step:?}) failed in the store: \
                         {failure}"
                    )));
                }
            }
        }
        fold_new_events(app, &mut folded).await;
        let when = format!("after step {number} ({step:?}) at {now}");
        stored_rows_match(app, &folded, now, &when).await?;
    }

    let mut fresh = ReadModels::default();
    fold_new_events(app, &mut fresh).await;
    prop_assert_eq!(
        &fresh,
        &folded,
        "a fresh fold differs from the step-by-step one"
    );
    let later_moments = [
        Duration::zero(),
        Duration::hours(1),
        Duration::days(1),
        Duration::days(2),
        Duration::days(8),
    ];
    for later in later_moments {
        let moment = now + later;
        let when = format!("at the end of the history, {later} after the last step ({moment})");
        stored_rows_match(app, &fresh, moment, &when).await?;
    }
    Ok(())
}

/// Folds the events `models` has not seen yet into it.
async fn fold_new_events(app: &TestApp, models: &mut ReadModels) {
    let events = app.store.events_after(models.position, WHOLE_LOG).await;
    for event in events.expect("read the event log") {
        models.apply(&event);
    }
}

/// Each user's stored row equals the fold's (a missing row is an empty one), and its figures
/// at `now` equal the recount over the folded tasks and shares and `COUNT(*)` over the stored
/// ones.
async fn stored_rows_match(
    app: &TestApp,
    folded: &ReadModels,
    now: DateTime<Utc>,
    when: &str,
) -> Result<(), TestCaseError> {
    for user in USERS {
        let stored = stored_stats(app, user).await;
        let expected = folded
            .stats
            .get(user)
            .cloned()
            .unwrap_or_else(|| DashboardStats::empty(user));
        prop_assert_eq!(
            &stored,
            &expected,
            "{}: the row of {} differs from the fold",
            when,
            user
        );
        let figures = stored.figures(now);
        let references = [
            ("the fold's row", expected.figures(now)),
            ("a recount of tasks and shares", folded.recount(user, now)),
            ("COUNT(*) queries", count_queries(app, user, now).await),
        ];
        for (reference, expected) in references {
            prop_assert_eq!(
                &figures,
                &expected,
                "{}: {}'s figures differ from {}",
                when,
                user,
                reference
            );
        }
        trend_matches(app, folded, user, when).await?;
        teams_match(app, folded, user, when).await?;
        access_matches(app, folded, user, when).await?;
    }
    team_figures_match(app, folded, now, when).await
}

/// Each team's stored figures equal the fold's and a recount of the tasks shared with it.
async fn team_figures_match(
    app: &TestApp,
    folded: &ReadModels,
    now: DateTime<Utc>,
    when: &str,
) -> Result<(), TestCaseError> {
    for team_id in folded.teams.keys() {
        let stored = app
            .store
            .team_stats(*team_id, ReadFrom::Primary)
            .await
            .expect("team stats");
        let figures = stored.map(|row| row.figures(now));
        let expected = folded.team_stats.get(team_id).map(|row| row.figures(now));
        prop_assert_eq!(
            &figures,
            &expected,
            "{}: team {} differs from the fold",
            when,
            team_id
        );
        let recounted = Some(folded.recount_team(*team_id, now));
        prop_assert_eq!(
            &figures,
            &recounted,
            "{}: team {} differs from a recount",
            when,
            team_id
        );
    }
    Ok(())
}

/// `user`'s stored access rows (how they see each task they do not own, path by path) are the
/// fold's.
async fn access_matches(
    app: &TestApp,
    folded: &ReadModels,
    user: &str,
    when: &str,
) -> Result<(), TestCaseError> {
    let mut stored = app.store.user_rows(user).await.expect("user rows").access;
    stored.sort_by_key(|row| row.task_id);
    let expected: Vec<AccessRow> = folded
        .access_rows()
        .filter(|row| row.user_id == user)
        .cloned()
        .collect();
    prop_assert_eq!(
        stored,
        expected,
        "{}: {}'s access differs from the fold",
        when,
        user
    );
    Ok(())
}

/// `user`'s stored teams, with their role in each, are the fold's, and each of those teams is
/// stored with the fold's name, version and members.
async fn teams_match(
    app: &TestApp,
    folded: &ReadModels,
    user: &str,
    when: &str,
) -> Result<(), TestCaseError> {
    let stored = app
        .store
        .teams_of(user, None, 1_000, ReadFrom::Primary)
        .await
        .expect("teams");
    let listed: Vec<(Uuid, Role)> = stored.iter().map(|(team, role)| (team.id, *role)).collect();
    let expected: Vec<(Uuid, Role)> = folded
        .teams
        .values()
        .filter_map(|view| Some((view.team.as_ref()?.id, view.role_of(user)?)))
        .collect();
    prop_assert_eq!(
        listed,
        expected,
        "{}: {}'s teams differ from the fold",
        when,
        user
    );
    for (team, _) in &stored {
        let mut view = app
            .store
            .team(team.id, ReadFrom::Primary)
            .await
            .expect("a team");
        let mut folded_view = folded.teams[&team.id].clone();
        folded_view
            .members
            .sort_by(|a, b| a.user_id.cmp(&b.user_id));
        view.members.sort_by(|a, b| a.user_id.cmp(&b.user_id));
        prop_assert_eq!(
            view,
            folded_view,
            "{}: team {} differs from the fold",
            when,
            team.id
        );
    }
    Ok(())
}

/// `user`'s stored trend, every day of it, equals the fold's, a recount of the folded tasks
/// by day, and `COUNT(*)` over the stored tasks of each of those days.
async fn trend_matches(
    app: &TestApp,
    folded: &ReadModels,
    user: &str,
    when: &str,
) -> Result<(), TestCaseError> {
    let stored: BTreeMap<i32, DayCounts> = app
        .store
        .trend(user, i32::MIN, i32::MAX, ReadFrom::Primary)
        .await
        .expect("read daily_stats")
        .into_iter()
        .filter(|(_, counts)| !counts.is_zero())
        .collect();
    prop_assert_eq!(
        &stored,
        &folded.daily_of(user),
        "{}: {}'s trend differs from the fold",
        when,
        user
    );
    prop_assert_eq!(
        &stored,
        &folded.recount_daily(user),
        "{}: {}'s trend differs from a recount of tasks",
        when,
        user
    );
    let (created_between, completed_between) = dated_counts(app.db.backend);
    for (day, counts) in &stored {
        let date = projections::calendar::date_of_day_key(*day)
            .unwrap()
            .to_string();
        let counted = DayCounts {
            created: app.db.scalar(created_between, &[user, &date, &date]).await,
            completed: app
                .db
                .scalar(completed_between, &[user, &date, &date])
                .await,
        };
        prop_assert_eq!(
            counts,
            &counted,
            "{}: {}'s trend on {} differs from COUNT(*)",
            when,
            user,
            date
        );
    }
    Ok(())
}

async fn stored_stats(app: &TestApp, user: &str) -> DashboardStats {
    app.store
        .dashboard_stats(user, ReadFrom::Primary)
        .await
        .expect("read dashboard_stats")
        .unwrap_or_else(|| DashboardStats::empty(user))
}

/// Every figure of `user` at `now`, counted with SQL over the `tasks` and `task_shares`
/// tables, as the contract defines them.
async fn count_queries(app: &TestApp, user: &str, now: DateTime<Utc>) -> DashboardFigures {
    let today = now.date_naive();
    let monday = today - Duration::days(i64::from(today.weekday().num_days_from_monday()));
    let sunday = monday + Duration::days(6);
    let (today, monday, sunday) = (today.to_string(), monday.to_string(), sunday.to_string());
    let (created_between, completed_between) = dated_counts(app.db.backend);
    let db = &app.db;
    let pending = db.scalar(OWNED_WITH_STATUS, &[user, "pending"]).await;
    let completed = db.scalar(OWNED_WITH_STATUS, &[user, "completed"]).await;
    let view_only = db.scalar(SHARED_WITH_PERMISSION, &[user, "view"]).await;
    let can_edit = db.scalar(SHARED_WITH_PERMISSION, &[user, "edit"]).await;
    DashboardFigures {
        total: db.scalar(OWNED, &[user]).await,
        pending,
        completed,
        shared: view_only + can_edit,
        view_only,
        can_edit,
        created_today: db.scalar(created_between, &[user, &today, &today]).await,
        completed_today: db.scalar(completed_between, &[user, &today, &today]).await,
        created_this_week: db.scalar(created_between, &[user, &monday, &sunday]).await,
        completed_this_week: db
            .scalar(completed_between, &[user, &monday, &sunday])
            .await,
        completion_rate: projections::stats::completion_rate(completed, pending + completed),
    }
}

const OWNED: &str = "select count(*) from tasks where owner_id = $1";

const OWNED_WITH_STATUS: &str = "select count(*) from tasks where owner_id = $1 and status = $2";

/// The tasks `$1` does not own and sees with the best permission `$2` of their direct share and
/// their teams' shares, each counted once: from the shares and memberships, not from
/// `task_access`, and through `tasks`, so that a share left behind by a deleted task counts
/// nowhere.
const SHARED_WITH_PERMISSION: &str = "select count(*) from tasks t where t.owner_id <> $1 and \
    (case when exists (select 1 from task_shares s where s.task_id = t.id and s.user_id = $1 \
    and s.permission = 'edit') or exists (select 1 from task_team_shares g join team_members m \
    on m.team_id = g.team_id where g.task_id = t.id and m.user_id = $1 and g.permission = 'edit') \
    then 'edit' \
    when exists (select 1 from task_shares s where s.task_id = t.id and s.user_id = $1) \
    or exists (select 1 from task_team_shares g join team_members m on m.team_id = g.team_id \
    where g.task_id = t.id and m.user_id = $1) then 'view' end) = $2";

/// Counts of the tasks `$1` owns that were created, and of those that are completed and were
/// completed, on a UTC date from `$2` to `$3` (`YYYY-MM-DD`). The SQL differs visibly per backend: SQLite keeps
/// times as RFC 3339 text, PostgreSQL as `timestamptz`.
fn dated_counts(backend: Backend) -> (&'static str, &'static str) {
    match backend {
        Backend::Sqlite => (
            "select count(*) from tasks where owner_id = $1 \
             and date(created_at) between $2 and $3",
            "select count(*) from tasks where owner_id = $1 and status = 'completed' \
             and date(completed_at) between $2 and $3",
        ),
        Backend::Postgres => (
            "select count(*) from tasks where owner_id = $1 \
             and (created_at at time zone 'utc')::date between $2::date and $3::date",
            "select count(*) from tasks where owner_id = $1 and status = 'completed' \
             and (completed_at at time zone 'utc')::date between $2::date and $3::date",
        ),
    }
}
