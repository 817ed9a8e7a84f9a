//! The route's path parameters: task and team ids, which must be UUIDs, and user ids.

use axum::extract::{FromRequestParts, Path};
use axum::http::request::Parts;
use uuid::Uuid;

use super::error::ApiError;
use crate::domain::UserId;

/// The `{id}` of a task route, which must be a UUID.
pub struct TaskId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TaskId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_param(parts, state, "id", "task id").await.map(TaskId)
    }
}

/// The `{id}` of a team route, which must be a UUID.
pub struct TeamId(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TeamId {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_param(parts, state, "id", "team id").await.map(TeamId)
    }
}

/// The route's parameter `name`, a UUID (`what` names it in a refusal).
async fn uuid_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
    what: &str,
) -> Result<Uuid, ApiError> {
    let raw = path_param(parts, state, name).await?;
    Uuid::parse_str(&raw).map_err(|_| ApiError::Malformed(format!("{what} {raw:?} is not a UUID")))
}

/// The `{team_id}` of a team share route, a UUID.
pub struct TeamInPath(pub Uuid);

impl<S: Send + Sync> FromRequestParts<S> for TeamInPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        uuid_param(parts, state, "team_id", "team id")
            .await
            .map(TeamInPath)
    }
}

/// The `{user_id}` of a share or membership route, which must be a valid user id.
pub struct UserInPath(pub UserId);

impl<S: Send + Sync> FromRequestParts<S> for UserInPath {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let raw = path_param(parts, state, "user_id").await?;
        user_of(&raw).map(UserInPath)
    }
}

/// The user a share names, wherever it came from (a path, an AI assistant's tool argument).
pub(crate) fn user_of(raw: &str) -> Result<UserId, ApiError> {
    UserId::parse(raw).map_err(|error| ApiError::Validation(format!("user id: {error}")))
}

/// The percent-decoded path parameter `name` of the matched route.
async fn path_param<S: Send + Sync>(
    parts: &mut Parts,
    state: &S,
    name: &str,
) -> Result<String, ApiError> {
    let Path(params) = Path::<Vec<(String, String)>>::from_request_parts(parts, state)
        .await
        .map_err(|_| ApiError::Malformed("the path is not valid UTF-8".into()))?;
    params
        .into_iter()
        .find(|(param, _)| param == name)
        .map(|(_, value)| value)
        .ok_or_else(|| ApiError::Malformed(format!("the route has no {name}")))
}
