//! Rebuild and verify read the log stream by stream, along its (stream_id, stream_version)
//! index. On PostgreSQL a log without statistics (just restored, or bulk-loaded before
//! autovacuum came by) made the planner sort the whole log for every page instead: quadratic
//! in the log's length. Such a log is analyzed first, in a session of its own, so that the
//! statistics stay whether or not the store's reads go through a transaction pooler.
//!
//! After a bulk load (`tally seed`, a rebuild's new tables) every table is analyzed: until
//! then the planner took a user owning most tasks for one owning a few, and a page of their
//! task list read every one of them.

use tally::store::Projection;

use crate::support::{Backend, TestApp};
use crate::verify_cli::run_tally;

/// Whether the planner knows how tasks spread over owners.
const OWNER_STATISTICS: &str = "select count(*) from pg_stats \
     where tablename = 'tasks' and attname = 'owner_id' and schemaname = current_schema()";

const STREAM_STATISTICS: &str = "select count(*) from pg_stats \
     where tablename = 'events' and attname = 'stream_id' and schemaname = current_schema()";

/// A test database's log, never analyzed: as `pg_restore` leaves one (a log of one event is
/// far below autovacuum's threshold of 50 changed rows).
async fn unanalyzed_log() -> TestApp {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    app.create_task("alice", "restored").await;
    assert_eq!(app.db.scalar(STREAM_STATISTICS, &[]).await, 0);
    app
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_rebuild_analyzes_a_log_without_statistics_before_reading_it() {
    let app = unanalyzed_log().await;
    app.store
        .rebuild(&Projection::ALL, &())
        .await
        .expect("rebuild");
    assert_eq!(app.db.scalar(STREAM_STATISTICS, &[]).await, 1);
    // The rebuilt tables are new ones: analyzed too.
    assert_eq!(app.db.scalar(OWNER_STATISTICS, &[]).await, 1);
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_verify_analyzes_a_log_without_statistics_before_reading_it() {
    let app = unanalyzed_log().await;
    let report = app
        .store
        .verify(false, chrono::Utc::now(), &())
        .await
        .expect("verify");
    assert!(report.is_clean(), "{report:?}");
    // Committed on its own: verify's own snapshot ends in a rollback on a pooler.
    assert_eq!(app.db.scalar(STREAM_STATISTICS, &[]).await, 1);
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn tally_seed_leaves_its_tables_analyzed() {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    assert_eq!(app.db.scalar(OWNER_STATISTICS, &[]).await, 0);
    let seeded = run_tally(&app, "seed", &["--users", "3", "--tasks", "4"]);
    assert!(seeded.status.success(), "{seeded:?}");
    assert_eq!(app.db.scalar(OWNER_STATISTICS, &[]).await, 1);
}
