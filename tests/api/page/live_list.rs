//! The task list drawn anew by a live update: marked busy until it is, and never under a form
//! the caller is typing in, even when the update was on its way before the form was opened.

use fantoccini::key::Key;
use serde_json::json;

use super::{create, sign_in};
use crate::support::TEST_SECRET;
use crate::support::browser::Browser;
use crate::support::process::Server;

/// Holds the page's task-list loads until `releaseLists()`, so that the test decides when an
/// answer arrives: the page calls the global `fetch` at each request.
const HOLD_LIST_LOADS: &str = "
    const realFetch = window.fetch;
    const held = [];
    window.fetch = (url, options) => String(url).startsWith('/api/tasks?')
        ? new Promise((resolve) => held.push(() => resolve(realFetch(url, options))))
        : realFetch(url, options);
    window.heldLoads = () => held.length;
    window.releaseLists = () => {
        window.fetch = realFetch;
        held.splice(0).forEach((go) => go());
    };";

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_list_answered_while_a_share_form_is_open_waits_until_the_form_is_left() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    create(&server, "nina", "water the garden").await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "nina").await;
    browser
        .wait_for_text("[data-task-id] .title", "water the garden")
        .await;
    browser.wait_for_text("#connection", "Live").await;
    browser.find("#tasks:not([aria-busy])").await;

    // Another client adds a task: the figures change, and the list's load is sent and held.
    browser.run(HOLD_LIST_LOADS).await;
    create(&server, "nina", "mow the lawn").await;
    browser.wait_for_figure("total", "2").await;
    browser
        .wait_until("the list's load sent", async || {
            browser.run("return window.heldLoads()").await == json!(1)
        })
        .await;
    browser.find("#tasks[aria-busy]").await;

    // Meanwhile the caller opens the share form and types; then the answer arrives.
    browser
        .find("[data-action=share]")
        .await
        .click()
        .await
        .unwrap();
    let recipient = browser.find(".share-form input").await;
    recipient.send_keys("ol").await.unwrap();
    browser.run("window.releaseLists()").await;
    browser.find("#tasks:not([aria-busy])").await;
    let form = browser
        .run(
            "const input = document.querySelector('.share-form input');
             return { open: !input.closest('form').hidden, typed: input.value,
                      focused: document.activeElement === input,
                      tasks: document.querySelectorAll('[data-task-id]').length };",
        )
        .await;
    assert_eq!(
        form,
        json!({ "open": true, "typed": "ol", "focused": true, "tasks": 1 })
    );

    // Moving within the form is not leaving it (a load would mark the list busy at once, and
    // drawing it would take the form away); leaving it draws the list as it now is.
    recipient.send_keys(&Key::Tab.to_string()).await.unwrap();
    let after_tab = browser
        .run(
            "return { on: document.activeElement.closest('form')?.className ?? null,
                      busy: document.querySelector('#tasks').hasAttribute('aria-busy'),
                      tasks: document.querySelectorAll('[data-task-id]').length };",
        )
        .await;
    assert_eq!(
        after_tab,
        json!({ "on": "share-form", "busy": false, "tasks": 1 })
    );
    browser.find("#new-title").await.click().await.unwrap();
    browser
        .wait_until("the list drawn with both tasks", async || {
            let count = "return document.querySelectorAll('[data-task-id]').length";
            browser.run(count).await == json!(2)
        })
        .await;
    browser.close().await;
}
