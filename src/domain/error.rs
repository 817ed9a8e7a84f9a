//! Why a command was refused, and the stable text form a refusal is stored in, so that a
//! repeat of an idempotent command gets the very refusal the first attempt got.

/// Why a command was refused. Each maps to one row of the contract's error table.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("no such task")]
    TaskNotFound,
    #[error("no such share")]
    ShareNotFound,
    #[error("{}", .0.reason())]
    Forbidden(Forbidden),
    #[error("{}", .0.reason())]
    InvalidTransition(Transition),
    #[error("the task is at version {current}, not {expected}")]
    VersionMismatch { expected: i64, current: i64 },
    #[error(
        "If-Match compares strongly: the weak tag W/\"{tag}\" matches no version \
         (the task is at version {current}; send \"{current}\")"
    )]
    WeakIfMatch { tag: i64, current: i64 },
    #[error("a task cannot be shared with its owner")]
    ShareWithSelf,
    #[error("a task with this id already exists")]
    TaskExists,
    #[error("a task can be shared with at most {limit} users; unshare one first")]
    ShareLimit { limit: usize },
    #[error("no such team")]
    TeamNotFound,
    #[error("a team with this id already exists")]
    TeamExists,
    #[error("no such member of the team")]
    MemberNotFound,
    #[error(
        "a team keeps at least one admin: make another member an admin first, or delete the team"
    )]
    LastAdmin,
    #[error("a team can have at most {limit} members; remove one first")]
    MemberLimit { limit: usize },
    #[error("a task can be shared with at most {limit} teams; unshare one first")]
    TeamShareLimit { limit: usize },
}

/// Why a caller who can see a task may not run a command on it (403).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forbidden {
    ViewerChanges,
    OnlyOwnerDeletes,
    OnlyOwnerShares,
    OnlyOwnerUnshares,
    OnlyAdmins,
}

/// Why the task's status does not allow the command (409).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transition {
    AlreadyCompleted,
    NotCompleted,
}

impl Forbidden {
    const ALL: [Forbidden; 5] = [
        Forbidden::ViewerChanges,
        Forbidden::OnlyOwnerDeletes,
        Forbidden::OnlyOwnerShares,
        Forbidden::OnlyOwnerUnshares,
        Forbidden::OnlyAdmins,
    ];

    /// What the client is told.
    pub fn reason(self) -> &'static str {
        match self {
            Forbidden::ViewerChanges => "a view-only share does not allow changing the task",
            Forbidden::OnlyOwnerDeletes => "only the owner may delete a task",
            Forbidden::OnlyOwnerShares => "only the owner may share a task",
            Forbidden::OnlyOwnerUnshares => "only the owner may change who a task is shared with",
            Forbidden::OnlyAdmins => "only the team's admins may do this",
        }
    }

    /// A stable name, stored with idempotency keys, so the wording can change.
    fn slug(self) -> &'static str {
        match self {
            Forbidden::ViewerChanges => "viewer-changes",
            Forbidden::OnlyOwnerDeletes => "only-owner-deletes",
            Forbidden::OnlyOwnerShares => "only-owner-shares",
            Forbidden::OnlyOwnerUnshares => "only-owner-unshares",
            Forbidden::OnlyAdmins => "only-admins",
        }
    }
}

impl Transition {
    const ALL: [Transition; 2] = [Transition::AlreadyCompleted, Transition::NotCompleted];

    /// What the client is told.
    pub fn reason(self) -> &'static str {
        match self {
            Transition::AlreadyCompleted => "the task is already completed",
            Transition::NotCompleted => "the task is not completed",
        }
    }

    /// A stable name, stored with idempotency keys, so the wording can change.
    fn slug(self) -> &'static str {
        match self {
            Transition::AlreadyCompleted => "already-completed",
            Transition::NotCompleted => "not-completed",
        }
    }
}

impl DomainError {
    /// The refusal as stored beside an idempotency key: `kind` or `kind:detail`.
    pub fn to_stored(&self) -> String {
        match self {
            DomainError::TaskNotFound => "task-not-found".to_owned(),
            DomainError::ShareNotFound => "share-not-found".to_owned(),
            DomainError::Forbidden(why) => format!("forbidden:{}", why.slug()),
            DomainError::InvalidTransition(why) => format!("invalid-transition:{}", why.slug()),
            DomainError::VersionMismatch { expected, current } => {
                format!("version-mismatch:{expected}:{current}")
            }
            DomainError::WeakIfMatch { tag, current } => format!("weak-if-match:{tag}:{current}"),
            DomainError::ShareWithSelf => "share-with-self".to_owned(),
            DomainError::TaskExists => "task-exists".to_owned(),
            DomainError::ShareLimit { limit } => format!("share-limit:{limit}"),
            DomainError::TeamNotFound => "team-not-found".to_owned(),
            DomainError::TeamExists => "team-exists".to_owned(),
            DomainError::MemberNotFound => "member-not-found".to_owned(),
            DomainError::LastAdmin => "last-admin".to_owned(),
            DomainError::MemberLimit { limit } => format!("member-limit:{limit}"),
            DomainError::TeamShareLimit { limit } => format!("team-share-limit:{limit}"),
        }
    }

    /// Reads back what [`to_stored`](Self::to_stored) wrote; `None` for anything else.
    pub fn from_stored(stored: &str) -> Option<DomainError> {
        let (kind, detail) = stored.split_once(':').unwrap_or((stored, ""));
        Some(match kind {
            "task-not-found" => DomainError::TaskNotFound,
            "share-not-found" => DomainError::ShareNotFound,
            "forbidden" => DomainError::Forbidden(
                Forbidden::ALL
                    .into_iter()
                    .find(|why| why.slug() == detail)?,
            ),
            "invalid-transition" => DomainError::InvalidTransition(
                Transition::ALL
                    .into_iter()
                    .find(|why| why.slug() == detail)?,
            ),
            "version-mismatch" => {
                let (expected, current) = detail.split_once(':')?;
                DomainError::VersionMismatch {
                    expected: expected.parse().ok()?,
                    current: current.parse().ok()?,
                }
            }
            "weak-if-match" => {
                let (tag, current) = detail.split_once(':')?;
                DomainError::WeakIfMatch {
                    tag: tag.parse().ok()?,
                    current: current.parse().ok()?,
                }
            }
            "share-with-self" => DomainError::ShareWithSelf,
            "task-exists" => DomainError::TaskExists,
            "share-limit" => DomainError::ShareLimit {
                limit: detail.parse().ok()?,
            },
            "team-not-found" => DomainError::TeamNotFound,
            "team-exists" => DomainError::TeamExists,
            "member-not-found" => DomainError::MemberNotFound,
            "last-admin" => DomainError::LastAdmin,
            "member-limit" => DomainError::MemberLimit {
                limit: detail.parse().ok()?,
            },
            "team-share-limit" => DomainError::TeamShareLimit {
                limit: detail.parse().ok()?,
            },
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
            DomainError::WeakIfMatch { tag: 2, current: 2 },
            DomainError::ShareWithSelf,
            DomainError::TaskExists,
            DomainError::ShareLimit { limit: 1_000 },
            DomainError::TeamNotFound,
            DomainError::TeamExists,
            DomainError::MemberNotFound,
            DomainError::LastAdmin,
            DomainError::MemberLimit { limit: 1_000 },
        ];
        refusals.extend(Forbidden::ALL.map(DomainError::Forbidden));
        refusals.extend(Transition::ALL.map(DomainError::InvalidTransition));
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
        let reworded = format!("forbidden:{}", Forbidden::ViewerChanges.reason());
        for stored in [
            "",
            "forbidden:because",
            "version-mismatch:1",
            "share-limit:many",
            "teapot",
            &reworded,
        ] {
            assert_eq!(DomainError::from_stored(stored), None, "{stored}");
        }
    }
}
