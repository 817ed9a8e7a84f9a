//! The teams' write side: create, rename and delete a team, add, promote and remove members.
//! Each submits one command on the team's stream and answers `{"team_id", "version",
//! "position"}`.

use axum::extract::State;
use axum::response::Response;
use projections::Role;
use serde::{Deserialize, Serialize};
use tower_http::timeout::RequestBodyDeadlineLayer;
use utoipa::ToSchema;
use utoipa::openapi::schema::Object;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::command_path;
use super::commands::Empty;
use super::error::ApiError;
use super::extract::{Caller, CommandHeaders, JsonBody, NoBody, TeamId, UserInPath};
use super::openapi::{CommandHeaderParams, CommandProblems, one_of};
use super::{AppState, REQUEST_TIMEOUT};
use crate::commands::CommandOutcome;
use crate::domain::{TeamCommand, TeamName, UserId};

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(create_team))
        .routes(routes!(rename_team, delete_team))
        .routes(routes!(set_member, remove_member))
        .layer(RequestBodyDeadlineLayer::new(REQUEST_TIMEOUT))
}

/// A team's name. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct TeamNameBody {
    /// Some visible text, at most 100 characters, no control characters.
    #[schema(min_length = 1, max_length = 100)]
    name: String,
}

/// The role to give a member. Unknown fields are refused.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
struct MemberRole {
    /// `member` or `admin`.
    #[schema(schema_with = member_role)]
    role: String,
}

pub(super) fn member_role() -> Object {
    one_of(&["member", "admin"])
}

/// The body of every successful team command.
#[derive(Serialize, ToSchema, schemars::JsonSchema)]
#[schema(as = TeamCommandResult)]
pub(crate) struct TeamCommandBody {
    team_id: Uuid,
    /// The team's version after the command (what `If-Match` names next).
    version: i64,
    /// The global log position of the last event the command appended (the current one when
    /// it changed nothing).
    position: i64,
}

impl From<&CommandOutcome> for TeamCommandBody {
    fn from(outcome: &CommandOutcome) -> Self {
        TeamCommandBody {
            team_id: outcome.stream_id,
            version: outcome.version,
            position: outcome.position,
        }
    }
}

/// Create a team; the caller is its first admin.
#[utoipa::path(
    post,
    path = "/api/teams",
    tag = "teams",
    operation_id = "createTeam",
    security(("bearer" = [])),
    params(CommandHeaderParams),
    request_body = TeamNameBody,
    responses((status = 201, body = TeamCommandBody, headers(
            ("Location" = String, description = "`/api/teams/{id}` of the new team."),
            ("ETag" = String, description = "`\"<version>\"`: the team's version now."),
        ), links(
            ("GetTeam" = (operation_id = "getTeam", parameters(("id" = "$response.body#/team_id")))),
            ("RenameTeam" = (operation_id = "renameTeam", parameters(("id" = "$response.body#/team_id")))),
            ("DeleteTeam" = (operation_id = "deleteTeam", parameters(("id" = "$response.body#/team_id")))),
        )), CommandProblems),
)]
async fn create_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    headers: CommandHeaders,
    body: JsonBody<TeamNameBody>,
) -> Result<Response, ApiError> {
    let command = TeamCommand::Create {
        name: parse_team_name(&body.value.name)?,
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

/// Rename a team: its admins. No event when the name is the same.
#[utoipa::path(
    patch,
    path = "/api/teams/{id}",
    tag = "teams",
    operation_id = "renameTeam",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), CommandHeaderParams),
    request_body = TeamNameBody,
    responses((status = 200, body = TeamCommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the team's version now."))), CommandProblems),
)]
async fn rename_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TeamId(team_id): TeamId,
    headers: CommandHeaders,
    body: JsonBody<TeamNameBody>,
) -> Result<Response, ApiError> {
    let command = TeamCommand::Rename {
        name: parse_team_name(&body.value.name)?,
    };
    submit(&state, caller, team_id, command, &headers, Some(&body.raw)).await
}

/// Delete a team: its admins. Its memberships end with it.
#[utoipa::path(
    delete,
    path = "/api/teams/{id}",
    tag = "teams",
    operation_id = "deleteTeam",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = TeamCommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the team's version now."))), CommandProblems),
)]
async fn delete_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TeamId(team_id): TeamId,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    submit(&state, caller, team_id, TeamCommand::Delete, &headers, None).await
}

/// Add a member, or give a member another role: the team's admins. Idempotent; 409
/// `last-admin` when it would leave the team without an admin.
#[utoipa::path(
    put,
    path = "/api/teams/{id}/members/{user_id}",
    tag = "teams",
    operation_id = "setTeamMember",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), ("user_id" = String, Path, description = "The member: 1 to 128 characters, no control characters.", pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,128}$"), CommandHeaderParams),
    request_body = MemberRole,
    responses((status = 200, body = TeamCommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the team's version now."))), CommandProblems),
)]
async fn set_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TeamId(team_id): TeamId,
    UserInPath(user_id): UserInPath,
    headers: CommandHeaders,
    body: JsonBody<MemberRole>,
) -> Result<Response, ApiError> {
    let role = parse_role(&body.value.role)?;
    let command = TeamCommand::SetMember { user_id, role };
    submit(&state, caller, team_id, command, &headers, Some(&body.raw)).await
}

/// Remove a member (an admin), or leave (the member themself). 404 when they are not a member;
/// 409 `last-admin` for the team's last admin.
#[utoipa::path(
    delete,
    path = "/api/teams/{id}/members/{user_id}",
    tag = "teams",
    operation_id = "removeTeamMember",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), ("user_id" = String, Path, description = "The member: 1 to 128 characters, no control characters.", pattern = "^[^\\x00-\\x1f\\x7f-\\x9f]{1,128}$"), CommandHeaderParams),
    request_body(content = Option<Empty>, content_type = "application/json", description = "None, `{}` or `null`."),
    responses((status = 200, body = TeamCommandBody, headers(("ETag" = String, description = "`\"<version>\"`: the team's version now."))), CommandProblems),
)]
async fn remove_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    TeamId(team_id): TeamId,
    UserInPath(user_id): UserInPath,
    headers: CommandHeaders,
    _: NoBody,
) -> Result<Response, ApiError> {
    let command = TeamCommand::RemoveMember { user_id };
    submit(&state, caller, team_id, command, &headers, None).await
}

pub(crate) fn parse_team_name(raw: &str) -> Result<TeamName, ApiError> {
    TeamName::parse(raw).map_err(|error| ApiError::Validation(error.to_string()))
}

/// A member's role: `member` or `admin`.
pub(crate) fn parse_role(raw: &str) -> Result<Role, ApiError> {
    Role::parse(raw).ok_or_else(|| {
        ApiError::Validation(format!("unknown role {raw:?}: use \"member\" or \"admin\""))
    })
}

/// Runs a team command and answers `{"team_id", "version", "position"}`.
async fn submit(
    state: &AppState,
    actor: UserId,
    team_id: Uuid,
    command: TeamCommand,
    headers: &CommandHeaders,
    body: Option<&serde_json::Value>,
) -> Result<Response, ApiError> {
    let collection = "/api/teams";
    command_path::submit::<TeamCommandBody>(
        state, actor, team_id, command, headers, body, collection,
    )
    .await
}
