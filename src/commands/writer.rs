//! The group-committing command writer.
//!
//! One task per process owns the write path. It takes every command queued while the previous
//! transaction was committing and runs them all in one transaction, so one fsync acknowledges
//! many commands. Commands run one after another, each against the state its predecessors left,
//! so two racing commands on one task can never both win: the second is decided against the
//! first one's result.

use std::sync::{Arc, Mutex};

use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use super::batch::run_batch;
use super::{CommandError, CommandResult, Submission};
use crate::store::StoreError;
use crate::store::tx::{Lock, Transactions, finish};

/// The most commands committed together; bounds the latency one batch adds. Bulk loads gain
/// from large batches (each page a batch touches is written once per batch): 256 → 1,024 made
/// `tally seed` ≈ 35% faster; beyond that it gained nothing measurable.
const MAX_BATCH: usize = 1024;
/// Commands waiting for the writer before submitters wait for room.
const QUEUE_DEPTH: usize = 4096;

type Reply = oneshot::Sender<CommandResult>;
type Answer = oneshot::Receiver<CommandResult>;

struct Job {
    submission: Submission,
    reply: Reply,
}

/// The way in for commands: a handle to the one writer task of this process.
pub struct Commands {
    jobs: Mutex<Option<mpsc::Sender<Job>>>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Commands {
    /// Starts the writer on `store`'s transactions.
    pub fn start(store: Arc<dyn Transactions>) -> Self {
        let (sender, receiver) = mpsc::channel(QUEUE_DEPTH);
        let task = tokio::spawn(write_loop(store, receiver));
        Commands {
            jobs: Mutex::new(Some(sender)),
            task: Mutex::new(Some(task)),
        }
    }

    /// Decides and appends a command, projects its events and commits, all in one
    /// transaction; waits until it is committed (or refused).
    pub async fn execute(&self, submission: Submission) -> CommandResult {
        let answer = self.queue(submission).await?;
        answer.await.map_err(|_| CommandError::OutcomeUnknown)?
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
                Ok(answer) => answer.await.unwrap_or(Err(CommandError::OutcomeUnknown)),
                Err(stopped) => Err(stopped),
            });
        }
        results
    }

    /// Puts one command in the queue; its answer comes on the returned channel. Refused once
    /// [`close`](Self::close) has begun, so a sequence being queued stops there too.
    async fn queue(&self, submission: Submission) -> Result<Answer, CommandError> {
        let sender = self
            .jobs
            .lock()
            .expect("writer lock")
            .clone()
            .ok_or(CommandError::WriterStopped)?;
        let (reply, answer) = oneshot::channel();
        sender
            .send(Job { submission, reply })
            .await
            .map_err(|_| CommandError::WriterStopped)?;
        Ok(answer)
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

async fn write_loop(store: Arc<dyn Transactions>, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let results = commit_batch(store.as_ref(), &batch).await;
        for (job, result) in batch.drain(..).zip(results) {
            // A submitter that went away (client disconnected) still had its command committed.
            let _ = job.reply.send(result);
        }
    }
}

/// Commits the batch together; if the transaction fails, runs each command alone so that one
/// command's failure is not every command's.
async fn commit_batch(store: &dyn Transactions, batch: &[Job]) -> Vec<CommandResult> {
    match commit_together(store, batch).await {
        Ok(results) => results,
        Err(error) if batch.len() == 1 => {
            tracing::error!(%error, "command failed in the store");
            vec![Err(error.into())]
        }
        Err(error) => {
            tracing::warn!(%error, size = batch.len(), "batch failed; retrying its commands one by one");
            let mut results = Vec::with_capacity(batch.len());
            for job in batch {
                let single = commit_together(store, std::slice::from_ref(job)).await;
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

/// Runs the batch in one transaction of its own and commits it.
async fn commit_together(
    store: &dyn Transactions,
    batch: &[Job],
) -> Result<Vec<CommandResult>, StoreError> {
    let submissions: Vec<&Submission> = batch.iter().map(|job| &job.submission).collect();
    let mut tx = store.begin(Lock::Writers).await?;
    let results = run_batch(tx.as_mut(), &submissions).await;
    finish(tx, results).await
}
