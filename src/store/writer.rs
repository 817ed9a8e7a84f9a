//! The group-committing command writer.
//!
//! One task per process owns the write path. It takes every command queued while the previous
//! transaction was committing and runs them all in one transaction, so one fsync acknowledges
//! many commands. Commands run one after another, each against the state its predecessors left,
//! so two racing commands on one task can never both win: the second is decided against the
//! first one's result.

use std::future::Future;
use std::sync::Mutex;

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use projections::{ReadModels, RecordedEvent};

use super::command::{CommandResult, run_batch as run_commands};
use super::write_tx::{Tables, WriteTx};
use super::{CommandError, CommandOutcome, StoreError, Submission};

/// The most commands committed together; bounds the latency one batch adds. Bulk loads gain
/// from large batches (each page a batch touches is written once per batch): 256 → 1,024 made
/// `tally seed` ≈ 35% faster; beyond that it gained nothing measurable.
const MAX_BATCH: usize = 1024;
/// Commands waiting for the writer before submitters wait for room.
const QUEUE_DEPTH: usize = 4096;

/// A connection the writer can run transactions on.
pub(crate) trait WriterConnection: WriteTx + 'static {
    /// Opens a write transaction that excludes every other writer (of any process) until it
    /// ends, so positions are handed out in commit order.
    fn begin(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Opens a transaction that writes only a rebuild's shadow tables: it need not exclude the
    /// writers of the live tables (SQLite has one write lock for everything anyway).
    fn begin_shadow(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Opens a read-only transaction whose reads all see one consistent snapshot.
    fn begin_snapshot(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn commit(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn rollback(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Drops what an earlier rebuild left behind and creates empty shadow tables shaped like
    /// the live ones (keys and indexes included).
    fn create_shadows(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
    /// Inside the locked transaction: replaces each of the live `tables` by its shadow.
    fn swap_in(
        &mut self,
        tables: &[(&'static str, &'static str)],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
    fn drop_shadows(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send;
}

/// Where the writer gets a connection for each batch; a broken connection is replaced by the
/// next acquire.
pub(crate) trait WriterBackend: Clone + Send + Sync + 'static {
    type Connection: WriterConnection;
    fn acquire(&self) -> impl Future<Output = Result<Self::Connection, StoreError>> + Send;

    /// Something that, while held, keeps every other rebuild of the database out, and that a
    /// killed process lets go of by itself. `Err(StoreError::RebuildRunning)` when taken.
    type RebuildGuard: Send;
    fn exclusive_rebuild(
        &self,
    ) -> impl Future<Output = Result<Self::RebuildGuard, StoreError>> + Send;

    /// Writes a rebuild's folded models into the empty shadow tables.
    fn write_shadow(
        &self,
        models: ReadModels,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        async move { super::rebuild::write_models(self, &models).await }
    }

    /// A page of the log for a rebuild to fold, read outside any transaction.
    fn read_log(
        &self,
        after: i64,
        limit: i64,
    ) -> impl Future<Output = Result<Vec<RecordedEvent>, StoreError>> + Send {
        async move { self.acquire().await?.events_after(after, limit).await }
    }
}

/// Each live read-model table with the shadow a rebuild builds it in.
pub(crate) fn shadow_pairs() -> [(&'static str, &'static str); 3] {
    let (live, shadow) = (Tables::LIVE, Tables::SHADOW);
    [
        (live.tasks, shadow.tasks),
        (live.shares, shadow.shares),
        (live.stats, shadow.stats),
    ]
}

type Reply = oneshot::Sender<Result<CommandOutcome, CommandError>>;
type Answer = oneshot::Receiver<Result<CommandOutcome, CommandError>>;

struct Job {
    submission: Submission,
    reply: Reply,
}

/// Handle to the writer task.
pub(crate) struct Writer {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Writer {
    pub fn spawn<B: WriterBackend>(backend: B) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(write_loop(backend, receiver));
        Writer {
            jobs: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
        }
    }

    /// Queues a command and waits until it is committed (or refused).
    pub async fn submit(&self, submission: Submission) -> Result<CommandOutcome, CommandError> {
        let answer = self.queue(submission).await?;
        answer.await.map_err(|_| StoreError::WriterStopped)?
    }

    /// Queues the commands in order, then waits for every answer. The queue keeps one
    /// sender's order, and the writer decides in queue order.
    pub async fn submit_in_order(
        &self,
        submissions: Vec<Submission>,
    ) -> Vec<Result<CommandOutcome, CommandError>> {
        let mut answers = Vec::with_capacity(submissions.len());
        for submission in submissions {
            answers.push(self.queue(submission).await);
        }
        let mut results = Vec::with_capacity(answers.len());
        for answer in answers {
            results.push(match answer {
                Ok(answer) => answer
                    .await
                    .unwrap_or(Err(StoreError::WriterStopped.into())),
                Err(stopped) => Err(stopped.into()),
            });
        }
        results
    }

    /// Puts one command in the queue; its answer comes on the returned channel. Refused once
    /// [`close`](Self::close) has begun, so a sequence being queued stops there too.
    async fn queue(&self, submission: Submission) -> Result<Answer, StoreError> {
        let sender = self
            .jobs
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or(StoreError::WriterStopped)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { submission, reply })
            .await
            .map_err(|_| StoreError::WriterStopped)?;
        Ok(answer)
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

async fn write_loop<B: WriterBackend>(backend: B, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = run_batch(&backend, &batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            // A submitter that went away (client disconnected) still had its command committed.
            let _ = job.reply.send(result);
        }
    }
}

/// Commits the batch together; if the transaction fails, runs each command alone so that one
/// command's failure is not every command's.
async fn run_batch<B: WriterBackend>(
    backend: &B,
    batch: &[Job],
) -> Vec<Result<CommandOutcome, CommandError>> {
    match run_together(backend, batch).await {
        Ok(results) => results,
        Err(error) if batch.len() == 1 => {
            tracing::error!(%error, "command failed in the store");
            vec![Err(error.into())]
        }
        Err(error) => {
            tracing::warn!(%error, size = batch.len(), "batch failed; retrying its commands one by one");
            let mut results = Vec::with_capacity(batch.len());
            for job in batch {
                let single = run_together(backend, std::slice::from_ref(job)).await;
                results.push(
                    single
                        .unwrap_or_else(|error| {
                            tracing::error!(%error, "command failed in the store");
                            vec![Err(error.into())]
                        })
                        .remove(0),
                );
            }
            results
        }
    }
}

async fn run_together<B: WriterBackend>(
    backend: &B,
    batch: &[Job],
) -> Result<Vec<Result<CommandOutcome, CommandError>>, StoreError> {
    let mut connection = backend.acquire().await?;
    connection.begin().await?;
    match run_in_transaction(&mut connection, batch).await {
        Ok(results) => {
            if let Err(error) = connection.commit().await {
                let _ = connection.rollback().await;
                return Err(error);
            }
            Ok(results)
        }
        Err(error) => {
            if let Err(rollback) = connection.rollback().await {
                tracing::warn!(%rollback, "rollback failed");
            }
            Err(error)
        }
    }
}

async fn run_in_transaction<C: WriterConnection>(
    connection: &mut C,
    batch: &[Job],
) -> Result<Vec<CommandResult>, StoreError> {
    let submissions: Vec<&Submission> = batch.iter().map(|job| &job.submission).collect();
    run_commands(connection, &submissions).await
}
