//! What an `Idempotency-Key` does. A command sent again with the same key by the same user
//! within 24 hours gets the first answer back (status, headers and body, a refusal included)
//! and appends nothing, however the JSON is spelled and however many repeats race; the same
//! key on a different request is refused with 422; another user's key is independent; a key
//! older than 24 hours is forgotten and the command is decided afresh. Without a key, every
//! request is decided again.
//!
//! Elsewhere: the key's form (1 to 255 printable ASCII, else 400) is checked on every command
//! route in `errors::malformed_requests`; the job that deletes expired keys is in `lifecycle`.

use axum::http::{HeaderName, StatusCode};
use serde_json::json;

use crate::errors::World;
use crate::support::{TestApp, TestRequest, on_both_backends};

on_both_backends!(
    a_repeated_create_with_the_same_idempotency_key_returns_the_first_response,
    a_repeated_complete_with_the_same_idempotency_key_is_not_refused_as_a_second_completion,
    a_repeated_refusal_answers_the_first_refusal_even_after_the_task_changed,
    a_repeated_412_stays_412_and_the_same_key_with_another_if_match_is_reuse,
    a_refused_request_without_a_key_is_decided_again,
    reusing_an_idempotency_key_for_a_different_request_is_refused_with_422,
    the_same_idempotency_key_used_by_another_user_is_independent,
    an_idempotency_key_older_than_24_hours_is_no_longer_replayed,
    sixteen_concurrent_repeats_of_one_idempotent_create_make_one_task,
);

/// `POST /api/tasks` as `user` with `body` spelled as given, under `key`.
fn keyed_create(user: &str, body: &str, key: &str) -> TestRequest {
    TestRequest::post("/api/tasks")
        .user(user)
        .body(body)
        .header("idempotency-key", key)
}

async fn a_repeated_create_with_the_same_idempotency_key_returns_the_first_response(app: TestApp) {
    let key = "create-groceries-1";
    let first = app
        .send(keyed_create(
            "alice",
            r#"{"title":"buy groceries","description":"milk"}"#,
            key,
        ))
        .await;
    assert_eq!(first.status, 201, "{}", first.body);
    let before = app.db.stored_state().await;

    // The same request, spelled differently: other key order, other whitespace.
    let repeat = app
        .send(keyed_create(
            "alice",
            "{\n  \"description\" : \"milk\",\n  \"title\" : \"buy groceries\"\n}\n",
            key,
        ))
        .await;

    assert_eq!(repeat.answer(), first.answer());
    assert_eq!(
        app.db.stored_state().await,
        before,
        "a replay appends nothing"
    );
    assert_eq!(app.db.event_count().await, 1);
    let listed = app.get("/api/tasks", "alice").await;
    assert_eq!(listed.body["items"].as_array().unwrap().len(), 1);
}

async fn a_repeated_complete_with_the_same_idempotency_key_is_not_refused_as_a_second_completion(
    app: TestApp,
) {
    let task = app.create_task("alice", "finish once").await;
    let complete = || {
        TestRequest::post(format!("/api/tasks/{task}/complete"))
            .user("alice")
            .header("idempotency-key", "complete-once")
    };
    let first = app.send(complete()).await;
    assert_eq!(first.status, 200, "{}", first.body);

    let repeat = app.send(complete()).await;

    assert_eq!(repeat.answer(), first.answer());
    assert_eq!(app.db.event_count().await, 2);
    assert_eq!(app.dashboard("alice").await["completed"], 1);
}

async fn a_repeated_refusal_answers_the_first_refusal_even_after_the_task_changed(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/reopen");
    let reopen = || TestRequest::post(&path).user("alice");
    let keyed_reopen = || reopen().header("idempotency-key", "reopen-1");
    let first = app.send(keyed_reopen()).await;
    assert_eq!(first.status, 409, "{}", first.body);
    assert_eq!(first.body["type"], "invalid-transition");
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    assert_eq!(completed.status, 200);
    let before = app.db.stored_state().await;

    let repeat = app.send(keyed_reopen()).await;

    assert_eq!(repeat.answer(), first.answer());
    assert_eq!(
        app.db.stored_state().await,
        before,
        "a replay appends nothing"
    );
    assert_eq!(app.dashboard("alice").await["completed"], 1);
    let fresh = app.send(reopen()).await;
    assert_eq!(fresh.status, 200, "without the key it is a new request");
}

async fn a_repeated_412_stays_412_and_the_same_key_with_another_if_match_is_reuse(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/complete");
    let complete_at = async |version| {
        let request = TestRequest::post(&path)
            .user("alice")
            .header("idempotency-key", "complete-at-7")
            .header("if-match", version);
        app.send(request).await
    };
    let first = complete_at("\"7\"").await;
    assert_eq!(first.status, 412, "{}", first.body);

    let repeat = complete_at("\"7\"").await;
    let corrected = complete_at("\"1\"").await;

    assert_eq!(repeat.answer(), first.answer());
    assert_eq!(corrected.status, 422, "{}", corrected.body);
    assert_eq!(corrected.body["type"], "idempotency-key-reuse");
    assert_eq!(app.db.event_count().await, 1, "nothing was completed");
}

async fn a_refused_request_without_a_key_is_decided_again(app: TestApp) {
    let task = app.create_task("alice", "report").await;
    let path = format!("/api/tasks/{task}/reopen");
    let refused = app.post(&path, "alice").await;
    assert_eq!(refused.status, 409);
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    assert_eq!(completed.status, 200);

    let again = app.post(&path, "alice").await;

    assert_eq!(again.status, 200, "{}", again.body);
}

/// From the scene of `errors`, so that every refusal is also checked to change nothing.
async fn reusing_an_idempotency_key_for_a_different_request_is_refused_with_422(app: TestApp) {
    let world = World::build(&app).await;
    let key = HeaderName::from_static("idempotency-key");
    let keyed = |user, method, template, body| {
        let request = world.request(Some(user), method, template, body);
        request.header(key.clone(), "errand-1")
    };
    let first = keyed(
        "alice",
        "POST",
        "/api/tasks",
        Some(r#"{"title": "buy stamps"}"#),
    );
    assert_eq!(app.send(first).await.status, 201);
    let reuses = [
        keyed(
            "alice",
            "POST",
            "/api/tasks",
            Some(r#"{"title": "buy bread"}"#),
        ),
        keyed(
            "alice",
            "POST",
            "/api/tasks",
            Some(r#"{"title": "buy stamps", "description": "x"}"#),
        ),
        keyed(
            "alice",
            "PATCH",
            "/api/tasks/{pending}",
            Some(r#"{"title": "buy stamps"}"#),
        ),
        keyed("alice", "POST", "/api/tasks/{pending}/complete", None),
    ];
    for request in reuses {
        world.refused(request, 422, "idempotency-key-reuse").await;
    }
    // Keys belong to one user: bob may use the same one for another request.
    let bob = keyed(
        "bob",
        "POST",
        "/api/tasks",
        Some(r#"{"title": "buy bread"}"#),
    );
    assert_eq!(app.send(bob).await.status, 201);
}

async fn the_same_idempotency_key_used_by_another_user_is_independent(app: TestApp) {
    let body = r#"{"title":"same request"}"#;
    let alices = app.send(keyed_create("alice", body, "shared-key")).await;

    let bobs = app.send(keyed_create("bob", body, "shared-key")).await;

    assert_eq!(bobs.status, 201, "{}", bobs.body);
    assert_ne!(bobs.body["task_id"], alices.body["task_id"]);
    assert_eq!(app.db.event_count().await, 2);
    let task = bobs.body["task_id"].as_str().unwrap();
    assert_eq!(
        app.get(&format!("/api/tasks/{task}"), "bob").await.body["owner_id"],
        "bob"
    );
    assert_eq!(app.dashboard("alice").await["total"], 1);
    assert_eq!(app.dashboard("bob").await["total"], 1);
}

async fn an_idempotency_key_older_than_24_hours_is_no_longer_replayed(app: TestApp) {
    let create = || keyed_create("alice", r#"{"title":"daily report"}"#, "daily-report");
    let first = app.send(create()).await;
    assert_eq!(first.status, 201, "{}", first.body);

    app.clock.advance(chrono::Duration::hours(23));
    let within_a_day = app.send(create()).await;
    assert_eq!(within_a_day.body["task_id"], first.body["task_id"]);
    assert_eq!(app.db.event_count().await, 1);

    app.clock.advance(chrono::Duration::hours(2));
    let a_day_later = app.send(create()).await;

    assert_eq!(a_day_later.status, 201, "{}", a_day_later.body);
    assert_ne!(a_day_later.body["task_id"], first.body["task_id"]);
    assert_eq!(app.db.event_count().await, 2);
    assert_eq!(app.dashboard("alice").await["total"], 2);
}

async fn sixteen_concurrent_repeats_of_one_idempotent_create_make_one_task(app: TestApp) {
    let requests = (0..16).map(|_| {
        TestRequest::post("/api/tasks")
            .user("alice")
            .header("idempotency-key", "create-the-report-once")
            .json(json!({ "title": "the report", "description": "once" }))
    });

    let answers = app.send_all_at_once(requests).await;

    for answer in &answers {
        assert_eq!(answer.status, StatusCode::CREATED, "{}", answer.body);
        assert_eq!(
            answer.body, answers[0].body,
            "every repeat answers the first response"
        );
    }
    let task = answers[0].body["task_id"].as_str().unwrap();
    assert_eq!(answers[0].body["version"], 1);
    let created = app
        .db
        .scalar(
            "select count(*) from events where event_type = $1",
            &["TaskCreated"],
        )
        .await;
    assert_eq!(created, 1);
    assert_eq!(app.db.event_count().await, 1);
    assert_eq!(app.dashboard("alice").await["total"], 1);
    let shown = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(shown.status, StatusCode::OK, "{}", shown.body);
}
