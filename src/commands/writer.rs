//! The group-committing command writer.
//!
//! One task per process owns the write path. It takes every command queued while the previous
//! transaction was committing and runs them all in one transaction, so one fsync acknowledges
//! many commands. Commands run one after another, each against the state its predecessors left,
//! so two racing commands on one task can never both win: the second is decided against the
//! first one's result.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::commit::commit_batch;
use super::outage::{CommitOutage, PROBE_INTERVAL};
use super::ticket::{Claim, Reply, Ticket};
use super::{CommandError, CommandResult, Submission};
use crate::live::{Hub, StreamLimits};
use crate::store::tx::Transactions;

/// The most commands committed together; bounds the latency one batch adds. Bulk loads gain
/// from large batches (each page a batch touches is written once per batch): 256 → 1,024 made
/// `tally seed` ≈ 35% faster; beyond that it gained nothing measurable.
const MAX_BATCH: usize = 1024;
/// Commands waiting for the writer before submitters wait for room.
const QUEUE_DEPTH: usize = 4096;

/// How long the writer's work may take: together they bound a command's answer.
#[derive(Clone, Copy, Debug)]
pub struct Deadlines {
    /// How long a command may wait for the writer to take it. Past this it is withdrawn and
    /// answered "timed out, not applied": the writer will never run it.
    pub queued: Duration,
    /// How long one batch may take from `begin` to the answer of its `commit`. Out of time
    /// before the commit is sent, the transaction is abandoned (nothing applied); out of time
    /// waiting for the commit's answer, the outcome is unknown.
    pub batch: Duration,
}

impl Default for Deadlines {
    fn default() -> Self {
        // A command waits at most about 20 s: less than the 30 s a read may take.
        Deadlines {
            queued: Duration::from_secs(10),
            batch: Duration::from_secs(10),
        }
    }
}

struct Job {
    submission: Submission,
    claim: Arc<Claim>,
    reply: Reply,
}

/// The way in for commands: a handle to the one writer task of this process.
pub struct Commands {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    deadlines: Deadlines,
    /// How many commands the writer has taken from the queue, ever.
    taken: Arc<AtomicU64>,
    /// Told of every committed change.
    hub: Arc<Hub>,
    /// Whether an outage stops commands from committing.
    outage: Arc<CommitOutage>,
}

impl Commands {
    /// Starts the writer on `store`'s transactions, with the default deadlines and a hub of
    /// its own.
    pub fn start(store: Arc<dyn Transactions>) -> Self {
        let hub = Arc::new(Hub::new(StreamLimits::default(), 0));
        Self::with_deadlines(store, hub, Deadlines::default())
    }

    /// Starts the writer on `store`'s transactions, telling `hub` of every committed change.
    pub fn with_deadlines(
        store: Arc<dyn Transactions>,
        hub: Arc<Hub>,
        deadlines: Deadlines,
    ) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let taken = Arc::new(AtomicU64::new(0));
        let outage = Arc::new(CommitOutage::default());
        let writer = Writer {
            store,
            hub: hub.clone(),
            deadline: deadlines.batch,
            taken: taken.clone(),
            outage: outage.clone(),
        };
        let task = tokio::spawn(writer.run(receiver));
        Commands {
            jobs: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
            deadlines,
            taken,
            hub,
            outage,
        }
    }

    /// The hub this writer tells of committed changes.
    pub fn hub(&self) -> &Arc<Hub> {
        &self.hub
    }

    /// Decides and appends a command, projects its events and commits, all in one
    /// transaction; waits until it is committed (or refused). A command the writer has not
    /// taken within [`Deadlines::queued`] is answered [`CommandError::TimedOut`] and never
    /// applied.
    pub async fn execute(&self, submission: Submission) -> CommandResult {
        let deadline = Instant::now() + self.deadlines.queued;
        match timeout_at(deadline, self.queue(submission)).await {
            Ok(ticket) => ticket?.answer_by(deadline).await,
            // Still waiting for room in the queue: it never got in.
            Err(_) => Err(CommandError::TimedOut),
        }
    }

    /// Runs one client's commands back to back without waiting between them: each is decided
    /// after the ones before it and against the state they left, but they can share a
    /// transaction. Every command is decided whatever the answers of those before it (a refused
    /// create makes the rest refused too), and if the writer stops part-way the answers say
    /// which ones committed. Bulk loads (`tally seed`) use it. The queue keeps one sender's
    /// order, and the writer decides in queue order.
    pub async fn execute_in_order(&self, submissions: Vec<Submission>) -> Vec<CommandResult> {
        let mut answers = Vec::with_capacity(submissions.len());
        for submission in submissions {
            answers.push(self.queue(submission).await);
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Ok(ticket) => ticket.answer().await,
                Err(stopped) => Err(stopped),
            });
        }
        results
    }

    /// Puts one command in the queue; its answer comes on the returned channel. Refused once
    /// [`close`](Self::close) has begun, so a sequence being queued stops there too.
    async fn queue(&self, submission: Submission) -> Result<Ticket, CommandError> {
        let sender = self
            .jobs
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or(CommandError::WriterStopped)?;
        let (ticket, claim, reply) = Ticket::new();
        let job = Job {
            submission,
            claim,
            reply,
        };
        sender
            .send(job)
            .await
            .map_err(|_| CommandError::WriterStopped)?;
        Ok(ticket)
    }

    /// How many commands the writer has taken from the queue (to run them) since it started.
    pub fn taken(&self) -> u64 {
        self.taken.load(Ordering::Acquire)
    }

    /// Whether commands are taken: not closed, and the writer task still runs.
    pub fn is_accepting(&self) -> bool {
        let open = self.jobs.lock().expect("writer lock").is_some();
        let running = (self.task.lock().expect("writer lock").as_ref())
            .is_some_and(|task| !task.is_finished());
        open && running
    }

    /// Whether commands can commit: accepted, and no outage of the database stops them (see
    /// `outage.rs`).
    pub fn can_commit(&self) -> bool {
        self.is_accepting() && !self.outage.is_stopped()
    }

    /// Stops taking commands, lets the queued ones commit, and waits for the writer to end.
    pub async fn close(&self) {
        self.jobs.lock().expect("writer lock").take();
        let task = self.task.lock().expect("writer lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// The writer task's parts.
struct Writer {
    store: Arc<dyn Transactions>,
    hub: Arc<Hub>,
    /// How long a batch may take.
    deadline: Duration,
    taken: Arc<AtomicU64>,
    outage: Arc<CommitOutage>,
}

impl Writer {
    /// Takes what is queued, runs it as one batch, answers, and goes on until the queue
    /// closes. Each batch runs as a task of its own: should one panic, its commands are
    /// answered "outcome unknown" (their transaction, dropped unfinished, is rolled back with
    /// its connection) and the writer goes on with the next. Nothing else in this loop can
    /// fail. While an outage stops commands, a second without commands brings a probe.
    async fn run(self, mut jobs: mpsc::Receiver<Job>) {
        let mut queued = Vec::with_capacity(MAX_BATCH);
        loop {
            let received = if self.outage.is_stopped() {
                // `recv_many` is cancel safe: a timeout loses no command.
                match tokio::time::timeout(PROBE_INTERVAL, jobs.recv_many(&mut queued, MAX_BATCH))
                    .await
                {
                    Ok(received) => received,
                    Err(_) => {
                        let deadline = Instant::now() + self.deadline;
                        self.outage.probe(self.store.as_ref(), deadline).await;
                        continue;
                    }
                }
            } else {
                jobs.recv_many(&mut queued, MAX_BATCH).await
            };
            if received == 0 {
                break;
            }
            // A withdrawn command was answered "timed out" already.
            let batch: Vec<Job> = queued.drain(..).filter(|job| job.claim.take()).collect();
            if batch.is_empty() {
                continue;
            }
            self.taken.fetch_add(batch.len() as u64, Ordering::AcqRel);
            let (store, hub, outage) = (self.store.clone(), self.hub.clone(), self.outage.clone());
            // One deadline for the batch and any retries of its commands.
            let deadline = Instant::now() + self.deadline;
            let running = tokio::spawn(async move {
                let submissions: Vec<&Submission> =
                    batch.iter().map(|job| &job.submission).collect();
                let results = commit_batch(store.as_ref(), &hub, &submissions, deadline).await;
                outage.learn(&results);
                for (job, result) in batch.into_iter().zip(results) {
                    // A submitter that went away (client disconnected) still had its command
                    // committed.
                    let _ = job.reply.send(result);
                }
            });
            if let Err(error) = running.await {
                tracing::error!(%error, "a command batch failed; its commands' outcome is unknown");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{CommandRequest, Description, TaskCommand, Title, UserId};
    use crate::store::StoreError;
    use crate::store::tx::{Lock, Tx};
    use crate::store::{SqliteOptions, Store};

    /// A real SQLite store whose first transaction panics as it opens: a bug in a batch.
    struct PanicsOnce {
        store: Arc<dyn Store>,
        panicked: AtomicBool,
    }

    #[async_trait]
    impl Transactions for PanicsOnce {
        async fn begin(&self, lock: Lock) -> Result<Box<dyn Tx>, StoreError> {
            if !self.panicked.swap(true, Ordering::AcqRel) {
                panic!("a bug in a batch");
            }
            self.store.begin(lock).await
        }
    }

    fn create(title: &str) -> Submission {
        Submission {
            request: CommandRequest {
                stream_id: Uuid::now_v7(),
                actor: UserId::parse("alice").unwrap(),
                command: TaskCommand::Create {
                    title: Title::parse(title).unwrap(),
                    description: Description::default(),
                }
                .into(),
                expected_version: None,
                now: Utc::now(),
            },
            idempotency: None,
            correlation_id: Uuid::now_v7(),
        }
    }

    #[tokio::test]
    async fn a_batch_that_panics_fails_its_commands_and_the_writer_goes_on() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("tally.db").display());
        let store = crate::store::open(&url, SqliteOptions::default())
            .await
            .unwrap();
        let commands = Commands::start(Arc::new(PanicsOnce {
            store: store.clone(),
            panicked: AtomicBool::new(false),
        }));

        let first = commands.execute(create("in the batch that panics")).await;
        assert!(
            matches!(first, Err(CommandError::OutcomeUnknown)),
            "{first:?}"
        );
        assert!(commands.is_accepting());
        let second = commands.execute(create("after it")).await;
        assert!(second.is_ok(), "{second:?}");
        assert_eq!(store.head_position().await.unwrap(), 1);
        commands.close().await;
    }
}
