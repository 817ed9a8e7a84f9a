//! The team tools: the API's team commands and queries, as the tools for tasks are its task
//! commands and queries (answers and refusals alike).

use rmcp::model::{CallToolResult, Extensions, JsonObject};
use rmcp::{Json, tool, tool_router};
use uuid::Uuid;

use super::Tools;
use super::args::{
    CommandArgs, CreateTeam, GetTeam, ListTeams, RenameTeam, SetTeamMember, TeamArgs, TeamMember,
    input_schema, read, team_id,
};
use crate::domain;
use crate::http::error::ApiError;
use crate::http::extract::user_of;
use crate::http::team_commands::{TeamCommandBody, parse_role, parse_team_name};
use crate::http::teams::{TeamJson, TeamListParams, TeamPage, team_for, teams_page};
use crate::mcp::refusal::refusal;
use crate::store::ReadFrom;

#[tool_router(router = team_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        description = "Create a team; you are its first admin. Answers its team_id.",
        input_schema = input_schema::<CreateTeam>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn create_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamCommandBody>, CallToolResult> {
        let run = async {
            let args: CreateTeam = read(arguments)?;
            let command = domain::TeamCommand::Create {
                name: parse_team_name(&args.name)?,
            };
            self.on_team(&extensions, "create_team", Uuid::now_v7(), command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Rename a team (its admins).",
        input_schema = input_schema::<RenameTeam>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn rename_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamCommandBody>, CallToolResult> {
        let run = async {
            let args: RenameTeam = read(arguments)?;
            let command = domain::TeamCommand::Rename {
                name: parse_team_name(&args.name)?,
            };
            let team = team_id(&args.team_id)?;
            self.on_team(&extensions, "rename_team", team, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Delete a team for good (its admins); its memberships end with it.",
        input_schema = input_schema::<TeamArgs>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn delete_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamCommandBody>, CallToolResult> {
        let run = async {
            let args: TeamArgs = read(arguments)?;
            let team = team_id(&args.team_id)?;
            let command = domain::TeamCommand::Delete;
            self.on_team(&extensions, "delete_team", team, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Add a member to a team, or change a member's role (member or admin); the team's admins only. A team always keeps one admin.",
        input_schema = input_schema::<SetTeamMember>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn set_team_member(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamCommandBody>, CallToolResult> {
        let run = async {
            let args: SetTeamMember = read(arguments)?;
            let team = team_id(&args.team_id)?;
            let command = domain::TeamCommand::SetMember {
                user_id: user_of(&args.user_id)?,
                role: parse_role(&args.role)?,
            };
            self.on_team(&extensions, "set_team_member", team, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Remove a member from a team (its admins), or leave it (yourself). The last admin cannot leave: delete the team instead.",
        input_schema = input_schema::<TeamMember>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn remove_team_member(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamCommandBody>, CallToolResult> {
        let run = async {
            let args: TeamMember = read(arguments)?;
            let team = team_id(&args.team_id)?;
            let command = domain::TeamCommand::RemoveMember {
                user_id: user_of(&args.user_id)?,
            };
            self.on_team(&extensions, "remove_team_member", team, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Read one team you are in, with its members and their roles.",
        input_schema = input_schema::<GetTeam>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_team(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamJson>, CallToolResult> {
        let query = async {
            let args: GetTeam = read(arguments)?;
            let team = team_id(&args.team_id)?;
            team_for(
                &self.state,
                &self.caller(&extensions)?,
                team,
                ReadFrom::Nearest,
            )
            .await
        };
        query.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "List the teams you are in, with your role in each, oldest first, a page at a time.",
        input_schema = input_schema::<ListTeams>(),
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn list_teams(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<TeamPage>, CallToolResult> {
        let query = async {
            let args: ListTeams = read(arguments)?;
            let params = TeamListParams {
                limit: args.limit.map(|limit| limit.to_string()),
                cursor: args.cursor,
            };
            teams_page(
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

impl Tools {
    /// Runs a team command and answers as the API does.
    async fn on_team(
        &self,
        extensions: &Extensions,
        tool: &str,
        team: Uuid,
        command: domain::TeamCommand,
        args: &impl CommandArgs,
    ) -> Result<TeamCommandBody, ApiError> {
        let outcome = self.run(extensions, tool, team, command, args).await?;
        Ok(TeamCommandBody::from(&outcome))
    }
}
