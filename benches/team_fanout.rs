//! The team commands whose fan-out is largest, durable (`synchronous=FULL` on SQLite), through
//! the real writer: a user joining a team that 10,000 tasks are shared with (10,000 access rows
//! and their figures move), and a task shared with a team of 1,000 members (1,000 rows). Each
//! prints its latencies' p50 and p99 besides criterion's estimate.
//!
//! `cargo bench --bench team_fanout` (PostgreSQL too with `TALLY_TEST_POSTGRES_URL`).

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use criterion::{Criterion, criterion_group, criterion_main};
use projections::{Permission, Role};
use tally::commands::{Commands, Submission};
use tally::domain::{Command, CommandRequest, TaskCommand, TeamCommand, TeamName, Title, UserId};
use uuid::Uuid;

fn user(name: &str) -> UserId {
    UserId::parse(name).expect("user id")
}

/// Runs `command` on `stream_id` as `actor`; it must succeed.
async fn run(commands: &Commands, stream_id: Uuid, actor: &str, command: impl Into<Command>) {
    let submission = Submission {
        request: CommandRequest {
            stream_id,
            actor: user(actor),
            command: command.into(),
            expected_version: None,
            now: Utc::now(),
        },
        idempotency: None,
        correlation_id: Uuid::now_v7(),
    };
    commands
        .execute(submission)
        .await
        .expect("the command succeeds");
}

/// Runs `make(i)` for each of `0..count` concurrently (the writer batches them).
async fn run_all<C: Into<Command>>(
    commands: &Arc<Commands>,
    count: usize,
    make: impl Fn(usize) -> (Uuid, C),
) {
    let mut running = tokio::task::JoinSet::new();
    for i in 0..count {
        let (stream_id, command) = make(i);
        let (commands, command) = (commands.clone(), command.into());
        running.spawn(async move { run(&commands, stream_id, "admin", command).await });
    }
    running.join_all().await;
}

/// A team of `admin` and `members` other members; its id.
async fn team_of(commands: &Arc<Commands>, members: usize) -> Uuid {
    let team = Uuid::now_v7();
    let name = TeamName::parse("bench").expect("name");
    run(commands, team, "admin", TeamCommand::Create { name }).await;
    run_all(commands, members, |i| {
        let member = TeamCommand::SetMember {
            user_id: user(&format!("member-{i}")),
            role: Role::Member,
        };
        (team, member)
    })
    .await;
    team
}

/// `count` tasks of `admin`'s; their ids.
async fn tasks(commands: &Arc<Commands>, count: usize) -> Vec<Uuid> {
    let ids: Vec<Uuid> = (0..count).map(|_| Uuid::now_v7()).collect();
    run_all(commands, count, |i| {
        let create = TaskCommand::Create {
            title: Title::parse("shared with the team").expect("title"),
            description: Default::default(),
        };
        (ids[i], create)
    })
    .await;
    ids
}

fn share(team_id: Uuid) -> TaskCommand {
    TaskCommand::ShareWithTeam {
        team_id,
        permission: Permission::View,
    }
}

/// Each timed command's latency.
type Samples = Arc<Mutex<Vec<Duration>>>;

/// Prints the p50 and p99 of `samples`.
fn percentiles(name: &str, samples: &Samples) {
    let mut samples = samples.lock().expect("samples").clone();
    if samples.is_empty() {
        return;
    }
    samples.sort();
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    println!(
        "{name}: p50 {:?}, p99 {:?} over {} commands",
        at(0.5),
        at(0.99),
        samples.len()
    );
}

fn team_fanout(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let (shared_tasks, team_size) = if common::quick() {
        (200, 50)
    } else {
        (10_000, 1_000)
    };
    for backend in common::backends() {
        let db = runtime.block_on(common::fresh_database(backend));
        let store = runtime.block_on(db.open(true));
        let commands = runtime.block_on(async { Arc::new(Commands::start(store.clone())) });
        let mut group = c.benchmark_group(format!("team_fanout/{backend}"));
        group.measurement_time(common::measurement_time());
        group.sample_size(10);

        // A team with `shared_tasks` tasks shared with it; each iteration a new user joins
        // (timed) and leaves again (not timed).
        let big = runtime.block_on(async {
            let team = team_of(&commands, 0).await;
            let ids = tasks(&commands, shared_tasks).await;
            run_all(&commands, shared_tasks, |i| (ids[i], share(team))).await;
            team
        });
        let joined = format!("join_team_with_{shared_tasks}_shared_tasks");
        let samples: Samples = Arc::default();
        group.bench_function(&joined, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let commands = commands.clone();
                let samples = samples.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let joiner = user(&format!("joiner-{}", Uuid::now_v7().simple()));
                        let join = TeamCommand::SetMember {
                            user_id: joiner.clone(),
                            role: Role::Member,
                        };
                        let began = Instant::now();
                        run(&commands, big, "admin", join).await;
                        let took = began.elapsed();
                        samples.lock().expect("samples").push(took);
                        total += took;
                        let leave = TeamCommand::RemoveMember { user_id: joiner };
                        run(&commands, big, "admin", leave).await;
                    }
                    total
                }
            });
        });
        percentiles(&format!("team_fanout/{backend}/{joined}"), &samples);

        // A team of `team_size` members; each iteration shares a new task with it (timed).
        let wide = runtime.block_on(team_of(&commands, team_size - 1));
        let shared = format!("share_a_task_with_a_team_of_{team_size}");
        let samples: Samples = Arc::default();
        group.bench_function(&shared, |b| {
            b.to_async(&runtime).iter_custom(|iterations| {
                let commands = commands.clone();
                let samples = samples.clone();
                async move {
                    let mut total = Duration::ZERO;
                    for _ in 0..iterations {
                        let task = tasks(&commands, 1).await[0];
                        let began = Instant::now();
                        run(&commands, task, "admin", share(wide)).await;
                        let took = began.elapsed();
                        samples.lock().expect("samples").push(took);
                        total += took;
                    }
                    total
                }
            });
        });
        percentiles(&format!("team_fanout/{backend}/{shared}"), &samples);
        group.finish();
        runtime.block_on(async {
            commands.close().await;
            store.close().await;
        });
    }
}

criterion_group!(benches, team_fanout);
criterion_main!(benches);
