//! The team tools: each the API's team command or query, answering its body and refusing as
//! it refuses.

use serde_json::json;

use super::session::Session;
use crate::support::{TestApp, on_both_backends};

on_both_backends!(
    the_team_tools_manage_a_team_as_the_api_does,
    the_team_share_tools_answer_as_the_api_does,
);

/// Alice shares a task with her team by tool; Bob, a member, sees it and the team's figures
/// by tool as the API shows them; unsharing ends it; an outsider is refused.
async fn the_team_share_tools_answer_as_the_api_does(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let bob = Session::open(&app, "bob").await;
    let created = alice.tool_ok("create_team", json!({"name": "Ops"})).await;
    let team = created["team_id"].as_str().unwrap().to_owned();
    let joined = json!({"team_id": team, "user_id": "bob", "role": "member"});
    alice.tool_ok("set_team_member", joined).await;
    let task = app.create_task("alice", "the plan").await;

    let share = json!({"task_id": task, "team_id": team, "permission": "edit"});
    let shared = alice.tool_ok("share_task_with_team", share.clone()).await;
    assert_eq!(shared["version"], 2);
    let listed = bob
        .tool_ok("list_team_tasks", json!({"team_id": team}))
        .await;
    assert_eq!(
        listed,
        app.get(&format!("/api/teams/{team}/tasks"), "bob")
            .await
            .body
    );
    assert_eq!(listed["items"][0]["permission"], "edit");
    let figures = bob
        .tool_ok("get_team_dashboard", json!({"team_id": team}))
        .await;
    assert_eq!(
        figures,
        app.get(&format!("/api/teams/{team}/dashboard"), "bob")
            .await
            .body
    );
    assert_eq!(
        (&figures["total"], &figures["members"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(app.dashboard("bob").await["can_edit"], 1);

    let refusal = bob.tool_refused("share_task_with_team", share).await;
    assert!(refusal.starts_with("forbidden: "), "{refusal}");
    let carol = Session::open(&app, "carol").await;
    let refusal = carol
        .tool_refused("get_team_dashboard", json!({"team_id": team}))
        .await;
    assert!(refusal.starts_with("not-found: "), "{refusal}");
    let unshare = json!({"task_id": task, "team_id": team});
    alice
        .tool_ok("unshare_task_from_team", unshare.clone())
        .await;
    assert_eq!(app.dashboard("bob").await["shared"], 0);
    let refusal = alice.tool_refused("unshare_task_from_team", unshare).await;
    assert!(refusal.starts_with("not-found: "), "{refusal}");
}

/// Alice makes a team by tool, adds Bob and promotes him; each answer is the API's, and the
/// team's rules (the last admin stays, outsiders see nothing) come back as refusals.
async fn the_team_tools_manage_a_team_as_the_api_does(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    let bob = Session::open(&app, "bob").await;
    let keyed = json!({"name": "Ops", "idempotency_key": "ops-once"});
    let created = alice.tool_ok("create_team", keyed.clone()).await;
    let team = created["team_id"].as_str().unwrap().to_owned();
    assert_eq!(created["version"], 1);
    // Retried with its key, the call answers the same team and makes no second one.
    assert_eq!(alice.tool_ok("create_team", keyed).await, created);
    let listed = alice.tool_ok("list_teams", json!({})).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    let joined = json!({"team_id": team, "user_id": "bob", "role": "member"});
    let added = alice.tool_ok("set_team_member", joined).await;
    assert_eq!(added["version"], 2);

    let shown = bob.tool_ok("get_team", json!({"team_id": team})).await;
    assert_eq!(
        shown,
        app.get(&format!("/api/teams/{team}"), "bob").await.body
    );
    assert_eq!(shown["role"], "member");
    let listed = bob.tool_ok("list_teams", json!({})).await;
    assert_eq!(listed, app.get("/api/teams", "bob").await.body);
    assert_eq!(listed["items"][0]["name"], "Ops");

    // A plain member may not rename; the last admin may not leave; an outsider finds nothing.
    let rename = json!({"team_id": team, "name": "Mine", "expected_version": 2});
    let refusal = bob.tool_refused("rename_team", rename).await;
    assert!(refusal.starts_with("forbidden: "), "{refusal}");
    let leave = json!({"team_id": team, "user_id": "alice"});
    let refusal = alice.tool_refused("remove_team_member", leave).await;
    assert!(refusal.starts_with("last-admin: "), "{refusal}");
    let carol = Session::open(&app, "carol").await;
    let refusal = carol
        .tool_refused("get_team", json!({"team_id": team}))
        .await;
    assert!(refusal.starts_with("not-found: "), "{refusal}");
    let stale = json!({"team_id": team, "expected_version": 1});
    let refusal = alice.tool_refused("delete_team", stale).await;
    assert!(refusal.starts_with("version-mismatch: "), "{refusal}");

    let promoted = json!({"team_id": team, "user_id": "bob", "role": "admin"});
    alice.tool_ok("set_team_member", promoted).await;
    let renamed = json!({"team_id": team, "name": "SRE"});
    assert_eq!(bob.tool_ok("rename_team", renamed).await["version"], 4);
    let left = json!({"team_id": team, "user_id": "alice"});
    alice.tool_ok("remove_team_member", left).await;
    assert_eq!(
        alice.tool_ok("list_teams", json!({})).await["items"],
        json!([])
    );
    let deleted = bob.tool_ok("delete_team", json!({"team_id": team})).await;
    assert_eq!(deleted["version"], 6);
    app.get(&format!("/api/teams/{team}"), "bob")
        .await
        .assert_problem(404, "not-found");
}
