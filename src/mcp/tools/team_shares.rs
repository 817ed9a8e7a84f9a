//! The tools for what a team shares: sharing a task with a team and ending it, the tasks shared
//! with a team and its figures, through the API's own command path and queries.

use rmcp::model::{CallToolResult, Extensions, JsonObject};
use rmcp::{Json, tool, tool_router};

use super::Tools;
use super::args::{
    GetTeam, ListTeamTasks, ShareWithTeam, UnshareFromTeam, input_schema, read, task_id, team_id,
};
use crate::domain;
use crate::http::commands::{CommandBody, parse_permission};
use crate::http::tasks::TaskPage;
use crate::http::team_figures::{TeamDashboard, TeamTaskParams, team_figures, team_tasks_page};
use crate::mcp::refusal::refusal;
use crate::store::ReadFrom;

#[tool_router(router = team_share_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        description = "Share a task you own with every member of a team you are in, or change the team's permission (view or edit). Each member sees the task once, with the best of their permissions.",
        input_schema = input_schema::<ShareWithTeam>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn share_task_with_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: ShareWithTeam = read(arguments)?;
            let task = task_id(&args.task_id)?;
            let command = domain::TaskCommand::ShareWithTeam {
                team_id: team_id(&args.team_id)?,
                permission: parse_permission(&args.permission)?,
            };
            self.submit(&extensions, "share_task_with_team", task, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Stop sharing a task you own with a team; its members keep only what they see otherwise.",
        input_schema = input_schema::<UnshareFromTeam>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn unshare_task_from_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: UnshareFromTeam = read(arguments)?;
            let task = task_id(&args.task_id)?;
            let command = domain::TaskCommand::UnshareFromTeam {
                team_id: team_id(&args.team_id)?,
            };
            self.submit(&extensions, "unshare_task_from_team", task, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "List the tasks shared with a team you are in, newest first, a page at a time, each with your permission.",
        input_schema = input_schema::<ListTeamTasks>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn list_team_tasks(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TaskPage>, CallToolResult> {
        let query = async {
            let args: ListTeamTasks = read(arguments)?;
            let team = team_id(&args.team_id)?;
            let params = TeamTaskParams {
                status: args.status,
                limit: args.limit.map(|limit| limit.to_string()),
                cursor: args.cursor,
            };
            team_tasks_page(
                &self.state,
                &self.caller(&extensions)?,
                team,
                params,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "A team's figures over the tasks shared with it: total, pending, completed, completion rate, created and completed today and this week, and its member count.",
        input_schema = input_schema::<GetTeam>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_team_dashboard(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamDashboard>, CallToolResult> {
        let query = async {
            let args: GetTeam = read(arguments)?;
            let team = team_id(&args.team_id)?;
            team_figures(
                &self.state,
                &self.caller(&extensions)?,
                team,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }
}
