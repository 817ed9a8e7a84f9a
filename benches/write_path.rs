//! The write path, durable (`synchronous=FULL` on SQLite): create-then-complete through the
//! real router by one client and by 16 concurrent clients, and `tally seed`'s bulk load.
//!
//! `cargo bench --bench write_path` (PostgreSQL too with `TALLY_TEST_POSTGRES_URL`).

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::http::{Method, Request, header};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use http_body_util::BodyExt;
use indicatif::ProgressBar;
use tally::commands::Commands;
use tower::ServiceExt;

const CLIENTS: usize = 16;

fn command(method: Method, path: &str, token: &str, body: Option<&str>) -> Request<Body> {
    let request = Request::builder()
        .method(method)
        .uri(path)
        .header(header::AUTHORIZATION, format!("Bearer {token}"));
    match body {
        Some(body) => request
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(body.to_owned())),
        None => request.body(Body::empty()),
    }
    .expect("request")
}

/// One create and one complete; returns when both are acknowledged.
async fn create_then_complete(router: &Router, token: &str) {
    let created = router
        .clone()
        .oneshot(command(
            Method::POST,
            "/api/tasks",
            token,
            Some(r#"{"title":"bench"}"#),
        ))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let body = created.into_body().collect().await.unwrap().to_bytes();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let path = format!("/api/tasks/{}/complete", body["task_id"].as_str().unwrap());
    let completed = router
        .clone()
        .oneshot(command(Method::POST, &path, token, None))
        .await
        .unwrap();
    assert_eq!(completed.status(), 200);
}

/// `iterations` rounds of create-then-complete spread over `clients` concurrent clients.
async fn run_clients(
    router: &Router,
    tokens: &Arc<Vec<String>>,
    clients: usize,
    iterations: u64,
) -> Duration {
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..clients {
        let (router, tokens) = (router.clone(), tokens.clone());
        let share =
            iterations / clients as u64 + u64::from((client as u64) < iterations % clients as u64);
        tasks.spawn(async move {
            for _ in 0..share {
                create_then_complete(&router, &tokens[client]).await;
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done.unwrap();
    }
    started.elapsed()
}

fn commands(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    for backend in common::backends() {
        let db = runtime.block_on(common::fresh_database(backend));
        let store = runtime.block_on(db.open(true));
        let (router, auth, _background) = runtime.block_on(common::app(store.clone(), &db.dir));
        let tokens: Arc<Vec<String>> = Arc::new(
            (0..CLIENTS)
                .map(|i| common::token(&auth, &format!("bench-{i}")))
                .collect(),
        );
        let mut group = c.benchmark_group(format!("commands/{backend}"));
        group.measurement_time(common::measurement_time());
        group.sample_size(10);
        group.throughput(Throughput::Elements(2));
        for clients in [1, CLIENTS] {
            group.bench_function(format!("create_then_complete/{clients}_clients"), |b| {
                b.to_async(&runtime)
                    .iter_custom(|iterations| run_clients(&router, &tokens, clients, iterations));
            });
        }
        group.finish();
        runtime.block_on(store.close());
    }
}

fn seed(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (users, tasks) = if common::quick() {
        (4, 100)
    } else {
        (10, 2_000)
    };
    for backend in common::backends() {
        let mut group = c.benchmark_group(format!("seed/{backend}"));
        group.sample_size(10);
        group.measurement_time(common::measurement_time());
        // Each task is about 2.4 commands; criterion reports tasks/s, the line below commands/s.
        group.throughput(Throughput::Elements((users * tasks) as u64));
        group.bench_function(format!("{users}_users_x_{tasks}_tasks"), |b| {
            b.to_async(&runtime).iter_custom(|iterations| async move {
                let mut total = Duration::ZERO;
                for _ in 0..iterations {
                    let db = common::fresh_database(backend).await;
                    let store = db.open(true).await;
                    let commands = Arc::new(Commands::start(store.clone()));
                    let report =
                        tally::seed::seed(commands.clone(), users, tasks, ProgressBar::hidden())
                            .await
                            .expect("seed");
                    commands.close().await;
                    store.close().await;
                    println!(
                        "seed/{backend}: {} commands in {:?} ({:.0} commands/s)",
                        report.commands,
                        report.elapsed,
                        report.commands_per_second()
                    );
                    total += report.elapsed;
                }
                total
            });
        });
        group.finish();
    }
}

criterion_group!(benches, commands, seed);
criterion_main!(benches);
