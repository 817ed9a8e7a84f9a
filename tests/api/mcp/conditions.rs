//! `expected_version`: the tools' `If-Match`, refusing a command on a task that has changed.

use serde_json::json;

use super::session::Session;
use crate::support::{TestApp, on_both_backends};

/// A command naming a version the task has moved past is refused with the API's 412 problem
/// type and what to do, and changes nothing; naming the current version, it applies.
async fn a_command_on_a_stale_version_is_refused_and_changes_nothing(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let task_id = app.create_task("alice", "Draft").await;
    app.complete_task(&task_id, "alice").await;
    let path = format!("/api/tasks/{task_id}");
    let before = app.get(&path, "alice").await.body;
    assert_eq!(before["version"], 2);
    let stale = [
        (
            "update_task",
            json!({"task_id": task_id, "title": "Final", "expected_version": 1}),
        ),
        (
            "reopen_task",
            json!({"task_id": task_id, "expected_version": 1}),
        ),
        (
            "share_task",
            json!({"task_id": task_id, "user_id": "bob", "permission": "view", "expected_version": 1}),
        ),
        (
            "unshare_task",
            json!({"task_id": task_id, "user_id": "bob", "expected_version": 1}),
        ),
        (
            "delete_task",
            json!({"task_id": task_id, "expected_version": 1}),
        ),
    ];
    for (tool, arguments) in stale {
        let refusal = alice.tool_refused(tool, arguments).await;
        assert!(
            refusal.starts_with("version-mismatch: "),
            "{tool}: {refusal}"
        );
        assert!(refusal.contains("get_task"), "{tool}: {refusal}");
    }
    assert_eq!(app.get(&path, "alice").await.body, before);

    let current = json!({"task_id": task_id, "title": "Final", "expected_version": 2});
    let updated = alice.tool_ok("update_task", current).await;
    assert_eq!(updated["version"], 3);
    assert_eq!(app.get(&path, "alice").await.body["title"], "Final");
    let negative = json!({"task_id": task_id, "expected_version": -1});
    let refusal = alice.tool_refused("reopen_task", negative).await;
    assert!(refusal.starts_with("malformed-request: "), "{refusal}");
}

on_both_backends!(a_command_on_a_stale_version_is_refused_and_changes_nothing);
