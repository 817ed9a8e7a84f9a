//! One user's figures and the rows they count, read in one snapshot: what the sampled verify
//! compares (`store/verify.rs`).

use projections::{AccessRow, DashboardStats, TaskRow};
use sqlx::Executor;

use super::binds::{BindRows, bound};
use super::reading::read;
use super::sql;
use super::{Backend, SqlxStore};
use crate::store::tables::Decode;
use crate::store::{StoreError, UserRows};

impl<DB: Backend> SqlxStore<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// See [`Store::user_rows`](crate::store::Store::user_rows): in one snapshot.
    pub(crate) async fn read_user_rows(&self, user_id: &str) -> Result<UserRows, StoreError> {
        read!(self, true, |connection| {
            let by_user = || bound::<DB::Arguments>(|a| a.text(user_id));
            let stats = sqlx::query_with(sql::LOAD_STATS, by_user()?)
                .persistent(self.persistent())
                .fetch_optional(&mut *connection)
                .await?
                .map(|row| DashboardStats::decode(&row))
                .transpose()?;
            let tasks = sqlx::query_with(sql::TASKS_OF_USER, by_user()?)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(TaskRow::decode)
                .collect::<Result<_, _>>()?;
            let access = sqlx::query_with(sql::ACCESS_OF_USER, by_user()?)
                .persistent(self.persistent())
                .fetch_all(&mut *connection)
                .await?
                .iter()
                .map(AccessRow::decode)
                .collect::<Result<_, _>>()?;
            Ok(UserRows {
                stats,
                tasks,
                access,
            })
        })
    }
}
