//! The dashboard page. Served: its files, with a policy that lets nothing inline run
//! (`served`). Used, in a real Chromium against a real `tally serve` (ignored, with the reason,
//! where Chromium is not installed): sign-in through a `tally token --link` link and the figures
//! (`signing_in`), creating and completing a task in the page (`commands`), editing one
//! (`editing`), cards changing live, a share appearing and recovery after a server restart
//! (`live_updates`), the list drawn anew under an open form (`live_list`), a hostile title and
//! a long share list (`task_display`), the cards, the empty state and a phone's layout
//! (`layout`), teams created and managed, a task shared with one, its live figures and a
//! hostile team name (`teams`), and the API docs page (`docs_page`). This file holds what they
//! share.

use std::process::Command;

use serde_json::json;
use tempfile::TempDir;

use crate::support::browser::Browser;
use crate::support::process::{Server, with_clean_env};
use crate::support::{TEST_SECRET, TestRequest};

mod commands;
mod docs_page;
mod editing;
mod layout;
mod live_list;
mod live_updates;
mod served;
mod signing_in;
mod task_display;
mod teams;

/// A real server with the test secret, and the page open in a browser signed in as `user`
/// through the link `tally token --link` prints.
async fn signed_in(user: &str) -> (TempDir, Server, Browser) {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let browser = Browser::start().await;
    browser.goto(&sign_in_link(&root, &server, user)).await;
    browser.wait_for_text("#user", user).await;
    (root, server, browser)
}

/// `browser` signing in as `user` on `server` (whose data directory is `root`).
async fn sign_in(browser: &Browser, root: &TempDir, server: &Server, user: &str) {
    browser.goto(&sign_in_link(root, server, user)).await;
    browser.wait_for_text("#user", user).await;
}

fn sign_in_link(root: &TempDir, server: &Server, user: &str) -> String {
    let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
    command.args(["token", "--user", user, "--link"]);
    with_clean_env(&mut command, root.path(), Some(TEST_SECRET));
    command.env("TALLY_LISTEN", &server.address);
    let output = command.output().unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let link = String::from_utf8(output.stdout).unwrap().trim().to_owned();
    assert!(
        link.starts_with(&format!("http://{}/#token=", server.address)),
        "{link}"
    );
    link
}

/// Clicks what `css` names in the task list once the list is drawn as it now is. A command,
/// and the live update that follows it, each draw the list anew when their answer comes, and
/// a button found before that is gone after it (a stale element): so the page marks the list
/// `aria-busy` while any is under way, and this waits until it is not. Wait first for what
/// shows the last change arrived (its figures: the live update's redraw starts with them).
async fn click_in_list(browser: &Browser, css: &str) {
    browser.find("#tasks:not([aria-busy])").await;
    let element = browser.find(css).await;
    element
        .click()
        .await
        .unwrap_or_else(|error| panic!("click {css}: {error}"));
}

/// Asserts that hostile text (`<img onerror=…>`, `<script>` setting `window.pwned`) was shown
/// as text under `scopes` (CSS selectors): no element of its made, nothing of it run.
async fn assert_nothing_injected(browser: &Browser, scopes: &[&str]) {
    let elements: Vec<String> = scopes
        .iter()
        .flat_map(|scope| [format!("{scope} img"), format!("{scope} script")])
        .collect();
    let query = format!(
        "return document.querySelectorAll('{}').length",
        elements.join(", ")
    );
    assert_eq!(browser.run(&query).await, json!(0), "{query}");
    assert_eq!(
        browser.run("return window.pwned ?? null").await,
        json!(null)
    );
}

async fn create(server: &Server, user: &str, title: &str) -> String {
    let request = TestRequest::post("/api/tasks")
        .user(user)
        .json(json!({ "title": title }));
    let created = server.send(request).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.body["task_id"].as_str().unwrap().to_owned()
}
