//! The API docs page at `/docs`, as Chromium renders it: its tab names the API, the route
//! table of docs/API.md (the spec's description) renders as a table in Swagger UI, and its
//! policy lets Swagger UI run.

use serde_json::json;

use crate::support::browser::Browser;
use crate::support::process::Server;
use crate::support::{TEST_SECRET, TestRequest};

#[tokio::test]
#[cfg_attr(
    browser_unavailable,
    ignore = "no chromedriver: apt-get install chromium chromium-driver"
)]
async fn the_docs_page_is_titled_tally_api_and_renders_its_route_table_as_a_table() {
    let root = tempfile::tempdir().unwrap();
    let server = Server::start(root.path(), Some(TEST_SECRET)).await;
    let spec = server
        .send(TestRequest::get("/api/openapi.json"))
        .await
        .body;
    let operations: usize = spec["paths"]
        .as_object()
        .unwrap()
        .values()
        .map(|item| item.as_object().unwrap().len())
        .sum();

    let browser = Browser::start().await;
    browser
        .goto(&format!("http://{}/docs/", server.address))
        .await;
    browser.find(".info table").await;
    let title = browser.client().title().await.unwrap();
    assert_eq!(title, "tally API");

    // Each table the description holds: its header's text and how many cells each row has.
    let tables = browser
        .run(
            "return [...document.querySelectorAll('.info table')].map((table) => ({
               header: [...table.rows[0].cells].map((cell) => cell.textContent.trim()),
               cells: [...table.rows].slice(1).map((row) => row.cells.length),
             }))",
        )
        .await;
    let routes = tables
        .as_array()
        .unwrap()
        .iter()
        .find(|table| table["header"] == json!(["route", "what"]))
        .unwrap_or_else(|| panic!("no route table: {tables}"));
    assert_eq!(routes["cells"], json!(vec![2; operations]), "{tables}");
    for table in tables.as_array().unwrap() {
        let columns = table["header"].as_array().unwrap().len();
        for cells in table["cells"].as_array().unwrap() {
            assert_eq!(cells, &json!(columns), "{table}");
        }
    }
    let listing = browser
        .run(
            "return [...document.querySelectorAll('.info td')]\
             .find((cell) => cell.textContent.startsWith('?scope='))?.textContent ?? null",
        )
        .await;
    assert_eq!(
        listing.as_str().map(|text| text.split(':').next().unwrap()),
        Some("?scope= owned or shared, &status= pending or completed, &limit=, &cursor=")
    );
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
