//! The page kept up to date without a reload: a card changing when another client commands,
//! a share from another user appearing, and recovery when the server restarts.

use serde_json::json;

use super::{create, sign_in, signed_in};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_card_changes_without_a_reload_when_another_client_commands() {
    let (_root, server, browser) = signed_in("dave").await;
    browser.wait_for_figure("total", "0").await;
    browser.wait_for_text("#connection", "Live").await;
    // Gone if the page reloads.
    browser.run("window.notReloaded = true").await;

    create(&server, "dave", "from a script").await;
    browser.wait_for_figure("total", "1").await;
    browser.wait_for_figure("created_today", "1").await;
    browser
        .wait_for_text("[data-task-id] .title", "from a script")
        .await;
    assert_eq!(
        browser.run("return window.notReloaded === true").await,
        json!(true)
    );
    // Carried by the stream, not by the 5 s poll that stands in when it fails.
    let state = browser.run("return document.querySelector('#connection').dataset.state");
    assert_eq!(state.await, json!("live"));
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_share_from_another_user_appears_in_the_cards_and_the_shared_list() {
    let (_root, server, browser) = signed_in("erin").await;
    browser.wait_for_figure("shared", "0").await;
    browser.wait_for_text("#connection", "Live").await;

    let task = create(&server, "frank", "plan the trip").await;
    let share = TestRequest::put(format!("/api/tasks/{task}/shares/erin"))
        .user("frank")
        .json(json!({ "permission": "edit" }));
    assert_eq!(server.send(share).await.status, 200);
    browser.wait_for_figure("shared", "1").await;
    browser.wait_for_figure("can_edit", "1").await;
    browser.wait_for_figure("total", "0").await;

    browser
        .find("#scope")
        .await
        .select_by_value("shared")
        .await
        .unwrap();
    browser
        .wait_for_text("[data-task-id] .title", "plan the trip")
        .await;
    browser
        .wait_for_text("[data-task-id] .muted", "from frank, can edit")
        .await;
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn the_page_recovers_when_the_server_restarts() {
    let root = tempfile::tempdir().unwrap();
    // Restartable: it comes back on the same address, where the page is open.
    let mut server = Server::start_restartable(root.path(), Some(TEST_SECRET)).await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "grace").await;
    browser.wait_for_text("#connection", "Live").await;
    browser.run("window.notReloaded = true").await;

    server.stop().await;
    // The stream is gone and so is the poll standing in for it: the page says so.
    browser
        .wait_for_text("#connection", "Offline: retrying")
        .await;
    server.start_again().await;
    create(&server, "grace", "after the restart").await;
    browser.wait_for_figure("total", "1").await;
    browser.wait_for_text("#connection", "Live").await;
    browser
        .wait_for_text("[data-task-id] .title", "after the restart")
        .await;
    assert_eq!(
        browser.run("return window.notReloaded === true").await,
        json!(true)
    );
    browser.close().await;
}
