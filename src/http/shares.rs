//! `GET /api/tasks/{id}/shares`: every user a task is shared with, a page at a time, for its
//! owner. The task's own answer lists only the first 50 (with `shares_total`), so that it stays
//! small however widely the task is shared; this is where the rest are.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use super::AppState;
use super::error::{ApiError, Problem};
use super::extract::{Caller, QueryParams, TaskId};
use super::openapi::ReadProblems;
use super::tasks::{ShareJson, page_limit};
use crate::domain::UserId;
use crate::store::ReadFrom;

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(list))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct SharesParams {
    /// Page size, 1 to 200; 50 when absent.
    #[param(value_type = Option<i64>, minimum = 1, maximum = 200)]
    limit: Option<String>,
    /// `next_cursor` of the previous page: a user id.
    #[param(max_length = 128, pattern = r"^[^\x00-\x1f\x7f-\x9f]*$")]
    cursor: Option<String>,
}

/// A page of a task's shares, by user id.
#[derive(Serialize, ToSchema)]
struct SharePage {
    items: Vec<ShareJson>,
    /// Pass as `cursor` for the next page; `null` on the last one.
    next_cursor: Option<String>,
}

/// Whom a task is shared with, by user id, a page at a time: for its owner only (a sharee
/// gets 403, anyone else 404).
#[utoipa::path(
    get,
    path = "/api/tasks/{id}/shares",
    tag = "tasks",
    operation_id = "listTaskShares",
    security(("bearer" = [])),
    params(("id" = uuid::Uuid, Path, description = "The task's id."), SharesParams),
    responses(
        (status = 200, body = SharePage),
        (status = 403, description = "`forbidden`: the caller is a sharee; only the owner learns whom the task is shared with.", body = Problem, content_type = "application/problem+json"),
        ReadProblems,
    ),
)]
async fn list(
    State(state): State<AppState>,
    Caller(caller): Caller,
    from: ReadFrom,
    TaskId(task_id): TaskId,
    QueryParams(params): QueryParams<SharesParams>,
) -> Result<Json<SharePage>, ApiError> {
    let limit = page_limit(params.limit.as_deref())?;
    // The task's owner never changes, so this check and the page need not share a snapshot.
    let read = state.store.task(task_id, caller.as_str(), from).await?;
    match &read.view.task {
        Some(task) if task.owner_id == caller.as_str() => {}
        Some(_) if read.view.share_of(caller.as_str()).is_some() => {
            return Err(ApiError::Forbidden(
                "only the owner may list whom a task is shared with".into(),
            ));
        }
        _ => return Err(ApiError::NotFound("no such task".into())),
    }
    // The cursor is the last user id of the previous page (empty: the first page), compared
    // as text; one that no user id could be (a NUL byte, which PostgreSQL cannot even compare)
    // was never given out.
    let after = params.cursor.unwrap_or_default();
    if after.chars().count() > UserId::MAX_CHARS || after.chars().any(char::is_control) {
        return Err(ApiError::Malformed(
            "cursor is not one this API gave out".into(),
        ));
    }
    let page = state
        .store
        .task_shares(task_id, &after, limit, from)
        .await?;
    let next_cursor = (page.len() as i64 == limit)
        .then(|| page.last().map(|share| share.user_id.clone()))
        .flatten();
    let items = page
        .into_iter()
        .map(|share| ShareJson {
            user_id: share.user_id,
            permission: share.permission.as_str(),
        })
        .collect();
    Ok(Json(SharePage { items, next_cursor }))
}
