//! The projection lifecycle: rebuild while commands keep arriving, a rebuild killed half-way,
//! drift found and repaired by `verify`, checkpoints, and the scheduled jobs called with a
//! controlled clock (the expiry of idempotency keys among them).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use chrono::{Duration, TimeZone, Utc};
use clap::Parser;
use indicatif::ProgressBar;
use tally::commands::Submission;
use tally::domain::{CommandRequest, Description, TaskCommand, Title, UserId};
use tally::store::{Projection, SqliteOptions, Store, StoreError};
use uuid::Uuid;

use crate::support::{Backend, TestApp, TestRequest, on_both_backends, wait_until};

on_both_backends!(
    a_rebuild_while_commands_keep_arriving_loses_nothing_and_equals_a_fresh_fold,
    a_rebuild_killed_while_it_builds_its_shadow_tables_leaves_the_live_models_untouched,
    verify_finds_injected_drift_and_repair_fixes_it,
    verify_repair_and_rebuild_cover_the_trend,
    a_database_from_before_the_trend_gets_it_from_its_tasks,
    a_rebuild_fixes_a_corrupted_task_table,
    a_second_rebuild_while_one_runs_is_refused,
    checkpoints_follow_the_log_and_health_reports_the_lag,
    the_roll_over_job_zeroes_past_days_and_weeks_without_changing_any_figure,
    the_expiry_job_forgets_idempotency_keys_older_than_a_day,
    a_tick_is_claimed_by_exactly_one_server,
    the_sampled_verify_finds_a_drifted_row_and_each_tick_runs_once,
);

const USERS: [&str; 4] = ["ann", "ben", "cat", "dan"];

/// A command by `user` on `task` at the app's current time.
fn submission(app: &TestApp, user: &str, task: Uuid, command: TaskCommand) -> Submission {
    Submission {
        request: CommandRequest {
            stream_id: task,
            actor: UserId::parse(user).unwrap(),
            command: command.into(),
            expected_version: None,
            now: app.clock.now(),
        },
        idempotency: None,
        correlation_id: Uuid::now_v7(),
    }
}

fn create() -> TaskCommand {
    TaskCommand::Create {
        title: Title::parse("a task").unwrap(),
        description: Description::parse("").unwrap(),
    }
}

/// Creates, completes, shares and deletes some tasks; returns how many commands succeeded.
async fn some_history(app: &TestApp, round: usize) -> usize {
    let mut done = 0;
    for (n, user) in USERS.iter().enumerate() {
        let task = Uuid::now_v7();
        let other = USERS[(n + 1) % USERS.len()];
        let steps = [
            create(),
            TaskCommand::Complete,
            TaskCommand::Share {
                user_id: UserId::parse(other).unwrap(),
                permission: projections::Permission::Edit,
            },
            TaskCommand::Reopen,
        ];
        let keep = 1 + (round + n) % steps.len();
        for command in steps.into_iter().take(keep) {
            let answer = app
                .commands
                .execute(submission(app, user, task, command))
                .await;
            done += usize::from(answer.is_ok());
        }
        if (round + n).is_multiple_of(5) {
            let answer = app
                .commands
                .execute(submission(app, user, task, TaskCommand::Delete))
                .await;
            done += usize::from(answer.is_ok());
        }
    }
    done
}

/// A second store on the same database: what a separate `tally rebuild` process opens.
async fn second_store(app: &TestApp) -> Arc<dyn Store> {
    app.db.open_store(SqliteOptions::default()).await
}

async fn assert_clean(app: &TestApp) {
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "verify: {report:#?}");
}

async fn a_rebuild_while_commands_keep_arriving_loses_nothing_and_equals_a_fresh_fold(
    app: TestApp,
) {
    for round in 0..40 {
        some_history(&app, round).await;
    }
    let app = Arc::new(app);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(AtomicUsize::new(0));
    let mut writers = tokio::task::JoinSet::new();
    for writer in 0..4 {
        let (app, stop, acknowledged) = (app.clone(), stop.clone(), acknowledged.clone());
        writers.spawn(async move {
            let mut round = 100 * (writer + 1);
            while !stop.load(Ordering::Relaxed) {
                let done = some_history(&app, round).await;
                acknowledged.fetch_add(done, Ordering::Relaxed);
                round += 1;
            }
        });
    }
    let events_before = app.store.head_position().await.unwrap();
    let rebuilder = second_store(&app).await;
    let report = rebuilder
        .rebuild(&Projection::ALL, &())
        .await
        .expect("rebuild");
    // Let commands go on after the swap too, until one has: they must land in the swapped-in
    // tables.
    wait_until("a command appended after the swap", async || {
        app.store.head_position().await.unwrap() > report.position
    })
    .await;
    stop.store(true, Ordering::Relaxed);
    writers.join_all().await;
    rebuilder.close().await;

    assert!(
        acknowledged.load(Ordering::Relaxed) > 0,
        "no command ran during the rebuild"
    );
    assert!(report.position >= events_before);
    assert!(report.events >= events_before as u64);
    let head = app.store.head_position().await.unwrap();
    assert!(
        head > report.position,
        "commands after the swap: {head} > {}",
        report.position
    );
    assert_clean(&app).await;
}

/// Killed mid-build means killed while the shadow tables exist: the rebuild is killed as soon
/// as they appear. Should this process be held up between seeing them and the kill for so long
/// that the rebuild finishes meanwhile, that kill proves nothing about a mid-build one (what
/// it left is still checked), and another rebuild is started.
async fn a_rebuild_killed_while_it_builds_its_shadow_tables_leaves_the_live_models_untouched(
    app: TestApp,
) {
    const SHADOW: &str = "tasks_rebuild";
    tally::seed::seed(app.commands.clone(), 4, 1_500, ProgressBar::hidden())
        .await
        .expect("seed");
    let before = app.db.stored_state().await;
    assert!(!app.db.has_table(SHADOW).await, "no shadow tables yet");
    let mut killed_mid_build = false;
    let mut missed = Vec::new();
    for attempt in 1..=3 {
        let mut rebuild = Command::new(env!("CARGO_BIN_EXE_tally"))
            .args(["rebuild", "--database-url", &app.db.url])
            .args(
                app.db
                    .direct_url
                    .iter()
                    .flat_map(|url| ["--database-direct-url", url]),
            )
            .args(["--data-dir", &app.db.dir.path().display().to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tally rebuild");
        let mut exited = None;
        wait_until("tally rebuild to create its shadow tables", async || {
            exited = rebuild.try_wait().expect("the rebuild's status");
            exited.is_some() || app.db.has_table(SHADOW).await
        })
        .await;
        if exited.is_none() {
            rebuild.kill().expect("SIGKILL");
        }
        let status = rebuild.wait().expect("reaped");
        assert_eq!(
            app.db.stored_state().await,
            before,
            "rebuild {attempt} ({status})"
        );
        if exited.is_none() && app.db.has_table(SHADOW).await {
            killed_mid_build = true;
            break;
        }
        missed.push(match exited {
            Some(status) => format!("rebuild {attempt} ended on its own ({status})"),
            None => format!("rebuild {attempt} had swapped in when killed"),
        });
    }
    assert!(
        killed_mid_build,
        "no kill landed while the shadow tables were being built: {missed:?}"
    );
    // The killed process's PostgreSQL session holds the rebuild lock until the server notices
    // that its socket closed: until then the next rebuild is refused, then it runs.
    let rebuilder = second_store(&app).await;
    let mut rebuilt = None;
    wait_until("the killed rebuild's lock to go", async || match rebuilder
        .rebuild(&Projection::ALL, &())
        .await
    {
        Err(StoreError::RebuildRunning) => false,
        other => {
            rebuilt = Some(other.expect("a rebuild after the killed one"));
            true
        }
    })
    .await;
    let report = rebuilt.expect("rebuilt");
    assert_eq!(report.position, app.store.head_position().await.unwrap());
    assert_eq!(app.db.stored_state().await, before);
    assert!(
        !app.db.has_table(SHADOW).await,
        "the later rebuild dropped the leftovers"
    );
    assert_clean(&app).await;
}

async fn verify_finds_injected_drift_and_repair_fixes_it(app: TestApp) {
    for round in 0..6 {
        some_history(&app, round).await;
    }
    assert_clean(&app).await;
    let dashboard_before = app.dashboard("ann").await;
    app.db
        .execute("update dashboard_stats set pending = pending + 5 where user_id = 'ann'")
        .await;

    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(!report.is_clean());
    assert_eq!(report.drifted.len(), 1, "{report:#?}");
    assert_eq!(report.drifted[0].user_id, "ann");
    let names: Vec<&str> = report.drifted[0]
        .figures
        .iter()
        .map(|f| f.0.as_str())
        .collect();
    assert!(
        names.contains(&"pending") && names.contains(&"total"),
        "{names:?}"
    );
    assert!(
        !report.violations.is_empty(),
        "the row no longer matches COUNT(*)"
    );
    assert!(!report.repaired);
    let text = tally::report::verify_report(&report);
    assert!(
        text.contains("drift: ann") && text.contains("pending"),
        "{text}"
    );

    let repaired = app.store.verify(true, app.clock.now(), &()).await.unwrap();
    assert!(repaired.repaired);
    assert_clean(&app).await;
    assert_eq!(app.dashboard("ann").await, dashboard_before);
}

async fn verify_repair_and_rebuild_cover_the_trend(app: TestApp) {
    for round in 0..6 {
        some_history(&app, round).await;
    }
    assert_clean(&app).await;
    let before = app.db.stored_state().await;
    assert!(!before.daily.is_empty());
    app.db
        .execute("update daily_stats set created = created + 3 where user_id = 'ann'")
        .await;
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.daily.different > 0, "{report:#?}");
    assert!(
        report
            .violations
            .iter()
            .any(|violation| violation.contains("daily_stats")),
        "{report:#?}"
    );
    let text = tally::report::verify_report(&report);
    assert!(text.contains("drift: daily_stats"), "{text}");
    assert!(
        app.store
            .verify(true, app.clock.now(), &())
            .await
            .unwrap()
            .repaired
    );
    assert_clean(&app).await;
    assert_eq!(app.db.stored_state().await, before);

    app.db.execute("delete from daily_stats").await;
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert_eq!(report.daily.missing, before.daily.len(), "{report:#?}");
    app.store
        .rebuild(&[Projection::Trend], &())
        .await
        .expect("rebuild the trend");
    assert_eq!(app.db.stored_state().await, before);
    assert_clean(&app).await;
}

/// Migration 5 fills `daily_stats` with `COUNT(*)` over the tasks a database already holds,
/// their times on several days, a whole second and the last microsecond before midnight (the
/// clock's precision) included.
async fn a_database_from_before_the_trend_gets_it_from_its_tasks(app: TestApp) {
    let start = app.clock.now();
    let moments = [
        Duration::zero(),
        Duration::hours(14) - Duration::microseconds(1),
        Duration::hours(14),
        Duration::days(3) + Duration::milliseconds(1),
        Duration::days(9) - Duration::microseconds(1),
    ];
    for (round, moment) in moments.into_iter().enumerate() {
        app.clock.set(start + moment);
        some_history(&app, round).await;
    }
    let before = app.db.stored_state().await;
    assert!(!before.daily.is_empty());
    app.store.close().await;
    // The schema as it was before migration 5.
    app.db.execute("drop table daily_stats").await;
    app.db
        .execute("delete from projection_checkpoints where name = 'trend'")
        .await;
    app.db
        .execute("delete from _sqlx_migrations where version = 5")
        .await;

    let reopened = app.db.open_store(Default::default()).await;
    assert_eq!(app.db.stored_state().await, before);
    let report = reopened.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(report.is_clean(), "{report:#?}");
    let head = reopened.head_position().await.unwrap();
    let trend = reopened.checkpoints().await.unwrap();
    let trend = trend
        .iter()
        .find(|c| c.name == "trend")
        .expect("a trend checkpoint");
    assert_eq!(trend.position, head);
    reopened.close().await;
}

async fn a_rebuild_fixes_a_corrupted_task_table(app: TestApp) {
    for round in 0..6 {
        some_history(&app, round).await;
    }
    let before = app.db.stored_state().await;
    app.db.execute("delete from task_shares").await;
    app.db
        .execute("update dashboard_stats set completed = 0, shared_edit = 7")
        .await;
    let report = app.store.verify(false, app.clock.now(), &()).await.unwrap();
    assert!(
        report.shares.missing > 0 && !report.drifted.is_empty(),
        "{report:#?}"
    );

    app.store
        .rebuild(&Projection::ALL, &())
        .await
        .expect("rebuild");
    assert_eq!(app.db.stored_state().await, before);
    assert_clean(&app).await;
}

async fn checkpoints_follow_the_log_and_health_reports_the_lag(app: TestApp) {
    let names = |checkpoints: &[tally::store::Checkpoint]| {
        checkpoints
            .iter()
            .map(|c| (c.name.clone(), c.position))
            .collect::<Vec<_>>()
    };
    let fresh = app.store.checkpoints().await.unwrap();
    assert_eq!(
        names(&fresh),
        [
            ("dashboard".to_owned(), 0),
            ("tasks".to_owned(), 0),
            ("teams".to_owned(), 0),
            ("trend".to_owned(), 0)
        ]
    );
    some_history(&app, 1).await;
    let head = app.store.head_position().await.unwrap();
    assert!(head > 0);
    let moved = app.store.checkpoints().await.unwrap();
    assert_eq!(
        names(&moved),
        [
            ("dashboard".to_owned(), head),
            ("tasks".to_owned(), head),
            ("teams".to_owned(), head),
            ("trend".to_owned(), head)
        ]
    );

    let health = app.get("/api/dashboard/health", "ann").await;
    assert_eq!(health.status, 200);
    assert_eq!(health.body["last_position"], head);
    let projections = health.body["projections"].as_array().expect("projections");
    assert_eq!(projections.len(), 4);
    for projection in projections {
        assert_eq!(projection["position"], head);
        assert_eq!(projection["behind"], 0);
        assert_eq!(projection["version"], 1);
    }
}

async fn the_roll_over_job_zeroes_past_days_and_weeks_without_changing_any_figure(app: TestApp) {
    // Wednesday 2026-11-25: tasks created and completed today and this week.
    for round in 0..4 {
        some_history(&app, round).await;
    }
    let today = app.dashboard("ann").await;
    assert!(today["created_today"].as_i64().unwrap() > 0);
    assert_eq!(
        app.store.roll_over(app.clock.now()).await.unwrap(),
        0,
        "nothing to roll"
    );

    // The next Monday: a new day and a new ISO week.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 5).unwrap());
    let monday = app.dashboard("ann").await;
    assert_eq!(monday["created_today"], 0);
    assert_eq!(monday["created_this_week"], 0);
    let rolled = app.store.roll_over(app.clock.now()).await.unwrap();
    assert_eq!(rolled as usize, USERS.len());
    let counts = app
        .db
        .scalar(
            "select created_day_count + created_week_count + completed_day_count + \
             completed_week_count from dashboard_stats where user_id = $1",
            &["ann"],
        )
        .await;
    assert_eq!(counts, 0, "plain SQL reads zeros for the new day and week");
    assert_eq!(app.dashboard("ann").await, monday);
    assert_clean(&app).await;
    // A task created after the roll-over counts from one.
    let task = Uuid::now_v7();
    app.commands
        .execute(submission(&app, "ann", task, create()))
        .await
        .unwrap();
    assert_eq!(app.dashboard("ann").await["created_today"], 1);
    assert_clean(&app).await;
}

async fn the_expiry_job_forgets_idempotency_keys_older_than_a_day(app: TestApp) {
    let create = || {
        TestRequest::post("/api/tasks")
            .user("ann")
            .body(r#"{"title":"once"}"#)
            .header("idempotency-key", "k-1")
    };
    let first = app.send(create()).await;
    assert_eq!(first.status, 201);
    app.clock.advance(chrono::Duration::hours(23));
    assert_eq!(
        app.store
            .expire_keys(app.clock.now() - chrono::Duration::hours(24))
            .await
            .unwrap(),
        0
    );
    assert_eq!(app.send(create()).await.body, first.body, "still replayed");

    app.clock.advance(chrono::Duration::hours(2));
    let expired = app
        .store
        .expire_keys(app.clock.now() - chrono::Duration::hours(24))
        .await
        .unwrap();
    assert_eq!(expired, 1);
    assert_eq!(
        app.db
            .scalar(
                "select count(*) from idempotency_keys where user_id = $1",
                &["ann"]
            )
            .await,
        0
    );
    let again = app.send(create()).await;
    assert_eq!(again.status, 201);
    assert_ne!(
        again.body["task_id"], first.body["task_id"],
        "a new command"
    );
}

async fn a_tick_is_claimed_by_exactly_one_server(app: TestApp) {
    let other = second_store(&app).await;
    let tick = Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 0).unwrap();
    let (mine, theirs) = tokio::join!(
        app.store.claim_tick("roll-over", tick),
        other.claim_tick("roll-over", tick)
    );
    assert!(
        mine.unwrap() ^ theirs.unwrap(),
        "exactly one server runs the tick"
    );
    assert!(!app.store.claim_tick("roll-over", tick).await.unwrap());
    assert!(
        app.store.claim_tick("expire-keys", tick).await.unwrap(),
        "jobs are independent"
    );
    assert!(
        other
            .claim_tick("roll-over", tick + chrono::Duration::days(1))
            .await
            .unwrap()
    );
    other.close().await;
}

async fn the_sampled_verify_finds_a_drifted_row_and_each_tick_runs_once(app: TestApp) {
    for round in 0..4 {
        some_history(&app, round).await;
    }
    let now = app.clock.now();
    assert!(app.store.check_sample(10, now).await.unwrap().is_empty());
    app.db
        .execute("update dashboard_stats set shared_view = shared_view + 2 where user_id = 'ben'")
        .await;
    let drifted = app.store.check_sample(10, now).await.unwrap();
    assert_eq!(drifted.len(), 1);
    assert_eq!(drifted[0].user_id, "ben");
    assert!(
        drifted[0]
            .figures
            .iter()
            .any(|(name, _, _)| name == "view_only")
    );

    // A tick runs the job once; the same tick again (another server) does nothing.
    let settings = tally::jobs::JobSettings {
        roll_over: None,
        sample_verify: None,
        expire_keys: None,
        sample_users: 10,
    };
    app.db
        .execute("update dashboard_stats set created_day = 1, created_day_count = 9")
        .await;
    let tick = app.clock.now();
    tally::jobs::run_tick("roll-over", app.store.as_ref(), tick, &settings)
        .await
        .unwrap();
    let rolled = "select count(*) from dashboard_stats where created_day_count = 9";
    assert_eq!(app.db.scalar(rolled, &[]).await, 0);
    app.db
        .execute("update dashboard_stats set created_day = 1, created_day_count = 9")
        .await;
    tally::jobs::run_tick("roll-over", app.store.as_ref(), tick, &settings)
        .await
        .unwrap();
    assert!(
        app.db.scalar(rolled, &[]).await > 0,
        "the same tick did not run twice"
    );
}

#[tokio::test]
async fn the_default_schedules_parse_and_the_scheduler_stops() {
    let Some(app) = TestApp::start(Backend::Sqlite).await else {
        return;
    };
    let tally::config::CliCommand::Serve(serve) =
        tally::config::Cli::parse_from(["tally", "serve"]).command
    else {
        panic!("parsed as serve")
    };
    let settings = serve.jobs();
    assert!(settings.roll_over.is_some() && settings.expire_keys.is_some());
    let mut scheduler = tally::jobs::start(app.store.clone(), app.clock.clock(), settings)
        .await
        .expect("scheduler");
    scheduler.shutdown().await.expect("shutdown");
}

async fn a_second_rebuild_while_one_runs_is_refused(app: TestApp) {
    tally::seed::seed(app.commands.clone(), 4, 1_500, ProgressBar::hidden())
        .await
        .expect("seed");
    let (first, second) = (second_store(&app).await, second_store(&app).await);
    let (a, b) = tokio::join!(
        first.rebuild(&Projection::ALL, &()),
        second.rebuild(&Projection::ALL, &())
    );
    let refused =
        |result: &Result<_, StoreError>| matches!(result, Err(StoreError::RebuildRunning));
    assert!(
        a.is_ok() && refused(&b) || refused(&a) && b.is_ok(),
        "one rebuild runs, the other is refused: {a:?} / {b:?}"
    );
    // The lock goes with the rebuild: the next one runs.
    second
        .rebuild(&Projection::ALL, &())
        .await
        .expect("a later rebuild");
    assert_clean(&app).await;
}
