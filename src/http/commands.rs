//! The write side's routes: each parses its input, submits one command and answers
//! `{"task_id", "version", "position"}`.

use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{patch, post, put};
use axum::{Json, Router};
use projections::Permission;
use serde::{Deserialize, Serialize};
use tower_http::timeout::RequestBodyDeadlineLayer;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Caller, CommandHeaders, JsonBody, NoBody, ShareUser, TaskId};
use super::{AppState, REQUEST_TIMEOUT};
use crate::commands::{CommandOutcome, Submission};
use crate::domain::{Command, CommandRequest, Description, Title};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/tasks", post(create))
        .route("/api/tasks/{id}", patch(edit).delete(delete))
        .route("/api/tasks/{id}/complete", post(complete))
        .route("/api/tasks/{id}/reopen", post(reopen))
        .route(
            "/api/tasks/{id}/shares/{user_id}",
            put(share).delete(unshare),
        )
        // A body has this long to arrive, in all. Only here: reads take no body, and the
        // deadline's timer would cost every dashboard read.
        .layer(RequestBodyDeadlineLayer::new(REQUEST_TIMEOUT))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    title: String,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EditTask {
    #[serde(default)]
    title: Option<String>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ShareTask {
    permission: String,
}

/// The body of every successful command.
#[derive(Serialize)]
struct CommandBody {
    task_id: Uuid,
    version: i64,
    position: i64,
}

async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: CommandHeaders,
    body: JsonBody<CreateTask>,
) -> Result<Response, ApiError> {
    let command = Command::Create {
        title: parse_title(&body.value.title)?,
        description: parse_description(body.value.description.as_deref().unwrap_or_default())?,
    };
    submit(
        &state,
        caller,
        Uuid::now_v7(),
        command,
        &headers,
        Some(&body.raw),
    )
    .await
}

async fn edit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    body: JsonBody<EditTask>,
) -> Result<Response, ApiError> {
    let command = Command::Edit {
        title: body.value.title.as_deref().map(parse_title).transpose()?,
        description: body
            .value
            .description
            .as_deref()
            .map(parse_description)
            .transpose()?,
    };
    submit(&state, caller, task_id, command, &headers, Some(&body.raw)).await
}

async fn complete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, task_id, Command::Complete, &headers, None).await
}

async fn reopen(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, task_id, Command::Reopen, &headers, None).await
}

async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, task_id, Command::Delete, &headers, None).await
}

async fn share(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    ShareUser(user_id): ShareUser,
    headers: CommandHeaders,
    body: JsonBody<ShareTask>,
) -> Result<Response, ApiError> {
    let permission = Permission::parse(&body.value.permission).ok_or_else(|| {
        ApiError::Validation(format!(
            "unknown permission {:?}: use \"view\" or \"edit\"",
            body.value.permission
        ))
    })?;
    let command = Command::Share {
        user_id,
        permission,
    };
    submit(&state, caller, task_id, command, &headers, Some(&body.raw)).await
}

async fn unshare(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    ShareUser(user_id): ShareUser,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(
        &state,
        caller,
        task_id,
        Command::Unshare { user_id },
        &headers,
        None,
    )
    .await
}

fn parse_title(raw: &str) -> Result<Title, ApiError> {
    Title::parse(raw).map_err(|error| ApiError::Validation(error.to_string()))
}

fn parse_description(raw: &str) -> Result<Description, ApiError> {
    Description::parse(raw).map_err(|error| ApiError::Validation(error.to_string()))
}

async fn submit(
    state: &AppState,
    actor: crate::domain::UserId,
    task_id: Uuid,
    command: Command,
    headers: &CommandHeaders,
    body: Option<&serde_json::Value>,
) -> Result<Response, ApiError> {
    let submission = Submission {
        request: CommandRequest {
            task_id,
            actor,
            command,
            expected_version: headers.expected_version,
            now: state.clock.now(),
        },
        idempotency: headers.idempotency(body),
        correlation_id: Uuid::now_v7(),
    };
    let outcome = state.commands.execute(submission).await?;
    Ok(command_response(outcome))
}

fn command_response(outcome: CommandOutcome) -> Response {
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let body = CommandBody {
        task_id: outcome.task_id,
        version: outcome.version,
        position: outcome.position,
    };
    let mut response = (status, Json(body)).into_response();
    let headers = response.headers_mut();
    if let Ok(etag) = HeaderValue::from_str(&format!("\"{}\"", outcome.version)) {
        headers.insert(header::ETAG, etag);
    }
    if outcome.created
        && let Ok(location) = HeaderValue::from_str(&format!("/api/tasks/{}", outcome.task_id))
    {
        headers.insert(header::LOCATION, location);
    }
    response
}
