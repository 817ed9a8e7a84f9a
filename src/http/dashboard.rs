//! The dashboard queries: every one reads the caller's single `dashboard_stats` row.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use projections::DashboardFigures;
use serde::Serialize;

use super::AppState;
use super::error::ApiError;
use super::extract::Caller;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/api/dashboard", get(everything))
        .route("/api/dashboard/statistics", get(statistics))
        .route("/api/dashboard/activity", get(activity))
        .route("/api/dashboard/breakdown", get(breakdown))
        .route("/api/dashboard/shared", get(shared))
        .route("/api/dashboard/health", get(health))
}

/// The caller's figures now: one single-row read. No row yet means all zeros.
async fn figures(state: &AppState, caller: &Caller) -> Result<DashboardFigures, ApiError> {
    let now = state.clock.now();
    Ok(state
        .store
        .dashboard_stats(caller.0.as_str())
        .await?
        .map(|stats| stats.figures(now))
        .unwrap_or_default())
}

#[derive(Serialize)]
struct Everything {
    #[serde(flatten)]
    figures: DashboardFigures,
    total_shared: i64,
}

async fn everything(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Everything>, ApiError> {
    let figures = figures(&state, &caller).await?;
    Ok(Json(Everything {
        total_shared: figures.shared,
        figures,
    }))
}

#[derive(Serialize)]
struct Statistics {
    total: i64,
    pending: i64,
    completed: i64,
    shared: i64,
}

async fn statistics(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Statistics>, ApiError> {
    let f = figures(&state, &caller).await?;
    Ok(Json(Statistics {
        total: f.total,
        pending: f.pending,
        completed: f.completed,
        shared: f.shared,
    }))
}

#[derive(Serialize)]
struct Activity {
    created_today: i64,
    completed_today: i64,
    created_this_week: i64,
    completed_this_week: i64,
    completion_rate: f64,
}

async fn activity(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Activity>, ApiError> {
    let f = figures(&state, &caller).await?;
    Ok(Json(Activity {
        created_today: f.created_today,
        completed_today: f.completed_today,
        created_this_week: f.created_this_week,
        completed_this_week: f.completed_this_week,
        completion_rate: f.completion_rate,
    }))
}

#[derive(Serialize)]
struct Breakdown {
    pending: i64,
    completed: i64,
    total: i64,
}

async fn breakdown(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<Json<Breakdown>, ApiError> {
    let f = figures(&state, &caller).await?;
    Ok(Json(Breakdown {
        pending: f.pending,
        completed: f.completed,
        total: f.total,
    }))
}

#[derive(Serialize)]
struct Shared {
    total_shared: i64,
    view_only: i64,
    can_edit: i64,
}

async fn shared(State(state): State<AppState>, caller: Caller) -> Result<Json<Shared>, ApiError> {
    let f = figures(&state, &caller).await?;
    Ok(Json(Shared {
        total_shared: f.shared,
        view_only: f.view_only,
        can_edit: f.can_edit,
    }))
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
    timestamp: DateTime<Utc>,
    database: &'static str,
    /// `accepting`, or `stopped` when the command writer cannot take commands.
    commands: &'static str,
    /// Position of the newest event in the log.
    last_position: Option<i64>,
    projections: Vec<ProjectionHealth>,
}

/// How far one projection has applied the log.
#[derive(Serialize)]
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
async fn health(State(state): State<AppState>) -> Response {
    let timestamp = state.clock.now();
    let accepting = state.commands.is_accepting();
    let read = async {
        // The head first: read the other way round, a commit in between would look like lag.
        let head = state.store.head_position().await?;
        let checkpoints = state.store.checkpoints().await?;
        Ok::<_, crate::store::StoreError>((head, checkpoints))
    };
    let (database, last_position, projections) = match read.await {
        Ok((head, checkpoints)) => {
            let projections = checkpoints
                .into_iter()
                .map(|checkpoint| ProjectionHealth {
                    behind: (head - checkpoint.position).max(0),
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
    };
    let status = if healthy {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (status, Json(body)).into_response()
}
