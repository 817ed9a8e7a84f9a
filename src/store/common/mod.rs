//! What both backends share, written once over sqlx's generic `Database`: the column lists
//! and queries ([`sql`]), row decoding ([`rows`]) and encoding ([`binds`]), the transactions
//! ([`sqlx_tx`]: a batch's statements in [`write_tx`], rebuild and verify's in [`replay_tx`])
//! and the [`Store`](crate::store::Store) ([`queries`]). What differs is the [`Backend`] trait,
//! implemented in `store/sqlite/` and `store/postgres/`.

pub(crate) mod binds;
mod children;
mod job_statements;
pub(crate) mod outage;
pub(crate) mod queries;
pub(crate) mod reading;
pub(crate) mod replay_tx;
pub(crate) mod replicas;
pub(crate) mod rows;
pub(crate) mod sql;
pub(crate) mod sqlx_tx;
mod standby;
pub(crate) mod transactions;
mod user_rows;
pub(crate) mod write_sql;
pub(crate) mod write_tx;

use std::future::Future;

use projections::{DashboardStats, ReadModels, RecordedEvent};
use sqlx::database::HasStatementCache;
use sqlx::{IntoArguments, Pool};

use super::tables::{Table, Tables};
use super::tx::{Lock, RebuildLock};
use super::{ReadFrom, StoreError};
use binds::BindRows;
use rows::StoreRow;
use sql::Params;

/// What differs between SQLite and PostgreSQL, each implemented in the backend's folder.
pub(crate) trait Backend:
    ShadowTables
    + HasStatementCache
    + sqlx::Database<Row: StoreRow, Arguments: BindRows + IntoArguments<Self>>
{
    /// What the backend keeps beside its two pools.
    type Local: Send + Sync + 'static;
    /// How its statements write bind parameters.
    const PARAMS: Params;
    /// Said between the columns and the values of `insert into events`.
    const INSERT_EVENTS_OPTION: &'static str;
    /// A page of the caller's own tasks with their first shares (`sql::LIST_OWNED`, or a
    /// backend's better form of it).
    const LIST_OWNED: &'static str = sql::LIST_OWNED;

    /// The statements that open a transaction of the kind `lock` names.
    fn begin(lock: Lock) -> &'static [&'static str];

    /// How many rows a statement changed.
    fn rows_affected(result: &Self::QueryResult) -> u64;

    /// The rows of `table` among `tables` whose `column` (its key or the key's first column)
    /// holds one of `values` values, bound one each, in key order where a value may find
    /// several rows (`column` is not the whole key): an index probe per value,
    /// which each backend words its own way.
    fn rows_where_in(table: &Table, tables: Tables, column: &str, values: usize) -> String;

    /// One user's dashboard row: the hottest read, which each backend does its own way.
    fn dashboard_stats(
        store: &SqlxStore<Self>,
        user_id: &str,
        from: ReadFrom,
    ) -> impl Future<Output = Result<Option<DashboardStats>, StoreError>> + Send;

    /// See [`Replay::lock_rebuilds`](crate::store::tx::Replay::lock_rebuilds).
    fn lock_rebuilds(
        store: &SqlxStore<Self>,
    ) -> impl Future<Output = Result<Box<dyn RebuildLock>, StoreError>> + Send;

    /// See [`Replay::read_streams`](crate::store::tx::Replay::read_streams).
    fn read_streams(
        store: &SqlxStore<Self>,
        after: crate::store::tx::StreamCursor,
        head: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send;

    /// See [`Replay::prepare_stream_reads`](crate::store::tx::Replay::prepare_stream_reads).
    fn prepare_stream_reads(
        _store: &SqlxStore<Self>,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        std::future::ready(Ok(()))
    }

    /// See [`Replay::analyze_after_bulk_load`](crate::store::tx::Replay::analyze_after_bulk_load).
    /// SQLite's planner needs no statistics to follow the indexes.
    fn analyze_after_bulk_load(_store: &SqlxStore<Self>) -> impl Future<Output = ()> + Send {
        std::future::ready(())
    }

    /// The statement that announces a committed batch to other servers (`$1` the channel,
    /// `$2` the payload), where they can listen.
    const ANNOUNCE: Option<&'static str>;

    /// See [`Store::listen_options`](crate::store::Store::listen_options).
    fn listen_options(store: &SqlxStore<Self>) -> Option<sqlx::postgres::PgConnectOptions>;

    /// Refuses a write transaction that could not keep what it commits (see
    /// `FastPath::check_in_place` on SQLite).
    fn check_writable(_store: &SqlxStore<Self>) -> Result<(), StoreError> {
        Ok(())
    }

    /// See [`Replay::write_shadows`](crate::store::tx::Replay::write_shadows).
    fn write_shadows(
        store: &SqlxStore<Self>,
        models: ReadModels,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A rebuild's shadow tables, whose DDL each backend writes its own way (`shadows.rs` in its
/// folder).
pub(crate) trait ShadowTables: sqlx::Database {
    /// See [`ReplayTx::create_shadows`](crate::store::tx::ReplayTx::create_shadows).
    fn create_shadows(
        connection: &mut Self::Connection,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// See [`ReplayTx::swap_in`](crate::store::tx::ReplayTx::swap_in).
    fn swap_in(
        connection: &mut Self::Connection,
        tables: &[&'static crate::store::tables::Table],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// A tally store on one backend: a pool for queries, a pool for writes (one connection on
/// SQLite, which allows one writer) and what the backend keeps beside them.
pub(crate) struct SqlxStore<DB: Backend> {
    pub readers: Pool<DB>,
    pub writes: Pool<DB>,
    pub local: DB::Local,
    /// Whether the database was last found unreachable.
    pub outage: outage::Outage,
    /// Advanced by every write transaction when something keeps rows in memory (SQLite's
    /// fast path); `None` when nothing does.
    pub write_epoch: Option<sqlx_tx::WriteEpoch>,
    /// Whether the connections reach the database through a transaction pooler
    /// (`pgbouncer=true`): then nothing relies on a session beyond one transaction.
    pub pooled: bool,
    /// Hot standbys that take reads once they have replayed far enough (PostgreSQL).
    pub replicas: Option<replicas::Replicas<DB>>,
}
