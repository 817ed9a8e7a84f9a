//! The query tools: each the API's own query, its answer the REST answer's body.

use rmcp::model::{CallToolResult, Extensions, JsonObject};
use rmcp::{Json, tool, tool_router};

use super::Tools;
use super::args::{
    GetDashboard, GetTask, GetTrend, ListTasks, TaskHistory, input_schema, read, task_id,
};
use crate::http::dashboard::{Everything, figures};
use crate::http::history::{History, HistoryParams, history_of};
use crate::http::tasks::{ListParams, TaskJson, TaskPage, page_of, task_for};
use crate::http::trend::{Trend, TrendParams, trend_of};
use crate::mcp::refusal::refusal;
use crate::store::ReadFrom;

// The API reads its query parameters as text and checks them itself; the tools hand it their
// numbers as that text, so both refuse the same values with the same words.
#[tool_router(router = query_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        description = "Read one task you own or that is shared with you.",
        input_schema = input_schema::<GetTask>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TaskJson>, CallToolResult> {
        let query = async {
            let args: GetTask = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            task_for(
                &self.state,
                &self.caller(&extensions)?,
                task_id,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "List your tasks (or those shared with you), newest first, a page at a time.",
        input_schema = input_schema::<ListTasks>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn list_tasks(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TaskPage>, CallToolResult> {
        let query = async {
            let args: ListTasks = read(arguments)?;
            let params = ListParams {
                scope: args.scope,
                status: args.status,
                limit: args.limit.map(|limit| limit.to_string()),
                cursor: args.cursor,
            };
            page_of(
                &self.state,
                &self.caller(&extensions)?,
                params,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "A task's history of changes (who did what, when), oldest first, a page at a time.",
        input_schema = input_schema::<TaskHistory>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn task_history(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<History>, CallToolResult> {
        let query = async {
            let args: TaskHistory = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            let params = HistoryParams {
                limit: args.limit.map(|limit| limit.to_string()),
                after: args.after.map(|after| after.to_string()),
            };
            history_of(
                &self.state,
                &self.caller(&extensions)?,
                task_id,
                params,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Your dashboard: task counts by status, shared with you, done today and this week, completion rate.",
        input_schema = input_schema::<GetDashboard>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_dashboard(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<Everything>, CallToolResult> {
        let query = async {
            let GetDashboard {} = read(arguments)?;
            figures(&self.state, &self.caller(&extensions)?, ReadFrom::Nearest).await
        };
        query
            .await
            .map(|figures| Json(Everything::from(figures)))
            .map_err(refusal)
    }

    #[tool(
        description = "Your tasks created and completed per day (UTC) over the last days, oldest first.",
        input_schema = input_schema::<GetTrend>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_trend(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<Trend>, CallToolResult> {
        let query = async {
            let args: GetTrend = read(arguments)?;
            let params = TrendParams {
                days: args.days.map(|days| days.to_string()),
            };
            trend_of(
                &self.state,
                &self.caller(&extensions)?,
                params,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }
}
