//! Editing a task's title and description in the page, and an edit that would overwrite a
//! change made meanwhile refused (412) and said so.

use serde_json::json;

use super::{click_in_list, create, sign_in};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_title_and_description_are_edited_in_the_page_and_a_change_made_meanwhile_is_not_overwritten()
 {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    // Before the page opens: the list is not drawn anew under the open form.
    let task = create(&server, "ivan", "draft the plan").await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "ivan").await;
    browser
        .wait_for_text("[data-task-id] .title", "draft the plan")
        .await;

    click_in_list(&browser, "[data-action=edit]").await;
    let title = browser.find(&format!("#edit-{task}-title")).await;
    title.clear().await.unwrap();
    title.send_keys("final plan").await.unwrap();
    let description = browser.find(&format!("#edit-{task}-description")).await;
    description.send_keys("with the budget").await.unwrap();
    let save = format!("#edit-{task} button[type=submit]");
    click_in_list(&browser, &save).await;
    browser
        .wait_for_text("[data-task-id] .title", "final plan")
        .await;
    browser
        .wait_for_text("[data-task-id] .description", "with the budget")
        .await;
    let read = TestRequest::get(format!("/api/tasks/{task}")).user("ivan");
    let edited = server.send(read).await;
    assert_eq!(
        (
            &edited.body["title"],
            &edited.body["description"],
            &edited.body["version"]
        ),
        (&json!("final plan"), &json!("with the budget"), &json!(2))
    );

    // The form is opened on version 2; another client edits before it is saved.
    click_in_list(&browser, "[data-action=edit]").await;
    let title = browser.find(&format!("#edit-{task}-title")).await;
    title.clear().await.unwrap();
    title.send_keys("my version").await.unwrap();
    let elsewhere = TestRequest::patch(format!("/api/tasks/{task}"))
        .user("ivan")
        .json(json!({ "title": "their version" }));
    assert_eq!(server.send(elsewhere).await.status, 200);
    click_in_list(&browser, &save).await;
    browser
        .wait_for_text("[data-task-id] .title", "their version")
        .await;
    let notice = browser.text("#tasks-notice span").await.unwrap_or_default();
    assert!(
        notice.starts_with("This task was changed elsewhere while you edited it"),
        "{notice}"
    );
    let read = TestRequest::get(format!("/api/tasks/{task}")).user("ivan");
    let kept = server.send(read).await;
    assert_eq!(
        (&kept.body["title"], &kept.body["version"]),
        (&json!("their version"), &json!(3))
    );
    browser.close().await;
}
