//! The tools: listed with their schemas and hints, each agreeing with the API it calls into,
//! retried safely, and refusing as tool errors.

use std::collections::BTreeSet;

use serde_json::json;

use super::session::Session;
use crate::support::{TestApp, on_both_backends};

async fn every_tool_is_listed_with_its_schemas_and_hints(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let tools = session.call("tools/list", json!({})).await["tools"].clone();
    let tools = tools.as_array().unwrap();
    let names: BTreeSet<&str> = tools.iter().map(|t| t["name"].as_str().unwrap()).collect();
    let expected = [
        "add_task",
        "complete_task",
        "delete_task",
        "get_dashboard",
        "get_task",
        "list_tasks",
        "get_trend",
        "reopen_task",
        "share_task",
        "task_history",
        "unshare_task",
        "update_task",
        "create_team",
        "rename_team",
        "delete_team",
        "set_team_member",
        "remove_team_member",
        "get_team",
        "list_teams",
        "share_task_with_team",
        "unshare_task_from_team",
        "list_team_tasks",
        "get_team_dashboard",
    ];
    assert_eq!(names, BTreeSet::from(expected));
    for tool in tools {
        let name = &tool["name"];
        assert!(!tool["description"].as_str().unwrap().is_empty(), "{name}");
        assert_eq!(tool["inputSchema"]["type"], "object", "{name}");
        assert_eq!(tool["outputSchema"]["type"], "object", "{name}");
        let read_only = name.as_str().unwrap().starts_with("get_")
            || name.as_str().unwrap().starts_with("list_")
            || name == "task_history";
        let creates = name == "add_task" || name == "create_team";
        assert_eq!(tool["annotations"]["readOnlyHint"], read_only, "{name}");
        assert_eq!(
            tool["annotations"]["destructiveHint"],
            [
                "delete_task",
                "unshare_task",
                "delete_team",
                "remove_team_member",
                "unshare_task_from_team"
            ]
            .contains(&name.as_str().unwrap()),
            "{name}"
        );
        // Every command but a creation may be made conditional on its stream's version.
        let conditional = !read_only && !creates;
        assert_eq!(
            tool["inputSchema"]["properties"]
                .get("expected_version")
                .is_some(),
            conditional,
            "{name}"
        );
        for (argument, schema) in tool["inputSchema"]["properties"]
            .as_object()
            .into_iter()
            .flatten()
        {
            assert!(schema["description"].is_string(), "{name}.{argument}");
        }
        assert_eq!(tool["annotations"]["idempotentHint"], !creates, "{name}");
    }
    let add = tools.iter().find(|t| t["name"] == "add_task").unwrap();
    assert_eq!(add["inputSchema"]["required"], json!(["title"]));
    let share = tools.iter().find(|t| t["name"] == "share_task").unwrap();
    assert_eq!(
        share["inputSchema"]["required"],
        json!(["task_id", "user_id", "permission"])
    );
    assert_eq!(
        share["inputSchema"]["properties"]["permission"]["enum"],
        json!(["view", "edit"])
    );
}

async fn a_task_added_by_tool_shows_in_the_dashboard_the_api_serves(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let added = session
        .tool_ok("add_task", json!({"title": "Write the report"}))
        .await;
    assert_eq!(added["version"], 1);
    let task_id = added["task_id"].as_str().unwrap();
    let task = session
        .tool_ok("get_task", json!({"task_id": task_id}))
        .await;
    assert_eq!(task["title"], "Write the report");
    assert_eq!(
        task,
        app.get(&format!("/api/tasks/{task_id}"), "alice")
            .await
            .body
    );
    session
        .tool_ok("complete_task", json!({"task_id": task_id}))
        .await;
    let dashboard = session.tool_ok("get_dashboard", json!({})).await;
    assert_eq!(dashboard["completed"], 1);
    assert_eq!(dashboard, app.get("/api/dashboard", "alice").await.body);
    let page = session
        .tool_ok("list_tasks", json!({"status": "completed"}))
        .await;
    assert_eq!(
        page,
        app.get("/api/tasks?status=completed", "alice").await.body
    );
}

async fn a_retried_add_task_with_the_same_key_creates_one_task(app: TestApp) {
    let session = Session::open(&app, "alice").await;
    let arguments = json!({"title": "Once", "idempotency_key": "add-once-1"});
    let first = session.tool_ok("add_task", arguments.clone()).await;
    let retried = session.tool_ok("add_task", arguments).await;
    assert_eq!(retried, first);
    assert_eq!(app.get("/api/dashboard", "alice").await.body["total"], 1);
    let other = json!({"title": "Another", "idempotency_key": "add-once-1"});
    let refusal = session.tool_refused("add_task", other).await;
    assert!(refusal.starts_with("idempotency-key-reuse: "), "{refusal}");
}

async fn refusals_are_tool_errors_naming_the_problem_type(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let added = alice.tool_ok("add_task", json!({"title": "Mine"})).await;
    let mine = json!({"task_id": added["task_id"]});
    // Another user cannot tell the task exists, whatever the tool.
    let bob = Session::open(&app, "bob").await;
    for tool in ["get_task", "complete_task", "delete_task"] {
        let refusal = bob.tool_refused(tool, mine.clone()).await;
        assert!(refusal.starts_with("not-found: "), "{tool}: {refusal}");
    }
    alice.tool_ok("complete_task", mine.clone()).await;
    let refusal = alice.tool_refused("complete_task", mine).await;
    assert!(refusal.starts_with("invalid-transition: "), "{refusal}");
    let refusal = alice.tool_refused("add_task", json!({"title": " "})).await;
    assert!(refusal.starts_with("validation: "), "{refusal}");
    let refusal = alice
        .tool_refused("get_task", json!({"task_id": "nope"}))
        .await;
    assert!(refusal.starts_with("malformed-request: "), "{refusal}");
    assert_eq!(app.get("/api/dashboard", "bob").await.body["total"], 0);
}

/// Arguments that do not fit a tool's schema are the tool's refusal (which the assistant reads
/// and acts on), not a protocol error; nothing is changed and the session goes on.
async fn arguments_that_do_not_fit_the_schema_are_refused_as_malformed(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let misfits = [
        ("add_task", json!({"title": 7}), "invalid type"),
        (
            "add_task",
            json!({"title": "a", "owner": "bob"}),
            "unknown field `owner`",
        ),
        ("add_task", json!({}), "missing field `title`"),
        ("list_tasks", json!({"limit": "ten"}), "invalid type"),
        ("get_trend", json!({"days": 1.5}), "invalid type"),
        ("get_dashboard", json!({"days": 7}), "unknown field `days`"),
        (
            "complete_task",
            json!({"task_id": "x", "expected_version": "1"}),
            "invalid type",
        ),
    ];
    for (tool, arguments, says) in misfits {
        let refusal = alice.tool_refused(tool, arguments).await;
        assert!(
            refusal.starts_with("malformed-request: "),
            "{tool}: {refusal}"
        );
        assert!(refusal.contains(says), "{tool}: {refusal}");
    }
    assert_eq!(app.dashboard("alice").await["total"], 0);
    alice
        .tool_ok("add_task", json!({"title": "Still here"}))
        .await;
}

on_both_backends!(
    every_tool_is_listed_with_its_schemas_and_hints,
    a_task_added_by_tool_shows_in_the_dashboard_the_api_serves,
    a_retried_add_task_with_the_same_key_creates_one_task,
    refusals_are_tool_errors_naming_the_problem_type,
    arguments_that_do_not_fit_the_schema_are_refused_as_malformed,
);
