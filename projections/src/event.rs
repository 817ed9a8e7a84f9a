//! The domain events of a task's stream, as stored in the event log.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::team::TeamEvent;

/// What a share lets its recipient do with the task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Permission {
    /// Read the task and its history.
    View,
    /// Also edit, complete and reopen it.
    Edit,
}

impl Permission {
    /// The name used in JSON and in the database.
    pub fn as_str(self) -> &'static str {
        match self {
            Permission::View => "view",
            Permission::Edit => "edit",
        }
    }

    /// Parses the stored or requested name.
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "view" => Some(Permission::View),
            "edit" => Some(Permission::Edit),
            _ => None,
        }
    }
}

/// Something that happened to a task. The variant name is the stored `event_type`; the fields
/// are the stored JSON payload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event_type", content = "payload")]
pub enum TaskEvent {
    /// The task came into being, pending, owned by `owner_id`.
    TaskCreated {
        owner_id: String,
        title: String,
        description: String,
    },
    /// Title and/or description changed; a field that did not change is absent.
    TaskEdited {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        description: Option<String>,
    },
    /// A pending task was completed.
    TaskCompleted {},
    /// A completed task became pending again.
    TaskReopened {},
    /// The task is gone, with its shares, for everyone.
    TaskDeleted {},
    /// The owner shared the task with a user who had no share.
    TaskShared {
        #[serde(rename = "recipient_id")]
        user_id: String,
        permission: Permission,
    },
    /// The owner changed the permission of an existing share.
    SharePermissionChanged {
        #[serde(rename = "recipient_id")]
        user_id: String,
        permission: Permission,
    },
    /// The owner withdrew a share.
    TaskUnshared {
        #[serde(rename = "recipient_id")]
        user_id: String,
    },
    /// The owner shared the task with a team it had no share with: every member but the owner
    /// sees it.
    TaskSharedWithTeam {
        team_id: Uuid,
        permission: Permission,
    },
    /// The owner changed the permission of a team's share.
    TeamSharePermissionChanged {
        team_id: Uuid,
        permission: Permission,
    },
    /// The owner withdrew a team's share.
    TaskUnsharedFromTeam { team_id: Uuid },
}

/// The schema version each event type's payload is written with today. When a payload's shape
/// changes, bump its version here and add a step to [`upcast`] that turns the previous shape
/// into the new one: the log is never rewritten, old payloads are upcast as they are read.
pub fn current_version(event_type: &str) -> i32 {
    match event_type {
        // v2: the share's user is `recipient_id` (v1 said `user_id`, easily confused with the
        // actor who shared).
        "TaskShared" | "SharePermissionChanged" | "TaskUnshared" => 2,
        _ => 1,
    }
}

/// Turns a stored payload of `version` into the current shape of `event_type`, one version
/// step at a time.
pub fn upcast(
    event_type: &str,
    mut version: i32,
    mut payload: serde_json::Value,
) -> Result<serde_json::Value, UnreadableEvent> {
    let current = current_version(event_type);
    if !(1..=current).contains(&version) {
        return Err(UnreadableEvent(format!(
            "{event_type} has unknown schema version {version}"
        )));
    }
    while version < current {
        match (event_type, version) {
            ("TaskShared" | "SharePermissionChanged" | "TaskUnshared", 1) => {
                rename_field(&mut payload, "user_id", "recipient_id");
            }
            _ => {
                return Err(UnreadableEvent(format!(
                    "no upcast from {event_type} version {version}"
                )));
            }
        }
        version += 1;
    }
    Ok(payload)
}

fn rename_field(payload: &mut serde_json::Value, from: &str, to: &str) {
    if let Some(object) = payload.as_object_mut()
        && let Some(value) = object.remove(from)
    {
        object.insert(to.to_owned(), value);
    }
}

/// Why a stored event could not be read back.
#[derive(Debug)]
pub struct UnreadableEvent(pub String);

impl std::fmt::Display for UnreadableEvent {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "unreadable stored event: {}", self.0)
    }
}

impl std::error::Error for UnreadableEvent {}

impl TaskEvent {
    /// The team a team share event names.
    pub fn team_id(&self) -> Option<Uuid> {
        match self {
            TaskEvent::TaskSharedWithTeam { team_id, .. }
            | TaskEvent::TeamSharePermissionChanged { team_id, .. }
            | TaskEvent::TaskUnsharedFromTeam { team_id } => Some(*team_id),
            _ => None,
        }
    }

    /// The stored `event_type` column.
    pub fn event_type(&self) -> &'static str {
        match self {
            TaskEvent::TaskCreated { .. } => "TaskCreated",
            TaskEvent::TaskEdited { .. } => "TaskEdited",
            TaskEvent::TaskCompleted {} => "TaskCompleted",
            TaskEvent::TaskReopened {} => "TaskReopened",
            TaskEvent::TaskDeleted {} => "TaskDeleted",
            TaskEvent::TaskShared { .. } => "TaskShared",
            TaskEvent::SharePermissionChanged { .. } => "SharePermissionChanged",
            TaskEvent::TaskUnshared { .. } => "TaskUnshared",
            TaskEvent::TaskSharedWithTeam { .. } => "TaskSharedWithTeam",
            TaskEvent::TeamSharePermissionChanged { .. } => "TeamSharePermissionChanged",
            TaskEvent::TaskUnsharedFromTeam { .. } => "TaskUnsharedFromTeam",
        }
    }
}

/// Something that happened to one stream of the log: a task's or a team's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Task(TaskEvent),
    Team(TeamEvent),
}

impl From<TaskEvent> for Event {
    fn from(event: TaskEvent) -> Self {
        Event::Task(event)
    }
}

impl From<TeamEvent> for Event {
    fn from(event: TeamEvent) -> Self {
        Event::Team(event)
    }
}

impl Event {
    /// The stored `event_type` column.
    pub fn event_type(&self) -> &'static str {
        match self {
            Event::Task(event) => event.event_type(),
            Event::Team(event) => event.event_type(),
        }
    }

    /// The stored JSON payload.
    pub fn payload(&self) -> serde_json::Value {
        match self {
            Event::Task(event) => payload_of(event),
            Event::Team(event) => payload_of(event),
        }
    }

    /// The schema version [`Event::payload`] writes.
    pub fn version(&self) -> i32 {
        current_version(self.event_type())
    }

    /// Reads a stored event back, whatever schema version it was written with; its
    /// `event_type` says which kind of stream it belongs to.
    pub fn from_stored(
        event_type: &str,
        event_version: i32,
        payload: serde_json::Value,
    ) -> Result<Self, UnreadableEvent> {
        let payload = upcast(event_type, event_version, payload)?;
        let tagged = serde_json::json!({ "event_type": event_type, "payload": payload });
        let unreadable = |e: serde_json::Error| UnreadableEvent(format!("{event_type}: {e}"));
        if TeamEvent::TYPES.contains(&event_type) {
            serde_json::from_value(tagged)
                .map(Event::Team)
                .map_err(unreadable)
        } else {
            serde_json::from_value(tagged)
                .map(Event::Task)
                .map_err(unreadable)
        }
    }

    /// The task event, when this is one.
    pub fn as_task(&self) -> Option<&TaskEvent> {
        match self {
            Event::Task(event) => Some(event),
            Event::Team(_) => None,
        }
    }
}

/// The `payload` of an event serialized with its `event_type` tag.
fn payload_of(event: &impl Serialize) -> serde_json::Value {
    let mut tagged = serde_json::to_value(event).expect("events always serialize");
    tagged
        .get_mut("payload")
        .map(serde_json::Value::take)
        .unwrap_or_else(|| serde_json::json!({}))
}

/// An event as the log holds it: where it stands and when it happened.
#[derive(Clone, Debug, PartialEq)]
pub struct RecordedEvent {
    /// Global position in the log; increases in commit order.
    pub position: i64,
    /// Unique id (UUID v7) of this event.
    pub event_id: Uuid,
    /// The task or team whose stream this event belongs to.
    pub stream_id: Uuid,
    /// The stream's version after this event (1 for `TaskCreated` or `TeamCreated`).
    pub stream_version: i64,
    /// The user whose command produced the event.
    pub actor: String,
    /// When the command was decided; the time every figure is computed from.
    pub recorded_at: DateTime<Utc>,
    /// What happened.
    pub event: Event,
}

#[cfg(test)]
#[path = "event_tests.rs"]
mod tests;
