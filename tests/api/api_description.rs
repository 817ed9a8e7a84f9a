//! The API's description: the OpenAPI spec covers every route and method the server answers,
//! agrees with `docs/API.md`, and holds together; the docs page ships inside the binary.

use std::collections::BTreeSet;

use serde_json::Value;
use tower::ServiceExt;

use crate::support::{Backend, TestApp, TestRequest};

const METHODS: [&str; 5] = ["GET", "POST", "PUT", "PATCH", "DELETE"];

async fn spec(app: &TestApp) -> Value {
    let response = app.send(TestRequest::get("/api/openapi.json")).await;
    assert_eq!(response.status, 200);
    assert_eq!(response.content_type(), "application/json");
    response.body
}

/// `(METHOD, path template)` of every operation in the spec.
fn operations(spec: &Value) -> BTreeSet<(String, String)> {
    let mut operations = BTreeSet::new();
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.insert((method.to_uppercase(), path.clone()));
        }
    }
    operations
}

/// A path the template matches, with a task id nobody has and another user.
fn concrete(template: &str) -> String {
    template
        .replace("{id}", "0190a4e2-0000-7000-8000-000000000000")
        .replace("{user_id}", "bob")
}

#[tokio::test]
async fn every_method_the_server_answers_on_a_described_path_is_described() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let spec = spec(&app).await;
    let described = operations(&spec);
    let paths: BTreeSet<&String> = described.iter().map(|(_, path)| path).collect();
    assert!(paths.len() >= 13, "paths: {paths:?}");
    for path in paths {
        for method in METHODS {
            let request = TestRequest::new(method, concrete(path))
                .user("alice")
                .json(serde_json::json!({}));
            // The status alone: a stream's body never ends.
            let request: axum::http::Request<axum::body::Body> = request.into();
            let response = app.router.clone().oneshot(request).await.unwrap();
            let answered = response.status() != 405;
            let is_described = described.contains(&(method.to_owned(), path.clone()));
            assert_eq!(
                answered,
                is_described,
                "{method} {path} answered {} but the spec {} it",
                response.status(),
                if is_described { "describes" } else { "lacks" }
            );
        }
    }
}

/// A route registered with axum's own `.route(..)` would be served without a description; only
/// routes outside `/api` (`/metrics`, the page) are.
#[test]
fn every_api_route_is_registered_with_its_description() {
    let folder = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http");
    for entry in std::fs::read_dir(folder).unwrap() {
        let path = entry.unwrap().path();
        let source = std::fs::read_to_string(&path).unwrap();
        for (number, line) in source.lines().enumerate() {
            if let Some((_, route)) = line.split_once(".route(") {
                assert!(
                    route.starts_with('"') && !route.starts_with("\"/api"),
                    "{}:{}: a route without a description: {line}",
                    path.display(),
                    number + 1
                );
            }
        }
    }
}

#[tokio::test]
async fn the_route_table_in_docs_api_md_is_the_specs() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let described = operations(&spec(&app).await);
    let text = include_str!("../../docs/API.md");
    let documented: BTreeSet<(String, String)> = text
        .lines()
        .filter_map(|line| {
            let route = line.strip_prefix("| `")?.split('`').next()?;
            let (method, path) = route.split_once(' ')?;
            METHODS
                .contains(&method)
                .then(|| (method.to_owned(), path.to_owned()))
        })
        .collect();
    assert_eq!(documented, described);
}

/// Swagger UI's markdown renderer (remarkable) splits a table row at every `|`, escaped or
/// inside a code span, where GitHub's does not: a row with a `|` in a cell renders whole on
/// the forge and broken at `/docs`. Alternatives are written with "or" instead.
#[test]
fn every_table_row_in_docs_api_md_has_as_many_cells_as_its_header_wherever_rendered() {
    let text = include_str!("../../docs/API.md");
    let mut header_cells = None;
    for (number, line) in text.lines().enumerate() {
        let Some(row) = line.strip_prefix('|') else {
            header_cells = None;
            continue;
        };
        let cells = row.trim_end().trim_end_matches('|').split('|').count();
        let expected = *header_cells.get_or_insert(cells);
        assert_eq!(
            cells,
            expected,
            "docs/API.md:{}: {} cells under a header of {expected}: {line}",
            number + 1,
            cells
        );
    }
}

#[tokio::test]
async fn the_spec_is_openapi_3_1_whose_references_resolve_and_whose_api_needs_a_token() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let spec = spec(&app).await;
    assert_eq!(spec["openapi"], "3.1.0");
    assert_eq!(
        spec["components"]["securitySchemes"]["bearer"]["scheme"],
        "bearer"
    );
    let mut references = Vec::new();
    collect_references(&spec, &mut references);
    assert!(!references.is_empty());
    for reference in references {
        let pointer = reference.strip_prefix('#').unwrap_or_else(|| {
            panic!("{reference} points outside the document");
        });
        assert!(
            spec.pointer(pointer).is_some(),
            "{reference} resolves to nothing"
        );
    }
    let mut operation_ids = BTreeSet::new();
    for (method, path) in operations(&spec) {
        let operation = &spec["paths"][&path][method.to_lowercase()];
        let id = operation["operationId"].as_str().unwrap();
        assert!(operation_ids.insert(id.to_owned()), "{id} twice");
        let open = ["getHealth", "openapi"].contains(&id);
        let responses = operation["responses"].as_object().unwrap();
        assert_eq!(operation["security"].is_null(), open, "{method} {path}");
        assert_eq!(!responses.contains_key("401"), open, "{method} {path}");
        for (status, response) in responses {
            if status.starts_with(['4', '5']) && id != "getHealth" {
                let content = response["content"].as_object().unwrap();
                assert_eq!(
                    content.keys().collect::<Vec<_>>(),
                    ["application/problem+json"],
                    "{method} {path} {status}"
                );
            }
        }
    }
}

fn collect_references(value: &Value, into: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(reference)) = map.get("$ref") {
                into.push(reference.clone());
            }
            map.values()
                .for_each(|value| collect_references(value, into));
        }
        Value::Array(items) => items
            .iter()
            .for_each(|value| collect_references(value, into)),
        _ => {}
    }
}

#[tokio::test]
async fn the_docs_page_reads_the_spec_and_loads_nothing_from_elsewhere() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let page = app.send(TestRequest::get("/docs/")).await;
    assert_eq!(page.status, 200);
    assert!(page.content_type().starts_with("text/html"));
    let policy = page.headers["content-security-policy"].to_str().unwrap();
    for directive in [
        "default-src 'none'",
        "script-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe-"), "{policy}");
    assert_eq!(page.headers["x-content-type-options"], "nosniff");
    let html = page.body.as_str().unwrap();
    assert!(html.contains("<title>tally API</title>"), "{html}");
    assert!(
        !html.contains("http:") && !html.contains("https:"),
        "{html}"
    );
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.ends_with(".js") || part.ends_with(".css"))
        .collect();
    assert!(assets.len() >= 4, "assets: {assets:?}");
    for asset in assets {
        let path = format!("/docs/{}", asset.trim_start_matches("./"));
        let response = app.send(TestRequest::get(path.clone())).await;
        assert_eq!(response.status, 200, "{path}");
        let text = response.body.as_str().unwrap_or_default();
        if asset.ends_with(".css") {
            assert!(!text.contains("url(http"), "{path} loads from elsewhere");
        }
        assert_eq!(
            response.headers["x-content-type-options"], "nosniff",
            "{path}"
        );
        if asset.ends_with("swagger-initializer.js") {
            let compact: String = text.split_whitespace().collect();
            assert!(compact.contains(r#""url":"/api/openapi.json""#), "{text}");
            assert!(compact.contains(r#""validatorUrl":"none""#), "{text}");
        }
    }
}

#[tokio::test]
async fn every_error_under_docs_is_problem_json_with_the_pages_policy() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    for path in [
        "/docs/nope.js",
        "/docs/../Cargo.toml",
        "/docs/%2E%2E/secret",
        "/docs/a/b/c",
    ] {
        let response = app.send(TestRequest::get(path)).await;
        response.assert_problem(404, "not-found");
        assert_eq!(
            response.headers["x-content-type-options"], "nosniff",
            "{path}"
        );
        assert!(
            response.headers.contains_key("content-security-policy"),
            "{path}"
        );
    }
}
