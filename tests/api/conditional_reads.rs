//! Conditional reads: dashboard and task reads carry an `ETag`, and `If-None-Match` with it
//! answers 304 with no body until something the caller would see changes.

use axum::http::header;
use chrono::Duration;

use crate::support::{TestApp, TestRequest, TestResponse, on_both_backends};

on_both_backends!(
    a_dashboard_read_is_304_until_the_callers_figures_change,
    a_task_read_is_304_until_the_task_changes_and_never_tells_a_stranger_anything,
);

/// The response's tag; with it, the headers that keep caches from mixing callers' answers.
fn etag(response: &TestResponse) -> String {
    assert_eq!(response.headers[header::VARY], "authorization");
    assert_eq!(response.headers[header::CACHE_CONTROL], "private, no-cache");
    let etag = response.headers.get(header::ETAG).expect("an ETag");
    etag.to_str().unwrap().to_owned()
}

async fn read_holding(app: &TestApp, path: &str, user: &str, held: &str) -> TestResponse {
    let request = TestRequest::get(path)
        .user(user)
        .header(header::IF_NONE_MATCH, held);
    app.send(request).await
}

#[track_caller]
fn assert_not_modified(response: &TestResponse, held: &str) {
    assert_eq!(response.status, 304, "{}", response.body);
    assert!(
        response.body.is_null(),
        "a 304 has no body: {}",
        response.body
    );
    assert_eq!(etag(response), held);
}

async fn a_dashboard_read_is_304_until_the_callers_figures_change(app: TestApp) {
    for path in [
        "/api/dashboard",
        "/api/dashboard/statistics",
        "/api/dashboard/activity",
        "/api/dashboard/breakdown",
        "/api/dashboard/shared",
    ] {
        let first = app.get(path, "alice").await;
        assert_eq!(first.status, 200);
        let held = etag(&first);
        assert_not_modified(&read_holding(&app, path, "alice", &held).await, &held);
        let weak = format!("W/{held}");
        assert_not_modified(&read_holding(&app, path, "alice", &weak).await, &held);
        let listed = format!("\"other\", {held}");
        assert_not_modified(&read_holding(&app, path, "alice", &listed).await, &held);
        assert_eq!(
            read_holding(&app, path, "alice", "\"other\"").await.status,
            200
        );
    }

    // Each change to what alice sees gives a new tag, and a 200 to the old one.
    let path = "/api/dashboard";
    let mut held = etag(&app.get(path, "alice").await);
    let task = app.create_task("alice", "one").await;
    held = changed(&app, &held, "a create").await;
    app.complete_task(&task, "alice").await;
    held = changed(&app, &held, "a complete").await;
    let bobs = app.create_task("bob", "bob's").await;
    app.share(&bobs, "bob", "alice", "view").await;
    held = changed(&app, &held, "a share by bob").await;
    // Today's counts fall to zero at midnight, though no event happened.
    app.clock.advance(Duration::days(1));
    held = changed(&app, &held, "midnight").await;
    let unchanged = read_holding(&app, path, "alice", &held).await;
    assert_not_modified(&unchanged, &held);
    // Another user's tag is another user's figures.
    let bob = read_holding(&app, path, "bob", &held).await;
    assert_eq!(bob.status, 200);
}

/// Alice's dashboard read holding `held`: a 200 with a new tag, which it returns.
async fn changed(app: &TestApp, held: &str, after: &str) -> String {
    let response = read_holding(app, "/api/dashboard", "alice", held).await;
    assert_eq!(response.status, 200, "after {after}");
    let tag = etag(&response);
    assert_ne!(tag, held, "after {after}");
    tag
}

async fn a_task_read_is_304_until_the_task_changes_and_never_tells_a_stranger_anything(
    app: TestApp,
) {
    let task = app.create_task("alice", "one").await;
    let path = format!("/api/tasks/{task}");
    let first = app.get(&path, "alice").await;
    assert_eq!(etag(&first), "\"1\"", "the version, as If-Match names it");
    assert_not_modified(&read_holding(&app, &path, "alice", "\"1\"").await, "\"1\"");

    app.share(&task, "alice", "bob", "view").await;
    let owner = read_holding(&app, &path, "alice", "\"1\"").await;
    assert_eq!(owner.status, 200);
    assert_eq!(etag(&owner), "\"2\"");
    assert_not_modified(&read_holding(&app, &path, "bob", "\"2\"").await, "\"2\"");

    for held in ["\"2\"", "*"] {
        let stranger = read_holding(&app, &path, "mallory", held).await;
        stranger.assert_problem(404, "not-found");
    }
}
