//! `GET /api/tasks/{id}/events`: a task's history, oldest first, as its caller may see it.

use std::collections::{BTreeSet, HashSet};

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use projections::{Event, RecordedEvent, TaskEvent};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::error::ApiError;
use super::extract::{Caller, QueryParams, TaskId};
use super::openapi::ReadProblems;
use super::tasks::{TaskJson, page_limit};
use crate::domain::UserId;
use crate::store::ReadFrom;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(history))
}

/// One event of a task's history.
#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = TaskHistoryEvent)]
#[schemars(rename = "TaskHistoryEvent")]
struct EventJson {
    position: i64,
    event_id: Uuid,
    version: i64,
    /// `TaskCreated`, `TaskEdited`, `TaskCompleted`, `TaskReopened`, `TaskDeleted`,
    /// `TaskShared`, `SharePermissionChanged`, `TaskUnshared`, `TaskSharedWithTeam`,
    /// `TeamSharePermissionChanged` or `TaskUnsharedFromTeam`.
    #[serde(rename = "type")]
    event_type: &'static str,
    /// Who ran the command; `null` for a sharee other than the caller, seen by a non-owner.
    actor: Option<String>,
    recorded_at: DateTime<Utc>,
    /// The event's fields; a share event's `recipient_id` is `null` for anyone but the owner,
    /// the recipient and the task's owner's own shares, a team share event's `team_id` for
    /// anyone but the owner and the team's members.
    #[schema(value_type = Object)]
    payload: serde_json::Value,
}

/// A page of a task's history, oldest first.
#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct History {
    task_id: Uuid,
    events: Vec<EventJson>,
    /// Pass as `after` for the next page; `null` on the last one.
    next_after: Option<i64>,
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct HistoryParams {
    /// Page size, 1 to 200; 50 when absent.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    pub(crate) limit: Option<String>,
    /// Only events after this log position (`next_after` of the previous page).
    #[param(value_type = Option<i64>, minimum = 0, maximum = 9223372036854775807_i64)]
    pub(crate) after: Option<String>,
}

/// A task's history, oldest first, for its owner and those it is shared with.
#[utoipa::path(
    get,
    path = "/api/tasks/{id}/events",
    tag = "tasks",
    operation_id = "getTaskEvents",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), HistoryParams),
    responses((status = 200, body = History), ReadProblems),
)]
async fn history(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TaskId(task_id): TaskId,
    QueryParams(params): QueryParams<HistoryParams>,
) -> Result<Json<History>, ApiError> {
    history_of(&state, &caller, task_id, params, from)
        .await
        .map(Json)
}

/// A page of a task's history as `caller` may see it (the API's query and the AI assistants'
/// tool): `not-found` for a task the caller may not see.
pub(crate) async fn history_of(
    state: &AppState,
    caller: &UserId,
    task_id: Uuid,
    params: HistoryParams,
    from: ReadFrom,
) -> Result<History, ApiError> {
    let limit = page_limit(params.limit.as_deref())?;
    let after = match params.after.as_deref() {
        None => 0,
        Some(raw) => raw
            .parse::<i64>()
            .ok()
            .filter(|after| *after >= 0)
            .ok_or_else(|| ApiError::Malformed("after must be a log position, 0 or more".into()))?,
    };
    let read = state.store.task(task_id, caller.as_str(), from).await?;
    let owner = read.view.task.as_ref().map(|task| task.owner_id.clone());
    let (Some(owner), Some(_)) = (owner, TaskJson::for_caller(read, caller)) else {
        return Err(ApiError::NotFound("no such task".into()));
    };
    let is_owner = owner == caller.as_str();
    // Only the owner learns who else the task is shared with (as only the owner sees its
    // `shares`): anyone else sees the owner's name, their own, and no other.
    let visible = |user: &str| is_owner || user == owner || user == caller.as_str();
    let page = state.store.task_events(task_id, after, limit, from).await?;
    let teams = teams_seen(state, caller, is_owner, &page, from).await?;
    let next_after = (page.len() as i64 == limit)
        .then(|| page.last().map(|event| event.position))
        .flatten();
    let events = page
        .into_iter()
        .map(|recorded: RecordedEvent| EventJson {
            position: recorded.position,
            event_id: recorded.event_id,
            version: recorded.stream_version,
            event_type: recorded.event.event_type(),
            payload: visible_payload(&recorded.event, visible, |team| teams.contains(&team)),
            actor: visible(&recorded.actor).then_some(recorded.actor),
            recorded_at: recorded.recorded_at,
        })
        .collect();
    Ok(History {
        task_id,
        events,
        next_after,
    })
}

/// The teams named by the team share events of `page` that `caller` may see named: all of them
/// for the task's owner, else those the caller belongs to.
async fn teams_seen(
    state: &AppState,
    caller: &UserId,
    is_owner: bool,
    page: &[RecordedEvent],
    from: ReadFrom,
) -> Result<HashSet<Uuid>, ApiError> {
    let named: BTreeSet<Uuid> = page
        .iter()
        .filter_map(|recorded| recorded.event.as_task()?.team_id())
        .collect();
    let mut seen = HashSet::new();
    for team_id in named {
        if is_owner
            || state
                .store
                .role_in(team_id, caller.as_str(), from)
                .await?
                .is_some()
        {
            seen.insert(team_id);
        }
    }
    Ok(seen)
}

/// An event's payload with the recipient of a share event blanked unless `visible`, and the
/// team of a team share event unless `team_visible`: a share event about someone (or a team)
/// the caller may not know of keeps its place in the history but names no one.
fn visible_payload(
    event: &Event,
    visible: impl Fn(&str) -> bool,
    team_visible: impl Fn(Uuid) -> bool,
) -> serde_json::Value {
    let mut payload = event.payload();
    if let Some(team_id) = event.as_task().and_then(TaskEvent::team_id)
        && !team_visible(team_id)
    {
        payload["team_id"] = serde_json::Value::Null;
    }
    let recipient = match event.as_task() {
        Some(
            TaskEvent::TaskShared { user_id, .. }
            | TaskEvent::SharePermissionChanged { user_id, .. }
            | TaskEvent::TaskUnshared { user_id },
        ) => Some(user_id),
        _ => None,
    };
    if recipient.is_some_and(|recipient| !visible(recipient)) {
        payload["recipient_id"] = serde_json::Value::Null;
    }
    payload
}
