//! Rows read by their parent's id: a task's or a team's rows with its children (shares,
//! members), or the children alone (a task's team shares or access rows).

use std::collections::HashMap;

use sqlx::Executor;
use uuid::Uuid;

use super::Backend;
use super::binds::BindRows;
use super::sqlx_tx::SqlxTx;
use crate::store::StoreError;
use crate::store::tables::{Decode, Table};
use crate::store::tx::Tables;

impl<DB: Backend> SqlxTx<DB>
where
    for<'c> &'c mut DB::Connection: Executor<'c, Database = DB>,
{
    /// The rows of a parent table whose key is among `ids`, each with the rows of a child
    /// table whose first key column names it (a task with its shares, a team with its
    /// members).
    pub(super) async fn with_children<P: Decode + Send, C: Decode + Send>(
        &mut self,
        tables: Tables,
        ids: &[Uuid],
        (parent, id_of): Parent<P>,
        (child, parent_of): Parent<C>,
    ) -> Result<HashMap<Uuid, (P, Vec<C>)>, StoreError> {
        let mut found = HashMap::with_capacity(ids.len());
        let statement = |n| DB::rows_where_in(parent, tables, parent.key, n);
        for row in self
            .each_chunk(ids, 1, statement, |a, id| a.id(*id))
            .await?
        {
            let row = P::decode(&row)?;
            found.insert(id_of(&row), (row, Vec::new()));
        }
        if found.is_empty() {
            return Ok(found);
        }
        for row in self.children::<C>(tables, ids, child).await? {
            if let Some((_, children)) = found.get_mut(&parent_of(&row)) {
                children.push(row);
            }
        }
        Ok(found)
    }

    /// The rows of a child table whose first key column is among `ids`.
    pub(super) async fn children<C: Decode + Send>(
        &mut self,
        tables: Tables,
        ids: &[Uuid],
        child: &'static Table,
    ) -> Result<Vec<C>, StoreError> {
        let statement = |n| DB::rows_where_in(child, tables, child.first_key(), n);
        self.each_chunk(ids, 1, statement, |a, id| a.id(*id))
            .await?
            .iter()
            .map(C::decode)
            .collect()
    }
}

/// A table, with the parent id of each of its rows: a parent row's own id, a child row's
/// parent's.
pub(super) type Parent<R> = (&'static Table, fn(&R) -> Uuid);
