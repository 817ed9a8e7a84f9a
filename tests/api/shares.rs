//! Bounded shares: a task is shared with at most 1,000 users (422 `limit`, replayed under an
//! `Idempotency-Key` like every domain refusal), and what a read answers stays small however
//! many it has: one task lists the first 50 shares by user id with `shares_total`, and so does
//! each task of a list page; `GET /api/tasks/{id}/shares` pages through them all, for the owner.

use serde_json::{Value, json};

use crate::support::{TestApp, TestRequest, on_both_backends};

on_both_backends!(
    the_1001st_user_is_refused_and_an_existing_share_still_changes,
    the_owners_answer_lists_the_first_50_shares_and_counts_them_all,
    a_list_page_lists_at_most_50_shares_of_each_task,
    the_owner_pages_through_every_share_and_no_one_else_may,
);

/// The limit the contract sets.
const LIMIT: usize = 1_000;

/// `user-0000`, `user-0001`, …: ids whose text order is their number's.
fn sharee(n: usize) -> String {
    format!("user-{n:04}")
}

fn share_request(task: &str, with: &str, permission: &str) -> TestRequest {
    TestRequest::put(format!("/api/tasks/{task}/shares/{with}"))
        .user("alice")
        .json(json!({ "permission": permission }))
}

/// Shares `task` with the users numbered `users`, all at once: the writer commits the racing
/// commands in a few batches, so a thousand take a moment, not a thousand fsyncs.
async fn share_with_all(app: &TestApp, task: &str, users: std::ops::Range<usize>) {
    let requests = users.map(|n| share_request(task, &sharee(n), "view"));
    for response in app.send_all_at_once(requests).await {
        assert_eq!(response.status, 200, "{}", response.body);
    }
}

/// The user ids of an answer's `shares`, in order.
fn listed(task: &Value) -> Vec<String> {
    let shares = task["shares"]
        .as_array()
        .unwrap_or_else(|| panic!("{task}"));
    shares
        .iter()
        .map(|share| share["user_id"].as_str().unwrap().to_owned())
        .collect()
}

async fn the_1001st_user_is_refused_and_an_existing_share_still_changes(app: TestApp) {
    let task = app.create_task("alice", "the all-hands agenda").await;
    // One more than the limit, all at once: whatever the batches, exactly one is refused.
    let racing = (0..=LIMIT).map(|n| share_request(&task, &sharee(n), "view"));
    let answers = app.send_all_at_once(racing).await;
    let refused: Vec<&_> = answers.iter().filter(|a| a.status != 200).collect();
    assert_eq!(refused.len(), 1, "{:?}", refused.iter().map(|a| &a.body));
    refused[0].assert_problem(422, "limit");
    assert_eq!(app.db.event_count().await, 1 + LIMIT as i64);
    let shared = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(shared.body["shares_total"], LIMIT);
    let version = shared.body["version"].as_i64().unwrap();

    // The refused user, asked for again, is refused and nothing is appended.
    let outsider = "zz-one-too-many";
    let keyed = || share_request(&task, outsider, "edit").header("idempotency-key", "k-limit");
    let first = app.send(keyed()).await;
    first.assert_problem(422, "limit");
    assert_eq!(app.db.event_count().await, 1 + LIMIT as i64);

    // Changing the permission of someone already in is no new share: allowed at the limit.
    let promoted = app.send(share_request(&task, &sharee(7), "edit")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);
    assert_eq!(promoted.body["version"], version + 1);
    let same = app.send(share_request(&task, &sharee(7), "edit")).await;
    assert_eq!(same.status, 200, "{}", same.body);
    assert_eq!(same.body["version"], version + 1);

    // Once there is room, the key still answers its first refusal; a new request gets in.
    let unshare = TestRequest::delete(format!("/api/tasks/{task}/shares/{}", sharee(3)));
    let unshared = app.send(unshare.user("alice")).await;
    assert_eq!(unshared.status, 200, "{}", unshared.body);
    let replayed = app.send(keyed()).await;
    assert_eq!(replayed.answer(), first.answer());
    let admitted = app.send(share_request(&task, outsider, "edit")).await;
    assert_eq!(admitted.status, 200, "{}", admitted.body);
    let after = app.get(&format!("/api/tasks/{task}"), "alice").await;
    assert_eq!(after.body["shares_total"], LIMIT);
}

async fn the_owners_answer_lists_the_first_50_shares_and_counts_them_all(app: TestApp) {
    let task = app.create_task("alice", "the offsite").await;
    share_with_all(&app, &task, 0..120).await;
    let path = format!("/api/tasks/{task}");

    let owner = app.get(&path, "alice").await;
    assert_eq!(owner.status, 200, "{}", owner.body);
    assert_eq!(listed(&owner.body), (0..50).map(sharee).collect::<Vec<_>>());
    assert_eq!(owner.body["shares"][0]["permission"], "view");
    assert_eq!(owner.body["shares_total"], 120);

    // A sharee past the first 50 still sees the task, with their own permission and no list.
    let late = app.get(&path, &sharee(119)).await;
    assert_eq!(late.status, 200, "{}", late.body);
    assert_eq!(late.body["permission"], "view");
    assert!(late.body.get("shares").is_none(), "{}", late.body);
    assert!(late.body.get("shares_total").is_none(), "{}", late.body);
    let history = app.get(&format!("{path}/events"), &sharee(119)).await;
    assert_eq!(history.status, 200, "{}", history.body);
}

async fn a_list_page_lists_at_most_50_shares_of_each_task(app: TestApp) {
    let crowded = app.create_task("alice", "crowded").await;
    share_with_all(&app, &crowded, 0..LIMIT).await;
    let middling = app.create_task("alice", "middling").await;
    share_with_all(&app, &middling, 1_000..1_060).await;
    let quiet = app.create_task("alice", "quiet").await;
    share_with_all(&app, &quiet, 2_000..2_003).await;
    let lonely = app.create_task("alice", "lonely").await;

    let page = app.get("/api/tasks?limit=200", "alice").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let items = page.body["items"].as_array().unwrap();
    let shape: Vec<(&str, usize, &Value, String)> = items
        .iter()
        .map(|task| {
            let users = listed(task);
            let first = users.first().cloned().unwrap_or_default();
            (
                task["title"].as_str().unwrap(),
                users.len(),
                &task["shares_total"],
                first,
            )
        })
        .collect();
    assert_eq!(
        shape,
        vec![
            ("lonely", 0, &json!(0), String::new()),
            ("quiet", 3, &json!(3), sharee(2_000)),
            ("middling", 50, &json!(60), sharee(1_000)),
            ("crowded", 50, &json!(LIMIT), sharee(0)),
        ]
    );
    assert_eq!(items[1]["id"], quiet.as_str());
    assert_eq!(items[0]["id"], lonely.as_str());
    // The middling task's 50 are its own first 50, not the crowded task's.
    assert_eq!(listed(&items[2]).last().unwrap(), &sharee(1_049));
    // The bound holds the page to a few kilobytes per task, whatever the shares.
    let bytes = page.body.to_string().len();
    assert!(bytes < 4 * 4_000, "a page of four tasks is {bytes} bytes");

    // The shared scope lists the caller's own share, as before.
    let shared = app.get("/api/tasks?scope=shared", &sharee(1_001)).await;
    let items = shared.body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{}", shared.body);
    assert_eq!(items[0]["id"], middling.as_str());
    assert_eq!(items[0]["permission"], "view");
}

async fn the_owner_pages_through_every_share_and_no_one_else_may(app: TestApp) {
    let task = app.create_task("alice", "the offsite").await;
    share_with_all(&app, &task, 0..120).await;
    let promoted = app.send(share_request(&task, &sharee(60), "edit")).await;
    assert_eq!(promoted.status, 200, "{}", promoted.body);

    let mut users = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = format!("/api/tasks/{task}/shares?limit=50");
        if let Some(cursor) = &cursor {
            path.push_str(&format!("&cursor={cursor}"));
        }
        let page = app.get(&path, "alice").await;
        assert_eq!(page.status, 200, "{}", page.body);
        let items = page.body["items"].as_array().unwrap();
        sizes.push(items.len());
        for share in items {
            let user = share["user_id"].as_str().unwrap().to_owned();
            let expected = if user == sharee(60) { "edit" } else { "view" };
            assert_eq!(share["permission"], expected, "{user}");
            users.push(user);
        }
        match page.body["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(users, (0..120).map(sharee).collect::<Vec<_>>());

    let path = format!("/api/tasks/{task}/shares");
    app.get(&path, &sharee(5))
        .await
        .assert_problem(403, "forbidden");
    app.get(&path, "mallory")
        .await
        .assert_problem(404, "not-found");
    for query in [
        "limit=0",
        "limit=201",
        "cursor=a&cursor=b",
        "cursor=%004E",
        "cursor=a%0Ab",
    ] {
        app.get(&format!("{path}?{query}"), "alice")
            .await
            .assert_problem(400, "malformed-request");
    }
}
