//! Where a command goes: a [`Submission`] from a handler (or `tally seed`) is queued to the
//! group-committing [`writer`], which runs each batch through the [`batch`] step (replay a
//! stored answer, or decide → events → fold → rows) inside one storage transaction.
//!
//! Depends on the domain (`decide`), the projections (the fold) and the storage transaction
//! trait ([`Transactions`](crate::store::tx::Transactions)); storage does not know it exists.

mod batch;
mod commit;
mod outage;
mod responses;
mod ticket;
mod writer;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::domain::{CommandRequest, DomainError};
use crate::store::StoreError;

pub use writer::{Commands, Deadlines};

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Domain(#[from] DomainError),
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReuse,
    /// Refused before it was queued: nothing was or will be applied.
    #[error("the command writer has stopped")]
    WriterStopped,
    /// The writer did not take it in time, so it was withdrawn: it was not and will not be
    /// applied.
    #[error("the command waited too long for the writer and was not applied")]
    TimedOut,
    /// The database could not take the command's batch now; nothing was applied.
    #[error("the database cannot take commands now: {0}")]
    Unavailable(Arc<StoreError>),
    /// Taken by the writer, but its commit went unanswered (or the writer failed before
    /// answering): it may or may not have been applied.
    #[error("the command may or may not have been applied")]
    OutcomeUnknown,
    /// The database refused the command's transaction.
    #[error(transparent)]
    Store(Arc<StoreError>),
}

/// What a command answers: its outcome, or why it did not succeed.
pub type CommandResult = Result<CommandOutcome, CommandError>;

/// An `Idempotency-Key` and the fingerprint of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Idempotency {
    pub key: String,
    /// A digest of method, path, body and `If-Match`: a repeat must match it exactly.
    pub fingerprint: String,
}

/// A command as the writer receives it.
#[derive(Clone, Debug)]
pub struct Submission {
    pub request: CommandRequest,
    pub idempotency: Option<Idempotency>,
    /// Ties the events to the HTTP request that caused them.
    pub correlation_id: Uuid,
}

/// What a successful command answers, and what a repeat of it answers again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The task or team the command was about.
    pub stream_id: Uuid,
    /// The stream's version after the command.
    pub version: i64,
    /// Global position of the last event appended (of the task's last event when nothing was).
    pub position: i64,
    /// Whether the command created the task or team (201 rather than 200).
    pub created: bool,
}

/// How long a stored idempotent response is replayed.
pub const IDEMPOTENCY_WINDOW: chrono::Duration = chrono::Duration::hours(24);

/// The moment a stored idempotency key stops being replayed.
fn idempotency_cutoff(now: DateTime<Utc>) -> DateTime<Utc> {
    now - IDEMPOTENCY_WINDOW
}
