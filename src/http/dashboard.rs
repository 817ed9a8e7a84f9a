//! The dashboard queries: every one reads the caller's single `dashboard_stats` row.

use crate::store::ReplicaState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use projections::{DashboardFigures, DashboardStats};
use schemars::JsonSchema;
use serde::Serialize;
use utoipa::ToSchema;
use utoipa::openapi::schema::Object;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::conditional::{IfNoneMatch, NotModified};
use super::consistency::ReadFrom;
use super::error::ApiError;
use super::extract::Caller;
use super::openapi::{ReadProblems, one_of};
use crate::domain::UserId;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(everything))
        .routes(routes!(statistics))
        .routes(routes!(activity))
        .routes(routes!(breakdown))
        .routes(routes!(shared))
        .routes(routes!(health))
}

/// The caller's figures now: the row this node keeps in memory while it knows it current
/// (PostgreSQL), else one single-row read, kept. No row yet means all zeros.
pub(crate) async fn figures(
    state: &AppState,
    caller: &UserId,
    from: ReadFrom,
) -> Result<DashboardFigures, ApiError> {
    let (user, now) = (caller.as_str(), state.clock.now());
    let figures =
        |row: Option<&DashboardStats>| row.map(|row| row.figures(now)).unwrap_or_default();
    if from == ReadFrom::Nearest
        && let Some(kept) = state.hub.kept_row(user)
    {
        return Ok(figures(kept.row.as_ref()));
    }
    let begun = state.hub.row_read_begins();
    let row = state.store.dashboard_stats(user, from).await?;
    let answer = figures(row.as_ref());
    if let Some(begun) = begun {
        state.hub.keep_row(user, row, begun);
    }
    Ok(answer)
}

/// Every figure of the caller's dashboard. Tasks the caller owns unless said otherwise;
/// deleted tasks count nowhere; days and ISO weeks are UTC.
#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct Everything {
    /// Tasks the caller owns: `pending + completed`.
    total: i64,
    pending: i64,
    completed: i64,
    /// Tasks other users have shared **with** the caller (not tasks the caller shared).
    shared: i64,
    /// Of `shared`, those the caller may only view.
    view_only: i64,
    /// Of `shared`, those the caller may edit.
    can_edit: i64,
    /// Owned tasks created today.
    created_today: i64,
    /// Owned tasks completed now whose latest completion fell today.
    completed_today: i64,
    /// Owned tasks created since Monday 00:00 UTC.
    created_this_week: i64,
    /// Owned tasks completed now whose latest completion fell this ISO week.
    completed_this_week: i64,
    /// `100 * completed / total`, rounded to 2 decimals; 0 when `total` is 0.
    completion_rate: f64,
    /// The same as `shared`.
    total_shared: i64,
}

/// The caller's whole dashboard.
///
/// A user with no tasks gets zeros. Once a command has answered 2xx, this reflects it.
#[utoipa::path(
    get,
    path = "/api/dashboard",
    tag = "dashboard",
    operation_id = "getDashboard",
    security(("bearer" = [])),
    params(IfNoneMatch),
    responses((status = 200, body = Everything, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn everything(
    State(state): State<AppState>,
    caller: Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let f = figures(&state, &caller.0, from).await?;
    Ok(if_none_match.answer_hashed(&Everything::from(f)))
}

impl From<DashboardFigures> for Everything {
    fn from(f: DashboardFigures) -> Self {
        Everything {
            total: f.total,
            pending: f.pending,
            completed: f.completed,
            shared: f.shared,
            view_only: f.view_only,
            can_edit: f.can_edit,
            created_today: f.created_today,
            completed_today: f.completed_today,
            created_this_week: f.created_this_week,
            completed_this_week: f.completed_this_week,
            completion_rate: f.completion_rate,
            total_shared: f.shared,
        }
    }
}

#[derive(Serialize, ToSchema)]
struct Statistics {
    total: i64,
    pending: i64,
    completed: i64,
    shared: i64,
}

/// How many tasks the caller owns, by status, and how many are shared with the caller.
#[utoipa::path(
    get,
    path = "/api/dashboard/statistics",
    tag = "dashboard",
    operation_id = "getStatistics",
    security(("bearer" = [])),
    params(IfNoneMatch),
    responses((status = 200, body = Statistics, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn statistics(
    State(state): State<AppState>,
    caller: Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let f = figures(&state, &caller.0, from).await?;
    Ok(if_none_match.answer_hashed(&Statistics {
        total: f.total,
        pending: f.pending,
        completed: f.completed,
        shared: f.shared,
    }))
}

#[derive(Serialize, ToSchema)]
struct Activity {
    created_today: i64,
    completed_today: i64,
    created_this_week: i64,
    completed_this_week: i64,
    completion_rate: f64,
}

/// What the caller created and completed today and this ISO week (UTC), and the completion rate.
#[utoipa::path(
    get,
    path = "/api/dashboard/activity",
    tag = "dashboard",
    operation_id = "getActivity",
    security(("bearer" = [])),
    params(IfNoneMatch),
    responses((status = 200, body = Activity, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn activity(
    State(state): State<AppState>,
    caller: Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let f = figures(&state, &caller.0, from).await?;
    Ok(if_none_match.answer_hashed(&Activity {
        created_today: f.created_today,
        completed_today: f.completed_today,
        created_this_week: f.created_this_week,
        completed_this_week: f.completed_this_week,
        completion_rate: f.completion_rate,
    }))
}

#[derive(Serialize, ToSchema)]
struct Breakdown {
    pending: i64,
    completed: i64,
    total: i64,
}

/// The caller's owned tasks by status.
#[utoipa::path(
    get,
    path = "/api/dashboard/breakdown",
    tag = "dashboard",
    operation_id = "getBreakdown",
    security(("bearer" = [])),
    params(IfNoneMatch),
    responses((status = 200, body = Breakdown, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn breakdown(
    State(state): State<AppState>,
    caller: Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let f = figures(&state, &caller.0, from).await?;
    Ok(if_none_match.answer_hashed(&Breakdown {
        pending: f.pending,
        completed: f.completed,
        total: f.total,
    }))
}

#[derive(Serialize, ToSchema)]
struct Shared {
    total_shared: i64,
    view_only: i64,
    can_edit: i64,
}

/// Tasks shared with the caller, by permission.
#[utoipa::path(
    get,
    path = "/api/dashboard/shared",
    tag = "dashboard",
    operation_id = "getShared",
    security(("bearer" = [])),
    params(IfNoneMatch),
    responses((status = 200, body = Shared, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn shared(
    State(state): State<AppState>,
    caller: Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let f = figures(&state, &caller.0, from).await?;
    Ok(if_none_match.answer_hashed(&Shared {
        total_shared: f.shared,
        view_only: f.view_only,
        can_edit: f.can_edit,
    }))
}

#[derive(Serialize, ToSchema)]
struct Health {
    /// `ok` when the database is reachable and commands are accepted.
    #[schema(schema_with = health_status)]
    status: &'static str,
    timestamp: DateTime<Utc>,
    #[schema(schema_with = database_status)]
    database: &'static str,
    /// `accepting`, or `stopped` while commands cannot commit: the command writer has stopped,
    /// or the database cannot take writes (unreachable, read-only, full; see the writer's probe).
    #[schema(schema_with = commands_status)]
    commands: &'static str,
    /// Position of the newest event in the log.
    last_position: Option<i64>,
    projections: Vec<ProjectionHealth>,
    /// The hot standbys reads may go to (`TALLY_DATABASE_READ_URL`): one that is unreachable
    /// or behind only sends reads to the primary, so it does not make this node unhealthy.
    replicas: Vec<ReplicaState>,
}

/// How far one projection has applied the log.
#[derive(Serialize, ToSchema)]
struct ProjectionHealth {
    name: String,
    version: i32,
    position: i64,
    /// Events in the log it has not applied.
    behind: i64,
    updated_at: DateTime<Utc>,
}

/// Unauthenticated: whether the service can reach its database and take commands, how far
/// the log goes and how far each projection has followed it. 503 when either fails.
#[utoipa::path(
    get,
    path = "/api/dashboard/health",
    tag = "operations",
    operation_id = "getHealth",
    responses(
        (status = 200, body = Health, description = "The database is reachable and commands are accepted."),
        (status = 503, body = Health, description = "The database is unreachable, or commands cannot commit."),
    ),
)]
async fn health(State(state): State<AppState>) -> Response {
    let timestamp = state.clock.now();
    let accepting = state.commands.can_commit();
    let (database, last_position, projections) = match state.store.progress().await {
        Ok((head, checkpoints)) => {
            let projections = checkpoints
                .into_iter()
                .map(|checkpoint| ProjectionHealth {
                    behind: checkpoint.behind(head),
                    name: checkpoint.name,
                    version: checkpoint.version,
                    position: checkpoint.position,
                    updated_at: checkpoint.updated_at,
                })
                .collect();
            ("reachable", Some(head), projections)
        }
        Err(error) => {
            tracing::error!(%error, "health check cannot reach the database");
            ("unreachable", None, Vec::new())
        }
    };
    let healthy = last_position.is_some() && accepting;
    let body = Health {
        status: if healthy { "ok" } else { "unavailable" },
        timestamp,
        database,
        commands: if accepting { "accepting" } else { "stopped" },
        last_position,
        projections,
        replicas: state.store.replicas(),
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}

fn health_status() -> Object {
    one_of(&["ok", "unavailable"])
}

fn database_status() -> Object {
    one_of(&["reachable", "unreachable"])
}

fn commands_status() -> Object {
    one_of(&["accepting", "stopped"])
}
