//! The dashboard's trend: the caller's tasks created and completed per UTC day, read from the
//! `daily_stats` rows of the range in one statement.

use axum::extract::State;
use axum::response::Response;
use projections::calendar::{date_of_day_key, day_key};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::conditional::{IfNoneMatch, NotModified};
use super::error::ApiError;
use super::extract::{Caller, QueryParams};
use super::openapi::ReadProblems;
use crate::domain::UserId;
use crate::store::ReadFrom;

/// Days a trend covers when the caller does not say.
pub(crate) const DEFAULT_DAYS: i32 = 30;
/// At most a year, a leap year's included.
const MAX_DAYS: i32 = 366;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(trend))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct TrendParams {
    /// How many days, ending today (UTC): 1 to 366; 30 when absent.
    #[param(value_type = Option<i32>, minimum = 1, maximum = 366)]
    pub(crate) days: Option<String>,
}

/// One UTC day of the trend.
#[derive(Serialize, ToSchema, JsonSchema)]
struct TrendDay {
    /// `YYYY-MM-DD`.
    #[schema(value_type = String, format = Date)]
    day: String,
    /// Tasks the caller owns that were created this day (deleted ones no longer count).
    created: i64,
    /// Tasks the caller owns that are completed now, their latest completion this day.
    completed: i64,
}

#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct Trend {
    /// One entry per day, oldest first, ending today; days with nothing count zeros.
    days: Vec<TrendDay>,
}

/// The caller's tasks created and completed per day over the last `days` UTC days: counts of
/// the tasks as they are now, so deleting, reopening or completing again moves them.
#[utoipa::path(
    get,
    path = "/api/dashboard/trend",
    tag = "dashboard",
    operation_id = "getTrend",
    security(("bearer" = [])),
    params(TrendParams, IfNoneMatch),
    responses((status = 200, body = Trend, headers(("ETag" = String, description = "A tag of these figures (it changes at midnight too)."))), NotModified, ReadProblems),
)]
async fn trend(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    if_none_match: IfNoneMatch,
    QueryParams(params): QueryParams<TrendParams>,
) -> Result<Response, ApiError> {
    let trend = trend_of(&state, &caller, params, from).await?;
    Ok(if_none_match.answer_hashed(&trend))
}

/// The caller's trend as `params` ask (the API's query and the AI assistants' tool).
pub(crate) async fn trend_of(
    state: &AppState,
    caller: &UserId,
    params: TrendParams,
    from: ReadFrom,
) -> Result<Trend, ApiError> {
    let count = match params.days.as_deref() {
        None => DEFAULT_DAYS,
        Some(raw) => raw
            .parse::<i32>()
            .ok()
            .filter(|days| (1..=MAX_DAYS).contains(days))
            .ok_or_else(|| {
                ApiError::Malformed(format!("days must be a number from 1 to {MAX_DAYS}"))
            })?,
    };
    let today = day_key(state.clock.now());
    let first = today - (count - 1);
    let mut stored = state
        .store
        .trend(caller.as_str(), first, today, from)
        .await?
        .into_iter()
        .peekable();
    let days = (first..=today)
        .map(|day| {
            let counts = stored
                .next_if(|(stored_day, _)| *stored_day == day)
                .map(|(_, counts)| counts)
                .unwrap_or_default();
            TrendDay {
                day: date_of_day_key(day).map_or_else(String::new, |date| date.to_string()),
                created: counts.created,
                completed: counts.completed,
            }
        })
        .collect();
    Ok(Trend { days })
}
