//! Signing in through the link `tally token --link` prints: the figures shown, the token kept
//! out of the address bar, and signing out forgetting it.

use serde_json::json;

use super::{create, sign_in_link};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_link_signs_in_shows_the_figures_keeps_the_token_out_of_the_address_and_signs_out() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let first = create(&server, "alice", "write the report").await;
    create(&server, "alice", "book the room").await;
    let done = TestRequest::post(format!("/api/tasks/{first}/complete")).user("alice");
    assert_eq!(server.send(done).await.status, 200);

    let browser = Browser::start().await;
    browser.goto(&sign_in_link(&root, &server, "alice")).await;
    browser.wait_for_text("#user", "alice").await;
    for (field, shown) in [
        ("total", "2"),
        ("pending", "1"),
        ("completed", "1"),
        ("completion_rate", "50%"),
        ("created_today", "2"),
        ("completed_today", "1"),
        ("shared", "0"),
    ] {
        browser.wait_for_figure(field, shown).await;
    }
    browser.find("[data-task-id] .title").await;
    let address = browser.client().current_url().await.unwrap();
    assert!(!address.as_str().contains("token"), "{address}");
    let kept = browser
        .run("return sessionStorage.getItem('tally.token')")
        .await;
    assert!(
        kept.as_str()
            .is_some_and(|token| token.split('.').count() == 3),
        "{kept}"
    );
    browser.wait_for_text("#connection", "Live").await;

    browser.find("#sign-out").await.click().await.unwrap();
    browser.find("#sign-in:not([hidden])").await;
    let forgotten = browser
        .run("return sessionStorage.getItem('tally.token')")
        .await;
    assert_eq!(forgotten, json!(null));
    browser.close().await;
}
