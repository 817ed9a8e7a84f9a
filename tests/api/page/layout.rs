//! What the page shows around the list: one "Shared with me" card with its split by
//! permission, what a new account is told to do, and a phone's layout.

use serde_json::{Value, json};

use super::{create, sign_in};
use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

async fn share(server: &Server, owner: &str, task: &str, with: &str, permission: &str) {
    let request = TestRequest::put(format!("/api/tasks/{task}/shares/{with}"))
        .user(owner)
        .json(json!({ "permission": permission }));
    assert_eq!(server.send(request).await.status, 200);
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn one_shared_with_me_card_shows_the_view_and_edit_split_the_api_answers() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    for (title, permission) in [("a", "view"), ("b", "view"), ("c", "edit")] {
        let task = create(&server, "judy", title).await;
        share(&server, "judy", &task, "kim", permission).await;
    }
    let answer = server
        .send(TestRequest::get("/api/dashboard/shared").user("kim"))
        .await
        .body;
    assert_eq!(
        answer,
        json!({ "total_shared": 3, "view_only": 2, "can_edit": 1 })
    );

    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "kim").await;
    browser.wait_for_figure("shared", "3").await;
    for field in ["view_only", "can_edit"] {
        let shown = answer[field].to_string();
        browser.wait_for_figure(field, &shown).await;
    }
    let split = browser.text(".card.shared .split").await;
    assert_eq!(split.as_deref(), Some("2 view only · 1 can edit"));
    let cards = browser
        .run(
            "return [...document.querySelectorAll('#cards h3')].map((label) => label.textContent)\
             .filter((label) => label.includes('Shared'))",
        )
        .await;
    assert_eq!(cards, json!(["Shared with me"]));
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn a_new_account_is_told_how_to_start_instead_of_shown_an_empty_chart() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let browser = Browser::start().await;
    sign_in(&browser, &root, &server, "leo").await;
    browser.find("#empty-state:not([hidden])").await;
    let text = browser.text("#empty-state p").await.unwrap_or_default();
    assert!(
        text.starts_with("Add your first task under Tasks below: a title is all it needs."),
        "{text}"
    );
    browser.find("#trend-panel[hidden]").await;

    browser.find("#start-adding").await.click().await.unwrap();
    let focused = browser.run("return document.activeElement.id").await;
    assert_eq!(focused, json!("new-title"));
    create(&server, "leo", "the first one").await;
    browser.wait_for_figure("total", "1").await;
    browser.find("#empty-state[hidden]").await;
    browser.find("#trend-panel:not([hidden]) svg.chart").await;
    browser.close().await;
}

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn on_a_phone_the_cards_go_two_to_a_row_and_the_charts_labels_stay_readable() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    create(&server, "mia", "on the go").await;
    let browser = Browser::start_as_phone(390, 844).await;
    sign_in(&browser, &root, &server, "mia").await;
    browser.wait_for_figure("total", "1").await;
    browser.find("#trend svg.chart text.day").await;

    let measured = browser
        .run(
            "const rect = (element) => element.getBoundingClientRect();
             const cards = [...document.querySelectorAll('#cards .card')].map(rect);
             const chart = document.querySelector('#trend svg.chart');
             const scale = rect(chart).width / chart.viewBox.baseVal.width;
             const label = document.querySelector('#trend svg.chart text.day');
             return {
               viewport: window.innerWidth,
               tops: cards.map((card) => Math.round(card.top)),
               lefts: cards.map((card) => Math.round(card.left)),
               cardsHeight: Math.round(rect(document.querySelector('#cards')).height),
               screen: window.innerHeight,
               labelPx: parseFloat(getComputedStyle(label).fontSize) * scale,
             };",
        )
        .await;
    let number = |value: &Value| value.as_f64().unwrap();
    assert!(number(&measured["viewport"]) <= 400.0, "{measured}");
    let (tops, lefts) = (&measured["tops"], &measured["lefts"]);
    // Side by side in pairs: the first two cards share a row, the third starts the next.
    assert_eq!(tops[0], tops[1], "{measured}");
    assert!(number(&lefts[1]) > number(&lefts[0]), "{measured}");
    assert!(number(&tops[2]) > number(&tops[0]), "{measured}");
    assert_eq!(lefts[2], lefts[0], "{measured}");
    assert!(
        number(&measured["cardsHeight"]) < number(&measured["screen"]),
        "all the cards within one screen: {measured}"
    );
    assert!(number(&measured["labelPx"]) >= 10.0, "{measured}");
    browser.close().await;
}
