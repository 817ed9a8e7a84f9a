//! A refused command keeps its answer under its `Idempotency-Key` too: a repeat gets the first
//! answer, not a new decision against a task that has changed since.

use axum::http::Method;

use crate::commands::{answer, send};
use crate::support::{TestApp, on_both_backends};

on_both_backends!(
    a_repeated_refusal_answers_the_first_refusal_even_after_the_task_changed,
    a_repeated_412_stays_412_and_the_same_key_with_another_if_match_is_reuse,
    a_refused_request_without_a_key_is_decided_again,
);

async fn a_repeated_refusal_answers_the_first_refusal_even_after_the_task_changed(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/reopen");
    let key = [("idempotency-key", "reopen-1")];
    let first = send(&app, Method::POST, &path, "alice", None, &key).await;
    assert_eq!(first.status, 409, "{}", first.body);
    assert_eq!(first.body["type"], "invalid-transition");
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    assert_eq!(completed.status, 200);
    let before = app.db.stored_state().await;

    let repeat = send(&app, Method::POST, &path, "alice", None, &key).await;

    assert_eq!(answer(&repeat), answer(&first));
    assert_eq!(
        app.db.stored_state().await,
        before,
        "a replay appends nothing"
    );
    assert_eq!(app.dashboard("alice").await["completed"], 1);
    let fresh = send(&app, Method::POST, &path, "alice", None, &[]).await;
    assert_eq!(fresh.status, 200, "without the key it is a new request");
}

async fn a_repeated_412_stays_412_and_the_same_key_with_another_if_match_is_reuse(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/complete");
    let complete_at = async |version| {
        let headers = [("idempotency-key", "complete-at-7"), ("if-match", version)];
        send(&app, Method::POST, &path, "alice", None, &headers).await
    };
    let first = complete_at("\"7\"").await;
    assert_eq!(first.status, 412, "{}", first.body);

    let repeat = complete_at("\"7\"").await;
    let corrected = complete_at("\"1\"").await;

    assert_eq!(answer(&repeat), answer(&first));
    assert_eq!(corrected.status, 422, "{}", corrected.body);
    assert_eq!(corrected.body["type"], "idempotency-key-reuse");
    assert_eq!(app.db.event_count().await, 1, "nothing was completed");
}

async fn a_refused_request_without_a_key_is_decided_again(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/reopen");
    let refused = send(&app, Method::POST, &path, "alice", None, &[]).await;
    assert_eq!(refused.status, 409);
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    assert_eq!(completed.status, 200);

    let again = send(&app, Method::POST, &path, "alice", None, &[]).await;

    assert_eq!(again.status, 200, "{}", again.body);
}
