//! The tools' arguments: their schemas (what a client is told) and their reading (what a
//! client sent), refused as the contract's `malformed-request` when they do not fit, so that
//! an assistant gets a tool result it can act on rather than a protocol error.

use std::sync::Arc;

use rmcp::handler::server::common::schema_for_input;
use rmcp::model::JsonObject;
use schemars::JsonSchema;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::domain::ExpectedVersion;
use crate::http::error::ApiError;

/// The input schema advertised for a tool whose arguments are `T`. The tools take their
/// arguments as a JSON object and read it with [`read`] (not rmcp's `Parameters<T>`, which
/// answers a protocol error when they do not fit), so the schema is named explicitly.
pub(super) fn input_schema<T: JsonSchema + 'static>() -> Arc<JsonObject> {
    schema_for_input::<T>().unwrap_or_else(|error| {
        panic!(
            "the input schema of {}: {error}",
            std::any::type_name::<T>()
        )
    })
}

/// The arguments a client sent, as `T`: a wrong type, an unknown or a missing field is
/// `malformed-request`, naming what does not fit.
pub(super) fn read<T: DeserializeOwned>(arguments: JsonObject) -> Result<T, ApiError> {
    serde_json::from_value(serde_json::Value::Object(arguments)).map_err(|error| {
        ApiError::Malformed(format!(
            "the arguments do not fit the tool's schema: {error}"
        ))
    })
}

/// A command tool's arguments: they serialize into the idempotency fingerprint (all of them
/// but the key itself, and `expected_version` only when given, so that calls without it
/// fingerprint as they did before it existed), and carry the key and the expected version.
pub(super) trait CommandArgs: Serialize {
    /// `idempotency_key`: a retry with the same key and arguments is applied once.
    fn idempotency_key(&self) -> Option<&str>;
    /// `expected_version`: apply only if the task (or team) is still at this version.
    fn expected_version(&self) -> Option<i64>;
}

impl CommandArgs for AddTask {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// A task being created has no version to expect.
    fn expected_version(&self) -> Option<i64> {
        None
    }
}

/// For the arguments of a command on an existing task: both fields, by these names.
macro_rules! on_existing_task {
    ($($args:ty),+) => {$(
        impl CommandArgs for $args {
            fn idempotency_key(&self) -> Option<&str> {
                self.idempotency_key.as_deref()
            }

            fn expected_version(&self) -> Option<i64> {
                self.expected_version
            }
        }
    )+};
}

on_existing_task!(
    TaskCommand,
    UpdateTask,
    ShareTask,
    UnshareTask,
    TeamArgs,
    RenameTeam,
    SetTeamMember,
    TeamMember,
    ShareWithTeam,
    UnshareFromTeam
);

impl CommandArgs for CreateTeam {
    fn idempotency_key(&self) -> Option<&str> {
        self.idempotency_key.as_deref()
    }

    /// A team being created has no version to expect.
    fn expected_version(&self) -> Option<i64> {
        None
    }
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct AddTask {
    /// Some visible text, at most 200 characters.
    pub(super) title: String,
    /// At most 10,000 characters; empty when left out.
    pub(super) description: Option<String>,
    /// Any 1 to 255 printable ASCII characters: a retry with the same key and arguments
    /// answers the first call's result instead of creating a second task.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskCommand {
    /// The task's id (a UUID).
    pub(super) task_id: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// Apply only if the task is still at this version (get_task's `version`); refused as
    /// version-mismatch if it has changed since.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UpdateTask {
    /// The task's id (a UUID).
    pub(super) task_id: String,
    /// The new title; left out, it stays.
    pub(super) title: Option<String>,
    /// The new description; left out, it stays.
    pub(super) description: Option<String>,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in complete_task: apply only if the task is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareTask {
    /// The task's id (a UUID); only its owner may share it.
    pub(super) task_id: String,
    /// The user to share it with (their id, 1 to 128 characters, not your own).
    pub(super) user_id: String,
    /// `view` (read it) or `edit` (also change, complete and reopen it).
    #[schemars(extend("enum" = ["view", "edit"]))]
    pub(super) permission: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in complete_task: apply only if the task is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UnshareTask {
    /// The task's id (a UUID); only its owner may unshare it.
    pub(super) task_id: String,
    /// The user to stop sharing it with.
    pub(super) user_id: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in complete_task: apply only if the task is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetTask {
    /// The task's id (a UUID).
    pub(super) task_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListTasks {
    /// `owned` (the default): your own tasks; `shared`: tasks others shared with you.
    #[schemars(extend("enum" = ["owned", "shared"]))]
    pub(super) scope: Option<String>,
    /// `pending` or `completed`: only tasks with this status.
    #[schemars(extend("enum" = ["pending", "completed"]))]
    pub(super) status: Option<String>,
    /// Page size, 1 to 200; 50 when left out.
    #[schemars(range(min = 1, max = 200))]
    pub(super) limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TaskHistory {
    /// The task's id (a UUID).
    pub(super) task_id: String,
    /// Page size, 1 to 200; 50 when left out.
    #[schemars(range(min = 1, max = 200))]
    pub(super) limit: Option<i64>,
    /// Only events after this log position: `next_after` of the previous page.
    #[schemars(range(min = 0))]
    pub(super) after: Option<i64>,
}

/// get_dashboard takes no arguments: any given is refused, as every tool refuses an unknown one.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetDashboard {}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetTrend {
    /// How many days, ending today (UTC): 1 to 366; 30 when left out.
    #[schemars(range(min = 1, max = 366))]
    pub(super) days: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct CreateTeam {
    /// Some visible text, at most 100 characters.
    pub(super) name: String,
    /// As in add_task: a retry with the same key and arguments creates one team.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TeamArgs {
    /// The team's id (a UUID); only its admins may do this.
    pub(super) team_id: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// Apply only if the team is still at this version (get_team's `version`).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct RenameTeam {
    /// The team's id (a UUID); only its admins may rename it.
    pub(super) team_id: String,
    /// The new name: some visible text, at most 100 characters.
    pub(super) name: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in delete_team: apply only if the team is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct SetTeamMember {
    /// The team's id (a UUID); only its admins may add members or change roles.
    pub(super) team_id: String,
    /// The user to add, or whose role to change.
    pub(super) user_id: String,
    /// `member` or `admin` (admins rename, delete and manage the team).
    #[schemars(extend("enum" = ["member", "admin"]))]
    pub(super) role: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in delete_team: apply only if the team is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct TeamMember {
    /// The team's id (a UUID).
    pub(super) team_id: String,
    /// The member to remove: anyone, for an admin; yourself, to leave.
    pub(super) user_id: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in delete_team: apply only if the team is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct GetTeam {
    /// The team's id (a UUID).
    pub(super) team_id: String,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListTeams {
    /// Page size, 1 to 200; 50 when left out.
    #[schemars(range(min = 1, max = 200))]
    pub(super) limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ShareWithTeam {
    /// The task's id (a UUID); only its owner may share it, with a team they are in.
    pub(super) task_id: String,
    /// The team to share it with: every member sees it.
    pub(super) team_id: String,
    /// `view` (read it) or `edit` (also change, complete and reopen it).
    #[schemars(extend("enum" = ["view", "edit"]))]
    pub(super) permission: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in complete_task: apply only if the task is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct UnshareFromTeam {
    /// The task's id (a UUID); only its owner may unshare it.
    pub(super) task_id: String,
    /// The team to stop sharing it with.
    pub(super) team_id: String,
    /// As in add_task: a retry with the same key is applied once.
    #[serde(skip_serializing)]
    pub(super) idempotency_key: Option<String>,
    /// As in complete_task: apply only if the task is still at this version.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub(super) expected_version: Option<i64>,
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub(super) struct ListTeamTasks {
    /// The team's id (a UUID).
    pub(super) team_id: String,
    /// Only tasks with this status.
    #[schemars(extend("enum" = ["pending", "completed"]))]
    pub(super) status: Option<String>,
    /// Page size, 1 to 200; 50 when left out.
    #[schemars(range(min = 1, max = 200))]
    pub(super) limit: Option<i64>,
    /// `next_cursor` of the previous page.
    pub(super) cursor: Option<String>,
}

/// A tool's `team_id`, which must be a UUID.
pub(super) fn team_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Malformed(format!("team_id {raw:?} is not a UUID")))
}

/// A tool's `task_id`, which must be a UUID.
pub(super) fn task_id(raw: &str) -> Result<Uuid, ApiError> {
    Uuid::parse_str(raw).map_err(|_| ApiError::Malformed(format!("task_id {raw:?} is not a UUID")))
}

/// `expected_version` as the API's `If-Match: "<version>"` would give it.
pub(super) fn expected_version(raw: Option<i64>) -> Result<Option<ExpectedVersion>, ApiError> {
    raw.map(|version| {
        (version >= 0)
            .then_some(ExpectedVersion::Strong(version))
            .ok_or_else(|| {
                ApiError::Malformed("expected_version must be a task version, 0 or more".into())
            })
    })
    .transpose()
}
