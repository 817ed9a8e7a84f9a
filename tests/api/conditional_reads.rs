//! Conditional reads: dashboard, team dashboard and task reads carry an `ETag`, and
//! `If-None-Match` with it answers 304 with no body until something the caller would see
//! changes.

use axum::http::header;
use chrono::Duration;
use serde_json::json;

use crate::support::{TestApp, TestRequest, TestResponse, on_both_backends};

on_both_backends!(
    a_dashboard_read_is_304_until_the_callers_figures_change,
    a_task_read_is_304_until_the_task_changes_and_never_tells_a_stranger_anything,
    a_task_seen_through_a_team_is_never_a_stale_304,
    a_team_dashboard_read_is_304_until_the_teams_figures_change,
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
    // Bob's permission could also come through a team, which changes with no task event:
    // his tag adds a hash of his view to the version.
    let bobs = app.get(&path, "bob").await;
    let held = etag(&bobs);
    assert!(held.starts_with("\"2.") && held != "\"2\"", "{held}");
    assert_not_modified(&read_holding(&app, &path, "bob", &held).await, &held);
    assert_eq!(read_holding(&app, &path, "bob", "\"2\"").await.status, 200);

    for held in ["\"2\"", "*"] {
        let stranger = read_holding(&app, &path, "mallory", held).await;
        stranger.assert_problem(404, "not-found");
    }
}

/// Joining or leaving a team changes a member's permission, and a team's deletion the owner's
/// team shares, with no event on the task's stream: the tag still changes with what they see,
/// and a command still takes it as `If-Match`.
async fn a_task_seen_through_a_team_is_never_a_stale_304(app: TestApp) {
    let task = app.create_task("alice", "one").await;
    let path = format!("/api/tasks/{task}");
    app.share(&task, "alice", "bob", "view").await;
    let create = TestRequest::post("/api/teams").user("alice");
    let team = app.send(create.json(json!({ "name": "crew" }))).await.body["team_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let member = format!("/api/teams/{team}/members/bob");
    let add = TestRequest::put(&member)
        .user("alice")
        .json(json!({ "role": "member" }));
    assert_eq!(app.send(add).await.status, 200);
    let share = TestRequest::put(format!("/api/tasks/{task}/team-shares/{team}"))
        .user("alice")
        .json(json!({ "permission": "edit" }));
    assert_eq!(app.send(share).await.status, 200);

    let through_team = app.get(&path, "bob").await;
    assert_eq!(through_team.body["permission"], "edit");
    let held = etag(&through_team);
    assert_not_modified(&read_holding(&app, &path, "bob", &held).await, &held);
    assert_eq!(
        app.send(TestRequest::delete(&member).user("bob"))
            .await
            .status,
        200
    );
    let left = read_holding(&app, &path, "bob", &held).await;
    assert_eq!(
        left.status, 200,
        "bob left the team: his permission changed"
    );
    assert_eq!(left.body["permission"], "view");
    let held = etag(&left);
    assert_not_modified(&read_holding(&app, &path, "bob", &held).await, &held);

    let owner = app.get(&path, "alice").await;
    assert_eq!(owner.body["team_shares"][0]["team_id"], team.as_str());
    let held = etag(&owner);
    let version = owner.body["version"].as_i64().unwrap();
    assert!(held.starts_with(&format!("\"{version}.")), "{held}");
    let delete_team = TestRequest::delete(format!("/api/teams/{team}")).user("alice");
    assert_eq!(app.send(delete_team).await.status, 200);
    let after = read_holding(&app, &path, "alice", &held).await;
    assert_eq!(after.status, 200, "the team's deletion ended its share");
    assert_eq!(after.body["team_shares"], json!([]));
    assert_eq!(
        etag(&after),
        format!("\"{version}\""),
        "the stream alone tags it again"
    );

    // The view's tag is a version to a command: the current one, then a stale one.
    let edit = || {
        TestRequest::patch(&path)
            .user("alice")
            .header(header::IF_MATCH, &held)
    };
    let edited = app.send(edit().json(json!({ "title": "two" }))).await;
    assert_eq!(edited.status, 200, "{}", edited.body);
    let stale = app.send(edit().json(json!({ "title": "three" }))).await;
    stale.assert_problem(412, "version-mismatch");
}

/// A member polling a team's figures pays a 304 until they change, as a task owner completing
/// a task shared with the team changes them (and none of the member's own figures).
async fn a_team_dashboard_read_is_304_until_the_teams_figures_change(app: TestApp) {
    let create = TestRequest::post("/api/teams").user("alice");
    let team = app.send(create.json(json!({ "name": "crew" }))).await.body["team_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let add = TestRequest::put(format!("/api/teams/{team}/members/bob"))
        .user("alice")
        .json(json!({ "role": "member" }));
    assert_eq!(app.send(add).await.status, 200);
    let task = app.create_task("alice", "one").await;
    let share = TestRequest::put(format!("/api/tasks/{task}/team-shares/{team}"))
        .user("alice")
        .json(json!({ "permission": "view" }));
    assert_eq!(app.send(share).await.status, 200);

    let path = format!("/api/teams/{team}/dashboard");
    let first = app.get(&path, "bob").await;
    assert_eq!(
        (first.status.as_u16(), &first.body["pending"]),
        (200, &json!(1))
    );
    let held = etag(&first);
    assert_not_modified(&read_holding(&app, &path, "bob", &held).await, &held);
    let own = app.get("/api/dashboard", "bob").await;

    let complete = TestRequest::post(format!("/api/tasks/{task}/complete")).user("alice");
    assert_eq!(app.send(complete).await.status, 200);
    let changed = read_holding(&app, &path, "bob", &held).await;
    assert_eq!(changed.status, 200, "the team's figures changed");
    assert_eq!(changed.body["completed"], 1);
    assert_ne!(etag(&changed), held);
    let own_now = read_holding(&app, "/api/dashboard", "bob", &etag(&own)).await;
    assert_eq!(own_now.status, 304, "bob's own figures did not change");

    let stranger = read_holding(&app, &path, "mallory", &held).await;
    stranger.assert_problem(404, "not-found");
}
