//! Bad input gets a clear problem+json answer and loses nothing: the shape of requests (bodies,
//! media types, sizes, path ids, query parameters, headers) on every route of the contract.

use axum::body::Body;
use axum::http::{HeaderName, header};

use super::{LIMIT, ROUTES, World, body_routes, command_routes, padded, task_routes};
use crate::support::{TestApp, on_both_backends};

on_both_backends!(
    malformed_json_is_refused_with_400_on_every_body_route,
    json_of_the_wrong_shape_is_refused_with_422_on_every_body_route,
    a_declared_body_over_64_kib_is_refused_with_413_on_every_route,
    a_streamed_body_over_64_kib_without_a_length_is_refused_with_413,
    a_body_that_is_not_json_is_refused_with_415_on_every_command_route,
    a_task_id_that_is_not_a_uuid_is_refused_with_400_on_every_task_route,
    an_invalid_share_user_id_is_refused_with_422,
    list_parameters_that_make_no_sense_are_refused_with_400,
    a_query_parameter_given_twice_is_refused_naming_it,
    malformed_command_headers_are_refused_with_400,
    an_unknown_route_or_method_still_answers_problem_json,
);

async fn malformed_json_is_refused_with_400_on_every_body_route(app: TestApp) {
    let world = World::build(&app).await;
    let nested = "[".repeat(10_000);
    let bad: [&str; 5] = [
        r#"{"title": "#,
        "title=x",
        "",
        r#"{"title": "a"} 42"#,
        &nested,
    ];
    for (method, template, _) in body_routes() {
        for body in bad {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 400, "malformed-request").await;
        }
    }
    // A key named twice: serde_json would keep the last, another reader the first.
    let twice = [
        r#"{"title": "a", "title": "b"}"#,
        r#"{"permission": "view", "permission": "edit"}"#,
        r#"{"title": "a", "t\u0069tle": "a"}"#,
    ];
    for (method, template, _) in body_routes() {
        for body in twice {
            let request = world.alice(method, template, Some(body));
            let refused = world.refused(request, 400, "malformed-request").await;
            let detail = refused.body["detail"].as_str().unwrap();
            assert!(detail.contains("duplicate key"), "{body}: {detail}");
        }
    }
}

/// Arrays come last in each list: serde would read them as a struct's fields in order.
async fn json_of_the_wrong_shape_is_refused_with_422_on_every_body_route(app: TestApp) {
    let world = World::build(&app).await;
    let create: &[&str] = &[
        r#"{"title": 123}"#,
        r#"{"title": null}"#,
        r#"{"description": "no title"}"#,
        r#"{"title": "a", "description": 5}"#,
        r#""buy stamps""#,
        r#"["buy stamps"]"#,
    ];
    let edit: &[&str] = &[
        r#"{"title": 123}"#,
        r#"{"description": true}"#,
        "null",
        "[]",
        r#"["b"]"#,
    ];
    let share: &[&str] = &[
        r#"{"permission": 1}"#,
        r#"{"permission": null}"#,
        "{}",
        r#"["edit"]"#,
    ];
    for ((method, template, _), bodies) in body_routes().zip([create, edit, share]) {
        for body in bodies {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 422, "validation").await;
        }
    }
    // Commands that take no body accept an empty one, `{}` or `null`, and nothing else.
    let bodyless = command_routes().filter(|(_, _, body)| body.is_none());
    for (method, template, _) in bodyless {
        for body in [r#"{"title": "a"}"#, "[]", "true"] {
            let request = world.alice(method, template, Some(body));
            world.refused(request, 422, "validation").await;
        }
    }
    let complete = |body| world.alice("POST", "/api/tasks/{pending}/complete", Some(body));
    assert_eq!(app.send(complete("{}")).await.status, 200);
    let reopen = world.alice("POST", "/api/tasks/{pending}/reopen", Some("null"));
    assert_eq!(app.send(reopen).await.status, 200);
}

async fn a_declared_body_over_64_kib_is_refused_with_413_on_every_route(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in ROUTES {
        let body = padded(body.unwrap_or("{}"), LIMIT + 1);
        let length = body.len().to_string();
        let request = world.alice(method, template, Some(&body));
        let request = request.header(header::CONTENT_LENGTH, &length);
        world.refused(request, 413, "payload-too-large").await;
    }
    // Exactly 64 KiB is not over the limit.
    let body = padded(r#"{"title": "buy stamps"}"#, LIMIT);
    let request = world.alice("POST", "/api/tasks", Some(&body));
    let request = request.header(header::CONTENT_LENGTH, &LIMIT.to_string());
    assert_eq!(app.send(request).await.status, 201);
}

async fn a_streamed_body_over_64_kib_without_a_length_is_refused_with_413(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in body_routes() {
        let body = Body::from(padded(body, LIMIT + 1));
        let mut request = world.alice(method, template, Some("")).build();
        *request.body_mut() = Body::from_stream(body.into_data_stream());
        assert!(!request.headers().contains_key(header::CONTENT_LENGTH));
        world.refused(request, 413, "payload-too-large").await;
    }
}

async fn a_body_that_is_not_json_is_refused_with_415_on_every_command_route(app: TestApp) {
    let world = World::build(&app).await;
    let types = [
        None,
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("text/json"),
        Some("application/jsonl"),
    ];
    // A command that takes no body refuses one it cannot read, rather than ignore it.
    for (method, template, body) in command_routes() {
        for content_type in types {
            let request = world.alice(method, template, Some(body.unwrap_or("{}")));
            let request = match content_type {
                Some(content_type) => request.header(header::CONTENT_TYPE, content_type),
                None => request.without_header(header::CONTENT_TYPE),
            };
            world.refused(request, 415, "unsupported-media-type").await;
        }
    }
}

async fn a_task_id_that_is_not_a_uuid_is_refused_with_400_on_every_task_route(app: TestApp) {
    let world = World::build(&app).await;
    for (method, template, body) in task_routes() {
        for id in "not-a-uuid 12345 0190c2e4-7d0a-7c3b-8a3b %20 ..%2Fetc".split(' ') {
            let path = template.replace("{pending}", id).replace("{done}", id);
            let request = world.alice(method, &path, body);
            world.refused(request, 400, "malformed-request").await;
        }
    }
}

async fn an_invalid_share_user_id_is_refused_with_422(app: TestApp) {
    let world = World::build(&app).await;
    let (too_long, longest) = ("u".repeat(129), "u".repeat(128));
    // And ids that are no safe path segment, plain or percent-encoded.
    let ids =
        format!("{too_long} nul%00 soh%01 line%0Abreak del%7F nel%C2%85 . .. %2E %2E%2E a%2Fb %2F");
    for id in ids.split(' ') {
        let path = format!("/api/tasks/{{pending}}/shares/{id}");
        let share = world.alice("PUT", &path, Some(r#"{"permission": "view"}"#));
        world.refused(share, 422, "validation").await;
        let unshare = world.alice("DELETE", &path, None);
        world.refused(unshare, 422, "validation").await;
    }
    // 128 characters is a valid user id, and so are dots beside other characters.
    for id in [longest.as_str(), "...", ".bob", "b.o.b"] {
        let response = app.share(&world.pending, "alice", id, "view").await;
        assert_eq!(response.status, 200, "{id}: {}", response.body);
    }
}

async fn a_query_parameter_given_twice_is_refused_naming_it(app: TestApp) {
    let world = World::build(&app).await;
    for (path, name) in [
        ("/api/tasks?limit=1&limit=2", "limit"),
        ("/api/tasks?scope=owned&status=pending&scope=owned", "scope"),
        ("/api/tasks?cur%73or=a&cursor=b", "cursor"),
        ("/api/tasks/{pending}/events?after=0&after=0", "after"),
        ("/api/dashboard/trend?days=7&days=30", "days"),
    ] {
        let request = world.alice("GET", path, None);
        let refused = world.refused(request, 400, "malformed-request").await;
        assert_eq!(
            refused.body["detail"],
            format!("the query parameter \"{name}\" is given more than once"),
            "{path}"
        );
    }
}

async fn list_parameters_that_make_no_sense_are_refused_with_400(app: TestApp) {
    let world = World::build(&app).await;
    let queries =
        "scope=everything status=done limit=0 limit=201 limit=ten cursor=nope limit=1&limit=2";
    for query in queries.split(' ') {
        let request = world.alice("GET", &format!("/api/tasks?{query}"), None);
        world.refused(request, 400, "malformed-request").await;
    }
}

/// The contract fixes the form of `If-Match` (`"<version>"`) and of `Idempotency-Key` (1 to 255
/// printable ASCII); anything else is a malformed request, refused before it is decided.
async fn malformed_command_headers_are_refused_with_400(app: TestApp) {
    let world = World::build(&app).await;
    let long_key = "k".repeat(256);
    let key = HeaderName::from_static("idempotency-key");
    let headers: [(HeaderName, &str); 6] = [
        (header::IF_MATCH, "banana"),
        (header::IF_MATCH, "\"-1\""),
        (key.clone(), ""),
        (key.clone(), &long_key),
        (key.clone(), "clé"),
        (key, "tab\there"),
    ];
    for (method, template, body) in command_routes() {
        for (name, value) in &headers {
            let request = world.alice(method, template, body);
            let request = request.header(name.clone(), value);
            world.refused(request, 400, "malformed-request").await;
        }
    }
}

/// "Every error is application/problem+json", the router's own refusals included.
async fn an_unknown_route_or_method_still_answers_problem_json(app: TestApp) {
    let world = World::build(&app).await;
    let unknown = world.alice("GET", "/api/projects", None);
    world.refused(unknown, 404, "not-found").await;
    let wrong_methods = [
        ("PUT", "/api/tasks"),
        ("POST", "/api/tasks/{pending}"),
        ("GET", "/api/tasks/{pending}/complete"),
        ("DELETE", "/api/dashboard"),
    ];
    for (method, template) in wrong_methods {
        let before = app.db.stored_state().await;
        let response = app.send(world.alice(method, template, None)).await;
        let what = format!("{method} {template}: {}", response.body);
        assert_eq!(response.status, 405, "{what}");
        assert_eq!(
            response.content_type(),
            "application/problem+json",
            "{what}"
        );
        assert_eq!(response.body["status"], 405, "{what}");
        assert_eq!(app.db.stored_state().await, before);
    }
}
