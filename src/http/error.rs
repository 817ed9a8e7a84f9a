//! The one API error type: every variant names its status and problem type, and renders as
//! `application/problem+json` (RFC 9457). Internal failures are logged, never echoed.

use std::sync::Arc;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::commands::CommandError;
use crate::domain::DomainError;
use crate::store::StoreError;

/// Everything a request can fail with, as the contract's error table lists it.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{0}")]
    Malformed(String),
    #[error("{0}")]
    Unauthorized(&'static str),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    InvalidTransition(String),
    #[error("{0}")]
    VersionMismatch(String),
    #[error("the request body is larger than {} bytes", super::MAX_BODY_BYTES)]
    PayloadTooLarge,
    #[error("{0}")]
    UnsupportedMediaType(String),
    #[error("{0}")]
    Validation(String),
    /// A bound on how much one thing may hold (the users a task is shared with).
    #[error("{0}")]
    Limit(String),
    /// The command would leave a team without an admin.
    #[error("{0}")]
    LastAdmin(String),
    #[error("this Idempotency-Key was already used with a different request")]
    IdempotencyKeyReuse,
    #[error("this route does not take that method")]
    MethodNotAllowed,
    /// Out of time before anything was applied (reads change nothing; a command that timed
    /// out was withdrawn before the writer took it): safe to retry.
    #[error("{0}")]
    Timeout(&'static str),
    /// The service cannot take this work now: the command writer has stopped, or the database
    /// is out of reach, refusing connections, read-only or full. Nothing was applied.
    #[error("{0}")]
    Unavailable(String),
    /// A command whose commit went unanswered: retrying it is safe only with the same
    /// `Idempotency-Key`.
    #[error(
        "the command may or may not have been applied: retry it with the same Idempotency-Key, \
         or read the task to find out"
    )]
    OutcomeUnknown,
    #[error("internal error")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// An RFC 9457 problem document.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// What went wrong, as a slug: `malformed-request`, `unauthorized`, `forbidden`,
    /// `not-found`, `invalid-transition`, `version-mismatch`, `payload-too-large`,
    /// `unsupported-media-type`, `validation`, `limit`, `last-admin`, `idempotency-key-reuse`,
    /// `method-not-allowed`, `timeout`, `unavailable`, `outcome-unknown` or `internal`.
    #[schema(example = "not-found")]
    r#type: &'static str,
    /// A short, fixed summary of the type.
    title: &'static str,
    /// The HTTP status, repeated.
    status: u16,
    /// What happened this time, for a person to read.
    detail: String,
    /// The request's id (its `x-request-id`), which the server's log lines of it carry.
    #[serde(skip_serializing_if = "Option::is_none")]
    instance: Option<String>,
}

impl ApiError {
    /// The problem's `type` slug.
    pub fn problem_type(&self) -> &'static str {
        self.parts().1
    }

    fn parts(&self) -> (StatusCode, &'static str, &'static str) {
        use ApiError::*;
        match self {
            Malformed(_) => (
                StatusCode::BAD_REQUEST,
                "malformed-request",
                "Malformed request",
            ),
            Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            InvalidTransition(_) => (
                StatusCode::CONFLICT,
                "invalid-transition",
                "Invalid transition",
            ),
            VersionMismatch(_) => (
                StatusCode::PRECONDITION_FAILED,
                "version-mismatch",
                "Version mismatch",
            ),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Validation(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation",
                "Validation failed",
            ),
            Limit(_) => (StatusCode::UNPROCESSABLE_ENTITY, "limit", "Limit reached"),
            LastAdmin(_) => (StatusCode::CONFLICT, "last-admin", "Last admin"),
            IdempotencyKeyReuse => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency-key-reuse",
                "Idempotency key reused",
            ),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Timeout(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "timeout",
                "Request timed out",
            ),
            Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            OutcomeUnknown => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "outcome-unknown",
                "Outcome unknown",
            ),
            Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, r#type, title) = self.parts();
        if let ApiError::Internal(source) = &self {
            tracing::error!(error = %source, "request failed");
        }
        let problem = Problem {
            r#type,
            title,
            status: status.as_u16(),
            detail: self.to_string(),
            instance: super::request_id::current(),
        };
        let mut response = (status, Json(problem)).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        // Only where nothing was applied, so a retry cannot apply anything twice.
        if matches!(self, ApiError::Unavailable(_) | ApiError::Timeout(_)) {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"tally\""),
            );
        }
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Arc::new(error).into()
    }
}

impl From<Arc<StoreError>> for ApiError {
    fn from(error: Arc<StoreError>) -> Self {
        if error.is_transient() {
            tracing::warn!(%error, "the database cannot take work now");
            ApiError::Unavailable("the database cannot take work now; nothing was changed".into())
        } else {
            ApiError::Internal(Box::new(error))
        }
    }
}

impl From<DomainError> for ApiError {
    fn from(error: DomainError) -> Self {
        let detail = error.to_string();
        match error {
            DomainError::TaskNotFound
            | DomainError::ShareNotFound
            | DomainError::TeamNotFound
            | DomainError::MemberNotFound => ApiError::NotFound(detail),
            DomainError::Forbidden(_) => ApiError::Forbidden(detail),
            DomainError::InvalidTransition(_) => ApiError::InvalidTransition(detail),
            DomainError::VersionMismatch { .. } | DomainError::WeakIfMatch { .. } => {
                ApiError::VersionMismatch(detail)
            }
            DomainError::ShareWithSelf => ApiError::Validation(detail),
            DomainError::ShareLimit { .. }
            | DomainError::MemberLimit { .. }
            | DomainError::TeamShareLimit { .. } => ApiError::Limit(detail),
            DomainError::LastAdmin => ApiError::LastAdmin(detail),
            // Task ids are minted by the server as UUID v7; a clash is a bug, not the client's.
            DomainError::TaskExists | DomainError::TeamExists => {
                ApiError::InvalidTransition(detail)
            }
        }
    }
}

impl From<CommandError> for ApiError {
    fn from(error: CommandError) -> Self {
        match error {
            CommandError::Domain(error) => error.into(),
            CommandError::IdempotencyKeyReuse => ApiError::IdempotencyKeyReuse,
            CommandError::Store(error) => error.into(),
            CommandError::Unavailable(error) => error.into(),
            CommandError::WriterStopped => ApiError::Unavailable(
                "the command writer has stopped: commands cannot be accepted now".into(),
            ),
            CommandError::TimedOut => ApiError::Timeout(
                "the command waited too long for its turn and was not applied: it is safe to retry",
            ),
            // Not a 503: retrying without an Idempotency-Key could apply it twice.
            CommandError::OutcomeUnknown => {
                tracing::error!("a command's outcome is unknown");
                ApiError::OutcomeUnknown
            }
        }
    }
}
