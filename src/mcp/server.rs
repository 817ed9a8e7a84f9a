//! What the MCP server says about itself and how it answers: the tools (counted and logged per
//! call) and, as the protocol asks for them, the capabilities a session negotiates.

use std::time::Instant;

use axum::http::request::Parts;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ServerCapabilities, ServerConfig,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use super::tools::Tools;
use crate::http::request_id::RequestId;

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("tally", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "tally keeps your tasks and a dashboard of them. Tasks are named by task_id \
                 (list_tasks finds them). Give commands an idempotency_key to retry them safely.",
            )
    }

    /// Runs the tool, then counts the call by tool and outcome and logs it with the HTTP
    /// request's id (the call runs in its session's task, outside the request's log span).
    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let started = Instant::now();
        // A name the client made up is counted as `unknown`: labels stay a fixed set.
        let tool = if self.tool_router.has_route(&request.name) {
            request.name.clone()
        } else {
            "unknown".into()
        };
        let request_id = context
            .extensions
            .get::<Parts>()
            .and_then(|parts| parts.extensions.get::<RequestId>())
            .and_then(|RequestId(id)| id.to_str().ok().map(str::to_owned));
        let answer = self
            .tool_router
            .call(ToolCallContext::new(self, request, context))
            .await;
        let outcome = match &answer {
            Ok(CallToolResponse::Complete(result)) if result.is_error == Some(true) => "refused",
            Ok(_) => "ok",
            Err(_) => "protocol-error",
        };
        let took = started.elapsed();
        crate::telemetry::tool_call(&tool, outcome, took);
        tracing::info!(
            request_id = request_id.as_deref().unwrap_or("-"),
            tool = %tool,
            outcome,
            micros = took.as_micros() as u64,
            "tool call"
        );
        answer
    }
}
