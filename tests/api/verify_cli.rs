//! `tally verify` through the binary on a store of more tasks than one range it compares at a
//! time: drifted tasks named by id in either range, progress on a pipe, a repair that exits 0.

use std::process::{Command, Output};

use indicatif::ProgressBar;
use uuid::Uuid;

use crate::support::{Backend, TestApp, on_both_backends};

on_both_backends!(verify_names_drifted_tasks_by_id_across_ranges_and_a_repair_exits_0);

/// More than the 20,000 task rows verify compares at a time (and events over two pages), so
/// that the drift sits in different ranges.
const USERS: usize = 4;
const TASKS_PER_USER: usize = 5_200;

/// Runs `tally verify` with `args` on the app's database, stdout and stderr piped.
pub(crate) fn verify(app: &TestApp, args: &[&str]) -> Output {
    run_tally(app, "verify", args)
}

/// Runs `tally <subcommand>` with `args` on the app's database (its URLs and data directory),
/// stdout and stderr piped.
pub(crate) fn run_tally(app: &TestApp, subcommand: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tally"))
        .arg(subcommand)
        .args(args)
        .args(["--database-url", &app.db.url])
        .args(
            app.db
                .direct_url
                .iter()
                .flat_map(|url| ["--database-direct-url", url]),
        )
        .args(["--data-dir", &app.db.dir.path().display().to_string()])
        .output()
        .unwrap_or_else(|error| panic!("tally {subcommand}: {error}"))
}

/// The id of the task that sorts first (`asc`) or last.
async fn edge_task(app: &TestApp, first: bool) -> Uuid {
    let sql = match (app.db.backend, first) {
        (Backend::Sqlite, true) => "select lower(hex(id)) from tasks order by id limit 1",
        (Backend::Sqlite, false) => "select lower(hex(id)) from tasks order by id desc limit 1",
        (Backend::Postgres, true) => "select id::text from tasks order by id limit 1",
        (Backend::Postgres, false) => "select id::text from tasks order by id desc limit 1",
    };
    Uuid::parse_str(&app.db.texts(sql).await[0]).expect("a task id")
}

async fn verify_names_drifted_tasks_by_id_across_ranges_and_a_repair_exits_0(app: TestApp) {
    tally::seed::seed(
        app.commands.clone(),
        USERS,
        TASKS_PER_USER,
        ProgressBar::hidden(),
    )
    .await
    .expect("seed");
    let clean = verify(&app, &[]);
    assert!(clean.status.success(), "{clean:?}");
    let before = app.db.stored_state().await;
    let (first, last) = (edge_task(&app, true).await, edge_task(&app, false).await);
    app.db
        .execute("update tasks set title = 'drifted' where id = (select id from tasks order by id limit 1)")
        .await;
    app.db
        .execute("delete from tasks where id = (select id from tasks order by id desc limit 1)")
        .await;

    let found = verify(&app, &[]);
    let stdout = String::from_utf8_lossy(&found.stdout);
    let stderr = String::from_utf8_lossy(&found.stderr);
    assert_eq!(found.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(
        stdout.contains("drift: tasks: 1 rows missing, 0 unexpected, 1 different"),
        "{stdout}"
    );
    assert!(
        stdout.contains(&first.to_string()) && stdout.contains(&last.to_string()),
        "both drifted tasks named by id ({first}, {last}): {stdout}"
    );
    // Piped, not a terminal: a plain line rather than a bar, so the run is not silent.
    assert!(
        stderr.contains("verify: ") && stderr.contains(" events in "),
        "{stderr}"
    );

    let repaired = verify(&app, &["--repair"]);
    let stdout = String::from_utf8_lossy(&repaired.stdout);
    assert!(repaired.status.success(), "{repaired:?}");
    assert!(
        stdout.contains("drift found and repaired (2 task rows"),
        "{stdout}"
    );
    assert_eq!(app.db.stored_state().await, before);
    let again = verify(&app, &[]);
    assert!(again.status.success(), "{again:?}");
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("no drift"),
        "{again:?}"
    );
}
