//! The task queries: one task, a page of tasks, a task's history.

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use chrono::{DateTime, Utc};
use projections::TaskStatus;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use utoipa::openapi::schema::Object;
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;
use uuid::Uuid;

use super::AppState;
use super::conditional::{IfNoneMatch, NotModified};
use super::error::ApiError;
use super::extract::{Caller, QueryParams, TaskId};
use super::openapi::{ReadProblems, one_of, share_permission};
use crate::domain::UserId;
use crate::store::ReadFrom;
use crate::store::{Scope, TaskListQuery, TaskRead};

/// The default and the largest page size of `GET /api/tasks` and of a task's history.
const DEFAULT_LIMIT: i64 = 50;
const MAX_LIMIT: i64 = 200;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(list))
        .routes(routes!(show))
        .merge(super::history::router())
}

/// A task as the contract shows it to one caller.
#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = Task)]
#[schemars(rename = "Task")]
pub struct TaskJson {
    id: Uuid,
    owner_id: String,
    title: String,
    description: String,
    /// `pending` or `completed`.
    #[schema(schema_with = task_status)]
    #[schemars(with = "String")]
    status: TaskStatus,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    /// The latest completion, while the task is completed.
    completed_at: Option<DateTime<Utc>>,
    /// The task's stream version: what `If-Match` names.
    version: i64,
    /// The caller's relation to the task.
    #[schema(schema_with = task_permission)]
    permission: &'static str,
    /// Whom the task is shared with, the first 50 by user id (all of them, a page at a time, at
    /// `GET /api/tasks/{id}/shares`); only its owner gets this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    shares: Option<Vec<ShareJson>>,
    /// How many users the task is shared with in all (`shares` lists at most 50 of them);
    /// only its owner gets this field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    shares_total: Option<i64>,
    /// The teams the task is shared with, the first 50 by team id; only its owner gets this
    /// field.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    team_shares: Option<Vec<TeamShareJson>>,
}

#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = TeamShare)]
#[schemars(rename = "TeamShare")]
pub(super) struct TeamShareJson {
    pub(super) team_id: Uuid,
    #[schema(schema_with = share_permission)]
    pub(super) permission: &'static str,
}

#[derive(Serialize, ToSchema, JsonSchema)]
#[schema(as = Share)]
#[schemars(rename = "Share")]
pub(super) struct ShareJson {
    pub(super) user_id: String,
    #[schema(schema_with = share_permission)]
    pub(super) permission: &'static str,
}

pub(super) fn task_status() -> Object {
    one_of(&["pending", "completed"])
}

fn task_permission() -> Object {
    one_of(&["owner", "edit", "view"])
}

impl TaskJson {
    /// The task without whom it is shared with.
    fn without_shares(self) -> Self {
        TaskJson {
            shares: None,
            shares_total: None,
            team_shares: None,
            ..self
        }
    }

    /// Whether this view shows what can change with no event on the task's stream, so that
    /// its version alone cannot tag it: a permission that reaches someone who is not the
    /// owner through teams they join and leave, or team shares a team's deletion ends.
    fn seen_beyond_its_stream(&self) -> bool {
        match &self.team_shares {
            Some(team_shares) => !team_shares.is_empty(),
            None => true,
        }
    }

    /// The task as `caller` may see it; `None` when the caller may not see it at all.
    pub(super) fn for_caller(read: TaskRead, caller: &UserId) -> Option<Self> {
        let TaskRead { view, shares_total } = read;
        let task = view.task.as_ref()?;
        let permission = if task.owner_id == caller.as_str() {
            "owner"
        } else {
            view.share_of(caller.as_str())?.as_str()
        };
        let shares = (permission == "owner").then(|| {
            view.shares
                .iter()
                .map(|share| ShareJson {
                    user_id: share.user_id.clone(),
                    permission: share.permission.as_str(),
                })
                .collect()
        });
        let shares_total = shares
            .as_ref()
            .map(|shares: &Vec<ShareJson>| shares_total.unwrap_or(shares.len() as i64));
        let team_shares = (permission == "owner").then(|| {
            view.team_shares
                .iter()
                .map(|share| TeamShareJson {
                    team_id: share.team_id,
                    permission: share.permission.as_str(),
                })
                .collect()
        });
        let task = view.task?;
        Some(TaskJson {
            id: task.id,
            owner_id: task.owner_id,
            title: task.title,
            description: task.description,
            status: task.status,
            created_at: task.created_at,
            updated_at: task.updated_at,
            completed_at: task.completed_at,
            version: task.version,
            permission,
            shares,
            shares_total,
            team_shares,
        })
    }
}

/// One task, for its owner and those it is shared with (404 for anyone else).
#[utoipa::path(
    get,
    path = "/api/tasks/{id}",
    tag = "tasks",
    operation_id = "getTask",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "The task's id."), IfNoneMatch),
    responses(
        (status = 200, body = TaskJson, headers(("ETag" = String, description = "`\"<version>\"`, the task's version, for its owner while it has no team shares; otherwise `\"<version>.<hash>\"`, since a permission reached through teams and a team share a team's deletion ends change with no new version. `If-None-Match` names either; `If-Match` reads the version before the dot."))),
        NotModified,
        ReadProblems,
    ),
)]
async fn show(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TaskId(task_id): TaskId,
    if_none_match: IfNoneMatch,
) -> Result<Response, ApiError> {
    let task = task_for(&state, &caller, task_id, from).await?;
    Ok(match task.seen_beyond_its_stream() {
        false => if_none_match.answer(format!("\"{}\"", task.version), &task),
        true => if_none_match.answer_versioned_view(task.version, &task),
    })
}

/// One task as `caller` sees it: `not-found` when it does not exist, was deleted, or is not
/// the caller's to see (the API and the AI assistants' tool alike).
pub(crate) async fn task_for(
    state: &AppState,
    caller: &UserId,
    task_id: Uuid,
    from: ReadFrom,
) -> Result<TaskJson, ApiError> {
    let read = state.store.task(task_id, caller.as_str(), from).await?;
    TaskJson::for_caller(read, caller).ok_or_else(|| ApiError::NotFound("no such task".into()))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub(crate) struct ListParams {
    /// `owned` (the default): the caller's own tasks; `shared`: tasks shared with the caller.
    #[param(value_type = Option<String>, schema_with = list_scope)]
    pub(crate) scope: Option<String>,
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

fn list_scope() -> Object {
    one_of(&["owned", "shared"])
}

/// A page of tasks, newest first.
#[derive(Serialize, ToSchema, JsonSchema)]
pub(crate) struct TaskPage {
    items: Vec<TaskJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// The caller's tasks, or those shared with the caller, newest first, a page at a time.
#[utoipa::path(
    get,
    path = "/api/tasks",
    tag = "tasks",
    operation_id = "listTasks",
    security(("bearer" = [])),
    params(ListParams),
    responses((status = 200, body = TaskPage), ReadProblems),
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    QueryParams(params): QueryParams<ListParams>,
) -> Result<Json<TaskPage>, ApiError> {
    page_of(&state, &caller, params, from).await.map(Json)
}

/// A page of the caller's tasks as `params` ask (the API's query and the AI assistants' tool).
pub(crate) async fn page_of(
    state: &AppState,
    caller: &UserId,
    params: ListParams,
    from: ReadFrom,
) -> Result<TaskPage, ApiError> {
    let scope = match params.scope.as_deref() {
        None | Some("owned") => Scope::Owned,
        Some("shared") => Scope::Shared,
        Some(_) => {
            return Err(ApiError::Malformed("scope must be owned or shared".into()));
        }
    };
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

/// A page of the tasks of `scope` as `caller` sees them, filtered by `status`, of `limit`
/// after `cursor` (each as given in the query).
pub(crate) async fn page_in(
    state: &AppState,
    caller: &UserId,
    scope: Scope,
    status: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
    from: ReadFrom,
) -> Result<TaskPage, ApiError> {
    let status = status
        .as_deref()
        .map(|status| {
            TaskStatus::parse(status)
                .ok_or_else(|| ApiError::Malformed("status must be pending or completed".into()))
        })
        .transpose()?;
    let limit = page_limit(limit.as_deref())?;
    let before = cursor.as_deref().map(id_cursor).transpose()?;
    let query = TaskListQuery {
        user_id: caller.as_str().to_owned(),
        scope,
        status,
        limit,
        before,
    };
    let page = state.store.list_tasks(&query, from).await?;
    let full = page.len() as i64 == limit;
    let items: Vec<TaskJson> = page
        .into_iter()
        .filter_map(|read| TaskJson::for_caller(read, caller))
        .map(|task| match scope {
            // A team's list names no one's shares: each task's own answer does, to its owner.
            Scope::Team(_) => task.without_shares(),
            Scope::Owned | Scope::Shared => task,
        })
        .collect();
    let next_cursor = full
        .then(|| items.last().map(|task| task.id.to_string()))
        .flatten();
    Ok(TaskPage { items, next_cursor })
}

/// A page's `cursor`: the id of the last item of the page before.
pub(super) fn id_cursor(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw)
        .map_err(|_| ApiError::Malformed("cursor is not one this API gave out".into()))
}

/// A page size: `limit` if given, from 1 to [`MAX_LIMIT`].
pub(super) fn page_limit(limit: Option<&str>) -> Result<i64, ApiError> {
    let Some(raw) = limit else {
        return Ok(DEFAULT_LIMIT);
    };
    raw.parse::<i64>()
        .ok()
        .filter(|limit| (1..=MAX_LIMIT).contains(limit))
        .ok_or_else(|| ApiError::Malformed(format!("limit must be a number from 1 to {MAX_LIMIT}")))
}
