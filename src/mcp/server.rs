//! What the MCP server says about itself and how it answers: the tools (counted and logged per
//! call), the dashboard's resources and their subscriptions (see `resources`), and, as the
//! protocol asks for them, the capabilities a session negotiates.

use std::time::Instant;

use axum::http::request::Parts;
use rmcp::handler::server::tool::ToolCallContext;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListResourcesResult,
    PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerCapabilities,
    ServerConfig, SubscribeRequestParams, SubscriptionFilter, UnsubscribeRequestParams,
};
use rmcp::service::{RequestContext, SubscriptionContext};
use rmcp::{ErrorData, RoleServer, ServerHandler, tool_handler};

use super::resources;
use super::tools::Tools;
use crate::http::request_id::RequestId;

#[tool_handler(router = self.tool_router)]
impl ServerHandler for Tools {
    fn get_info(&self) -> ServerConfig {
        let capabilities = ServerCapabilities::builder()
            .enable_tools()
            .enable_resources()
            // Both ways of subscribing: `resources/subscribe` and `subscriptions/listen`.
            .enable_resources_subscribe()
            .build();
        ServerConfig::new(capabilities)
            .with_server_info(Implementation::new("tally", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "tally keeps your tasks and a dashboard of them. Tasks are named by task_id \
                 (list_tasks finds them). Give commands an idempotency_key to retry them safely. \
                 The resource tally://dashboard is your dashboard; subscribe to it to hear when \
                 it changes.",
            )
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Ok(resources::list())
    }

    async fn read_resource(
        &self,
        request: ReadResourceRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        let caller = self.caller(&context.extensions).map_err(unauthorized)?;
        let result = resources::read(&self.state, caller, &request.uri).await?;
        Ok(result.into())
    }

    async fn subscribe(
        &self,
        request: SubscribeRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        let caller = self.caller(&context.extensions).map_err(unauthorized)?;
        self.subscriptions
            .subscribe(&self.state, caller, &request.uri, &context.peer)
    }

    async fn unsubscribe(
        &self,
        request: UnsubscribeRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<(), ErrorData> {
        self.subscriptions.unsubscribe(&request.uri)
    }

    fn accepted_subscription_filter(&self, _: &SubscriptionFilter) -> Option<SubscriptionFilter> {
        // rmcp keeps, of this, what the client asked for.
        Some(resources::subscription_filter())
    }

    async fn listen(&self, context: SubscriptionContext) -> Result<(), ErrorData> {
        let extensions = &context.request_context().extensions;
        let caller = self.caller(extensions).map_err(unauthorized)?;
        resources::listen(&self.state, caller, context).await
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

/// A request without its caller (which the bearer check lets through to no resource).
fn unauthorized(error: crate::http::error::ApiError) -> ErrorData {
    ErrorData::invalid_request(error.to_string(), None)
}
