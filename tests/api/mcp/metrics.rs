//! Tool calls as `/metrics` counts them, from a real `tally serve` (the metrics recorder is one
//! per process) on the test's database.

use serde_json::json;

use super::session::Session;
use crate::metrics::{sample, scrape};
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestApp, on_both_backends};

async fn tool_calls_are_counted_by_tool_and_outcome(app: TestApp) {
    let root = tempfile::tempdir().unwrap();
    let mut env = vec![("TALLY_DATABASE_URL", app.db.url.as_str())];
    if let Some(direct) = &app.db.direct_url {
        env.push(("TALLY_DATABASE_DIRECT_URL", direct.as_str()));
    }
    let server = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
    let alice = Session::open_at(&server.address, "alice").await;
    let added = alice.tool_ok("add_task", json!({"title": "Counted"})).await;
    let task_id = &added["task_id"];
    let share = json!({"task_id": task_id, "user_id": "bob", "permission": "view"});
    alice.tool_ok("share_task", share.clone()).await;
    alice.tool_ok("share_task", share).await;
    alice
        .tool_ok("task_history", json!({"task_id": task_id}))
        .await;
    let nobody = json!({"task_id": task_id, "user_id": "carol"});
    alice.tool_refused("unshare_task", nobody).await;
    alice.tool_refused("get_trend", json!({"days": 0})).await;

    let samples = scrape(&server, &server.address).await;
    for (tool, outcome, count) in [
        ("add_task", "ok", 1.0),
        ("share_task", "ok", 2.0),
        ("task_history", "ok", 1.0),
        ("unshare_task", "refused", 1.0),
        ("get_trend", "refused", 1.0),
    ] {
        let series = format!(r#"tally_mcp_tool_calls_total{{tool="{tool}",outcome="{outcome}"}}"#);
        assert_eq!(sample(&samples, &series), count, "{series}");
    }
}

on_both_backends!(tool_calls_are_counted_by_tool_and_outcome);
