//! How a task is drawn in the list: a hostile title as text, never run, and a task shared
//! with more users than the API lists saying how many more.

use serde_json::json;

use super::{assert_nothing_injected, create, sign_in_link};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_hostile_title_is_shown_as_text_and_never_run() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let hostile = "<img src=x onerror=\"window.pwned=1\"><script>window.pwned=2</script>";
    create(&server, "heidi", hostile).await;

    let browser = Browser::start().await;
    browser.goto(&sign_in_link(&root, &server, "heidi")).await;
    browser
        .wait_for_text("[data-task-id] .title", hostile)
        .await;
    assert_nothing_injected(&browser, &["#tasks"]).await;
    browser.close().await;
}

/// The API lists a task's first 50 shares; the page says how many more there are.
#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_task_shared_with_more_than_50_users_says_how_many_more() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let task = create(&server, "gina", "the town hall").await;
    for n in 0..52 {
        let share = TestRequest::put(format!("/api/tasks/{task}/shares/guest-{n:02}"))
            .user("gina")
            .json(json!({ "permission": "view" }));
        assert_eq!(server.send(share).await.status, 200);
    }
    let browser = Browser::start().await;
    browser.goto(&sign_in_link(&root, &server, "gina")).await;
    browser.wait_for_text(".shares .more", "and 2 more").await;
    let listed = browser
        .run("return document.querySelectorAll('.shares [data-action=unshare]').length")
        .await;
    assert_eq!(listed, json!(50));
    browser.close().await;
}
