//! Commands given in the page: a task created, completed and reopened, a refusal shown until
//! the list is drawn again, and the reads after a command asking for its position.

use serde_json::json;

use super::{click_in_list, signed_in};
use crate::support::TestRequest;

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_task_is_created_completed_and_reopened_in_the_page() {
    let (_root, server, browser) = signed_in("carol").await;
    browser.wait_for_figure("total", "0").await;

    browser
        .find("#new-title")
        .await
        .send_keys("water the plants")
        .await
        .unwrap();
    browser
        .find("#create-form button[type=submit]")
        .await
        .click()
        .await
        .unwrap();
    browser
        .wait_for_text("[data-task-id] .title", "water the plants")
        .await;
    browser.wait_for_figure("pending", "1").await;

    click_in_list(&browser, "[data-action=complete]").await;
    browser.wait_for_figure("completed", "1").await;
    browser.wait_for_figure("completion_rate", "100%").await;
    browser.find("[data-task-id][data-status=completed]").await;
    let figures = server
        .send(TestRequest::get("/api/dashboard").user("carol"))
        .await;
    assert_eq!(
        (&figures.body["total"], &figures.body["completed"]),
        (&json!(1), &json!(1))
    );

    click_in_list(&browser, "[data-action=reopen]").await;
    browser.wait_for_figure("pending", "1").await;
    browser.wait_for_figure("completed", "0").await;

    // A refusal is shown, and stays shown when the list is drawn again after it.
    browser.find("#tasks:not([aria-busy])").await;
    let mark = "document.querySelector('[data-task-id]').dataset.drawnBefore = 1";
    browser.run(mark).await;
    click_in_list(&browser, "[data-action=share]").await;
    let recipient = browser.find(".share-form input").await;
    recipient.send_keys("carol").await.unwrap();
    click_in_list(&browser, ".share-form button").await;
    let refused = "a task cannot be shared with its owner";
    browser.wait_for_text("#tasks-notice span", refused).await;
    browser
        .wait_until("the list drawn again", async || {
            let left = "return document.querySelectorAll('[data-drawn-before]').length";
            browser.run(left).await == json!(0)
        })
        .await;
    let notice = browser.text("#tasks-notice span").await;
    assert_eq!(notice.as_deref(), Some(refused));
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn after_its_own_command_the_page_reads_with_the_commands_position() {
    let (_root, server, browser) = signed_in("grace").await;
    browser.wait_for_figure("total", "0").await;
    // Every request the page sends from now on, with the position it asks for.
    let record = "window.asked = []; const fetched = window.fetch; \
        window.fetch = (path, options) => { \
            const wanted = options?.headers?.['Tally-Min-Position'] ?? null; \
            window.asked.push([options?.method ?? 'GET', String(path), wanted]); \
            return fetched(path, options); }";
    browser.run(record).await;
    let title = browser.find("#new-title").await;
    title.send_keys("read your writes").await.unwrap();
    let submit = browser.find("#create-form button[type=submit]").await;
    submit.click().await.unwrap();
    browser.wait_for_figure("total", "1").await;

    let read = server
        .send(TestRequest::get("/api/dashboard").user("grace"))
        .await;
    let position = read.headers["tally-position"].clone();
    // The list drawn again after the command (`tasks.refresh()` once it was answered): from
    // the first read that knows the command's position on, every read asks for it (reads sent
    // while its answer was on its way, such as the live stream's refresh, knew none yet).
    let asked_after_the_command = "const sent = window.asked; \
        const command = sent.findIndex(([method]) => method === 'POST'); \
        return sent.slice(command + 1).filter(([method]) => method === 'GET');";
    let is_list = |read: &serde_json::Value| read[1].as_str().unwrap().starts_with("/api/tasks?");
    browser
        .wait_until("the list read with the command's position", async || {
            let reads = browser.run(asked_after_the_command).await;
            let reads = reads.as_array().unwrap().clone();
            reads
                .iter()
                .any(|read| is_list(read) && read[2] == json!(position))
        })
        .await;
    let reads = browser.run(asked_after_the_command).await;
    let reads = reads.as_array().unwrap();
    let first = reads
        .iter()
        .position(|read| read[2] == json!(position))
        .unwrap();
    assert!(
        reads[..first].iter().all(|read| read[2].is_null()),
        "{reads:?}"
    );
    assert!(
        reads[first..].iter().all(|read| read[2] == json!(position)),
        "{reads:?}"
    );
    browser.close().await;
}
