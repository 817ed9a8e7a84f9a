//! Rebuild and verify read the log stream by stream, along its (stream_id, stream_version)
//! index. On PostgreSQL a log without statistics (just restored, or bulk-loaded before
//! autovacuum came by) made the planner sort the whole log for every page instead: a rebuild
//! quadratic in the log's length. It is analyzed first.

use tally::store::Projection;

use crate::support::{Backend, TestApp};

const STREAM_STATISTICS: &str = "select count(*) from pg_stats \
     where tablename = 'events' and attname = 'stream_id' and schemaname = current_schema()";

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn a_log_without_statistics_is_analyzed_before_a_rebuild_reads_it_by_stream() {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    app.create_task("alice", "restored").await;
    // As `pg_restore` leaves it (a superuser's statement: the test server's user is one).
    app.db
        .execute("delete from pg_statistic where starelid = 'events'::regclass")
        .await;
    assert_eq!(app.db.scalar(STREAM_STATISTICS, &[]).await, 0);

    app.store
        .rebuild(&Projection::ALL, &())
        .await
        .expect("rebuild");

    assert_eq!(app.db.scalar(STREAM_STATISTICS, &[]).await, 1);
}
