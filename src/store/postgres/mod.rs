//! PostgreSQL, the production backend and the way to several API nodes on one database. Here
//! is what PostgreSQL does differently from SQLite; the SQL both share is in `store/common/`.
//!
//! Position safety: every write transaction starts by taking one transaction-level advisory
//! lock ([`WRITE_LOCK`]) and holds it until it commits or rolls back. Positions come from an
//! identity column, so they are drawn while the lock is held, and the lock is released only by
//! the commit: a transaction that commits later always holds higher positions than every
//! transaction committed before it, across all processes. A reader tailing `events` by position
//! can therefore never pass a position that a later commit fills in. The cost is one writing
//! transaction at a time, which the writer's group commit amortises.

mod loopback;
mod shadows;
mod statistics;

use std::time::Duration;

use projections::{DashboardStats, ReadModels, RecordedEvent};
use sqlx::Postgres;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use super::common::binds::{BindRows, bound};
use super::common::reading::read;
use super::common::replay_tx::events_by_stream;
use super::common::replicas::{Replicas, read_nearest};
use super::common::sql::{self, Params};
use super::common::{Backend, SqlxStore};
use super::rebuild::write_models;
use super::tables::{Decode, Table, Tables};
use super::tx::{Lock, RebuildLock, StreamCursor};
use super::{ReadFrom, Store, StoreError};

/// How every write transaction begins, in one round trip: a bound on how long it waits for a
/// lock (the writer's batch deadline: without it, a batch the writer gave up on would leave
/// its server process queued for the lock until it got it), then the transaction-level
/// advisory lock on the key every tally writer uses, `"tally"` in ASCII (0x74616c6c79).
/// `set local` ends with the transaction, so this is safe behind a transaction pooler.
pub const WRITE_LOCK: &str = "begin; \
     set local lock_timeout = '10s'; \
     select pg_advisory_xact_lock(499850701945)";

/// How long a caller waits for a pooled connection, opening one included: how long the first
/// caller takes to learn that the database is down (the rest learn at once; see
/// `common/outage.rs`).
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

/// How long a read waits for a standby's connection: less than the read's whole patience
/// (`replicas::STANDBY_PATIENCE`), so that a busy pool only sends the read to the primary,
/// where a stalled standby is taken out.
const STANDBY_ACQUIRE_TIMEOUT: Duration = Duration::from_millis(250);

/// The URL query parameter that says the URL reaches PostgreSQL through a transaction pooler
/// (PgBouncer's `pool_mode=transaction`, a managed database's "pooled" endpoint). The name is
/// the one Prisma made familiar.
const POOLER_FLAG: &str = "pgbouncer=true";

/// Connects to `url` (`postgres://…`) and migrates the database, over `direct_url` when given;
/// reads may go to the hot standbys `read_urls` name (see `common/replicas.rs`).
///
/// Behind a transaction pooler (`pgbouncer=true` in `url`), consecutive transactions of one
/// client connection may run on different server connections, so nothing may outlive a
/// transaction: statements are prepared unnamed and never cached, reads run in transactions,
/// and no session setting is sent that PgBouncer would refuse (`extra_float_digits`). What
/// needs a session (migrations, with their lock; a rebuild's lock) uses `direct_url`, which
/// is then required.
pub(crate) async fn open(
    url: &str,
    direct_url: Option<&str>,
    read_urls: &[String],
) -> Result<SqlxStore<Postgres>, StoreError> {
    let (url, pooled) = without_pooler_flag(url);
    if pooled && direct_url.is_none() {
        return Err(StoreError::NeedsDirectUrl);
    }
    let mut options = loopback::plaintext_on_loopback(&url, url.parse()?).await;
    let direct = match direct_url {
        Some(direct_url) => loopback::plaintext_on_loopback(direct_url, direct_url.parse()?).await,
        None => options.clone(),
    };
    if pooled {
        options = options.statement_cache_capacity(0).extra_float_digits(None);
    }
    let session = pool(&direct, 1, 0).await?;
    sqlx::migrate!("./migrations/postgres")
        .run(&session)
        .await?;
    session.close().await;
    let replicas = match read_urls {
        [] => None,
        urls => Some(Replicas::new(standbys(urls, pooled).await?)),
    };
    let store = SqlxStore {
        writes: pool(&options, 1, 1).await?,
        readers: pool(&options, 8, 2).await?,
        local: direct,
        outage: Default::default(),
        write_epoch: None,
        pooled,
        replicas,
    };
    // The migrations just run: no standby is read before it has them.
    store.fence_replicas().await?;
    Ok(store)
}

/// A pool for each standby, opened lazily: a standby down when the node starts is only
/// skipped until it answers.
async fn standbys(urls: &[String], pooled: bool) -> Result<Vec<(String, PgPool)>, StoreError> {
    let mut standbys = Vec::with_capacity(urls.len());
    for url in urls {
        // A standby is reached as the primary is: through a pooler when it is.
        let (url, _) = without_pooler_flag(url);
        let url = url.as_str();
        let mut options = loopback::plaintext_on_loopback(url, url.parse()?).await;
        if pooled {
            options = options.statement_cache_capacity(0).extra_float_digits(None);
        }
        let name = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(8)
            .min_connections(0)
            .test_before_acquire(false)
            .acquire_timeout(STANDBY_ACQUIRE_TIMEOUT)
            .connect_lazy_with(options);
        standbys.push((name, pool));
    }
    Ok(standbys)
}

/// A pool of at most `size` connections, `warm` of them kept open; opening it opens one.
async fn pool(options: &PgConnectOptions, size: u32, warm: u32) -> Result<PgPool, StoreError> {
    let opened = PgPoolOptions::new()
        .max_connections(size)
        .min_connections(warm)
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_with(options.clone())
        .await;
    match opened {
        Ok(pool) => Ok(pool),
        Err(error) => Err(cannot_connect(options, error).await),
    }
}

/// Why no connection to `options` could be opened, with where to (never the password). The
/// pool retries a refused connection until it times out and then says only that it timed
/// out: one more try, alone and bounded, finds the cause.
async fn cannot_connect(options: &PgConnectOptions, error: sqlx::Error) -> StoreError {
    use sqlx::Connection;
    let cause = match error {
        sqlx::Error::PoolTimedOut => {
            let tried = sqlx::PgConnection::connect_with(options);
            match tokio::time::timeout(ACQUIRE_TIMEOUT, tried).await {
                Ok(Err(error)) => error.to_string(),
                Ok(Ok(connection)) => {
                    let _ = connection.close().await;
                    format!("no connection within {ACQUIRE_TIMEOUT:?}, though one opens now")
                }
                Err(_) => format!("no answer within {ACQUIRE_TIMEOUT:?}"),
            }
        }
        error => error.to_string(),
    };
    let target = format!(
        "{}:{}/{}",
        options.get_host(),
        options.get_port(),
        options.get_database().unwrap_or_default()
    );
    StoreError::CannotConnect { target, cause }
}

/// `url` without [`POOLER_FLAG`], and whether it had it.
fn without_pooler_flag(url: &str) -> (String, bool) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), false);
    };
    let (flag, rest): (Vec<&str>, Vec<&str>) =
        query.split('&').partition(|pair| *pair == POOLER_FLAG);
    let url = match rest.is_empty() {
        true => base.to_owned(),
        false => format!("{base}?{}", rest.join("&")),
    };
    (url, !flag.is_empty())
}

impl Backend for Postgres {
    /// How to open a session of its own (the direct URL).
    type Local = PgConnectOptions;
    const PARAMS: Params = Params::Numbered;
    /// An identity column takes explicit values only when told to.
    const INSERT_EVENTS_OPTION: &'static str = "overriding system value";
    const LIST_OWNED: &'static str = sql::LIST_OWNED_LATERAL;

    fn begin(lock: Lock) -> &'static [&'static str] {
        match lock {
            Lock::Writers => &[WRITE_LOCK],
            Lock::Shadow => &["begin"],
            Lock::Snapshot => &["begin isolation level repeatable read read only"],
        }
    }

    fn rows_affected(result: &Self::QueryResult) -> u64 {
        result.rows_affected()
    }

    /// One probe of the index per value, whatever the planner's statistics say (see
    /// [`probe_each`]). `task_id in (…)` became a sequential scan of every share on a database
    /// whose statistics lagged behind a bulk load (no autovacuum analyze yet).
    fn rows_where_in(table: &Table, tables: Tables, column: &str, values: usize) -> String {
        let probe = table.select_where(tables, &format!("{column} = v.id"));
        let mut sql = probe_each(values, &probe);
        if column != table.key {
            sql.push_str(&format!(" order by {}", table.key));
        }
        sql
    }

    async fn dashboard_stats(
        store: &SqlxStore<Self>,
        user_id: &str,
        from: ReadFrom,
    ) -> Result<Option<DashboardStats>, StoreError> {
        read_nearest!(store, from, |connection| {
            let arguments = bound::<sqlx::postgres::PgArguments>(|a| a.text(user_id))?;
            sqlx::query_with(sql::LOAD_STATS, arguments)
                .persistent(store.persistent())
                .fetch_optional(&mut *connection)
                .await?
                .map(|row| DashboardStats::decode(&row))
                .transpose()
        })
    }

    async fn lock_rebuilds(store: &SqlxStore<Self>) -> Result<Box<dyn RebuildLock>, StoreError> {
        Ok(Box::new(shadows::lock_rebuilds(&store.local).await?))
    }

    async fn read_streams(
        store: &SqlxStore<Self>,
        after: StreamCursor,
        head: i64,
        limit: i64,
    ) -> Result<Vec<RecordedEvent>, StoreError> {
        read!(store, false, |connection| {
            events_by_stream::<Postgres>(connection, after, head, limit, store.persistent()).await
        })
    }

    async fn write_shadows(store: &SqlxStore<Self>, models: ReadModels) -> Result<(), StoreError> {
        write_models(store, &models).await
    }

    async fn prepare_stream_reads(store: &SqlxStore<Self>) -> Result<(), StoreError> {
        statistics::analyze_an_unanalyzed_log(&store.local).await
    }

    async fn analyze_after_bulk_load(store: &SqlxStore<Self>) {
        statistics::analyze_tables(&store.local).await
    }

    const ANNOUNCE: Option<&'static str> = Some("select pg_notify($1, $2)");

    /// The direct URL's: a transaction pooler cannot hold a `LISTEN`.
    fn listen_options(store: &SqlxStore<Self>) -> Option<PgConnectOptions> {
        Some(store.local.clone())
    }
}

/// `probe`'s rows for each of `ids` ids bound one each, `probe` reading the id as `v.id`: a
/// nested loop with `probe` run once per id, each an index probe even in a generic plan made
/// while the table was empty and never analyzed.
///
/// sqlx's prepared statements keep whatever plan PostgreSQL chose when it switched them to a
/// generic plan, until the table's next analyze. For `id in (…)`, or a plain lateral join
/// (which the planner flattens into a hash join), on a table still empty then, that is a
/// sequential scan: on a fresh database taking writes at once, loading a batch's tasks grew to
/// 3 ms as the table did, and throughput fell by a third. `offset 0` keeps the probe a
/// subquery run per id. (A table analyzed while it held a page or two may still get a
/// sequential scan per probe, as cheaper then, until its next analyze.)
fn probe_each(ids: usize, probe: &str) -> String {
    format!(
        "select p.* from (values {}) as v (id) cross join lateral ({probe} offset 0) as p",
        Params::Numbered.tuples(1, ids, 1)
    )
}

#[cfg(test)]
mod tests {
    use super::{open, without_pooler_flag};
    use crate::store::StoreError;

    #[tokio::test]
    async fn behind_a_pooler_a_direct_url_is_required() {
        // Refused before connecting anywhere: no server listens on port 1.
        let opened = open("postgres://u@127.0.0.1:1/db?pgbouncer=true", None, &[]).await;
        assert!(matches!(opened, Err(StoreError::NeedsDirectUrl)));
    }

    #[test]
    fn the_pooler_flag_is_read_and_taken_out_of_the_url() {
        let url = "postgres://u@h/db";
        assert_eq!(without_pooler_flag(url), (url.to_owned(), false));
        assert_eq!(
            without_pooler_flag("postgres://u@h/db?pgbouncer=true"),
            (url.to_owned(), true)
        );
        assert_eq!(
            without_pooler_flag("postgres://u@h/db?sslmode=require&pgbouncer=true"),
            ("postgres://u@h/db?sslmode=require".to_owned(), true)
        );
        assert_eq!(
            without_pooler_flag("postgres://u@h/db?pgbouncer=false"),
            ("postgres://u@h/db?pgbouncer=false".to_owned(), false)
        );
    }
}
