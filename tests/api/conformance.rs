//! The store conformance story: the same behaviour on every backend.

use axum::http::{StatusCode, header};
use chrono::{DateTime, Duration, Utc};
use projections::ReadModels;
use serde_json::{Value, json};
use tally::http::router;
use tally::store::ReadFrom;

use crate::support::{TestApp, TestRequest, TestResponse, on_both_backends, send_to, serving};

on_both_backends!(
    a_created_and_completed_task_shows_on_the_dashboard,
    a_shared_task_lives_its_whole_life_with_the_right_history_and_figures,
    folding_the_log_gives_the_stored_dashboard_rows_of_every_user,
    a_reopened_store_still_holds_the_data_and_the_figures,
);

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

/// Asserts the figures `expected` names (the others are not looked at).
#[track_caller]
fn assert_figures(dashboard: &Value, expected: Value) {
    for (figure, value) in expected.as_object().unwrap() {
        assert_eq!(&dashboard[figure], value, "{figure} in {dashboard}");
    }
}

/// The event types of a task's history as `GET /api/tasks/{id}/events` shows them to `user`.
async fn history(app: &TestApp, task: &str, user: &str) -> Vec<String> {
    let response = app.get(&format!("/api/tasks/{task}/events"), user).await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    response.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["type"].as_str().unwrap().to_owned())
        .collect()
}

/// Checks a successful command's answer and that it moved the log forward (or not).
#[track_caller]
fn assert_command(response: &TestResponse, version: i64, last_position: &mut i64, appended: bool) {
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    assert_eq!(response.body["version"], version, "{}", response.body);
    let position = response.body["position"].as_i64().unwrap();
    if appended {
        assert!(
            position > *last_position,
            "{position} after {last_position}"
        );
    } else {
        assert_eq!(position, *last_position, "a command that changed nothing");
    }
    *last_position = position;
}

async fn a_shared_task_lives_its_whole_life_with_the_right_history_and_figures(app: TestApp) {
    let create = TestRequest::post("/api/tasks").user("alice");
    let created = app
        .send(create.json(json!({ "title": "write the report", "description": "for Friday" })))
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let task = created.body["task_id"].as_str().unwrap().to_owned();
    let path = format!("/api/tasks/{task}");
    assert_eq!(created.headers[header::LOCATION], path.as_str());
    assert_eq!(created.headers[header::ETAG], "\"1\"");
    assert_eq!(created.body["version"], 1);
    let mut position = created.body["position"].as_i64().unwrap();
    assert_eq!(history(&app, &task, "alice").await, ["TaskCreated"]);
    assert_figures(
        &app.dashboard("alice").await,
        json!({ "total": 1, "pending": 1, "completed": 0, "created_today": 1,
                "created_this_week": 1, "completion_rate": 0.0 }),
    );

    app.clock.advance(Duration::hours(1));
    let title = json!({ "title": "write the quarterly report" });
    let edit = |user: &str| TestRequest::patch(&path).user(user);
    let edited = app.send(edit("alice").json(title.clone())).await;
    assert_command(&edited, 2, &mut position, true);
    let shown = app.get(&path, "alice").await;
    assert_eq!(shown.body["title"], "write the quarterly report");
    assert_eq!(shown.body["description"], "for Friday");
    let updated_at: DateTime<Utc> = shown.body["updated_at"].as_str().unwrap().parse().unwrap();
    assert_eq!(updated_at, app.clock.now());
    let unchanged = app.send(edit("alice").json(title)).await;
    assert_command(&unchanged, 2, &mut position, false);
    assert_eq!(
        history(&app, &task, "alice").await,
        ["TaskCreated", "TaskEdited"]
    );
    assert_figures(
        &app.dashboard("alice").await,
        json!({ "total": 1, "pending": 1 }),
    );

    app.clock.advance(Duration::hours(1));
    let completed = app.post(&format!("{path}/complete"), "alice").await;
    assert_command(&completed, 3, &mut position, true);
    assert_figures(
        &app.dashboard("alice").await,
        json!({ "total": 1, "pending": 0, "completed": 1, "completed_today": 1,
                "completed_this_week": 1, "completion_rate": 100.0 }),
    );

    let reopened = app.post(&format!("{path}/reopen"), "alice").await;
    assert_command(&reopened, 4, &mut position, true);
    assert_eq!(
        app.get(&path, "alice").await.body["completed_at"],
        Value::Null
    );
    assert_figures(
        &app.dashboard("alice").await,
        json!({ "total": 1, "pending": 1, "completed": 0, "completed_today": 0,
                "completed_this_week": 0, "completion_rate": 0.0 }),
    );

    let shared = app.share(&task, "alice", "bob", "view").await;
    assert_command(&shared, 5, &mut position, true);
    assert_eq!(app.get(&path, "bob").await.body["permission"], "view");
    assert_eq!(
        app.get(&path, "alice").await.body["shares"],
        json!([{ "user_id": "bob", "permission": "view" }])
    );
    let viewer_edit = json!({ "description": "by bob" });
    app.send(edit("bob").json(viewer_edit.clone()))
        .await
        .assert_problem(403, "forbidden");
    assert_figures(
        &app.dashboard("bob").await,
        json!({ "total": 0, "shared": 1, "total_shared": 1, "view_only": 1, "can_edit": 0 }),
    );

    let promoted = app.share(&task, "alice", "bob", "edit").await;
    assert_command(&promoted, 6, &mut position, true);
    let promoted_again = app.share(&task, "alice", "bob", "edit").await;
    assert_command(&promoted_again, 6, &mut position, false);
    assert_figures(
        &app.dashboard("bob").await,
        json!({ "shared": 1, "view_only": 0, "can_edit": 1 }),
    );

    let editor_edit = app.send(edit("bob").json(viewer_edit)).await;
    assert_command(&editor_edit, 7, &mut position, true);
    assert_eq!(app.get(&path, "alice").await.body["description"], "by bob");
    assert_eq!(
        history(&app, &task, "bob").await,
        [
            "TaskCreated",
            "TaskEdited",
            "TaskCompleted",
            "TaskReopened",
            "TaskShared",
            "SharePermissionChanged",
            "TaskEdited",
        ]
    );

    let share_path = format!("{path}/shares/bob");
    let unshare = || TestRequest::delete(&share_path).user("alice");
    let unshared = app.send(unshare()).await;
    assert_command(&unshared, 8, &mut position, true);
    app.get(&path, "bob").await.assert_problem(404, "not-found");
    app.send(unshare()).await.assert_problem(404, "not-found");
    assert_figures(
        &app.dashboard("bob").await,
        json!({ "shared": 0, "total_shared": 0, "view_only": 0, "can_edit": 0 }),
    );

    let deleted = app.send(TestRequest::delete(&path).user("alice")).await;
    assert_command(&deleted, 9, &mut position, true);
    app.get(&path, "alice")
        .await
        .assert_problem(404, "not-found");
    app.get(&format!("{path}/events"), "alice")
        .await
        .assert_problem(404, "not-found");
    assert_figures(
        &app.dashboard("alice").await,
        json!({ "total": 0, "pending": 0, "completed": 0, "created_today": 0,
                "created_this_week": 0, "completion_rate": 0.0 }),
    );

    let log = app.store.events_after(0, 1_000).await.expect("the log");
    assert!(log.windows(2).all(|w| w[0].position < w[1].position));
    assert_eq!(log.last().unwrap().position, position);
    let stream: Vec<Value> = log
        .iter()
        .map(|e| {
            json!({ "version": e.stream_version, "type": e.event.event_type(),
                    "actor": e.actor, "payload": e.event.payload() })
        })
        .collect();
    // One name for both backends: each must produce exactly this stream.
    insta::assert_json_snapshot!("shared_task_life", stream);
}

/// A few users, tasks and shares over two weeks, with every kind of command.
async fn a_busy_fortnight(app: &TestApp) {
    let mut alice_tasks = Vec::new();
    for title in ["plan", "draft", "review"] {
        alice_tasks.push(app.create_task("alice", title).await);
    }
    let bob_task = app.create_task("bob", "fix the bike").await;
    let bob_other = app.create_task("bob", "call the bank").await;
    let ok = |response: TestResponse| assert!(response.status.is_success(), "{}", response.body);
    ok(app.share(&alice_tasks[0], "alice", "bob", "view").await);
    ok(app.share(&alice_tasks[1], "alice", "carol", "edit").await);
    ok(app
        .post(&format!("/api/tasks/{bob_task}/complete"), "bob")
        .await);

    app.clock.advance(Duration::days(1));
    ok(app
        .post(&format!("/api/tasks/{}/complete", alice_tasks[0]), "alice")
        .await);
    ok(app
        .post(&format!("/api/tasks/{}/complete", alice_tasks[1]), "carol")
        .await);
    let third = format!("/api/tasks/{}", alice_tasks[2]);
    ok(app.send(TestRequest::delete(&third).user("alice")).await);
    ok(app.share(&bob_other, "bob", "alice", "edit").await);

    // Monday of the next ISO week.
    app.clock.advance(Duration::days(4));
    ok(app
        .post(&format!("/api/tasks/{bob_task}/reopen"), "bob")
        .await);
    let fresh = app.create_task("alice", "start the week").await;
    ok(app
        .post(&format!("/api/tasks/{fresh}/complete"), "alice")
        .await);
    ok(app.share(&alice_tasks[0], "alice", "bob", "edit").await);
    let unshare = format!("/api/tasks/{bob_other}/shares/alice");
    ok(app.send(TestRequest::delete(&unshare).user("bob")).await);
    ok(app.share(&fresh, "alice", "carol", "view").await);
}

async fn folding_the_log_gives_the_stored_dashboard_rows_of_every_user(app: TestApp) {
    a_busy_fortnight(&app).await;
    let log = app.store.events_after(0, 10_000).await.expect("the log");
    assert!(log.windows(2).all(|w| w[0].position < w[1].position));
    let mut models = ReadModels::default();
    for event in &log {
        models.apply(event);
    }

    let users = models.users();
    assert_eq!(users.iter().collect::<Vec<_>>(), ["alice", "bob", "carol"]);
    let now = app.clock.now();
    for user in &users {
        let stored = app
            .store
            .dashboard_stats(user, ReadFrom::Primary)
            .await
            .expect("stats row");
        assert_eq!(
            stored.as_ref(),
            models.stats.get(user),
            "{user}'s stored row"
        );
        for moment in [now, now + Duration::days(1), now + Duration::days(7)] {
            assert_eq!(
                models.recount(user, moment),
                models.figures(user, moment),
                "{user} at {moment}"
            );
        }
        let mut expected = serde_json::to_value(models.recount(user, now)).unwrap();
        expected["total_shared"] = expected["shared"].clone();
        assert_eq!(app.dashboard(user).await, expected, "{user}'s dashboard");
    }
}

async fn a_reopened_store_still_holds_the_data_and_the_figures(app: TestApp) {
    a_busy_fortnight(&app).await;
    let stored_before = app.db.stored_state().await;
    let log_before = app.store.events_after(0, 10_000).await.expect("the log");
    let head_before = app.store.head_position().await.expect("head");
    let users = ["alice", "bob", "carol"];
    let mut dashboards_before = Vec::new();
    for user in users {
        dashboards_before.push(app.dashboard(user).await);
    }
    let task = log_before[0].stream_id;
    let task_before = app
        .store
        .task(task, "alice", ReadFrom::Primary)
        .await
        .expect("a task");

    app.store.close().await;
    let reopened = app.db.open_store(Default::default()).await;
    let (state, _background) = serving(reopened.clone(), app.auth.clone(), app.clock.clock()).await;
    let router = router(state);

    assert_eq!(app.db.stored_state().await, stored_before);
    assert_eq!(reopened.events_after(0, 10_000).await.unwrap(), log_before);
    assert_eq!(reopened.head_position().await.unwrap(), head_before);
    assert_eq!(
        reopened
            .task(task, "alice", ReadFrom::Primary)
            .await
            .unwrap(),
        task_before
    );
    for (user, before) in users.into_iter().zip(&dashboards_before) {
        let dashboard = send_to(&router, TestRequest::get("/api/dashboard").user(user)).await;
        assert_eq!(dashboard.status, StatusCode::OK, "{}", dashboard.body);
        assert_eq!(
            &dashboard.body, before,
            "{user}'s dashboard after reopening"
        );
    }

    let new_task = json!({ "title": "after the restart" });
    let create = TestRequest::post("/api/tasks").user("alice");
    let created = send_to(&router, create.json(new_task)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["position"], head_before + 1);
    let dashboard = send_to(&router, TestRequest::get("/api/dashboard").user("alice")).await;
    assert_eq!(
        dashboard.body["total"],
        dashboards_before[0]["total"].as_i64().unwrap() + 1
    );
    reopened.close().await;
}
