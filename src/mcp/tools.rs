//! The tools: each a thin call into the API's own command path or query, as the caller the
//! request's token names (or, over stdio, the one `tally mcp --user` names).

use axum::http::request::Parts;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, Extensions};
use rmcp::{Json, tool, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;

use super::refusal::refusal;
use super::resources::SessionSubscriptions;
use crate::commands::Idempotency;
use crate::domain::{Command, CommandRequest, UserId};
use crate::http::AppState;
use crate::http::commands::{CommandBody, execute, parse_description, parse_title};
use crate::http::dashboard::{Everything, figures};
use crate::http::error::ApiError;
use crate::http::extract::{Caller, idempotency_key_of};
use crate::http::tasks::{ListParams, TaskJson, TaskPage, page_of, task_for};

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

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AddTask {
    /// Some visible text, at most 200 characters.
    title: String,
    /// At most 10,000 characters; empty when left out.
    description: Option<String>,
    /// Any 1 to 255 printable ASCII characters: a retry with the same key and arguments
    /// answers the first call's result instead of creating a second task.
    idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskCommand {
    /// The task's id (a UUID).
    task_id: String,
    /// As in add_task: a retry with the same key is applied once.
    idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateTask {
    /// The task's id (a UUID).
    task_id: String,
    /// The new title; left out, it stays.
    title: Option<String>,
    /// The new description; left out, it stays.
    description: Option<String>,
    /// As in add_task: a retry with the same key is applied once.
    idempotency_key: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetTask {
    /// The task's id (a UUID).
    task_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListTasks {
    /// `owned` (the default): your own tasks; `shared`: tasks others shared with you.
    scope: Option<String>,
    /// `pending` or `completed`: only tasks with this status.
    status: Option<String>,
    /// Page size, 1 to 200; 50 when left out.
    limit: Option<i64>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
}

// A command repeated on the same task changes nothing more (a second complete is refused as
// `invalid-transition`), hence `idempotent_hint` on all but add_task.
// Each tool answers `Result<Json<T>, CallToolResult>`, spelled out: rmcp's macro finds the
// output schema in that spelling (not through an alias); the error is the `isError` refusal.
#[tool_router]
impl Tools {
    /// Tools for HTTP sessions, whose requests name their caller.
    pub(super) fn new(state: AppState) -> Tools {
        Tools {
            state,
            local_caller: None,
            tool_router: Self::tool_router(),
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

    #[tool(
        description = "Create a task owned by you; answers its task_id.",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = false
        )
    )]
    async fn add_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<AddTask>,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let key = args.idempotency_key.as_deref();
        let fingerprint = serde_json::json!({"title": args.title, "description": args.description});
        let command = || {
            Ok(Command::Create {
                title: parse_title(&args.title)?,
                description: parse_description(args.description.as_deref().unwrap_or_default())?,
            })
        };
        self.command(
            &extensions,
            "add_task",
            Uuid::now_v7(),
            command,
            key,
            fingerprint,
        )
        .await
    }

    #[tool(
        description = "Mark a pending task completed (owner or editor).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn complete_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<TaskCommand>,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(&extensions, "complete_task", args, Command::Complete)
            .await
    }

    #[tool(
        description = "Reopen a completed task (owner or editor).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn reopen_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<TaskCommand>,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(&extensions, "reopen_task", args, Command::Reopen)
            .await
    }

    #[tool(
        description = "Delete a task for good (owner only); it then counts nowhere.",
        annotations(
            read_only_hint = false,
            destructive_hint = true,
            idempotent_hint = true
        )
    )]
    async fn delete_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<TaskCommand>,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        self.on_task(&extensions, "delete_task", args, Command::Delete)
            .await
    }

    #[tool(
        description = "Change a task's title and/or description (owner or editor).",
        annotations(
            read_only_hint = false,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn update_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<UpdateTask>,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let task_id = task_id(&args.task_id).map_err(refusal)?;
        let fingerprint = serde_json::json!({
            "task_id": args.task_id, "title": args.title, "description": args.description,
        });
        let command = || {
            Ok(Command::Edit {
                title: args.title.as_deref().map(parse_title).transpose()?,
                description: args
                    .description
                    .as_deref()
                    .map(parse_description)
                    .transpose()?,
            })
        };
        let key = args.idempotency_key.as_deref();
        self.command(
            &extensions,
            "update_task",
            task_id,
            command,
            key,
            fingerprint,
        )
        .await
    }

    #[tool(
        description = "Read one task you own or that is shared with you.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_task(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<GetTask>,
    ) -> Result<Json<TaskJson>, CallToolResult> {
        let read = async {
            let task_id = task_id(&args.task_id)?;
            task_for(&self.state, &self.caller(&extensions)?, task_id).await
        };
        read.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "List your tasks (or those shared with you), newest first, a page at a time.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn list_tasks(
        &self,
        extensions: Extensions,
        Parameters(args): Parameters<ListTasks>,
    ) -> Result<Json<TaskPage>, CallToolResult> {
        let params = ListParams {
            scope: args.scope,
            status: args.status,
            limit: args.limit.map(|limit| limit.to_string()),
            cursor: args.cursor,
        };
        let read = async { page_of(&self.state, &self.caller(&extensions)?, params).await };
        read.await.map(Json).map_err(refusal)
    }

    #[tool(
        description = "Your dashboard: task counts by status, shared with you, done today and this week, completion rate.",
        annotations(
            read_only_hint = true,
            destructive_hint = false,
            idempotent_hint = true
        )
    )]
    async fn get_dashboard(
        &self,
        extensions: Extensions,
    ) -> Result<Json<Everything>, CallToolResult> {
        let read = async { figures(&self.state, &Caller(self.caller(&extensions)?)).await };
        read.await
            .map(|figures| Json(Everything::from(figures)))
            .map_err(refusal)
    }
}

impl Tools {
    /// A command without arguments of its own on the task `args` names.
    async fn on_task(
        &self,
        extensions: &Extensions,
        tool: &str,
        args: TaskCommand,
        command: Command,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let task_id = task_id(&args.task_id).map_err(refusal)?;
        let fingerprint = serde_json::json!({ "task_id": args.task_id });
        let key = args.idempotency_key.as_deref();
        self.command(extensions, tool, task_id, || Ok(command), key, fingerprint)
            .await
    }

    /// Runs `command` through the API's own command path, as the request's caller.
    async fn command(
        &self,
        extensions: &Extensions,
        tool: &str,
        task_id: Uuid,
        command: impl FnOnce() -> Result<Command, ApiError>,
        key: Option<&str>,
        fingerprint: serde_json::Value,
    ) -> Result<Json<CommandBody>, CallToolResult> {
        let run = async {
            let request = CommandRequest {
                task_id,
                actor: self.caller(extensions)?,
                command: command()?,
                expected_version: None,
                now: self.state.clock.now(),
            };
            let idempotency = idempotency(key, tool, &fingerprint)?;
            execute(&self.state, request, idempotency).await
        };
        let outcome = run.await.map_err(refusal)?;
        Ok(Json(CommandBody::from(&outcome)))
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

fn task_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Malformed(format!("task_id {raw:?} is not a UUID")))
}

/// The key with a fingerprint of the tool and its arguments: a retry must repeat both. Apart
/// from the API's fingerprints (a key first used there does not match a tool call).
fn idempotency(
    key: Option<&str>,
    tool: &str,
    arguments: &serde_json::Value,
) -> Result<Option<Idempotency>, ApiError> {
    let Some(key) = key else {
        return Ok(None);
    };
    let key = idempotency_key_of(key.as_bytes())?;
    let mut digest = Sha256::new();
    digest.update("mcp");
    digest.update([0]);
    digest.update(tool);
    digest.update([0]);
    digest.update(arguments.to_string());
    Ok(Some(Idempotency {
        key,
        fingerprint: hex::encode(digest.finalize()),
    }))
}
