//! The store conformance story: the same behaviour on every backend.

use crate::support::{TestApp, on_both_backends};

on_both_backends!(a_created_and_completed_task_shows_on_the_dashboard);

async fn a_created_and_completed_task_shows_on_the_dashboard(app: TestApp) {
    let task = app.create_task("alice", "write the tests").await;
    let done = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    assert_eq!(done.status, 200, "{}", done.body);
    let dashboard = app.dashboard("alice").await;
    assert_eq!(dashboard["total"], 1);
    assert_eq!(dashboard["completed"], 1);
    assert_eq!(dashboard["completed_today"], 1);
    assert_eq!(app.db.event_count().await, 2);
}
