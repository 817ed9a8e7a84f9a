//! The group-committing command writer.
//!
//! One task per process owns the write path. It takes every command queued while the previous
//! transaction was committing and runs them all in one transaction, so one fsync acknowledges
//! many commands. Commands run one after another, each against the state its predecessors left,
//! so two racing commands on one task can never both win: the second is decided against the
//! first one's result.

use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout_at};

use super::batch::run_batch;
use super::{CommandError, CommandResult, Submission};
use crate::store::StoreError;
use crate::store::tx::{Lock, Transactions};

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

type Reply = oneshot::Sender<CommandResult>;
type Answer = oneshot::Receiver<CommandResult>;

struct Job {
    submission: Submission,
    claim: Arc<Claim>,
    reply: Reply,
}

/// Who owns a queued command: the writer once it takes it, nobody once its submitter
/// withdraws it. Exactly one of the two can happen, so a withdrawn command is never applied.
#[derive(Default)]
struct Claim(AtomicU8);

const QUEUED: u8 = 0;
const TAKEN: u8 = 1;
const WITHDRAWN: u8 = 2;

impl Claim {
    fn settle(&self, to: u8) -> bool {
        (self
            .0
            .compare_exchange(QUEUED, to, Ordering::AcqRel, Ordering::Acquire))
        .is_ok()
    }

    /// The writer takes the command; false if it was withdrawn.
    fn take(&self) -> bool {
        self.settle(TAKEN)
    }

    /// The submitter gives up on the command; false if the writer has it already.
    fn withdraw(&self) -> bool {
        self.settle(WITHDRAWN)
    }
}

/// A queued command's claim and answer. Dropped unanswered (its request timed out, its client
/// went away), it withdraws the command if the writer has not taken it yet.
struct Ticket {
    claim: Arc<Claim>,
    answer: Answer,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.claim.withdraw();
    }
}

impl Ticket {
    /// The command's answer; if the writer has not taken it by `deadline`, it is withdrawn
    /// and answered [`CommandError::TimedOut`]. Once taken, the batch's own deadline bounds
    /// the wait.
    async fn answer_by(mut self, deadline: Instant) -> CommandResult {
        match timeout_at(deadline, &mut self.answer).await {
            Ok(answer) => self.unanswered_if(answer),
            Err(_) if self.claim.withdraw() => Err(CommandError::TimedOut),
            Err(_) => self.answer().await,
        }
    }

    /// The command's answer, however long it takes.
    async fn answer(mut self) -> CommandResult {
        let answer = (&mut self.answer).await;
        self.unanswered_if(answer)
    }

    /// The answer received, or, if the writer went away without one, what that means: never
    /// taken, so never applied; or taken, and then nobody knows.
    fn unanswered_if(
        &self,
        answer: Result<CommandResult, oneshot::error::RecvError>,
    ) -> CommandResult {
        match answer {
            Ok(answer) => answer,
            Err(_) if self.claim.withdraw() => Err(CommandError::WriterStopped),
            Err(_) => Err(CommandError::OutcomeUnknown),
        }
    }
}

/// The way in for commands: a handle to the one writer task of this process.
pub struct Commands {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    deadlines: Deadlines,
    /// How many commands the writer has taken from the queue, ever.
    taken: Arc<AtomicU64>,
}

impl Commands {
    /// Starts the writer on `store`'s transactions, with the default deadlines.
    pub fn start(store: Arc<dyn Transactions>) -> Self {
        Self::with_deadlines(store, Deadlines::default())
    }

    /// Starts the writer on `store`'s transactions.
    pub fn with_deadlines(store: Arc<dyn Transactions>, deadlines: Deadlines) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let taken = Arc::new(AtomicU64::new(0));
        let task = tokio::spawn(write_loop(store, receiver, deadlines.batch, taken.clone()));
        Commands {
            jobs: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
            deadlines,
            taken,
        }
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
        let (reply, answer) = oneshot::channel();
        let claim = Arc::new(Claim::default());
        let job = Job {
            submission,
            claim: claim.clone(),
            reply,
        };
        sender
            .send(job)
            .await
            .map_err(|_| CommandError::WriterStopped)?;
        Ok(Ticket { claim, answer })
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

    /// Stops taking commands, lets the queued ones commit, and waits for the writer to end.
    pub async fn close(&self) {
        self.jobs.lock().expect("writer lock").take();
        let task = self.task.lock().expect("writer lock").take();
        if let Some(task) = task {
            let _ = task.await;
        }
    }
}

/// Takes what is queued, runs it as one batch, answers, and goes on until the queue closes.
/// Each batch runs as a task of its own: should one panic, its commands are answered "outcome
/// unknown" (their transaction, dropped unfinished, is rolled back with its connection) and
/// the writer goes on with the next. Nothing else in this loop can fail.
async fn write_loop(
    store: Arc<dyn Transactions>,
    mut jobs: mpsc::Receiver<Job>,
    deadline: Duration,
    taken: Arc<AtomicU64>,
) {
    let mut queued = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut queued, MAX_BATCH).await > 0 {
        // A withdrawn command was answered "timed out" already.
        let batch: Vec<Job> = queued.drain(..).filter(|job| job.claim.take()).collect();
        if batch.is_empty() {
            continue;
        }
        taken.fetch_add(batch.len() as u64, Ordering::AcqRel);
        let store = store.clone();
        let running = tokio::spawn(async move {
            let results = commit_batch(store.as_ref(), &batch, deadline).await;
            for (job, result) in batch.into_iter().zip(results) {
                // A submitter that went away (client disconnected) still had its command committed.
                let _ = job.reply.send(result);
            }
        });
        if let Err(error) = running.await {
            tracing::error!(%error, "a command batch failed; its commands' outcome is unknown");
        }
    }
}

/// Why a whole batch failed, and so what each of its commands is answered.
enum BatchFailure {
    /// The database refused a statement. One command's data may be the cause, so each command
    /// is tried again alone.
    Refused(StoreError),
    /// Nothing was applied: the database could not do it now, or the batch ran out of time
    /// before its commit was sent.
    NotApplied(Arc<StoreError>),
    /// The commit was sent, and whether it took effect is unknown.
    OutcomeUnknown,
}

impl BatchFailure {
    /// A failure before the commit was sent: the transaction rolls back, so nothing applied.
    fn before_commit(error: StoreError) -> Self {
        if error.is_transient() {
            BatchFailure::NotApplied(Arc::new(error))
        } else {
            BatchFailure::Refused(error)
        }
    }

    /// What each of the batch's `size` commands is answered.
    fn answers(self, size: usize) -> Vec<CommandResult> {
        let each = |error: &dyn Fn() -> CommandError| (0..size).map(|_| Err(error())).collect();
        match self {
            BatchFailure::Refused(error) => {
                tracing::error!(%error, "command failed in the store");
                let error = Arc::new(error);
                each(&|| CommandError::Store(error.clone()))
            }
            BatchFailure::NotApplied(error) => {
                tracing::warn!(%error, size, "the database could not take a batch; nothing applied");
                each(&|| CommandError::Unavailable(error.clone()))
            }
            BatchFailure::OutcomeUnknown => {
                tracing::error!(
                    size,
                    "a batch's commit went unanswered; its outcome is unknown"
                );
                each(&|| CommandError::OutcomeUnknown)
            }
        }
    }
}

/// Commits the batch together; if the database refuses it, runs each command alone so that
/// one command's failure is not every command's. A batch that failed for any other reason
/// failed for all its commands alike: retrying them alone would only repeat it (or, after an
/// unanswered commit, apply them twice).
async fn commit_batch(
    store: &dyn Transactions,
    batch: &[Job],
    deadline: Duration,
) -> Vec<CommandResult> {
    // One deadline for the batch and any retries of its commands.
    let deadline = Instant::now() + deadline;
    match commit_together(store, batch, deadline).await {
        Ok(results) => results,
        Err(BatchFailure::Refused(error)) if batch.len() > 1 => {
            tracing::warn!(%error, size = batch.len(), "batch refused; retrying its commands one by one");
            let mut results = Vec::with_capacity(batch.len());
            for job in batch {
                let alone = commit_together(store, std::slice::from_ref(job), deadline).await;
                results.extend(alone.unwrap_or_else(|failure| failure.answers(1)));
            }
            results
        }
        Err(failure) => failure.answers(batch.len()),
    }
}

/// Runs the batch in one transaction of its own and commits it, by `deadline`.
async fn commit_together(
    store: &dyn Transactions,
    batch: &[Job],
    deadline: Instant,
) -> Result<Vec<CommandResult>, BatchFailure> {
    let submissions: Vec<&Submission> = batch.iter().map(|job| &job.submission).collect();
    let decided = timeout_at(deadline, async {
        let mut tx = store.begin(Lock::Writers).await?;
        match run_batch(tx.as_mut(), &submissions).await {
            Ok(results) => Ok((tx, results)),
            Err(error) => {
                if let Err(rollback) = tx.rollback().await {
                    tracing::warn!(%rollback, "rollback failed");
                }
                Err(error)
            }
        }
    })
    .await;
    // Out of time here, the transaction was dropped unfinished: its connection is closed and
    // the database rolls it back.
    let (tx, results) = match decided {
        Ok(Ok(decided)) => decided,
        Ok(Err(error)) => return Err(BatchFailure::before_commit(error)),
        Err(_) => return Err(BatchFailure::NotApplied(Arc::new(StoreError::TimedOut))),
    };
    if Instant::now() >= deadline {
        return Err(BatchFailure::NotApplied(Arc::new(StoreError::TimedOut)));
    }
    match timeout_at(deadline, tx.commit()).await {
        Ok(Ok(())) => Ok(results),
        Ok(Err(error)) if error.is_commit_refused() => Err(BatchFailure::before_commit(error)),
        // The connection failed or went silent with the commit in flight, or the database
        // answered an error that does not prove the commit did not happen.
        Ok(Err(_)) | Err(_) => Err(BatchFailure::OutcomeUnknown),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicBool;

    use async_trait::async_trait;
    use chrono::Utc;
    use uuid::Uuid;

    use super::*;
    use crate::domain::{Command, CommandRequest, Description, Title, UserId};
    use crate::store::tx::Tx;
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
                task_id: Uuid::now_v7(),
                actor: UserId::parse("alice").unwrap(),
                command: Command::Create {
                    title: Title::parse(title).unwrap(),
                    description: Description::default(),
                },
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
