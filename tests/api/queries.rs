//! The read side's happy paths: one task, task lists, a task's history and the health check
//! (and what it and a command answer once the store is gone).
//! Every dashboard figure, against exact values, day and week boundaries and an independent
//! `COUNT(*)` recount, is in `dashboard_figures`.

use chrono::{DateTime, Duration};
use serde_json::{Value, json};

use crate::support::{TestApp, TestRequest, on_both_backends};

on_both_backends!(
    the_owner_sees_the_shares_and_a_sharee_sees_only_their_permission,
    the_task_list_pages_newest_first_with_no_duplicates_and_none_missing,
    the_task_list_filters_by_scope_and_status,
    bad_list_parameters_are_refused_as_malformed,
    a_task_history_lists_its_events_oldest_first,
    a_long_task_history_comes_in_pages_that_add_up_to_the_whole,
    the_health_check_needs_no_token_and_reports_the_last_position,
    the_health_check_and_a_command_answer_503_when_the_store_is_gone,
    the_health_check_answers_503_and_a_command_503_once_the_command_writer_has_stopped,
);

/// The titles of the items of a task list.
fn titles(page: &Value) -> Vec<&str> {
    let items = page["items"].as_array().unwrap_or_else(|| panic!("{page}"));
    items
        .iter()
        .map(|task| task["title"].as_str().unwrap())
        .collect()
}

async fn the_owner_sees_the_shares_and_a_sharee_sees_only_their_permission(app: TestApp) {
    let create = TestRequest::post("/api/tasks").user("alice");
    let created = app
        .send(create.json(json!({ "title": "plan the trip", "description": "train or car" })))
        .await;
    let task = created.body["task_id"].as_str().unwrap().to_owned();
    app.share(&task, "alice", "carol", "edit").await;
    app.share(&task, "alice", "bob", "view").await;
    let path = format!("/api/tasks/{task}");

    let owner = app.get(&path, "alice").await;
    let editor = app.get(&path, "carol").await;
    let viewer = app.get(&path, "bob").await;

    assert_eq!(owner.status, 200, "{}", owner.body);
    assert_eq!(owner.body["id"], task.as_str());
    assert_eq!(owner.body["permission"], "owner");
    assert_eq!(
        owner.body["shares"],
        json!([{ "user_id": "bob", "permission": "view" },
               { "user_id": "carol", "permission": "edit" }])
    );
    assert_eq!(owner.body["created_at"], "2026-11-25T10:00:00Z");
    insta::assert_json_snapshot!("task_for_its_owner", owner.body, {
        ".id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]",
    });
    for (sharee, permission) in [(&editor, "edit"), (&viewer, "view")] {
        assert_eq!(sharee.status, 200, "{}", sharee.body);
        assert_eq!(sharee.body["permission"], permission);
        assert!(sharee.body.get("shares").is_none(), "{}", sharee.body);
        assert!(sharee.body.get("shares_total").is_none(), "{}", sharee.body);
        assert_eq!(sharee.body["owner_id"], "alice");
    }
    insta::assert_json_snapshot!("task_for_a_viewer", viewer.body, {
        ".id" => "[id]", ".created_at" => "[time]", ".updated_at" => "[time]",
    });
    app.get(&path, "dave")
        .await
        .assert_problem(404, "not-found");
}

async fn the_task_list_pages_newest_first_with_no_duplicates_and_none_missing(app: TestApp) {
    for n in 1..=5 {
        app.create_task("alice", &format!("task {n}")).await;
        app.clock.advance(Duration::minutes(1));
    }
    app.create_task("bob", "not alice's").await;

    let mut seen = Vec::new();
    let mut path = "/api/tasks?limit=2".to_owned();
    for _ in 0..5 {
        let page = app.get(&path, "alice").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(titles(&page.body).len() <= 2);
        let created: Vec<&str> = page.body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["created_at"].as_str().unwrap())
            .collect();
        assert!(
            created.is_sorted_by(|a, b| a >= b),
            "newest first: {created:?}"
        );
        seen.extend(titles(&page.body).into_iter().map(str::to_owned));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/api/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }

    assert_eq!(seen, ["task 5", "task 4", "task 3", "task 2", "task 1"]);
}

async fn the_task_list_filters_by_scope_and_status(app: TestApp) {
    let first = app.create_task("alice", "first").await;
    let second = app.create_task("alice", "second").await;
    app.create_task("alice", "third").await;
    app.create_task("bob", "bob's own").await;
    app.complete_task(&second, "alice").await;
    app.share(&first, "alice", "bob", "view").await;
    app.share(&second, "alice", "bob", "edit").await;
    let list = async |query: &str, user: &str| {
        let page = app.get(&format!("/api/tasks{query}"), user).await;
        assert_eq!(page.status, 200, "{}", page.body);
        page.body
    };

    assert_eq!(
        titles(&list("", "alice").await),
        ["third", "second", "first"]
    );
    assert_eq!(
        titles(&list("?scope=owned&status=pending", "alice").await),
        ["third", "first"]
    );
    assert_eq!(
        titles(&list("?status=completed", "alice").await),
        ["second"]
    );
    assert_eq!(titles(&list("?scope=owned", "bob").await), ["bob's own"]);
    let shared = list("?scope=shared", "bob").await;
    assert_eq!(titles(&shared), ["second", "first"]);
    assert_eq!(shared["items"][0]["permission"], "edit");
    assert_eq!(shared["items"][1]["permission"], "view");
    assert!(shared["items"][0].get("shares").is_none());
    assert_eq!(shared["next_cursor"], Value::Null);
    assert_eq!(
        titles(&list("?scope=shared&status=completed", "bob").await),
        ["second"]
    );
    assert_eq!(
        titles(&list("?scope=shared&status=pending", "bob").await),
        ["first"]
    );
    let first_page = list("?scope=shared&limit=1", "bob").await;
    assert_eq!(titles(&first_page), ["second"]);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let rest = list(&format!("?scope=shared&limit=1&cursor={cursor}"), "bob").await;
    assert_eq!(titles(&rest), ["first"]);
    assert_eq!(
        titles(&list("?scope=shared", "carol").await),
        Vec::<&str>::new()
    );
}

async fn bad_list_parameters_are_refused_as_malformed(app: TestApp) {
    app.create_task("alice", "something").await;
    for query in [
        "scope=everyone",
        "status=done",
        "limit=0",
        "limit=201",
        "limit=-1",
        "limit=ten",
        "cursor=not-a-cursor",
    ] {
        let response = app.get(&format!("/api/tasks?{query}"), "alice").await;
        response.assert_problem(400, "malformed-request");
    }
}

async fn a_task_history_lists_its_events_oldest_first(app: TestApp) {
    let task = app.create_task("alice", "paint the fence").await;
    let path = format!("/api/tasks/{task}");
    let edit = TestRequest::patch(&path).user("alice");
    app.send(edit.json(json!({ "title": "paint the gate" })))
        .await;
    app.share(&task, "alice", "bob", "view").await;
    app.share(&task, "alice", "bob", "edit").await;
    app.clock.advance(Duration::hours(1));
    app.complete_task(&task, "bob").await;
    app.reopen_task(&task, "alice").await;
    app.share(&task, "alice", "carol", "view").await;
    app.send(TestRequest::delete(format!("{path}/shares/bob")).user("alice"))
        .await;

    let history = app.get(&format!("{path}/events"), "carol").await;

    assert_eq!(history.status, 200, "{}", history.body);
    assert_eq!(history.body["task_id"], task.as_str());
    let events = history.body["events"].as_array().unwrap();
    let versions: Vec<i64> = events
        .iter()
        .map(|e| e["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (1..=8).collect::<Vec<_>>());
    insta::assert_json_snapshot!("task_history", history.body, {
        ".task_id" => "[id]",
        ".events[].event_id" => "[id]",
        ".events[].recorded_at" => "[time]",
    });
    // Carol is not told whom else alice shared with; alice is.
    let recipients = |history: &Value| -> Vec<Value> {
        let events = history["events"].as_array().unwrap();
        events
            .iter()
            .filter_map(|e| e["payload"].get("recipient_id").cloned())
            .collect()
    };
    let null = Value::Null;
    assert_eq!(
        recipients(&history.body),
        [null.clone(), null.clone(), json!("carol"), null]
    );
    let owners = app.get(&format!("{path}/events"), "alice").await;
    assert_eq!(
        recipients(&owners.body),
        [json!("bob"), json!("bob"), json!("carol"), json!("bob")]
    );
    // Nor is she told that bob completed it; alice is.
    let actors = |history: &Value| -> Vec<Value> {
        let events = history["events"].as_array().unwrap();
        events.iter().map(|e| e["actor"].clone()).collect()
    };
    let alice = json!("alice");
    let mut expected = vec![alice.clone(); 8];
    expected[4] = Value::Null;
    assert_eq!(actors(&history.body), expected);
    expected[4] = json!("bob");
    assert_eq!(actors(&owners.body), expected);
}

async fn the_health_check_needs_no_token_and_reports_the_last_position(app: TestApp) {
    let empty = app.send(TestRequest::get("/api/dashboard/health")).await;
    assert_eq!(empty.status, 200, "{}", empty.body);
    assert_eq!(empty.body["last_position"], 0);
    let task = app.create_task("alice", "one").await;
    app.complete_task(&task, "alice").await;

    let health = app.send(TestRequest::get("/api/dashboard/health")).await;

    assert_eq!(health.status, 200, "{}", health.body);
    let newest = app
        .db
        .scalar("select coalesce(max(position), 0) from events", &[]);
    assert_eq!(health.body["last_position"], newest.await);
    let timestamp = DateTime::parse_from_rfc3339(health.body["timestamp"].as_str().unwrap());
    assert_eq!(timestamp.unwrap(), app.clock.now());
    insta::assert_json_snapshot!("health", health.body, { ".timestamp" => "[time]" });
}

async fn the_health_check_and_a_command_answer_503_when_the_store_is_gone(app: TestApp) {
    app.store.close().await;

    let health = app.send(TestRequest::get("/api/dashboard/health")).await;

    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.body["status"], "unavailable");
    assert_eq!(health.body["database"], "unreachable");
    assert_eq!(health.body["last_position"], Value::Null);

    // The failure is logged; the client learns that nothing was changed and when to retry.
    let create = TestRequest::post("/api/tasks").user("alice");
    let refused = app
        .send(create.json(json!({ "title": "after the store closed" })))
        .await;
    refused.assert_problem(503, "unavailable");
    assert_eq!(
        refused.body["detail"],
        "the database cannot take work now; nothing was changed"
    );
    assert_eq!(refused.headers["retry-after"], "1");
}

async fn a_long_task_history_comes_in_pages_that_add_up_to_the_whole(app: TestApp) {
    let task = app.create_task("alice", "edit me often").await;
    let path = format!("/api/tasks/{task}");
    let other = app.create_task("alice", "edited in between").await;
    for n in 0..6 {
        // Another task's events in between: positions skip, stream versions do not.
        let between = TestRequest::patch(format!("/api/tasks/{other}")).user("alice");
        app.send(between.json(json!({ "title": format!("other {n}") })))
            .await;
        let edit = TestRequest::patch(&path).user("alice");
        let edited = app
            .send(edit.json(json!({ "title": format!("edit {n}") })))
            .await;
        assert_eq!(edited.status, 200, "{}", edited.body);
    }
    let whole = app.get(&format!("{path}/events"), "alice").await;
    assert_eq!(
        whole.body["next_after"],
        Value::Null,
        "seven events fit one default page"
    );
    let all: Vec<i64> = whole.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["position"].as_i64().unwrap())
        .collect();
    assert_eq!(all.len(), 7);

    let (mut paged, mut after, mut pages) = (Vec::new(), 0, 0);
    loop {
        let page = app
            .get(&format!("{path}/events?limit=3&after={after}"), "alice")
            .await;
        assert_eq!(page.status, 200, "{}", page.body);
        let events = page.body["events"].as_array().unwrap();
        assert!(events.len() <= 3);
        paged.extend(
            events
                .iter()
                .map(|event| event["position"].as_i64().unwrap()),
        );
        pages += 1;
        match page.body["next_after"].as_i64() {
            Some(next) => after = next,
            None => break,
        }
    }
    assert_eq!(paged, all, "the pages, in order, are the whole history");
    assert_eq!(pages, 3, "3 + 3 + 1 events");
    let versions: Vec<i64> = whole.body["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| event["version"].as_i64().unwrap())
        .collect();
    assert_eq!(versions, (1..=7).collect::<Vec<_>>());
    assert!(
        all.windows(2).all(|pair| pair[1] > pair[0] + 1),
        "positions skip: {all:?}"
    );

    for query in ["limit=0", "limit=201", "limit=x", "after=-1", "after=soon"] {
        let refused = app.get(&format!("{path}/events?{query}"), "alice").await;
        refused.assert_problem(400, "malformed-request");
    }
}

async fn the_health_check_answers_503_and_a_command_503_once_the_command_writer_has_stopped(
    app: TestApp,
) {
    let health = app.send(TestRequest::get("/api/dashboard/health")).await;
    assert_eq!(health.status, 200, "{}", health.body);
    assert_eq!(health.body["commands"], "accepting");

    app.commands.close().await;

    let health = app.send(TestRequest::get("/api/dashboard/health")).await;
    assert_eq!(health.status, 503, "{}", health.body);
    assert_eq!(health.body["status"], "unavailable");
    assert_eq!(health.body["commands"], "stopped");
    assert_eq!(health.body["database"], "reachable", "reads still work");
    let create = TestRequest::post("/api/tasks").user("alice");
    let refused = app
        .send(create.json(json!({ "title": "after the writer stopped" })))
        .await;
    refused.assert_problem(503, "unavailable");
    assert_eq!(refused.headers["retry-after"], "1");
    assert_eq!(app.db.event_count().await, 0, "nothing appended");
}
