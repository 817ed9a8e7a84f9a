//! The way every command goes from a handler (or an AI assistant's tool) to the writer and
//! back: the request around it, the metrics of its outcome, and the answer's status, `ETag`
//! and `Location`.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::CommandHeaders;
use crate::commands::{CommandOutcome, Idempotency, Submission};
use crate::domain::{Command, CommandRequest, UserId};

/// Runs `command` on the stream `stream_id` (a task or a team) for `actor`, on the conditions
/// of the request's headers, and answers with body `B` (a stream created is under
/// `collection`).
pub(super) async fn submit<B>(
    state: &AppState,
    actor: UserId,
    stream_id: Uuid,
    command: impl Into<Command>,
    headers: &CommandHeaders,
    body: Option<&serde_json::Value>,
    collection: &str,
) -> Result<Response, ApiError>
where
    B: for<'o> From<&'o CommandOutcome> + Serialize,
{
    let request = CommandRequest {
        stream_id,
        actor,
        command: command.into(),
        expected_version: headers.expected_version,
        now: state.clock.now(),
    };
    let outcome = execute(state, request, headers.idempotency(body)).await?;
    Ok(command_response(&outcome, B::from(&outcome), collection))
}

/// Runs one command and counts its outcome: the one way in for every command, the API's and
/// the AI assistants' (`crate::mcp`) alike.
pub(crate) async fn execute(
    state: &AppState,
    request: CommandRequest,
    idempotency: Option<Idempotency>,
) -> Result<CommandOutcome, ApiError> {
    let kind = request.command.kind();
    let submission = Submission {
        request,
        idempotency,
        correlation_id: Uuid::now_v7(),
    };
    match state.commands.execute(submission).await {
        Ok(outcome) => {
            crate::telemetry::command(kind, "applied");
            Ok(outcome)
        }
        Err(error) => {
            let error = ApiError::from(error);
            crate::telemetry::command(kind, error.problem_type());
            Err(error)
        }
    }
}

/// A command's answer: `body`, with its stream's version as the `ETag`, and for a creation 201
/// with the `Location` of the new stream under `collection`.
fn command_response(outcome: &CommandOutcome, body: impl Serialize, collection: &str) -> Response {
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", outcome.version)) {
        headers.insert(header::ETAG, etag);
    }
    if outcome.created
        && let Ok(location) = HeaderValue::from_str(&format!("{collection}/{}", outcome.stream_id))
    {
        headers.insert(header::LOCATION, location);
    }
    response
}
