//! The write side's routes: each parses its input, submits one command and answers
//! `{"task_id", "version", "position"}`.

use axum::extract::State;
use axum::response::Response;
use projections::Permission;
use serde::{Deserialize, Serialize};
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::error::ApiError;
use super::extract::{Caller, CommandHeaders, JsonBody, NoBody, TaskId, UserInPath};
use super::openapi::{CommandHeaderParams, CommandProblems, empty_body, share_permission};
use super::{AppState, REQUEST_TIMEOUT, command_path};
use crate::commands::CommandOutcome;
use crate::domain::{Description, TaskCommand, Title, UserId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create))
        .routes(routes!(edit, delete))
        .routes(routes!(complete))
        .routes(routes!(reopen))
        .routes(routes!(share, unshare))
        // A body has this long to arrive, in all. Only here: reads take no body, and the
        // deadline's timer would cost every dashboard read.
        .layer(RequestBodyDeadlineLayer::new(REQUEST_TIMEOUT))
}

/// A new task. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct CreateTask {
    /// Some visible text (not only spaces or invisible characters), at most 200 characters,
    /// no control characters.
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    /// At most 10,000 characters; line breaks and tabs but no other control characters.
    #[serde(default)]
    #[schema(max_length = 10000, nullable = false)]
    description: Option<String>,
}

/// The fields to change; those left out stay as they are. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct EditTask {
    /// As in create.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 200, nullable = false)]
    title: Option<String>,
    /// As in create.
    #[serde(default)]
    #[schema(max_length = 10000, nullable = false)]
    description: Option<String>,
}

/// The permission to give. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareTask {
    /// `view` or `edit`.
    #[schema(schema_with = share_permission)]
    pub(super) permission: String,
}

/// What a command without a body accepts: none, `{}` or `null` (as [`NoBody`] parses it).
pub(super) struct Empty;

impl PartialSchema for Empty {
    fn schema() -> RefOr<Schema> {
        empty_body().into()
    }
}

impl ToSchema for Empty {}

/// The body of every successful command (and an MCP command tool's structured result).
#[derive(Serialize, ToSchema, schemars::JsonSchema)]
#[schema(as = CommandResult)]
pub(crate) struct CommandBody {
    task_id: Uuid,
    /// The task's version after the command (what `If-Match` names next).
    version: i64,
    /// The global log position of the last event the command appended (the current one when
    /// it changed nothing).
    position: i64,
}

impl From<&CommandOutcome> for CommandBody {
    fn from(outcome: &CommandOutcome) -> CommandBody {
        CommandBody {
            task_id: outcome.stream_id,
            version: outcome.version,
            position: outcome.position,
        }
    }
}

/// Create a task owned by the caller.
#[utoipa::path(
    post,
    path = "/api/tasks",
    tag = "commands",
    operation_id = "createTask",
    security(("bearer" = [])),
    params(CommandHeaderParams),
    request_body = CreateTask,
    responses((status = 201, body = CommandBody, headers(
            ("Location" = String, description = "`/api/tasks/{id}` of the new task."),
            ("ETag" = String, description = "`\"<version>\"`: the task's version now."),
        ), links(
            ("GetTask" = (operation_id = "getTask", parameters(("id" = "$response.body#/task_id")))),
            ("EditTask" = (operation_id = "editTask", parameters(("id" = "$response.body#/task_id")))),
            ("CompleteTask" = (operation_id = "completeTask", parameters(("id" = "$response.body#/task_id")))),
            ("ReopenTask" = (operation_id = "reopenTask", parameters(("id" = "$response.body#/task_id")))),
            ("DeleteTask" = (operation_id = "deleteTask", parameters(("id" = "$response.body#/task_id")))),
            ("ShareTask" = (operation_id = "shareTask", parameters(("id" = "$response.body#/task_id")))),
            ("GetTaskEvents" = (operation_id = "getTaskEvents", parameters(("id" = "$response.body#/task_id")))),
        )), CommandProblems),
)]
async fn create(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: CommandHeaders,
    body: JsonBody<CreateTask>,
) -> Result<Response, ApiError> {
    let command = TaskCommand::Create {
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

/// Change a task's title or description: its owner or an editor. No event when nothing changes.
#[utoipa::path(
    patch,
    path = "/api/tasks/{id}",
    tag = "commands",
    operation_id = "editTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), CommandHeaderParams),
    request_body = EditTask,
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn edit(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    body: JsonBody<EditTask>,
) -> Result<Response, ApiError> {
    let command = TaskCommand::Edit {
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

/// Complete a pending task: its owner or an editor. 409 when it is completed already.
#[utoipa::path(
    post,
    path = "/api/tasks/{id}/complete",
    tag = "commands",
    operation_id = "completeTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn complete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(
        &state,
        caller,
        task_id,
        TaskCommand::Complete,
        &headers,
        None,
    )
    .await
}

/// Reopen a completed task: its owner or an editor. 409 when it is pending.
#[utoipa::path(
    post,
    path = "/api/tasks/{id}/reopen",
    tag = "commands",
    operation_id = "reopenTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn reopen(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, task_id, TaskCommand::Reopen, &headers, None).await
}

/// Delete a task: its owner only. Afterwards it is 404 for everyone and counts nowhere.
#[utoipa::path(
    delete,
    path = "/api/tasks/{id}",
    tag = "commands",
    operation_id = "deleteTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn delete(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, task_id, TaskCommand::Delete, &headers, None).await
}

/// Share a task with another user, or change the permission of an existing share: its owner only. Idempotent.
#[utoipa::path(
    put,
    path = "/api/tasks/{id}/shares/{user_id}",
    tag = "commands",
    operation_id = "shareTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), ("user_id" = String, Path, description = "The user to share with: 1 to 128 characters, no control characters.", pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,128}$"), CommandHeaderParams),
    request_body = ShareTask,
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn share(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    UserInPath(user_id): UserInPath,
    headers: CommandHeaders,
    body: JsonBody<ShareTask>,
) -> Result<Response, ApiError> {
    let command = TaskCommand::Share {
        user_id,
        permission: parse_permission(&body.value.permission)?,
    };
    submit(&state, caller, task_id, command, &headers, Some(&body.raw)).await
}

/// Stop sharing a task with a user: its owner only. 404 when there is no such share.
#[utoipa::path(
    delete,
    path = "/api/tasks/{id}/shares/{user_id}",
    tag = "commands",
    operation_id = "unshareTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), ("user_id" = String, Path, description = "The user to share with: 1 to 128 characters, no control characters.", pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,128}$"), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn unshare(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    UserInPath(user_id): UserInPath,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(
        &state,
        caller,
        task_id,
        TaskCommand::Unshare { user_id },
        &headers,
        None,
    )
    .await
}

pub(crate) fn parse_title(raw: &str) -> Result<Title, ApiError> {
    Title::parse(raw).map_err(|error| ApiError::Validation(error.to_string()))
}

/// A share's permission: `view` or `edit`.
pub(crate) fn parse_permission(raw: &str) -> Result<Permission, ApiError> {
    Permission::parse(raw).ok_or_else(|| {
        ApiError::Validation(format!(
            "unknown permission {raw:?}: use \"view\" or \"edit\""
        ))
    })
}

pub(crate) fn parse_description(raw: &str) -> Result<Description, ApiError> {
    Description::parse(raw).map_err(|error| ApiError::Validation(error.to_string()))
}

/// Runs a task command and answers `{"task_id", "version", "position"}`.
pub(super) async fn submit(
    state: &AppState,
    actor: UserId,
    task_id: Uuid,
    command: TaskCommand,
    headers: &CommandHeaders,
    body: Option<&serde_json::Value>,
) -> Result<Response, ApiError> {
    command_path::submit::<CommandBody>(state, actor, task_id, command, headers, body, "/api/tasks")
        .await
}
