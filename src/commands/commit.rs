//! Committing one batch of commands by a deadline, and what each command is answered when
//! the batch fails: refused statements are retried command by command, anything else fails
//! the whole batch alike.

use std::sync::Arc;

use tokio::time::{Instant, timeout_at};

use super::batch::run_batch;
use super::{CommandError, CommandResult, Submission};
use crate::live::Hub;
use crate::store::StoreError;
use crate::store::tx::{Lock, Transactions, finish};

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
pub(super) async fn commit_batch(
    store: &dyn Transactions,
    hub: &Hub,
    batch: &[&Submission],
    deadline: Instant,
) -> Vec<CommandResult> {
    match commit_together(store, hub, batch, deadline).await {
        Ok(results) => results,
        Err(BatchFailure::Refused(error)) if batch.len() > 1 => {
            tracing::warn!(%error, size = batch.len(), "batch refused; retrying its commands one by one");
            let mut results = Vec::with_capacity(batch.len());
            for submission in batch {
                let alone =
                    commit_together(store, hub, std::slice::from_ref(submission), deadline).await;
                results.extend(alone.unwrap_or_else(|failure| failure.answers(1)));
            }
            results
        }
        Err(failure) => failure.answers(batch.len()),
    }
}

/// Runs the batch in one transaction of its own and commits it, by `deadline`; tells `hub`
/// whose figures it changed before any of its commands is answered.
async fn commit_together(
    store: &dyn Transactions,
    hub: &Hub,
    batch: &[&Submission],
    deadline: Instant,
) -> Result<Vec<CommandResult>, BatchFailure> {
    let began = Instant::now();
    let decided = timeout_at(deadline, async {
        let mut tx = store.begin(Lock::Writers).await?;
        match run_batch(tx.as_mut(), hub, batch).await {
            Ok(ran) => Ok((tx, ran)),
            // Rolled back; a failure stays one.
            Err(error) => finish(tx, Err(error)).await,
        }
    })
    .await;
    // Out of time here, the transaction was dropped unfinished: its connection is closed and
    // the database rolls it back.
    let (tx, (results, appended)) = match decided {
        Ok(Ok(decided)) => decided,
        Ok(Err(error)) => return Err(BatchFailure::before_commit(error)),
        Err(_) => return Err(BatchFailure::NotApplied(Arc::new(StoreError::TimedOut))),
    };
    if Instant::now() >= deadline {
        return Err(BatchFailure::NotApplied(Arc::new(StoreError::TimedOut)));
    }
    let committing = (appended.events > 0).then(|| hub.committing());
    match timeout_at(deadline, tx.commit()).await {
        Ok(Ok(())) => {
            crate::telemetry::batch_committed(batch.len(), appended.events, began.elapsed());
            if let Some(committing) = committing {
                committing.committed(appended.position, appended.events, &appended.stats);
            }
            Ok(results)
        }
        Ok(Err(error)) if error.is_commit_refused() => Err(BatchFailure::before_commit(error)),
        // The connection failed or went silent with the commit in flight, or the database
        // answered an error that does not prove the commit did not happen.
        Ok(Err(_)) | Err(_) => Err(BatchFailure::OutcomeUnknown),
    }
}
