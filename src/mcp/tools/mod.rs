//! The tools: each a thin call into the API's own command path or query, as the caller the
//! request's token names (or, over stdio, the one `tally mcp --user` names).

mod args;
mod commands;
mod queries;
mod team_shares;
mod teams;

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::model::Extensions;

use super::resources::SessionSubscriptions;
use crate::domain::UserId;
use crate::http::AppState;
use crate::http::error::ApiError;
use crate::http::extract::Caller;

/// One MCP session's (or stateless request's) handler; every one shares the app's state.
#[derive(Clone)]
pub(crate) struct Tools {
    pub(super) state: AppState,
    /// The one caller of a local session (stdio); `None` over HTTP, where each request's
    /// token names it.
    local_caller: Option<UserId>,
    pub(super) tool_router: ToolRouter<Tools>,
    /// The session's `resources/subscribe`s (see `resources`).
    pub(super) subscriptions: SessionSubscriptions,
}

impl Tools {
    /// Tools for HTTP sessions, whose requests name their caller.
    pub(super) fn new(state: AppState) -> Tools {
        Tools {
            state,
            local_caller: None,
            tool_router: Self::command_tools()
                + Self::query_tools()
                + Self::team_tools()
                + Self::team_share_tools(),
            subscriptions: SessionSubscriptions::default(),
        }
    }

    /// Tools for a local session (stdio) that acts as `caller` throughout.
    pub(crate) fn local(state: AppState, caller: UserId) -> Tools {
        Tools {
            local_caller: Some(caller),
            ..Tools::new(state)
        }
    }

    /// Who is calling: the local session's user, or the one the HTTP request's token named
    /// (put there by the bearer check, which every request to `/mcp` passes first).
    pub(super) fn caller(&self, extensions: &Extensions) -> Result<UserId, ApiError> {
        if let Some(user) = &self.local_caller {
            return Ok(user.clone());
        }
        extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<Caller>())
            .map(|Caller(user)| user.clone())
            .ok_or(ApiError::Unauthorized("a bearer token is required"))
    }
}
