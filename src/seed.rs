//! `tally seed`: fills a store through the real command path (decide, append, project), many
//! commands in flight so that the writer commits them in large groups.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use indicatif::ProgressBar;
use projections::{Permission, Role};
use uuid::Uuid;

use crate::clock::Clock;
use crate::commands::{CommandError, Commands, Submission};
use crate::domain::{
    CommandRequest, Description, TaskCommand, TeamCommand, TeamName, Title, UserId,
};

/// Tasks in flight at once, each with its commands queued back to back: enough for the
/// writer to fill its batches.
const IN_FLIGHT: usize = 1024;

/// What a seed run did.
#[derive(Debug, Clone, Copy)]
pub struct SeedReport {
    pub tasks: usize,
    pub commands: usize,
    pub elapsed: Duration,
}

impl SeedReport {
    pub fn commands_per_second(&self) -> f64 {
        self.commands as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }
}

/// The user id of seed user `index`.
pub fn seed_user(index: usize) -> UserId {
    UserId::parse(&format!("seed-{index}")).expect("seed user ids are valid")
}

/// Creates `tasks` tasks for each of `users` users; about 60% end completed, some of those
/// were reopened and completed again, and one in five is shared with the next user.
pub async fn seed(
    writer: Arc<Commands>,
    users: usize,
    tasks: usize,
    progress: ProgressBar,
) -> Result<SeedReport, CommandError> {
    let started = Instant::now();
    let total = users * tasks;
    progress.set_length(total as u64);
    let next = Arc::new(AtomicUsize::new(0));
    let commands = Arc::new(AtomicUsize::new(0));
    let clock = Clock::system();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..IN_FLIGHT.min(total.max(1)) {
        let (writer, next, commands, clock, progress) = (
            writer.clone(),
            next.clone(),
            commands.clone(),
            clock.clone(),
            progress.clone(),
        );
        workers.spawn(async move {
            loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                if index >= total {
                    return Ok::<(), CommandError>(());
                }
                let plan = plan(index, users);
                let count = plan.commands.len();
                let submissions = plan
                    .commands
                    .into_iter()
                    .map(|command| Submission {
                        request: CommandRequest {
                            stream_id: plan.task_id,
                            actor: plan.owner.clone(),
                            command: command.into(),
                            expected_version: None,
                            now: clock.now(),
                        },
                        idempotency: None,
                        correlation_id: Uuid::now_v7(),
                    })
                    .collect();
                for result in writer.execute_in_order(submissions).await {
                    result?;
                }
                commands.fetch_add(count, Ordering::Relaxed);
                progress.inc(1);
            }
        });
    }
    while let Some(joined) = workers.join_next().await {
        joined.expect("seed worker panicked")?;
    }
    progress.finish();
    Ok(SeedReport {
        tasks: total,
        commands: commands.load(Ordering::Relaxed),
        elapsed: started.elapsed(),
    })
}

/// One task's life: who owns it and the commands it goes through.
struct Plan {
    task_id: Uuid,
    owner: UserId,
    commands: Vec<TaskCommand>,
}

fn plan(index: usize, users: usize) -> Plan {
    let user = index % users;
    let n = index / users;
    let roll = mix(index as u64);
    let mut commands = vec![TaskCommand::Create {
        title: Title::parse(&format!("Task {n} of seed-{user}")).expect("valid title"),
        description: Description::default(),
    }];
    if roll % 100 < 60 {
        commands.push(TaskCommand::Complete);
        if (roll / 100).is_multiple_of(10) {
            commands.push(TaskCommand::Reopen);
            commands.push(TaskCommand::Complete);
        }
    }
    if users > 1 && (roll / 1000).is_multiple_of(5) {
        commands.push(TaskCommand::Share {
            user_id: seed_user((user + 1) % users),
            permission: if (roll / 5000).is_multiple_of(2) {
                Permission::View
            } else {
                Permission::Edit
            },
        });
    }
    Plan {
        task_id: Uuid::now_v7(),
        owner: seed_user(user),
        commands,
    }
}

/// Creates `teams` teams of `size` seed users each (at most `users`): team `i` is
/// `seed-team-i`, made by `seed-i` (its admin, modulo `users`) with the next users as members.
/// Answers how many commands that took.
pub async fn seed_teams(
    writer: Arc<Commands>,
    users: usize,
    teams: usize,
    size: usize,
) -> Result<usize, CommandError> {
    let size = size.clamp(1, users.max(1));
    let now = Clock::system().now();
    let mut creating = tokio::task::JoinSet::new();
    for team in 0..teams {
        let team_id = Uuid::now_v7();
        let admin = seed_user(team % users.max(1));
        let name = TeamName::parse(&format!("seed-team-{team}")).expect("valid team name");
        let members = (1..size).map(|n| TeamCommand::SetMember {
            user_id: seed_user((team + n) % users),
            role: Role::Member,
        });
        let submissions = std::iter::once(TeamCommand::Create { name })
            .chain(members)
            .map(|command| Submission {
                request: CommandRequest {
                    stream_id: team_id,
                    actor: admin.clone(),
                    command: command.into(),
                    expected_version: None,
                    now,
                },
                idempotency: None,
                correlation_id: Uuid::now_v7(),
            })
            .collect();
        let writer = writer.clone();
        creating.spawn(async move { writer.execute_in_order(submissions).await });
    }
    let mut commands = 0;
    for results in creating.join_all().await {
        for result in results {
            result?;
            commands += 1;
        }
    }
    Ok(commands)
}

/// A well-spread deterministic hash (splitmix64), so runs are repeatable without a seed file.
fn mix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9e37_79b9_7f4a_7c15);
    x = (x ^ (x >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    x ^ (x >> 31)
}
