//! A rebuild's shadow tables on PostgreSQL, and the session advisory lock that lets one
//! rebuild run at a time.

use async_trait::async_trait;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AssertSqlSafe, Connection, Executor, PgConnection, Postgres};

use crate::store::StoreError;
use crate::store::common::ShadowTables;
use crate::store::tables::{READ_MODELS, Table};
use crate::store::tx::RebuildLock;

/// The advisory lock a rebuild holds for its whole run (`"rebuild"` in ASCII).
const REBUILD_LOCK: i64 = 0x0072_6562_7569_6c64;

/// A session advisory lock on a connection of its own (to the direct URL: a transaction pooler
/// cannot hold a session), held until released or until its process dies.
pub(super) async fn lock_rebuilds(
    session: &PgConnectOptions,
) -> Result<RebuildSession, StoreError> {
    let mut connection = PgConnection::connect_with(session).await?;
    let locked: bool = sqlx::query_scalar("select pg_try_advisory_lock($1)")
        .bind(REBUILD_LOCK)
        .fetch_one(&mut connection)
        .await?;
    if locked {
        Ok(RebuildSession(connection))
    } else {
        Err(StoreError::RebuildRunning)
    }
}

/// The session holding the lock.
pub(super) struct RebuildSession(PgConnection);

#[async_trait]
impl RebuildLock for RebuildSession {
    /// Unlocks before closing: a dropped connection's lock lingers until the server notices
    /// the closed socket, long enough for the next rebuild to be refused.
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        let mut connection = self.0;
        sqlx::query("select pg_advisory_unlock($1)")
            .bind(REBUILD_LOCK)
            .execute(&mut connection)
            .await?;
        connection.close().await?;
        Ok(())
    }
}

impl ShadowTables for Postgres {
    /// Creates each shadow table like its live twin, keys and indexes included.
    async fn create_shadows(connection: &mut PgConnection) -> Result<(), StoreError> {
        for Table {
            name: live, shadow, ..
        } in READ_MODELS
        {
            let sql = format!("create table {shadow} (like {live} including all)");
            connection.execute(AssertSqlSafe(sql)).await?;
        }
        Ok(())
    }

    /// Replaces each live table by its shadow, and gives the shadow's indexes their live twins'
    /// names back.
    async fn swap_in(
        connection: &mut PgConnection,
        tables: &[&'static Table],
    ) -> Result<(), StoreError> {
        for Table {
            name: live, shadow, ..
        } in tables
        {
            let live_indexes = indexes(connection, live).await?;
            let shadow_indexes = indexes(connection, shadow).await?;
            let mut statements = vec![
                format!("drop table {live}"),
                format!("alter table {shadow} rename to {live}"),
            ];
            for (name, shape) in shadow_indexes {
                if let Some((live_name, _)) = live_indexes.iter().find(|(_, s)| *s == shape) {
                    statements.push(format!("alter index \"{name}\" rename to \"{live_name}\""));
                }
            }
            for sql in statements {
                connection.execute(AssertSqlSafe(sql)).await?;
            }
        }
        Ok(())
    }
}

/// Each index of `table` by name, with its shape: its definition without its own name and
/// its table's (`UNIQUE … USING btree (id)`).
async fn indexes(
    connection: &mut PgConnection,
    table: &str,
) -> Result<Vec<(String, String)>, StoreError> {
    let rows: Vec<(String, String)> = sqlx::query_as(
        "select indexname::text, indexdef from pg_indexes \
         where schemaname = current_schema() and tablename = $1",
    )
    .bind(table)
    // Once per rebuild: never worth keeping prepared, and safe behind a transaction pooler.
    .persistent(false)
    .fetch_all(&mut *connection)
    .await?;
    Ok(rows
        .into_iter()
        .map(|(name, definition)| {
            let unique = definition.starts_with("CREATE UNIQUE");
            let using = definition
                .split_once(" USING ")
                .map_or("", |(_, using)| using);
            (name, format!("{unique} {using}"))
        })
        .collect())
}
