//! The dashboard page. Served: its files, with a policy that lets nothing inline run. Used, in a
//! real Chromium against a real `tally serve`: sign-in through a `tally token --link` link, the
//! figures, creating and completing a task in the page, a card changing live when another
//! client commands, a share from another user appearing, recovery after a server restart, a
//! hostile title shown as text. Editing a task (`editing`), the cards, the empty state and a
//! phone's layout (`layout`), the list drawn anew under an open form (`live_list`) and the API
//! docs page (`docs_page`) are beside this file.

use std::process::Command;

use axum::http::header;
use serde_json::json;
use tempfile::TempDir;

use crate::support::browser::Browser;
use crate::support::process::{Server, with_clean_env};
use crate::support::{Backend, TEST_SECRET, TestApp, TestRequest};

mod docs_page;
mod editing;
mod layout;
mod live_list;

#[tokio::test]
async fn the_page_and_its_files_are_served_with_a_policy_that_allows_only_their_own() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let page = app.send(TestRequest::get("/")).await;
    assert_eq!(page.status, 200);
    assert_eq!(page.content_type(), "text/html; charset=utf-8");
    let policy = page.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "connect-src 'self'",
    ] {
        assert!(policy.contains(directive), "{policy} lacks {directive}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = page.body.as_str().unwrap();
    for script in html.split("<script").skip(1) {
        let tag = script.split('>').next().unwrap();
        assert!(
            tag.contains(" src=\"/assets/"),
            "a script of its own, not inline: {tag}"
        );
    }
    assert!(
        !html.contains("<style") && !html.contains("style="),
        "no inline style: {html}"
    );

    for (path, content_type) in [
        ("/assets/app.js", "text/javascript; charset=utf-8"),
        ("/assets/live.js", "text/javascript; charset=utf-8"),
        ("/assets/app.css", "text/css; charset=utf-8"),
    ] {
        let asset = app.send(TestRequest::get(path)).await;
        assert_eq!(
            (asset.status.as_u16(), asset.content_type()),
            (200, content_type),
            "{path}"
        );
        let etag = asset.headers[header::ETAG].to_str().unwrap();
        let again = TestRequest::get(path).header(header::IF_NONE_MATCH, etag);
        assert_eq!(app.send(again).await.status, 304, "{path} unchanged");
    }
    app.send(TestRequest::get("/assets/secrets.js"))
        .await
        .assert_problem(404, "not-found");
    app.send(TestRequest::get("/assets/..%2FCargo.toml"))
        .await
        .assert_problem(404, "not-found");
}

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

async fn create(server: &Server, user: &str, title: &str) -> String {
    let request = TestRequest::post("/api/tasks")
        .user(user)
        .json(json!({ "title": title }));
    let created = server.send(request).await;
    assert_eq!(created.status, 201, "{created:?}");
    created.body["task_id"].as_str().unwrap().to_owned()
}

/// The browser tests; ignored, with the reason, where Chromium is not installed.
mod in_a_browser {
    use super::*;

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
        let injected = browser
            .run("return document.querySelectorAll('#tasks img, #tasks script').length")
            .await;
        assert_eq!(injected, json!(0));
        assert_eq!(
            browser.run("return window.pwned ?? null").await,
            json!(null)
        );
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

    /// The docs page's policy lets Swagger UI run: its scripts fetch the spec and draw every
    /// operation, its stylesheet applies, and an operation opens when clicked.
    #[tokio::test]
    #[cfg_attr(
        browser_unavailable,
        ignore = "no chromedriver: apt-get install chromium chromium-driver"
    )]
    async fn the_docs_page_runs_under_its_content_security_policy() {
        let root = tempfile::tempdir().unwrap();
        let server = Server::start(root.path(), Some(TEST_SECRET)).await;
        let browser = Browser::start().await;
        browser
            .goto(&format!("http://{}/docs/", server.address))
            .await;
        browser.find(".swagger-ui .info .title").await;
        let title = browser.text(".swagger-ui .info .title").await.unwrap();
        assert!(title.contains("tally"), "{title}");
        let size =
            "return getComputedStyle(document.querySelector('.swagger-ui .info .title')).fontSize";
        assert_eq!(browser.run(size).await, json!("36px"));
        browser.find(".opblock").await;
        let drawn = browser
            .run("return document.querySelectorAll('.opblock').length")
            .await;
        assert!(drawn.as_u64().unwrap() >= 10, "{drawn} operations");
        browser
            .find(".opblock-summary")
            .await
            .click()
            .await
            .unwrap();
        browser.find(".opblock-body").await;
        browser.close().await;
    }
}
