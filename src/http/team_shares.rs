//! Sharing a task with a team: `PUT` and `DELETE /api/tasks/{id}/team-shares/{team_id}`. Each
//! submits one command on the task's stream; every member's figures move in its transaction.

use axum::extract::State;
use axum::response::Response;
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::commands::{CommandBody, Empty, ShareTask, parse_permission, submit};
use super::error::ApiError;
use super::extract::{Caller, CommandHeaders, JsonBody, NoBody, TaskId, TeamInPath};
use super::openapi::{CommandHeaderParams, CommandProblems};
use super::{AppState, REQUEST_TIMEOUT};
use crate::domain::TaskCommand;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(share_with_team, unshare_from_team))
        .layer(RequestBodyDeadlineLayer::new(REQUEST_TIMEOUT))
}

/// Share a task with every member of a team, or change the permission of the team's share:
/// the task's owner only, who must be a member of the team (404 for a team they are not in).
/// Idempotent. Each member sees the task once, with the best permission of their direct share
/// and their teams' shares.
#[utoipa::path(
    put,
    path = "/api/tasks/{id}/team-shares/{team_id}",
    tag = "commands",
    operation_id = "shareTaskWithTeam",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), ("team_id" = Uuid, Path, description = "The team to share with."), CommandHeaderParams),
    request_body = ShareTask,
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn share_with_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    TeamInPath(team_id): TeamInPath,
    headers: CommandHeaders,
    body: JsonBody<ShareTask>,
) -> Result<Response, ApiError> {
    let command = TaskCommand::ShareWithTeam {
        team_id,
        permission: parse_permission(&body.value.permission)?,
    };
    submit(&state, caller, task_id, command, &headers, Some(&body.raw)).await
}

/// Stop sharing a task with a team: its owner only (a member of the team or not). 404 when
/// the task is not shared with the team.
#[utoipa::path(
    delete,
    path = "/api/tasks/{id}/team-shares/{team_id}",
    tag = "commands",
    operation_id = "unshareTaskFromTeam",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), ("team_id" = Uuid, Path, description = "The team the task is shared with."), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = CommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the task's version now."))), CommandProblems),
)]
async fn unshare_from_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TaskId(task_id): TaskId,
    TeamInPath(team_id): TeamInPath,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    let command = TaskCommand::UnshareFromTeam { team_id };
    submit(&state, caller, task_id, command, &headers, None).await
}
