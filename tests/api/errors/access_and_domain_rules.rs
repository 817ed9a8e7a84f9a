//! Refusals that depend on who asks and what the task is: tokens, strangers, viewers and
//! editors, transitions, versions and values. None of them loses anything.

use axum::http::header;
use chrono::{Duration, Utc};
use jsonwebtoken::Algorithm;
use serde_json::{Value, json};

use super::{ROUTES, World, command_routes, task_routes};
use crate::support::{TEST_SECRET, TestApp, claims, on_both_backends, signed, token};

on_both_backends!(
    a_missing_or_bad_token_is_refused_with_401_and_a_bearer_challenge_on_every_route,
    a_task_the_caller_cannot_see_is_404_never_403_on_every_task_route,
    a_viewer_who_changes_a_task_is_refused_with_403,
    an_editor_who_deletes_or_shares_a_task_is_refused_with_403,
    completing_a_completed_task_or_reopening_a_pending_one_is_refused_with_409,
    an_if_match_naming_another_version_is_refused_with_412_on_every_command,
    invalid_titles_descriptions_and_permissions_are_refused_with_422,
    sharing_a_task_with_its_owner_is_refused_with_422,
    removing_a_share_that_does_not_exist_is_refused_with_404,
);

/// Unpadded base64url, as JWT segments use it.
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut text = String::new();
    for chunk in bytes.chunks(3) {
        let bits = (chunk.iter().enumerate()).fold(0u32, |bits, (i, byte)| {
            bits | u32::from(*byte) << (16 - 8 * i)
        });
        for i in 0..=chunk.len() {
            text.push(ALPHABET[(bits >> (18 - 6 * i)) as usize & 63] as char);
        }
    }
    text
}

/// A JWT segment: JSON in unpadded base64url.
fn segment(json: &Value) -> String {
    base64url(json.to_string().as_bytes())
}

const OTHER_SECRET: &[u8] = b"another-secret-that-is-32-bytes-or-more";

/// `Authorization` values that must not let alice in (`None`: no header at all). Those signed
/// with `TEST_SECRET` are wrong for another reason only: the 401 test proves the secret right.
fn bad_authorizations() -> Vec<Option<String>> {
    let expired = json!({"sub": "alice", "exp": (Utc::now() - Duration::minutes(1)).timestamp()});
    let alg_none = segment(&json!({"alg": "none", "typ": "JWT"}));
    let valid = token("alice");
    let parts: Vec<&str> = valid.split('.').collect();
    let hs256 = |claims: &Value| signed(Algorithm::HS256, TEST_SECRET.as_bytes(), claims);
    let tokens = [
        "garbage".to_owned(),
        String::new(),
        signed(Algorithm::HS256, OTHER_SECRET, &claims("alice")),
        hs256(&expired),
        format!("{alg_none}.{}.", segment(&claims("alice"))),
        signed(Algorithm::HS512, TEST_SECRET.as_bytes(), &claims("alice")),
        hs256(&json!({"sub": "alice"})),
        hs256(&claims(&"u".repeat(129))),
        hs256(&claims("ali\u{1}ce")),
        // alice's signature on bob's claims
        format!("{}.{}.{}", parts[0], segment(&claims("bob")), parts[2]),
    ];
    let mut authorizations = vec![None, Some("Basic YWxpY2U6c2VjcmV0".to_owned())];
    authorizations.extend(tokens.map(|token| Some(format!("Bearer {token}"))));
    authorizations
}

async fn a_missing_or_bad_token_is_refused_with_401_and_a_bearer_challenge_on_every_route(
    app: TestApp,
) {
    let world = World::build(&app).await;
    for authorization in bad_authorizations() {
        for (method, template, body) in ROUTES {
            let request = world.request(None, method, template, body);
            let request = match &authorization {
                Some(authorization) => request.header(header::AUTHORIZATION, authorization),
                None => request.without_header(header::AUTHORIZATION),
            };
            world.refused(request, 401, "unauthorized").await;
        }
    }
    let bearer = format!(
        "Bearer {}",
        signed(Algorithm::HS256, TEST_SECRET.as_bytes(), &claims("alice"))
    );
    let request = world.request(None, "GET", "/api/dashboard", None);
    let request = request.header(header::AUTHORIZATION, &bearer);
    assert_eq!(
        app.send(request).await.status,
        200,
        "TEST_SECRET is the app's secret"
    );
}

async fn a_task_the_caller_cannot_see_is_404_never_403_on_every_task_route(app: TestApp) {
    let world = World::build(&app).await;
    let unknown = uuid::Uuid::now_v7().to_string();
    let callers = [
        ("bob", &world.pending),
        ("bob", &world.done),
        ("frank", &world.pending),
        ("alice", &world.gone),
        ("victor", &world.gone),
        ("bob", &world.gone),
    ];
    for (method, template, body) in task_routes() {
        let path = |task: &str| template.replace("{pending}", task).replace("{done}", task);
        let never_existed = world.alice(method, &path(&unknown), body);
        let answer = world.refused(never_existed, 404, "not-found").await;
        for (user, task) in callers {
            let request = world.request(Some(user), method, &path(task), body);
            let response = world.refused(request, 404, "not-found").await;
            // Nothing tells it apart from a task that never existed.
            assert_eq!(response.body, answer.body, "{user} {method} {template}");
        }
    }
}

type Case = (
    &'static str,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Sends each `(user, method, path, body)` case and expects the same refusal for all of them.
async fn assert_all_refused(world: &World<'_>, cases: &[Case], status: u16, problem: &str) {
    for (user, method, template, body) in cases {
        let request = world.request(Some(user), method, template, *body);
        world.refused(request, status, problem).await;
    }
}

const VIEW: Option<&str> = Some(r#"{"permission": "view"}"#);
const EDIT: Option<&str> = Some(r#"{"permission": "edit"}"#);

async fn a_viewer_who_changes_a_task_is_refused_with_403(app: TestApp) {
    let world = World::build(&app).await;
    let cases = [
        (
            "victor",
            "PATCH",
            "/api/tasks/{pending}",
            Some(r#"{"title": "mine now"}"#),
        ),
        (
            "victor",
            "PATCH",
            "/api/tasks/{pending}",
            Some(r#"{"description": "x"}"#),
        ),
        ("victor", "POST", "/api/tasks/{pending}/complete", None),
        ("victor", "POST", "/api/tasks/{done}/reopen", None),
        ("victor", "DELETE", "/api/tasks/{pending}", None),
        ("victor", "PUT", "/api/tasks/{pending}/shares/carol", VIEW),
        ("victor", "PUT", "/api/tasks/{pending}/shares/victor", EDIT),
        (
            "victor",
            "DELETE",
            "/api/tasks/{pending}/shares/edith",
            None,
        ),
        (
            "victor",
            "DELETE",
            "/api/tasks/{pending}/shares/victor",
            None,
        ),
    ];
    assert_all_refused(&world, &cases, 403, "forbidden").await;
}

async fn an_editor_who_deletes_or_shares_a_task_is_refused_with_403(app: TestApp) {
    let world = World::build(&app).await;
    let cases = [
        ("edith", "DELETE", "/api/tasks/{pending}", None),
        ("edith", "DELETE", "/api/tasks/{done}", None),
        ("edith", "PUT", "/api/tasks/{pending}/shares/carol", VIEW),
        ("edith", "PUT", "/api/tasks/{pending}/shares/victor", EDIT),
        (
            "edith",
            "DELETE",
            "/api/tasks/{pending}/shares/victor",
            None,
        ),
        ("edith", "DELETE", "/api/tasks/{pending}/shares/edith", None),
    ];
    assert_all_refused(&world, &cases, 403, "forbidden").await;
}

async fn completing_a_completed_task_or_reopening_a_pending_one_is_refused_with_409(app: TestApp) {
    let world = World::build(&app).await;
    let cases = [
        ("alice", "POST", "/api/tasks/{done}/complete", None),
        ("alice", "POST", "/api/tasks/{pending}/reopen", None),
        ("edith", "POST", "/api/tasks/{done}/complete", None),
        ("edith", "POST", "/api/tasks/{pending}/reopen", None),
    ];
    assert_all_refused(&world, &cases, 409, "invalid-transition").await;
}

async fn version(app: &TestApp, task: &str) -> i64 {
    let task = app.get(&format!("/api/tasks/{task}"), "alice").await;
    task.body["version"].as_i64().unwrap()
}

async fn an_if_match_naming_another_version_is_refused_with_412_on_every_command(app: TestApp) {
    let world = World::build(&app).await;
    let (pending, done) = (
        version(&app, &world.pending).await,
        version(&app, &world.done).await,
    );
    for (method, template, body) in command_routes() {
        // A task about to be created is at version 0.
        let current = match template {
            "/api/tasks" => 0,
            _ if template.contains("{done}") => done,
            _ => pending,
        };
        let older = if current > 0 {
            current - 1
        } else {
            current + 2
        };
        let editor_may =
            method == "PATCH" || template.ends_with("complete") || template.ends_with("reopen");
        let weak_current = format!("W/\"{current}\"");
        for (user, if_match) in [
            ("alice", format!("\"{}\"", current + 1)),
            ("alice", format!("\"{older}\"")),
            ("edith", format!("\"{}\"", current + 1)),
            // If-Match compares strongly: a weak tag matches nothing, the current version neither.
            ("alice", weak_current.clone()),
            ("edith", weak_current),
        ] {
            if user == "edith" && !editor_may {
                continue;
            }
            let request = world.request(Some(user), method, template, body);
            let request = request.header(header::IF_MATCH, &if_match);
            world.refused(request, 412, "version-mismatch").await;
        }
    }
}

async fn invalid_titles_descriptions_and_permissions_are_refused_with_422(app: TestApp) {
    let world = World::build(&app).await;
    let long_title = json!({"title": "é".repeat(201)}).to_string();
    let long_description = json!({"title": "a", "description": "é".repeat(10_001)}).to_string();
    let texts: [&str; 10] = [
        r#"{"title": ""}"#,
        r#"{"title": "   "}"#,
        r#"{"title": "\t\n"}"#,
        &long_title,
        &long_description,
        // PostgreSQL cannot store NUL in text: refused alike on both backends, before a batch.
        r#"{"title": "a\u0000b"}"#,
        r#"{"title": "a", "description": "x\u0000"}"#,
        r#"{"title": "a", "description": "\u001b[31mred"}"#,
        // Only invisible characters: looks empty in every list.
        r#"{"title": "\u200b\u200d\ufeff"}"#,
        r#"{"title": "line\nbreak"}"#,
    ];
    for body in texts {
        for (user, method, template) in [
            ("alice", "POST", "/api/tasks"),
            ("alice", "PATCH", "/api/tasks/{pending}"),
            ("edith", "PATCH", "/api/tasks/{done}"),
        ] {
            let request = world.request(Some(user), method, template, Some(body));
            world.refused(request, 422, "validation").await;
        }
    }
    for permission in ["admin", "owner", "VIEW", "", " view"] {
        let body = json!({ "permission": permission }).to_string();
        let request = world.alice("PUT", "/api/tasks/{pending}/shares/carol", Some(&body));
        world.refused(request, 422, "validation").await;
    }
    // At the limits, counted in characters rather than bytes, both are accepted.
    let longest = json!({"title": "é".repeat(200), "description": "é".repeat(10_000)});
    let created = app
        .send(world.alice("POST", "/api/tasks", Some(&longest.to_string())))
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
}

async fn sharing_a_task_with_its_owner_is_refused_with_422(app: TestApp) {
    let world = World::build(&app).await;
    let cases = [
        ("alice", "PUT", "/api/tasks/{pending}/shares/alice", VIEW),
        ("alice", "PUT", "/api/tasks/{done}/shares/alice", EDIT),
    ];
    assert_all_refused(&world, &cases, 422, "validation").await;
}

async fn removing_a_share_that_does_not_exist_is_refused_with_404(app: TestApp) {
    let world = World::build(&app).await;
    let cases = [
        ("alice", "DELETE", "/api/tasks/{pending}/shares/carol", None),
        ("alice", "DELETE", "/api/tasks/{pending}/shares/frank", None),
        ("alice", "DELETE", "/api/tasks/{done}/shares/frank", None),
    ];
    assert_all_refused(&world, &cases, 404, "not-found").await;
}
