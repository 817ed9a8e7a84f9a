//! The page's files, served: the page and its assets with their types and validators, under
//! a policy that lets nothing inline run; nothing else under `/assets/`.

use axum::http::header;

use crate::support::{Backend, TestApp, TestRequest};

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
