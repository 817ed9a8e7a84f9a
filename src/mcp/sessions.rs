//! Whose each MCP session is, and how many one user may hold. rmcp knows a session by its id
//! alone: anyone holding the id could use it. Here each session belongs to the user whose
//! `initialize` opened it, and nobody else gets past the id; and each user holds a bounded
//! number (each may hold an event stream open, and rmcp keeps its state in memory).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rmcp::transport::streamable_http_server::session::SessionId;
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use crate::http::error::ApiError;

/// Sessions one user may hold at once on this server; another `initialize` is answered 503.
pub const SESSIONS_PER_USER: usize = 8;
/// How long a session may go unused before rmcp ends it (its own default, stated here).
pub const SESSION_IDLE: Duration = Duration::from_secs(300);

/// The sessions rmcp holds, and the user each belongs to.
pub struct Sessions {
    manager: Arc<LocalSessionManager>,
    owners: Mutex<HashMap<SessionId, String>>,
}

/// What a request naming a session may do.
pub enum Named {
    /// The caller's own session, or one unknown here (rmcp answers for those).
    Pass,
    /// Another user's session: answered as an unknown session would be.
    Foreign,
}

impl Sessions {
    pub fn new() -> Sessions {
        let mut manager = LocalSessionManager::default();
        manager.session_config.keep_alive = Some(SESSION_IDLE);
        Sessions {
            manager: Arc::new(manager),
            owners: Mutex::new(HashMap::new()),
        }
    }

    pub fn manager(&self) -> Arc<LocalSessionManager> {
        self.manager.clone()
    }

    fn owners(&self) -> std::sync::MutexGuard<'_, HashMap<SessionId, String>> {
        // Nothing panics while holding it; if something did, the map is still coherent.
        self.owners
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Whether `user` may use the session named `id`.
    pub fn check(&self, id: &str, user: &str) -> Named {
        match self.owners().get(id) {
            Some(owner) if owner != user => Named::Foreign,
            _ => Named::Pass,
        }
    }

    /// Records that `user` opened the session `id`, or ends it and refuses when `user` holds
    /// [`SESSIONS_PER_USER`] already. Counted once rmcp has made the session (only then is it
    /// known that the request opened one), and under one lock, so two at once count as two.
    pub async fn opened(&self, id: &str, user: &str) -> Result<(), AtCapacity> {
        let refused = {
            let live = self.manager.sessions.read().await;
            let mut owners = self.owners();
            // Sessions rmcp ended (closed, idle, at stop) no longer count.
            owners.retain(|session, _| live.contains_key(session));
            let held = owners.values().filter(|owner| *owner == user).count();
            if held < SESSIONS_PER_USER {
                owners.insert(SessionId::from(id), user.to_owned());
                false
            } else {
                true
            }
        };
        if !refused {
            return Ok(());
        }
        use rmcp::transport::streamable_http_server::session::SessionManager;
        let _ = self.manager.close_session(&SessionId::from(id)).await;
        Err(AtCapacity)
    }
}

/// The refusal of a session over [`SESSIONS_PER_USER`]: the API's 503, but its `Retry-After`
/// is the idle timeout, not the API's second. Room comes only when the user ends a session
/// or one goes unused that long; retrying sooner (without ending one) is refused again.
pub struct AtCapacity;

impl IntoResponse for AtCapacity {
    fn into_response(self) -> Response {
        let mut response = ApiError::Unavailable(format!(
            "this user holds {SESSIONS_PER_USER} MCP sessions on this server already: \
             end one (DELETE /mcp with its Mcp-Session-Id) or let one expire"
        ))
        .into_response();
        response.headers_mut().insert(
            header::RETRY_AFTER,
            HeaderValue::from(SESSION_IDLE.as_secs()),
        );
        response
    }
}
