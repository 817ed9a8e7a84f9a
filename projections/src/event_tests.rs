//! The stored form of events: round trips, upcasting, unknown versions.
use super::*;
use crate::team::Role;

#[test]
fn every_event_round_trips_through_its_stored_form() {
    let events = [
        TaskEvent::TaskCreated {
            owner_id: "alice".into(),
            title: "t".into(),
            description: String::new(),
        },
        TaskEvent::TaskEdited {
            title: Some("u".into()),
            description: None,
        },
        TaskEvent::TaskCompleted {},
        TaskEvent::TaskReopened {},
        TaskEvent::TaskDeleted {},
        TaskEvent::TaskShared {
            user_id: "bob".into(),
            permission: Permission::View,
        },
        TaskEvent::SharePermissionChanged {
            user_id: "bob".into(),
            permission: Permission::Edit,
        },
        TaskEvent::TaskUnshared {
            user_id: "bob".into(),
        },
        TaskEvent::TaskSharedWithTeam {
            team_id: Uuid::from_u128(7),
            permission: Permission::View,
        },
        TaskEvent::TeamSharePermissionChanged {
            team_id: Uuid::from_u128(7),
            permission: Permission::Edit,
        },
        TaskEvent::TaskUnsharedFromTeam {
            team_id: Uuid::from_u128(7),
        },
    ];
    for event in events.map(Event::Task) {
        let back =
            Event::from_stored(event.event_type(), event.version(), event.payload()).unwrap();
        assert_eq!(back, event);
    }
    let team_events = [
        TeamEvent::TeamCreated {
            name: "ops".into(),
            admin_id: "alice".into(),
        },
        TeamEvent::TeamRenamed { name: "dev".into() },
        TeamEvent::TeamDeleted {},
        TeamEvent::MemberAdded {
            member_id: "bob".into(),
            role: Role::Member,
        },
        TeamEvent::MemberRoleChanged {
            member_id: "bob".into(),
            role: Role::Admin,
        },
        TeamEvent::MemberRemoved {
            member_id: "bob".into(),
        },
    ];
    assert_eq!(
        team_events.each_ref().map(|e| e.event_type()),
        TeamEvent::TYPES
    );
    for event in team_events.map(Event::Team) {
        let back =
            Event::from_stored(event.event_type(), event.version(), event.payload()).unwrap();
        assert_eq!(back, event);
    }
}

#[test]
fn a_team_event_is_stored_with_its_fields_and_never_read_as_a_task_event() {
    let event = Event::Team(TeamEvent::MemberAdded {
        member_id: "bob".into(),
        role: Role::Admin,
    });
    assert_eq!(
        event.payload(),
        serde_json::json!({ "member_id": "bob", "role": "admin" })
    );
    assert!(Event::from_stored("MemberAdded", 1, serde_json::json!({})).is_err());
    assert!(Event::from_stored("TaskCreated", 1, event.payload()).is_err());
}

#[test]
fn an_edit_payload_names_only_the_fields_that_changed() {
    let event = Event::Task(TaskEvent::TaskEdited {
        title: None,
        description: Some("d".into()),
    });
    assert_eq!(event.payload(), serde_json::json!({ "description": "d" }));
}

#[test]
fn an_unknown_schema_version_is_refused_rather_than_misread() {
    assert!(Event::from_stored("TaskCompleted", 99, serde_json::json!({})).is_err());
    assert!(Event::from_stored("TaskShared", 0, serde_json::json!({})).is_err());
    assert!(Event::from_stored("TaskShared", 3, serde_json::json!({})).is_err());
}

#[test]
fn a_version_1_share_payload_is_upcast_to_the_current_shape() {
    let v1 = serde_json::json!({ "user_id": "bob", "permission": "edit" });
    let event = Event::from_stored("SharePermissionChanged", 1, v1).unwrap();
    assert_eq!(
        event,
        Event::Task(TaskEvent::SharePermissionChanged {
            user_id: "bob".into(),
            permission: Permission::Edit
        })
    );
    assert_eq!(
        event.payload(),
        serde_json::json!({ "recipient_id": "bob", "permission": "edit" })
    );
    assert_eq!(event.version(), 2);
}
