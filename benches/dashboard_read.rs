//! The dashboard read: the maintained row behind the real router (JWT check included), against
//! the naive way — the same four figures counted with `COUNT(*)` at query time — for one user
//! with 1k, 10k and 100k tasks, in the same run.
//!
//! `cargo bench --bench dashboard_read` (PostgreSQL too with `TALLY_TEST_POSTGRES_URL`, and through
//! a transaction pooler with `TALLY_BENCH_POOLER_URL`; see `common::backends`).

mod common;

use std::time::{Duration, Instant};

use axum::Router;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use tower::ServiceExt;

/// The four figures of `/api/dashboard/statistics`, counted over the read models with the
/// indexes that counting needs, through the same driver as the row read (rusqlite for SQLite,
/// sqlx for PostgreSQL), so that the ratio compares the approaches, not the drivers.
enum Naive {
    Sqlite(std::sync::Mutex<rusqlite::Connection>),
    Postgres(sqlx::PgPool),
}

const COUNT_TASKS: &str = "select count(*) as total, \
     count(*) filter (where status = 'pending') as pending, \
     count(*) filter (where status = 'completed') as completed \
     from tasks where owner_id = $1";
const COUNT_SHARED: &str = "select count(*) from task_shares where user_id = $1";
const COUNT_INDEX: &str =
    "create index if not exists tasks_by_owner_status on tasks (owner_id, status)";

impl Naive {
    async fn connect(url: &str) -> Naive {
        use sqlx::Executor;
        if let Some(path) = url.strip_prefix("sqlite://") {
            let connection = rusqlite::Connection::open(path).expect("sqlite");
            connection.execute(COUNT_INDEX, []).expect("index");
            connection.execute("analyze", []).expect("analyze");
            Naive::Sqlite(std::sync::Mutex::new(connection))
        } else {
            let pool = sqlx::PgPool::connect(url).await.expect("postgres");
            pool.execute(COUNT_INDEX).await.expect("index");
            pool.execute("analyze").await.expect("analyze");
            Naive::Postgres(pool)
        }
    }

    async fn statistics(&self, user: &str) -> (i64, i64, i64, i64) {
        match self {
            Naive::Sqlite(connection) => {
                let connection = connection.lock().unwrap();
                let (total, pending, completed) = connection
                    .prepare_cached(COUNT_TASKS)
                    .unwrap()
                    .query_row([user], |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)))
                    .unwrap();
                let shared: i64 = connection
                    .prepare_cached(COUNT_SHARED)
                    .unwrap()
                    .query_row([user], |row| row.get(0))
                    .unwrap();
                (total, pending, completed, shared)
            }
            Naive::Postgres(pool) => {
                let (total, pending, completed): (i64, i64, i64) = sqlx::query_as(COUNT_TASKS)
                    .bind(user)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                let shared: i64 = sqlx::query_scalar(COUNT_SHARED)
                    .bind(user)
                    .fetch_one(pool)
                    .await
                    .unwrap();
                (total, pending, completed, shared)
            }
        }
    }
}

async fn read_row(router: &Router, token: &str) {
    let response = router
        .clone()
        .oneshot(common::get("/api/dashboard/statistics", token))
        .await
        .unwrap();
    assert!(response.status().is_success());
}

/// Median time of `runs` calls, for the ratio line printed after each size.
async fn median<F: AsyncFnMut()>(runs: usize, mut call: F) -> Duration {
    let mut times = Vec::with_capacity(runs);
    for _ in 0..runs {
        let started = Instant::now();
        call().await;
        times.push(started.elapsed());
    }
    times.sort();
    times[runs / 2]
}

fn dashboard_read(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let sizes: &[usize] = if common::quick() {
        &[1_000]
    } else {
        &[1_000, 10_000, 100_000]
    };
    for backend in common::backends() {
        let mut group = c.benchmark_group(format!("dashboard_read/{backend}"));
        group.measurement_time(common::measurement_time());
        for &tasks in sizes {
            let db = runtime.block_on(common::fresh_database(backend));
            let store = runtime.block_on(db.open(false));
            runtime.block_on(common::seed(&store, tasks));
            let (router, auth, _background) = runtime.block_on(common::app(store.clone(), &db.dir));
            let token = common::token(&auth, "seed-0");
            let naive = runtime.block_on(Naive::connect(db.session_url()));
            group.bench_with_input(BenchmarkId::new("row", tasks), &tasks, |b, _| {
                b.to_async(&runtime).iter(|| read_row(&router, &token));
            });
            group.bench_with_input(BenchmarkId::new("count_star", tasks), &tasks, |b, _| {
                b.to_async(&runtime).iter(|| naive.statistics("seed-0"));
            });
            let (row, counted) = runtime.block_on(async {
                let row = median(501, async || read_row(&router, &token).await).await;
                let counted = median(51, async || {
                    naive.statistics("seed-0").await;
                })
                .await;
                (row, counted)
            });
            println!(
                "dashboard_read/{backend}/{tasks} tasks: row {row:?} (HTTP + JWT), COUNT(*) {counted:?} (SQL only): {:.0}x",
                counted.as_secs_f64() / row.as_secs_f64()
            );
            runtime.block_on(store.close());
        }
        group.finish();
    }
}

criterion_group!(benches, dashboard_read);
criterion_main!(benches);
