//! The answers kept under idempotency keys, as a batch reads, replays and stores them.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::CommandOutcome;
use crate::domain::DomainError;
use crate::store::StoreError;
use crate::store::tx::{IdempotencyRecord, Tx};

/// A response kept under an idempotency key, as the batch uses it.
pub(super) struct KeyedResponse {
    pub(super) user_id: String,
    pub(super) key: String,
    /// The task or team the command named.
    pub(super) stream_id: Uuid,
    pub(super) response: StoredResponse,
    pub(super) created_at: DateTime<Utc>,
}

/// What a command answered, success or refusal, and the request it answered.
#[derive(Clone, Debug)]
pub(super) struct StoredResponse {
    pub(super) fingerprint: String,
    pub(super) outcome: Result<CommandOutcome, DomainError>,
}

impl KeyedResponse {
    /// A stored record; an error for one whose refusal this code cannot read.
    fn from_record(record: IdempotencyRecord) -> Result<Self, StoreError> {
        let outcome = match &record.refusal {
            Some(slug) => Err(DomainError::from_stored(slug)
                .ok_or_else(|| StoreError::Corrupt(format!("unexpected refusal {slug:?}")))?),
            None => Ok(CommandOutcome {
                stream_id: record.task_id,
                version: record.version,
                position: record.position,
                created: record.created,
            }),
        };
        Ok(KeyedResponse {
            user_id: record.user_id,
            key: record.key,
            stream_id: record.task_id,
            response: StoredResponse {
                fingerprint: record.fingerprint,
                outcome,
            },
            created_at: record.created_at,
        })
    }

    /// The record to store; a refusal keeps the stream id it named and zeros in the other
    /// columns.
    pub(super) fn into_record(self) -> IdempotencyRecord {
        let (outcome, refusal) = match self.response.outcome {
            Ok(outcome) => (outcome, None),
            Err(refusal) => (
                CommandOutcome {
                    stream_id: self.stream_id,
                    version: 0,
                    position: 0,
                    created: false,
                },
                Some(refusal.to_stored()),
            ),
        };
        IdempotencyRecord {
            user_id: self.user_id,
            key: self.key,
            fingerprint: self.response.fingerprint,
            task_id: outcome.stream_id,
            version: outcome.version,
            position: outcome.position,
            created: outcome.created,
            refusal,
            created_at: self.created_at,
        }
    }
}

/// The responses stored under `keys` (user id, key), by key.
pub(super) async fn stored_responses(
    tx: &mut dyn Tx,
    keys: &[(&str, &str)],
) -> Result<HashMap<(String, String), KeyedResponse>, StoreError> {
    let mut found = HashMap::new();
    for record in tx.find_responses(keys).await? {
        let keyed = KeyedResponse::from_record(record)?;
        found.insert((keyed.user_id.clone(), keyed.key.clone()), keyed);
    }
    Ok(found)
}
