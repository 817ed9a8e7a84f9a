//! A queued command's claim and its answer: settled exactly once, taken by the writer or
//! withdrawn by its submitter, so that a command answered "timed out" is never applied.

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, Ordering};

use tokio::sync::oneshot;
use tokio::time::{Instant, timeout_at};

use super::{CommandError, CommandResult};

/// Where the writer sends a command's answer.
pub(super) type Reply = oneshot::Sender<CommandResult>;
type Answer = oneshot::Receiver<CommandResult>;

/// Who owns a queued command: the writer once it takes it, nobody once its submitter
/// withdraws it. Exactly one of the two can happen, so a withdrawn command is never applied.
#[derive(Default)]
pub(super) struct Claim(AtomicU8);

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
    pub(super) fn take(&self) -> bool {
        self.settle(TAKEN)
    }

    /// The submitter gives up on the command; false if the writer has it already.
    fn withdraw(&self) -> bool {
        self.settle(WITHDRAWN)
    }
}

/// A queued command's claim and answer. Dropped unanswered (its request timed out, its client
/// went away), it withdraws the command if the writer has not taken it yet.
pub(super) struct Ticket {
    claim: Arc<Claim>,
    answer: Answer,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        self.claim.withdraw();
    }
}

impl Ticket {
    /// A ticket, the claim the writer settles, and where it sends the answer.
    pub(super) fn new() -> (Ticket, Arc<Claim>, Reply) {
        let (reply, answer) = oneshot::channel();
        let claim = Arc::new(Claim::default());
        (
            Ticket {
                claim: claim.clone(),
                answer,
            },
            claim,
            reply,
        )
    }

    /// The command's answer; if the writer has not taken it by `deadline`, it is withdrawn
    /// and answered [`CommandError::TimedOut`]. Once taken, the batch's own deadline bounds
    /// the wait.
    pub(super) async fn answer_by(mut self, deadline: Instant) -> CommandResult {
        match timeout_at(deadline, &mut self.answer).await {
            Ok(answer) => self.unanswered_if(answer),
            Err(_) if self.claim.withdraw() => Err(CommandError::TimedOut),
            Err(_) => self.answer().await,
        }
    }

    /// The command's answer, however long it takes.
    pub(super) async fn answer(mut self) -> CommandResult {
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
