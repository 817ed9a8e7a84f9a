//! A log written with version-1 payloads (stored rows, as the event store held them) still
//! replays through today's upcasting and fold to the figures it always meant.

use chrono::{DateTime, TimeZone, Utc};
use projections::{Event, Permission, ReadModels, RecordedEvent, TaskEvent};
use serde::Deserialize;
use uuid::Uuid;

#[derive(Deserialize)]
struct StoredRow {
    position: i64,
    event_id: Uuid,
    stream_id: Uuid,
    stream_version: i64,
    event_type: String,
    event_version: i32,
    payload: serde_json::Value,
    actor: String,
    recorded_at: DateTime<Utc>,
}

fn v1_log() -> Vec<RecordedEvent> {
    let rows: Vec<StoredRow> =
        serde_json::from_str(include_str!("fixtures/v1_log.json")).expect("fixture");
    assert!(rows.iter().all(|row| row.event_version == 1));
    rows.into_iter()
        .map(|row| RecordedEvent {
            position: row.position,
            event_id: row.event_id,
            stream_id: row.stream_id,
            stream_version: row.stream_version,
            actor: row.actor,
            recorded_at: row.recorded_at,
            event: Event::from_stored(&row.event_type, row.event_version, row.payload)
                .expect("a version-1 payload upcasts"),
        })
        .collect()
}

#[test]
fn version_1_share_payloads_read_as_todays_events() {
    let log = v1_log();
    assert_eq!(
        log[4].event,
        Event::Task(TaskEvent::SharePermissionChanged {
            user_id: "bob".into(),
            permission: Permission::Edit
        })
    );
    assert_eq!(
        log[8].event,
        Event::Task(TaskEvent::TaskUnshared {
            user_id: "carol".into()
        })
    );
}

#[test]
fn a_version_1_log_replays_to_the_figures_it_always_meant() {
    let mut models = ReadModels::default();
    for event in &v1_log() {
        models.apply(event);
    }
    // Wednesday 2026-11-25, noon: t1 completed today (re-completed), t3 pending, t2 deleted.
    let now = Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0).unwrap();
    let alice = models.figures("alice", now);
    assert_eq!((alice.total, alice.pending, alice.completed), (2, 1, 1));
    assert_eq!((alice.completed_today, alice.completed_this_week), (1, 1));
    assert_eq!((alice.created_today, alice.created_this_week), (0, 2));
    assert_eq!(alice.completion_rate, 50.0);
    let bob = models.figures("bob", now);
    assert_eq!((bob.shared, bob.view_only, bob.can_edit), (2, 1, 1));
    assert_eq!(models.figures("carol", now).shared, 0);
    for user in ["alice", "bob", "carol"] {
        assert_eq!(
            models.figures(user, now),
            models.recount(user, now),
            "{user}"
        );
    }
}
