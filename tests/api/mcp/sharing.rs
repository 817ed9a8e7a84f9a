//! The tools of sharing and of a task's story: share_task and unshare_task through the API's
//! command path, task_history and get_trend answering what the API answers, and one user's
//! tools never touching another user's tasks.

use serde_json::json;

use super::session::Session;
use crate::support::{TestApp, on_both_backends};

/// Alice shares a task with Bob by tool: Bob sees it as the API shows it (his shared list, his
/// dashboard's `shared`), and loses it again when she unshares it.
async fn share_task_and_unshare_task_give_and_take_access_as_the_api_does(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let bob = Session::open(&app, "bob").await;
    let task_id = app.create_task("alice", "Plan the trip").await;
    let shared = alice
        .tool_ok(
            "share_task",
            json!({"task_id": task_id, "user_id": "bob", "permission": "edit"}),
        )
        .await;
    let task = app.get(&format!("/api/tasks/{task_id}"), "alice").await;
    assert_eq!(shared["version"], task.body["version"]);
    assert_eq!(
        task.body["shares"],
        json!([{"user_id": "bob", "permission": "edit"}])
    );

    let page = bob.tool_ok("list_tasks", json!({"scope": "shared"})).await;
    assert_eq!(page["items"][0]["id"], task_id.as_str());
    assert_eq!(page, app.get("/api/tasks?scope=shared", "bob").await.body);
    let dashboard = bob.tool_ok("get_dashboard", json!({})).await;
    assert_eq!(dashboard["shared"], 1);
    assert_eq!(dashboard, app.dashboard("bob").await);

    let unshared = alice
        .tool_ok(
            "unshare_task",
            json!({"task_id": task_id, "user_id": "bob"}),
        )
        .await;
    assert_eq!(unshared["version"], shared["version"].as_i64().unwrap() + 1);
    let page = bob.tool_ok("list_tasks", json!({"scope": "shared"})).await;
    assert_eq!(page["items"], json!([]));
    assert_eq!(bob.tool_ok("get_dashboard", json!({})).await["shared"], 0);
    // Refused as the API refuses them: no such share now, a bad permission, sharing with oneself.
    let again = json!({"task_id": task_id, "user_id": "bob"});
    let refusal = alice.tool_refused("unshare_task", again).await;
    assert!(refusal.starts_with("not-found: "), "{refusal}");
    for (user_id, permission) in [("bob", "own"), ("alice", "view")] {
        let share = json!({"task_id": task_id, "user_id": user_id, "permission": permission});
        let refusal = alice.tool_refused("share_task", share).await;
        assert!(refusal.starts_with("validation: "), "{refusal}");
    }
}

/// task_history and get_trend answer the API's bodies for the same history, page by page.
async fn task_history_and_get_trend_answer_what_the_api_answers(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let bob = Session::open(&app, "bob").await;
    let task_id = app.create_task("alice", "Paint the fence").await;
    app.share(&task_id, "alice", "bob", "view").await;
    app.share(&task_id, "alice", "carol", "edit").await;
    app.complete_task(&task_id, "alice").await;

    let whole = alice
        .tool_ok("task_history", json!({"task_id": task_id}))
        .await;
    assert_eq!(whole["events"].as_array().unwrap().len(), 4);
    let path = format!("/api/tasks/{task_id}/events");
    assert_eq!(whole, app.get(&path, "alice").await.body);
    // A sharee sees the history without the other sharee's name, as the API shows it to him.
    let seen_by_bob = bob
        .tool_ok("task_history", json!({"task_id": task_id}))
        .await;
    assert_eq!(seen_by_bob, app.get(&path, "bob").await.body);
    assert_eq!(
        seen_by_bob["events"][2]["payload"]["recipient_id"],
        json!(null)
    );
    let first = alice
        .tool_ok("task_history", json!({"task_id": task_id, "limit": 2}))
        .await;
    let after = first["next_after"].as_i64().expect("a next page");
    let rest = alice
        .tool_ok(
            "task_history",
            json!({"task_id": task_id, "limit": 2, "after": after}),
        )
        .await;
    assert_eq!(
        rest,
        app.get(&format!("{path}?limit=2&after={after}"), "alice")
            .await
            .body
    );

    for (arguments, query) in [(json!({}), ""), (json!({"days": 7}), "?days=7")] {
        let trend = alice.tool_ok("get_trend", arguments).await;
        let path = format!("/api/dashboard/trend{query}");
        assert_eq!(trend, app.get(&path, "alice").await.body);
    }
    let week = alice.tool_ok("get_trend", json!({"days": 7})).await;
    let today = &week["days"][6];
    assert_eq!(
        (&today["created"], &today["completed"]),
        (&json!(1), &json!(1))
    );
    let refusal = alice.tool_refused("get_trend", json!({"days": 367})).await;
    assert!(refusal.starts_with("malformed-request: "), "{refusal}");
}

/// Bob's tools cannot tell Alice's task exists, whichever he calls: nothing of hers changes.
async fn one_users_tools_never_touch_another_users_tasks(app: TestApp) {
    let bob = Session::open(&app, "bob").await;
    let task_id = app.create_task("alice", "Private").await;
    let task = format!("/api/tasks/{task_id}");
    let before = (
        app.get(&task, "alice").await.body,
        app.dashboard("alice").await,
        app.get(&format!("{task}/events"), "alice").await.body,
    );
    let calls = [
        (
            "share_task",
            json!({"task_id": task_id, "user_id": "bob", "permission": "edit"}),
        ),
        (
            "unshare_task",
            json!({"task_id": task_id, "user_id": "alice"}),
        ),
        ("task_history", json!({"task_id": task_id})),
        (
            "update_task",
            json!({"task_id": task_id, "title": "Mine now"}),
        ),
        ("get_task", json!({"task_id": task_id})),
        ("complete_task", json!({"task_id": task_id})),
        ("reopen_task", json!({"task_id": task_id})),
        ("delete_task", json!({"task_id": task_id})),
    ];
    for (tool, arguments) in calls {
        let refusal = bob.tool_refused(tool, arguments).await;
        assert!(refusal.starts_with("not-found: "), "{tool}: {refusal}");
    }
    // Nor is it among the tasks shared with him.
    let shared = bob.tool_ok("list_tasks", json!({"scope": "shared"})).await;
    assert_eq!(shared["items"], json!([]));
    let after = (
        app.get(&task, "alice").await.body,
        app.dashboard("alice").await,
        app.get(&format!("{task}/events"), "alice").await.body,
    );
    assert_eq!(after, before);
    assert_eq!(app.dashboard("bob").await["shared"], 0);
}

on_both_backends!(
    share_task_and_unshare_task_give_and_take_access_as_the_api_does,
    task_history_and_get_trend_answer_what_the_api_answers,
    one_users_tools_never_touch_another_users_tasks,
);
