//! Statistics the planner needs before the log is read stream by stream.

use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, PgConnection};

use crate::store::tables::READ_MODELS;

use crate::store::StoreError;

/// Whether the log has statistics on its stream order.
const LOG_HAS_STATISTICS: &str = "select exists (select from pg_stats where schemaname = \
     current_schema() and tablename = 'events' and attname = 'stream_id')";

/// A log with no statistics yet (just bulk-loaded, or restored: `pg_restore` leaves none, and
/// autovacuum has not come by) makes the planner sort the whole log for every page read
/// stream by stream instead of following the (stream_id, stream_version) index: a rebuild or
/// verify quadratic in the log's length. Such a log is analyzed first (a sample: about a
/// second at 10M events), in a session of its own so that the statistics are committed
/// whatever a pooler or the caller's transaction does. Best effort: a role that may not
/// analyze the table, or a standby, gets a warning saying what to run.
pub(super) async fn analyze_an_unanalyzed_log(
    session: &PgConnectOptions,
) -> Result<(), StoreError> {
    let mut connection = PgConnection::connect_with(session).await?;
    let analyzed = async {
        if sqlx::query_scalar::<_, bool>(LOG_HAS_STATISTICS)
            .fetch_one(&mut connection)
            .await?
        {
            return Ok(true);
        }
        tracing::info!("the event log has no statistics yet: analyzing it before reading it");
        sqlx::query("analyze events")
            .execute(&mut connection)
            .await?;
        // A role that does not own the table is only warned, and nothing is analyzed.
        sqlx::query_scalar::<_, bool>(LOG_HAS_STATISTICS)
            .fetch_one(&mut connection)
            .await
    };
    let outcome: Result<bool, sqlx::Error> = analyzed.await;
    let _ = connection.close().await;
    warn_unless_analyzed(outcome, "events")
}

/// Analyzes the log and every read model (a sample of each: about a second at 10M rows), in a
/// session of its own. A table filled by a bulk load has no statistics until autovacuum's
/// next pass (up to a minute, more on a busy server), and meanwhile the planner takes a user
/// owning half the tasks for one owning a few: listing their tasks read all of them (13 ms
/// for 30,000) instead of a page. Best effort, after the load has committed: any failure is a
/// warning, and PostgreSQL itself skips, with a warning of its own, a table this role does not
/// own.
pub(super) async fn analyze_tables(session: &PgConnectOptions) {
    let tables = std::iter::once("events")
        .chain(READ_MODELS.iter().map(|table| table.name))
        .collect::<Vec<_>>()
        .join(", ");
    let analyzed = async {
        let mut connection = PgConnection::connect_with(session).await?;
        let outcome = sqlx::query(AssertSqlSafe(format!("analyze {tables}")))
            .execute(&mut connection)
            .await;
        let _ = connection.close().await;
        outcome
    };
    if let Err(error) = analyzed.await {
        tracing::warn!(
            %error,
            "cannot analyze {tables}: reading may be slow until autovacuum does; run \
             `analyze` as the tables' owner on the primary"
        );
    }
}

/// Warns of statistics `tables` could not be given, unless the connection itself failed.
fn warn_unless_analyzed(
    outcome: Result<bool, sqlx::Error>,
    tables: &str,
) -> Result<(), StoreError> {
    match outcome {
        Ok(true) => {}
        Ok(false) => tracing::warn!(
            "{tables}: no statistics, and this role could not make them: reading may be slow; \
             run `analyze {tables}` as the tables' owner"
        ),
        Err(error) if error.as_database_error().is_some() => tracing::warn!(
            %error,
            "cannot analyze {tables}: reading may be slow; run `analyze {tables}` as the \
             tables' owner on the primary"
        ),
        Err(error) => return Err(error.into()),
    }
    Ok(())
}
