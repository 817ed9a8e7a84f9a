//! The projector: events per second through the pure fold (`projections::ReadModels::apply`,
//! the same `project` the live path and rebuild use), over a realistic event mix; and through
//! fold + store write: `Store::rebuild` of a seeded store (read the log, fold, write the shadow
//! tables in bulk, swap), on SQLite and on PostgreSQL when `TALLY_TEST_POSTGRES_URL` is set.
//!
//! `cargo bench --bench projector`

mod common;

use chrono::{TimeZone, Utc};
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use projections::{Permission, ReadModels, RecordedEvent, TaskEvent};
use uuid::Uuid;

/// A log of about `tasks * 2.4` events by 100 users: creates, completions, some reopen and
/// re-complete cycles, shares and deletes, spread over two weeks.
fn event_log(tasks: usize) -> Vec<RecordedEvent> {
    let start = Utc.with_ymd_and_hms(2026, 11, 16, 8, 0, 0).unwrap();
    let mut log = Vec::with_capacity(tasks * 3);
    for n in 0..tasks {
        let task_id = Uuid::from_u128(n as u128 + 1);
        let owner = format!("user-{}", n % 100);
        let at = start + chrono::Duration::seconds(n as i64 * 1_209_600 / tasks as i64);
        let mut events = vec![TaskEvent::TaskCreated {
            owner_id: owner.clone(),
            title: format!("task {n}"),
            description: String::new(),
        }];
        if n % 10 < 6 {
            events.push(TaskEvent::TaskCompleted {});
            if n % 10 == 0 {
                events.extend([TaskEvent::TaskReopened {}, TaskEvent::TaskCompleted {}]);
            }
        }
        if n % 5 == 0 {
            events.push(TaskEvent::TaskShared {
                user_id: format!("user-{}", (n + 1) % 100),
                permission: if n % 2 == 0 {
                    Permission::View
                } else {
                    Permission::Edit
                },
            });
        }
        if n % 20 == 7 {
            events.push(TaskEvent::TaskDeleted {});
        }
        for (version, event) in events.into_iter().enumerate() {
            log.push(RecordedEvent {
                position: log.len() as i64 + 1,
                event_id: Uuid::now_v7(),
                stream_id: task_id,
                stream_version: version as i64 + 1,
                actor: owner.clone(),
                recorded_at: at + chrono::Duration::minutes(version as i64),
                event: event.into(),
            });
        }
    }
    log
}

fn fold(c: &mut Criterion) {
    let tasks = if std::env::var_os("TALLY_BENCH_QUICK").is_some() {
        10_000
    } else {
        100_000
    };
    let log = event_log(tasks);
    let mut group = c.benchmark_group("projector");
    group.throughput(Throughput::Elements(log.len() as u64));
    group.sample_size(10);
    group.bench_function(format!("pure_fold/{}_events", log.len()), |b| {
        b.iter(|| {
            let mut models = ReadModels::default();
            for event in &log {
                models.apply(event);
            }
            models.position
        });
    });
    group.finish();
}

fn fold_and_store_write(c: &mut Criterion) {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let tasks_per_user = if common::quick() { 1_000 } else { 50_000 };
    let mut group = c.benchmark_group("projector");
    group.sample_size(10);
    group.measurement_time(common::measurement_time());
    for backend in common::backends() {
        let db = runtime.block_on(common::fresh_database(backend));
        let store = runtime.block_on(db.open(false));
        runtime.block_on(common::seed(&store, tasks_per_user));
        let events = runtime.block_on(store.head_position()).unwrap() as u64;
        group.throughput(Throughput::Elements(events));
        group.bench_function(format!("rebuild/{backend}/{events}_events"), |b| {
            b.to_async(&runtime).iter(|| async {
                store
                    .rebuild(&tally::store::Projection::ALL, &())
                    .await
                    .expect("rebuild")
            });
        });
        runtime.block_on(store.close());
    }
    group.finish();
}

criterion_group!(benches, fold, fold_and_store_write);
criterion_main!(benches);
