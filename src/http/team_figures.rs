//! A team's own queries beyond its members: the tasks shared with it, a page at a time, and its
//! figures over them (one `team_stats` row). Both are 404 to anyone outside the team.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use projections::TeamFigures;
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
use super::tasks::{TaskPage, page_in, task_status};
use crate::domain::UserId;
use crate::store::ReadFrom;
use crate::store::Scope;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(team_tasks))
        .routes(routes!(team_dashboard))
}

/// A team's figures over the tasks shared with it; days and ISO weeks are UTC.
#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct TeamDashboard {
    /// Tasks shared with the team: `pending + completed`.
    total: i64,
    pending: i64,
    completed: i64,
    /// `100 * completed / total`, rounded to two decimals; 0 without tasks.
    completion_rate: f64,
    /// Of the tasks shared with the team, those created today.
    created_today: i64,
    /// Those completed now whose latest completion fell today.
    completed_today: i64,
    created_this_week: i64,
    completed_this_week: i64,
    /// How many members the team has.
    members: i64,
}

impl From<TeamFigures> for TeamDashboard {
    fn from(figures: TeamFigures) -> Self {
        TeamDashboard {
            total: figures.total,
            pending: figures.pending,
            completed: figures.completed,
            completion_rate: figures.completion_rate,
            created_today: figures.created_today,
            completed_today: figures.completed_today,
            created_this_week: figures.created_this_week,
            completed_this_week: figures.completed_this_week,
            members: figures.members,
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TeamTaskParams {
    /// Only tasks with this status.
    #[param(value_type = Option<String>, schema_with = task_status)]
    pub(crate) status: Option<String>,
    /// Page size, 1 to 200; 50 when absent.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<String>,
    /// `next_cursor` of the previous page.
    #[param(value_type = Option<Uuid>)]
    pub(crate) cursor: Option<String>,
}

/// The tasks shared with a team, newest first, a page at a time, each with the caller's
/// permission (whom a task is shared with is in its own answer, for its owner).
#[utoipa::path(
    get,
    path = "/api/teams/{id}/tasks",
    tag = "teams",
    operation_id = "listTeamTasks",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), TeamTaskParams),
    responses((status = 200, body = TaskPage), ReadProblems),
)]
async fn team_tasks(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TeamId(team_id): TeamId,
    QueryParams(params): QueryParams<TeamTaskParams>,
) -> Result<Json<TaskPage>, ApiError> {
    team_tasks_page(&state, &caller, team_id, params, from)
        .await
        .map(Json)
}

/// A page of the tasks shared with `team_id` as `caller`, a member, sees them.
pub(crate) async fn team_tasks_page(
    state: &AppState,
    caller: &UserId,
    team_id: Uuid,
    params: TeamTaskParams,
    from: ReadFrom,
) -> Result<TaskPage, ApiError> {
    require_member(state, caller, team_id, from).await?;
    let scope = Scope::Team(team_id);
    page_in(
        state,
        caller,
        scope,
        params.status,
        params.limit,
        params.cursor,
        from,
    )
    .await
}

/// A team's figures over the tasks shared with it: one single-row read. Tagged like the
/// caller's own figures, so a page polling an open team pays a 304 while nothing changed (a
/// task owner completing a shared task moves these figures and no member's own).
#[utoipa::path(
    get,
    path = "/api/teams/{id}/dashboard",
    tag = "teams",
    operation_id = "getTeamDashboard",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The team's id."), IfNoneMatch),
    responses((status = 200, body = TeamDashboard, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn team_dashboard(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TeamId(team_id): TeamId,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let figures = team_figures(&state, &caller, team_id, from).await?;
    Ok(if_none_match.answer_hashed(&figures))
}

/// `team_id`'s figures now, for `caller`, a member.
pub(crate) async fn team_figures(
    state: &AppState,
    caller: &UserId,
    team_id: Uuid,
    from: ReadFrom,
) -> Result<TeamDashboard, ApiError> {
    require_member(state, caller, team_id, from).await?;
    let now = state.clock.now();
    let stats = state.store.team_stats(team_id, from).await?;
    let stats = stats.ok_or_else(|| ApiError::NotFound("no such team".into()))?;
    Ok(stats.figures(now).into())
}

/// `not-found` unless `caller` is a member of `team_id`: one key read, whatever the team's size
/// (a page polls an open team's figures).
async fn require_member(
    state: &AppState,
    caller: &UserId,
    team_id: Uuid,
    from: ReadFrom,
) -> Result<(), ApiError> {
    match state.store.role_in(team_id, caller.as_str(), from).await? {
        Some(_) => Ok(()),
        None => Err(ApiError::NotFound("no such team".into())),
    }
}
