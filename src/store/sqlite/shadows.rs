//! A rebuild's shadow tables on SQLite, and the file lock that lets one rebuild run at a time.

use std::fs::File;
use std::path::Path;

use async_trait::async_trait;
use sqlx::{AssertSqlSafe, Executor, Sqlite, SqliteConnection};

use crate::store::StoreError;
use crate::store::common::ShadowTables;
use crate::store::tables::{READ_MODELS, Table};
use crate::store::tx::RebuildLock;

/// An OS lock on `<database>-rebuild.lock`, released when the file is closed or the process
/// dies.
pub(super) fn lock_rebuilds(database: &Path) -> Result<RebuildFile, StoreError> {
    let mut name = database.to_owned().into_os_string();
    name.push("-rebuild.lock");
    let file = File::create(name).map_err(sqlx::Error::Io)?;
    match file.try_lock() {
        Ok(()) => Ok(RebuildFile(file)),
        Err(std::fs::TryLockError::WouldBlock) => Err(StoreError::RebuildRunning),
        Err(std::fs::TryLockError::Error(error)) => Err(sqlx::Error::Io(error).into()),
    }
}

/// The locked file.
pub(super) struct RebuildFile(File);

#[async_trait]
impl RebuildLock for RebuildFile {
    async fn release(self: Box<Self>) -> Result<(), StoreError> {
        self.0.unlock().map_err(sqlx::Error::Io)?;
        Ok(())
    }
}

impl ShadowTables for Sqlite {
    /// Creates each shadow table from its live twin's own DDL, table first, then its indexes
    /// under other names.
    async fn create_shadows(connection: &mut SqliteConnection) -> Result<(), StoreError> {
        for Table {
            name: live, shadow, ..
        } in READ_MODELS
        {
            let ddl: Vec<(String, String, String)> = sqlx::query_as(
                "select type, name, sql from sqlite_master \
             where tbl_name = $1 and sql is not null order by type = 'index'",
            )
            .bind(live)
            .fetch_all(&mut *connection)
            .await?;
            for (kind, name, sql) in ddl {
                let Some(body) = sql.find('(').map(|at| &sql[at..]) else {
                    continue;
                };
                let statement = if kind == "table" {
                    format!("create table {shadow} {body}")
                } else {
                    let unique = if sql.to_ascii_lowercase().starts_with("create unique") {
                        "unique "
                    } else {
                        ""
                    };
                    format!(
                        "create {unique}index \"{}\" on {shadow} {body}",
                        other_index_name(&name)
                    )
                };
                execute(connection, statement).await?;
            }
        }
        Ok(())
    }

    /// Replaces each live table by its shadow, indexes and all.
    async fn swap_in(
        connection: &mut SqliteConnection,
        tables: &[&'static Table],
    ) -> Result<(), StoreError> {
        for Table {
            name: live, shadow, ..
        } in tables
        {
            execute(connection, format!("drop table {live}")).await?;
            execute(connection, format!("alter table {shadow} rename to {live}")).await?;
        }
        Ok(())
    }
}

/// SQLite cannot rename an index, and a shadow's index may not share its live twin's name, so
/// a table's indexes alternate between two names from one rebuild to the next.
fn other_index_name(name: &str) -> String {
    match name.strip_suffix("_b") {
        Some(first) => first.to_owned(),
        None => format!("{name}_b"),
    }
}

/// Runs DDL built from tally's own table names and SQLite's own catalog.
async fn execute(connection: &mut SqliteConnection, sql: String) -> Result<(), StoreError> {
    connection.execute(AssertSqlSafe(sql)).await?;
    Ok(())
}
