//! The team queries: the caller's teams, a page at a time, and one team with its members. A
//! team is 404 to anyone outside it.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use projections::{Role, TeamRow, TeamView};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::conditional::{IfNoneMatch, NotModified};
use super::error::ApiError;
use super::extract::{Caller, QueryParams, TeamId};
use super::openapi::ReadProblems;
use super::tasks::{id_cursor, page_limit};
use super::team_commands::member_role;
use crate::domain::UserId;
use crate::store::ReadFrom;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list_teams))
        .routes(routes!(show_team))
}

/// A team as one of its members sees it.
#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = Team)]
#[schemars(rename = "Team")]
pub(crate) struct TeamJson {
    id: Uuid,
    name: String,
    /// The caller's role in the team.
    #[schema(schema_with = member_role)]
    role: &'static str,
    created_at: DateTime<Utc>,
    /// The team's stream version: what `If-Match` names.
    version: i64,
    /// Every member, by user id; only `GET /api/teams/{id}` has this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    members: Option<Vec<MemberJson>>,
}

#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = TeamMember)]
#[schemars(rename = "TeamMember")]
pub(crate) struct MemberJson {
    user_id: String,
    #[schema(schema_with = member_role)]
    role: &'static str,
}

impl TeamJson {
    fn of(team: TeamRow, role: Role, members: Option<Vec<MemberJson>>) -> Self {
        TeamJson {
            id: team.id,
            name: team.name,
            role: role.as_str(),
            created_at: team.created_at,
            version: team.version,
            members,
        }
    }
}

/// One team with its members, for its members (404 for anyone else).
#[utoipa::path(
    get,
    path = "/api/teams/{id}",
    tag = "teams",
    operation_id = "getTeam",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), IfNoneMatch),
    responses(
        (status = 200, body = TeamJson, headers(("ETag" = String, description = "`\"<version>\"`: the team's version, as `If-Match` and `If-None-Match` name it."))),
        NotModified,
        ReadProblems,
    ),
)]
async fn show_team(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TeamId(team_id): TeamId,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let team = team_for(&state, &caller, team_id, from).await?;
    // Every change a member could see (name, members, roles) is an event on the team's
    // stream, so its version tags the view.
    Ok(if_none_match.answer(format!("\"{}\"", team.version), &team))
}

/// One team as `caller` sees it: `not-found` when it does not exist or the caller is not in it.
pub(crate) async fn team_for(
    state: &AppState,
    caller: &UserId,
    team_id: Uuid,
    from: ReadFrom,
) -> Result<TeamJson, ApiError> {
    let view = state.store.team(team_id, from).await?;
    let not_found = || ApiError::NotFound("no such team".into());
    let role = view.role_of(caller.as_str()).ok_or_else(not_found)?;
    let TeamView { team, members } = view;
    let members = members
        .into_iter()
        .map(|member| MemberJson {
            role: member.role.as_str(),
            user_id: member.user_id,
        })
        .collect();
    Ok(TeamJson::of(
        team.ok_or_else(not_found)?,
        role,
        Some(members),
    ))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TeamListParams {
    /// Page size, 1 to 200; 50 when absent.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub(crate) cursor: Option<String>,
}

/// A page of the caller's teams, oldest first.
#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct TeamPage {
    items: Vec<TeamJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// The teams the caller is a member of, oldest first, a page at a time (without their members).
#[utoipa::path(
    get,
    path = "/api/teams",
    tag = "teams",
    operation_id = "listTeams",
    security(("bearer" = [])),
    params(TeamListParams),
    responses((status = 200, body = TeamPage), ReadProblems),
)]
async fn list_teams(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    QueryParams(params): QueryParams<TeamListParams>,
) -> Result<Json<TeamPage>, ApiError> {
    teams_page(&state, &caller, params, from).await.map(Json)
}

/// A page of the caller's teams as `params` ask.
pub(crate) async fn teams_page(
    state: &AppState,
    caller: &UserId,
    params: TeamListParams,
    from: ReadFrom,
) -> Result<TeamPage, ApiError> {
    let limit = page_limit(params.limit.as_deref())?;
    let after = params.cursor.as_deref().map(id_cursor).transpose()?;
    let page = state
        .store
        .teams_of(caller.as_str(), after, limit, from)
        .await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| page.last().map(|(team, _)| team.id.to_string()))
        .flatten();
    let items = page
        .into_iter()
        .map(|(team, role)| TeamJson::of(team, role, None))
        .collect();
    Ok(TeamPage { items, next_cursor })
}
