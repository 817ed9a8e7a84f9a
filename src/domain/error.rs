//! Why a command was refused, and the stable text form a refusal is stored in, so that a
//! repeat of an idempotent command gets the very refusal the first attempt got.

/// Why a command was refused. Each maps to one row of the contract's error table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("no such task")]
    TaskNotFound,
    #[error("no such share")]
    ShareNotFound,
    #[error("{0}")]
    Forbidden(&'static str),
    #[error("{0}")]
    InvalidTransition(&'static str),
    #[error("the task is at version {current}, not {expected}")]
    VersionMismatch { expected: i64, current: i64 },
    #[error("a task cannot be shared with its owner")]
    ShareWithSelf,
    #[error("a task with this id already exists")]
    TaskExists,
}

pub(super) const VIEWER_CHANGES: &str = "a view-only share does not allow changing the task";
pub(super) const ONLY_OWNER_DELETES: &str = "only the owner may delete a task";
pub(super) const ONLY_OWNER_SHARES: &str = "only the owner may share a task";
pub(super) const ONLY_OWNER_UNSHARES: &str = "only the owner may change who a task is shared with";
pub(super) const ALREADY_COMPLETED: &str = "the task is already completed";
pub(super) const NOT_COMPLETED: &str = "the task is not completed";

/// Every reason a [`DomainError::Forbidden`] gives; the stored form names one of them.
const FORBIDDEN_REASONS: [&str; 4] = [
    VIEWER_CHANGES,
    ONLY_OWNER_DELETES,
    ONLY_OWNER_SHARES,
    ONLY_OWNER_UNSHARES,
];

/// Every reason a [`DomainError::InvalidTransition`] gives.
const TRANSITION_REASONS: [&str; 2] = [ALREADY_COMPLETED, NOT_COMPLETED];

impl DomainError {
    /// The refusal as stored beside an idempotency key: `kind` or `kind:detail`.
    pub fn to_stored(&self) -> String {
        match self {
            DomainError::TaskNotFound => "task-not-found".to_owned(),
            DomainError::ShareNotFound => "share-not-found".to_owned(),
            DomainError::Forbidden(why) => format!("forbidden:{why}"),
            DomainError::InvalidTransition(why) => format!("invalid-transition:{why}"),
            DomainError::VersionMismatch { expected, current } => {
                format!("version-mismatch:{expected}:{current}")
            }
            DomainError::ShareWithSelf => "share-with-self".to_owned(),
            DomainError::TaskExists => "task-exists".to_owned(),
        }
    }

    /// Reads back what [`to_stored`](Self::to_stored) wrote; `None` for anything else.
    pub fn from_stored(stored: &str) -> Option<DomainError> {
        let reason =
            |reasons: &[&'static str], why: &str| reasons.iter().find(|r| **r == why).copied();
        let (kind, detail) = stored.split_once(':').unwrap_or((stored, ""));
        Some(match kind {
            "task-not-found" => DomainError::TaskNotFound,
            "share-not-found" => DomainError::ShareNotFound,
            "forbidden" => DomainError::Forbidden(reason(&FORBIDDEN_REASONS, detail)?),
            "invalid-transition" => {
                DomainError::InvalidTransition(reason(&TRANSITION_REASONS, detail)?)
            }
            "version-mismatch" => {
                let (expected, current) = detail.split_once(':')?;
                DomainError::VersionMismatch {
                    expected: expected.parse().ok()?,
                    current: current.parse().ok()?,
                }
            }
            "share-with-self" => DomainError::ShareWithSelf,
            "task-exists" => DomainError::TaskExists,
            _ => return None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_refusal_reads_back_as_it_was_stored() {
        let mut refusals = vec![
            DomainError::TaskNotFound,
            DomainError::ShareNotFound,
            DomainError::VersionMismatch {
                expected: -3,
                current: 12,
            },
            DomainError::ShareWithSelf,
            DomainError::TaskExists,
        ];
        refusals.extend(FORBIDDEN_REASONS.map(DomainError::Forbidden));
        refusals.extend(TRANSITION_REASONS.map(DomainError::InvalidTransition));
        for refusal in refusals {
            assert_eq!(
                DomainError::from_stored(&refusal.to_stored()),
                Some(refusal.clone()),
                "{refusal:?}"
            );
        }
    }

    #[test]
    fn an_unknown_stored_refusal_is_not_read_as_some_other_one() {
        for stored in ["", "forbidden:because", "version-mismatch:1", "teapot"] {
            assert_eq!(DomainError::from_stored(stored), None, "{stored}");
        }
    }
}
