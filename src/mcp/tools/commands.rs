//! The command tools: each reads its arguments as the API reads a request, then runs the
//! command through the API's own command path (`crate::http::command_path::execute`), with the
//! tool's `idempotency_key` and `expected_version` in place of the API's `Idempotency-Key` and
//! `If-Match`.

use rmcp::model::{CallToolResult, Extensions, JsonObject};
use rmcp::{Json, tool, tool_router};
use uuid::Uuid;

use super::Tools;
use super::args::{
    AddTask, CommandArgs, ShareTask, TaskCommand, UnshareTask, UpdateTask, expected_version,
    input_schema, read, task_id,
};
use crate::commands::{CommandOutcome, Idempotency};
use crate::domain::{self, Command, CommandRequest};
use crate::http::command_path::execute;
use crate::http::commands::{CommandBody, parse_description, parse_permission, parse_title};
use crate::http::error::ApiError;
use crate::http::extract::{fingerprint, idempotency_key_of, user_of};
use crate::mcp::refusal::refusal;

// A command repeated on the same task changes nothing more (a second complete is refused as
// `invalid-transition`, a second unshare as `not-found`), hence `idempotent_hint` on all but
// add_task. Each tool answers `Result<Json<T>, CallToolResult>`, spelled out: rmcp's macro finds
// the output schema in that spelling (not through an alias); the error is the `isError` refusal.
#[tool_router(router = command_tools, vis = "pub(super)")]
impl Tools {
    #[tool(
        description = "Create a task owned by you; answers its task_id.",
        input_schema = input_schema::<AddTask>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn add_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: AddTask = read(arguments)?;
            let command = domain::TaskCommand::Create {
                title: parse_title(&args.title)?,
                description: parse_description(args.description.as_deref().unwrap_or_default())?,
            };
            self.submit(&extensions, "add_task", Uuid::now_v7(), command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Mark a pending task completed (owner or editor).",
        input_schema = input_schema::<TaskCommand>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn complete_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(
            &extensions,
            "complete_task",
            arguments,
            domain::TaskCommand::Complete,
        )
        .await
    }

    #[tool(
        description = "Reopen a completed task (owner or editor).",
        input_schema = input_schema::<TaskCommand>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn reopen_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(
            &extensions,
            "reopen_task",
            arguments,
            domain::TaskCommand::Reopen,
        )
        .await
    }

    #[tool(
        description = "Delete a task for good (owner only); it then counts nowhere.",
        input_schema = input_schema::<TaskCommand>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn delete_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(
            &extensions,
            "delete_task",
            arguments,
            domain::TaskCommand::Delete,
        )
        .await
    }

    #[tool(
        description = "Change a task's title and/or description (owner or editor).",
        input_schema = input_schema::<UpdateTask>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn update_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: UpdateTask = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            let command = domain::TaskCommand::Edit {
                title: args.title.as_deref().map(parse_title).transpose()?,
                description: args
                    .description
                    .as_deref()
                    .map(parse_description)
                    .transpose()?,
            };
            self.submit(&extensions, "update_task", task_id, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Share a task you own with another user, or change their permission (view or edit).",
        input_schema = input_schema::<ShareTask>(),
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn share_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: ShareTask = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            let command = domain::TaskCommand::Share {
                user_id: user_of(&args.user_id)?,
                permission: parse_permission(&args.permission)?,
            };
            self.submit(&extensions, "share_task", task_id, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Stop sharing a task you own with a user; they lose access to it.",
        input_schema = input_schema::<UnshareTask>(),
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn unshare_task(
        &self,
        extensions: Extensions,
        arguments: JsonObject,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: UnshareTask = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            let command = domain::TaskCommand::Unshare {
                user_id: user_of(&args.user_id)?,
            };
            self.submit(&extensions, "unshare_task", task_id, command, &args)
                .await
        };
        run.await.map(Json).map_err(refusal)
    }
}

impl Tools {
    /// A command without arguments of its own on the task the arguments name.
    async fn on_task(
        &self,
        extensions: &Extensions,
        tool: &'static str,
        arguments: JsonObject,
        command: domain::TaskCommand,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let args: TaskCommand = read(arguments)?;
            let task_id = task_id(&args.task_id)?;
            self.submit(extensions, tool, task_id, command, &args).await
        };
        run.await.map(Json).map_err(refusal)
    }

    /// Runs a task command and answers as the API does.
    pub(super) async fn submit(
        &self,
        extensions: &Extensions,
        tool: &str,
        task_id: Uuid,
        command: domain::TaskCommand,
        args: &impl CommandArgs,
    ) -> Result<CommandBody, ApiError> {
        let outcome = self.run(extensions, tool, task_id, command, args).await?;
        Ok(CommandBody::from(&outcome))
    }

    /// Runs `command` on the stream `stream_id` (a task or a team) through the API's own
    /// command path, as the request's caller, on the conditions `args` carry.
    pub(super) async fn run(
        &self,
        extensions: &Extensions,
        tool: &str,
        stream_id: Uuid,
        command: impl Into<Command>,
        args: &impl CommandArgs,
    ) -> Result<CommandOutcome, ApiError> {
        let request = CommandRequest {
            stream_id,
            actor: self.caller(extensions)?,
            command: command.into(),
            expected_version: expected_version(args.expected_version())?,
            now: self.state.clock.now(),
        };
        execute(&self.state, request, idempotency(tool, args)?).await
    }
}

/// The key with a fingerprint of the tool and its arguments: a retry must repeat both. Apart
/// from the API's fingerprints (a key first used there does not match a tool call).
fn idempotency(tool: &str, args: &impl CommandArgs) -> Result<Option<Idempotency>, ApiError> {
    let Some(key) = args.idempotency_key() else {
        return Ok(None);
    };
    let key = idempotency_key_of(key.as_bytes())?;
    let arguments =
        serde_json::to_string(args).map_err(|error| ApiError::Internal(Box::new(error)))?;
    Ok(Some(Idempotency {
        key,
        fingerprint: fingerprint(&["mcp", tool, &arguments]),
    }))
}
