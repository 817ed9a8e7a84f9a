//! The write side's happy paths: every command's success answer (status, `Location`, `ETag`,
//! body), the commands that change nothing, and `If-Match` naming the current version. What
//! `Idempotency-Key` does is in `idempotency`; every refusal is in `errors`.

use axum::http::header;
use serde_json::json;

use crate::support::{TestApp, TestRequest, on_both_backends};

on_both_backends!(
    a_create_answers_201_with_location_etag_and_the_first_version,
    edit_complete_and_reopen_answer_200_with_the_next_version,
    share_is_idempotent_changes_an_existing_permission_and_unshare_removes_it,
    an_edit_that_changes_nothing_appends_nothing_and_answers_the_task_as_it_is,
    a_deleted_task_is_gone_for_everyone_and_from_every_figure,
    if_match_with_the_current_version_succeeds_quoted_or_bare,
    text_in_any_script_with_line_breaks_and_tabs_is_stored_as_sent,
);

/// The position of the newest event of `task`, read straight from the log.
async fn last_position_of(app: &TestApp, task: &str) -> i64 {
    let history = app.get(&format!("/api/tasks/{task}/events"), "alice").await;
    let events = history.body["events"].as_array().unwrap();
    events.last().unwrap()["position"].as_i64().unwrap()
}

async fn a_create_answers_201_with_location_etag_and_the_first_version(app: TestApp) {
    let body = json!({ "title": "write the tests", "description": "all of them" });
    let created = app
        .send(TestRequest::post("/api/tasks").user("alice").json(body))
        .await;

    assert_eq!(created.status, 201, "{}", created.body);
    let task = created.body["task_id"].as_str().unwrap();
    assert_eq!(
        created.headers[header::LOCATION],
        format!("/api/tasks/{task}")
    );
    assert_eq!(created.headers[header::ETAG], "\"1\"");
    insta::assert_json_snapshot!("create_answer", created.answer(), {
        ".body.task_id" => "[id]",
        ".location" => "[location]",
    });
    let shown = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(shown.status, 200, "{}", shown.body);
    assert_eq!(shown.body["title"], "write the tests");
    assert_eq!(shown.body["description"], "all of them");
    assert_eq!(shown.body["version"], 1);
    assert_eq!(app.db.event_count().await, 1);
}

async fn edit_complete_and_reopen_answer_200_with_the_next_version(app: TestApp) {
    let task = app.create_task("alice", "write the tests").await;
    let path = format!("/api/tasks/{task}");

    let edit = TestRequest::patch(&path).user("alice");
    let edited = app
        .send(edit.json(json!({ "title": "write more tests" })))
        .await;
    let completed = app.post(&format!("{path}/complete"), "alice").await;
    let reopened = app.post(&format!("{path}/reopen"), "alice").await;

    for (response, version) in [(&edited, 2), (&completed, 3), (&reopened, 4)] {
        assert_eq!(response.status, 200, "{}", response.body);
        assert_eq!(response.body["task_id"], task.as_str());
        assert_eq!(response.body["version"], version);
        assert_eq!(response.headers[header::ETAG], format!("\"{version}\""));
        assert!(response.headers.get(header::LOCATION).is_none());
    }
    let answers = json!({
        "edit": edited.answer(),
        "complete": completed.answer(),
        "reopen": reopened.answer(),
    });
    insta::assert_json_snapshot!("edit_complete_reopen_answers", answers, { ".**.task_id" => "[id]" });
    let shown = app.get(&path, "alice").await;
    assert_eq!(shown.body["title"], "write more tests");
    assert_eq!(shown.body["status"], "pending");
    assert_eq!(shown.body["version"], 4);
}

async fn share_is_idempotent_changes_an_existing_permission_and_unshare_removes_it(app: TestApp) {
    let task = app.create_task("alice", "plan the trip").await;
    let task_path = format!("/api/tasks/{task}");

    let shared = app.share(&task, "alice", "bob", "view").await;
    let events_after_share = app.db.event_count().await;
    let shared_again = app.share(&task, "alice", "bob", "view").await;
    assert_eq!(app.db.event_count().await, events_after_share);
    assert_eq!(
        shared_again.body, shared.body,
        "a repeated share answers the same"
    );
    assert_eq!(app.get(&task_path, "bob").await.body["permission"], "view");

    let upgraded = app.share(&task, "alice", "bob", "edit").await;
    assert_eq!(app.get(&task_path, "bob").await.body["permission"], "edit");
    let bob = app.dashboard("bob").await;
    assert_eq!(
        (bob["view_only"].as_i64(), bob["can_edit"].as_i64()),
        (Some(0), Some(1))
    );

    let unshared = app
        .send(TestRequest::delete(format!("{task_path}/shares/bob")).user("alice"))
        .await;
    for response in [&shared, &shared_again, &upgraded, &unshared] {
        assert_eq!(response.status, 200, "{}", response.body);
    }
    let answers = json!({
        "share": shared.answer(),
        "share_again": shared_again.answer(),
        "change_permission": upgraded.answer(),
        "unshare": unshared.answer(),
    });
    insta::assert_json_snapshot!("share_answers", answers, { ".**.task_id" => "[id]" });
    app.get(&task_path, "bob")
        .await
        .assert_problem(404, "not-found");
    assert_eq!(app.dashboard("bob").await["shared"], 0);
    assert_eq!(app.get(&task_path, "alice").await.body["shares"], json!([]));
}

async fn an_edit_that_changes_nothing_appends_nothing_and_answers_the_task_as_it_is(app: TestApp) {
    let task = app.create_task("alice", "water the plants").await;
    let path = format!("/api/tasks/{task}");
    let edit = || TestRequest::patch(&path).user("alice");
    let first = app
        .send(edit().json(json!({ "title": "water the ferns" })))
        .await;
    assert_eq!(first.status, 200, "{}", first.body);
    // Another task's event moves the log's head past this task's last event.
    app.create_task("alice", "something else").await;
    let before = app.db.stored_state().await;
    let same_text = [
        json!({ "title": "water the ferns" }),
        json!({ "description": "" }),
        json!({ "title": "water the ferns", "description": "" }),
        json!({}),
    ];

    for body in same_text {
        let unchanged = app.send(edit().json(body)).await;

        assert_eq!(unchanged.status, 200, "{}", unchanged.body);
        assert_eq!(unchanged.body["version"], 2);
        assert_eq!(
            unchanged.body["position"],
            last_position_of(&app, &task).await
        );
        assert_eq!(unchanged.body["position"], first.body["position"]);
        assert_eq!(unchanged.headers[header::ETAG], "\"2\"");
    }
    assert_eq!(
        app.db.stored_state().await,
        before,
        "nothing may be written"
    );
}

async fn a_deleted_task_is_gone_for_everyone_and_from_every_figure(app: TestApp) {
    let kept = app.create_task("alice", "keep me").await;
    let doomed = app.create_task("alice", "delete me").await;
    app.post(&format!("/api/tasks/{doomed}/complete"), "alice")
        .await;
    app.share(&doomed, "alice", "bob", "view").await;
    app.share(&doomed, "alice", "carol", "edit").await;
    app.share(&kept, "alice", "carol", "view").await;
    assert_eq!(app.dashboard("alice").await["completed_today"], 1);
    assert_eq!(app.dashboard("carol").await["shared"], 2);

    let deleted = app
        .send(TestRequest::delete(format!("/api/tasks/{doomed}")).user("alice"))
        .await;

    assert_eq!(deleted.status, 200, "{}", deleted.body);
    assert_eq!(deleted.body["version"], 5);
    insta::assert_json_snapshot!("delete_answer", deleted.answer(), { ".body.task_id" => "[id]" });
    for user in ["alice", "bob", "carol"] {
        let path = format!("/api/tasks/{doomed}");
        app.get(&path, user).await.assert_problem(404, "not-found");
        app.get(&format!("{path}/events"), user)
            .await
            .assert_problem(404, "not-found");
    }
    let alice = app.dashboard("alice").await;
    assert_eq!(alice["total"], 1);
    assert_eq!(alice["pending"], 1);
    assert_eq!(alice["completed"], 0);
    assert_eq!(alice["created_today"], 1);
    assert_eq!(alice["created_this_week"], 1);
    assert_eq!(alice["completed_today"], 0);
    assert_eq!(alice["completed_this_week"], 0);
    assert_eq!(alice["completion_rate"], 0.0);
    let bob = app.dashboard("bob").await;
    assert_eq!(
        (bob["shared"].as_i64(), bob["view_only"].as_i64()),
        (Some(0), Some(0))
    );
    let carol = app.dashboard("carol").await;
    assert_eq!(carol["shared"], 1);
    assert_eq!(carol["total_shared"], 1);
    assert_eq!(
        (carol["view_only"].as_i64(), carol["can_edit"].as_i64()),
        (Some(1), Some(0))
    );
    let listed = app.get("/api/tasks?scope=shared", "bob").await;
    assert_eq!(listed.body["items"], json!([]));
    let owned = app.get("/api/tasks", "alice").await;
    assert_eq!(owned.body["items"].as_array().unwrap().len(), 1);
    assert_eq!(owned.body["items"][0]["id"], kept.as_str());
}

async fn if_match_with_the_current_version_succeeds_quoted_or_bare(app: TestApp) {
    let task = app.create_task("alice", "check the version").await;
    let path = format!("/api/tasks/{task}");

    let quoted = TestRequest::patch(&path)
        .user("alice")
        .body(r#"{"title": "checked"}"#)
        .header("if-match", "\"1\"");
    let quoted = app.send(quoted).await;
    assert_eq!(quoted.status, 200, "{}", quoted.body);
    assert_eq!(quoted.body["version"], 2);

    let bare = TestRequest::post(format!("{path}/complete"))
        .user("alice")
        .header("if-match", "2");
    let bare = app.send(bare).await;
    assert_eq!(bare.status, 200, "{}", bare.body);
    assert_eq!(bare.body["version"], 3);
    assert_eq!(app.db.event_count().await, 3);
}

async fn text_in_any_script_with_line_breaks_and_tabs_is_stored_as_sent(app: TestApp) {
    // What the refusal of control characters must not catch: both backends store these alike.
    let title = "Überprüfen 検証 👩\u{200D}💻";
    let description = "first line\r\nsecond line\n\tindented";
    let created = app
        .send(
            TestRequest::post("/api/tasks")
                .user("alice")
                .json(json!({ "title": title, "description": description })),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let task = created.body["task_id"].as_str().unwrap();
    let shown = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(shown.body["title"], title);
    assert_eq!(shown.body["description"], description);
}
