//! The dashboard as resources: listed, read as the API answers it (each user their own), and
//! subscribed to, the client told when the figures change (its own, no one else's), in a
//! session (`resources/subscribe`, up to 2025-11-25) or on a `subscriptions/listen` stream
//! (2026-07-28).

use std::time::{Duration, Instant};

use axum::body::Body;
use axum::http::{Method, StatusCode, header};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tally::live::StreamLimits;
use tally::mcp::{PING_EVERY, PING_PATIENCE};
use tower::ServiceExt;

use super::session::{Session, message, post};
use crate::support::{EventStream, PATIENCE, TestApp, TestRequest, on_both_backends, wait_until};

const DASHBOARD: &str = "tally://dashboard";
const TREND: &str = "tally://dashboard/trend";
/// The protocol version without sessions, whose clients subscribe with `subscriptions/listen`.
const LISTEN_VERSION: &str = "2026-07-28";
/// The code of the protocol's resource-not-found error (before 2026-07-28).
const RESOURCE_NOT_FOUND: i64 = -32002;

/// The JSON-RPC messages of an event stream the app is still writing.
struct Messages {
    body: Body,
    /// What arrived and is not yet a whole event.
    pending: String,
}

impl Messages {
    async fn open(app: &TestApp, request: TestRequest) -> Messages {
        let response = app.router.clone().oneshot(request.build()).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let content_type = &response.headers()[header::CONTENT_TYPE];
        assert!(
            content_type
                .to_str()
                .unwrap()
                .starts_with("text/event-stream")
        );
        Messages {
            body: response.into_body(),
            pending: String::new(),
        }
    }

    /// The next message (events without one, such as the priming event, skipped); `None` when
    /// the stream ended. Fails the test if none comes within [`PATIENCE`].
    async fn next(&mut self) -> Option<Value> {
        loop {
            while let Some(end) = self.pending.find("\n\n") {
                let event: String = self.pending.drain(..end + 2).collect();
                let data: String = event
                    .lines()
                    .filter_map(|line| line.strip_prefix("data:"))
                    .map(str::trim)
                    .collect();
                if let Ok(message) = serde_json::from_str(&data) {
                    return Some(message);
                }
            }
            let frame = tokio::time::timeout(PATIENCE, self.body.frame())
                .await
                .expect("a message within the patience");
            // The stream ended.
            let frame = frame?;
            if let Ok(data) = frame.expect("the stream does not fail").into_data() {
                let text = std::str::from_utf8(&data).expect("UTF-8");
                self.pending.push_str(&text.replace("\r\n", "\n"));
            }
        }
    }

    /// The URI of the next message, which must say a resource was updated.
    async fn next_update(&mut self) -> String {
        let update = self.next().await.expect("the stream goes on");
        assert_eq!(
            update["method"], "notifications/resources/updated",
            "{update}"
        );
        update["params"]["uri"].as_str().unwrap().to_owned()
    }
}

/// `uri`'s contents as `session` reads them, parsed.
async fn read(session: &Session<'_>, uri: &str) -> Value {
    let result = session.call("resources/read", json!({"uri": uri})).await;
    let contents = &result["contents"];
    assert_eq!(contents.as_array().unwrap().len(), 1, "{result}");
    assert_eq!(contents[0]["uri"], uri);
    assert_eq!(contents[0]["mimeType"], "application/json");
    serde_json::from_str(contents[0]["text"].as_str().unwrap()).unwrap()
}

/// The whole JSON-RPC answer to `method` on `uri`, error or not.
async fn answer(app: &TestApp, session: &Session<'_>, method: &str, uri: &str) -> Value {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": method, "params": {"uri": uri}});
    let response = app
        .send(session.request(body).header(header::HOST, "localhost"))
        .await;
    assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    message(&response.body, 1)
}

async fn the_dashboard_is_listed_and_read_as_the_api_answers_it(app: TestApp) {
    let written = app.create_task("alice", "Write the report").await;
    app.create_task("alice", "Read the report").await;
    app.complete_task(&written, "alice").await;
    app.create_task("bob", "Bob's own").await;

    let alice = Session::open(&app, "alice").await;
    let listed = alice.call("resources/list", json!({})).await["resources"].clone();
    let listed = listed.as_array().unwrap();
    let uris: Vec<&str> = listed.iter().map(|r| r["uri"].as_str().unwrap()).collect();
    assert_eq!(uris, [DASHBOARD, TREND]);
    for resource in listed {
        assert_eq!(resource["mimeType"], "application/json", "{resource}");
        assert!(!resource["description"].as_str().unwrap().is_empty());
    }

    let dashboard = read(&alice, DASHBOARD).await;
    assert_eq!(dashboard, app.dashboard("alice").await);
    assert_eq!(
        (dashboard["total"].clone(), dashboard["completed"].clone()),
        (json!(2), json!(1))
    );
    let trend = app.get("/api/dashboard/trend", "alice").await;
    assert_eq!(trend.status, StatusCode::OK);
    assert_eq!(read(&alice, TREND).await, trend.body);

    // The same URI names each caller's own figures.
    let bob = Session::open(&app, "bob").await;
    let bobs = read(&bob, DASHBOARD).await;
    assert_eq!(bobs, app.dashboard("bob").await);
    assert_eq!(bobs["total"], 1);
    let bobs_trend = app.get("/api/dashboard/trend", "bob").await;
    assert_eq!(read(&bob, TREND).await, bobs_trend.body);
}

async fn an_unknown_resource_is_not_found(app: TestApp) {
    let alice = Session::open(&app, "alice").await;
    for method in [
        "resources/read",
        "resources/subscribe",
        "resources/unsubscribe",
    ] {
        let answer = answer(&app, &alice, method, "tally://dashboard/everyone").await;
        assert_eq!(
            answer["error"]["code"], RESOURCE_NOT_FOUND,
            "{method}: {answer}"
        );
        let text = answer["error"]["message"].as_str().unwrap();
        assert!(
            text.contains(DASHBOARD),
            "{method}: names what there is: {text}"
        );
    }
    // The session goes on.
    assert_eq!(read(&alice, DASHBOARD).await["total"], 0);
}

async fn a_subscribed_session_hears_of_its_own_changes_only(app: TestApp) {
    let alices = app.create_task("alice", "Alice's").await;
    let bobs = app.create_task("bob", "Bob's").await;
    let alice = Session::open(&app, "alice").await;
    // The stream first: anything the subscription sent (it must send nothing until a change)
    // would be on it.
    let mut events = Messages::open(&app, alice.without_body(Method::GET)).await;
    alice
        .call("resources/subscribe", json!({"uri": DASHBOARD}))
        .await;
    let bob = Session::open(&app, "bob").await;
    let mut bobs_events = Messages::open(&app, bob.without_body(Method::GET)).await;
    bob.call("resources/subscribe", json!({"uri": DASHBOARD}))
        .await;

    app.complete_task(&bobs, "bob").await;
    assert_eq!(bobs_events.next_update().await, DASHBOARD);

    // Alice's stream is read in order below: her change, then (subscribed to both) her next
    // one, then its end. Had Bob's change been told to her, one update more would be on it
    // (unless her task coalesced it with her own change, which nothing could tell apart).
    let commanded = Instant::now();
    app.complete_task(&alices, "alice").await;
    assert_eq!(events.next_update().await, DASHBOARD);
    let latency = commanded.elapsed();
    eprintln!("notified {latency:?} after the REST command was sent");
    assert_eq!(read(&alice, DASHBOARD).await["completed"], 1);

    // Subscribed to both, a change tells of both (in the order of their URIs).
    alice
        .call("resources/subscribe", json!({"uri": TREND}))
        .await;
    app.reopen_task(&alices, "alice").await;
    let told = [events.next_update().await, events.next_update().await];
    assert_eq!(told, [DASHBOARD, TREND], "told of a change not hers");

    // Ending the session ends its stream.
    let ended = app.send(alice.without_body(Method::DELETE)).await;
    assert!(ended.status.is_success(), "{}", ended.status);
    let mut rest = Vec::new();
    while let Some(message) = events.next().await {
        rest.push(message);
    }
    assert_eq!(rest, Vec::<Value>::new());
}

async fn a_subscription_counts_as_one_of_the_users_streams(app: TestApp) {
    let per_user = StreamLimits::default().per_user;
    let mut streams = Vec::new();
    for _ in 1..per_user {
        let request = TestRequest::get("/api/dashboard/stream").user("alice");
        streams.push(EventStream::open(&app.router, request).await.unwrap());
    }
    let first = Session::open(&app, "alice").await;
    first
        .call("resources/subscribe", json!({"uri": DASHBOARD}))
        .await;
    // A second subscription of the same session takes no other place.
    first
        .call("resources/subscribe", json!({"uri": TREND}))
        .await;

    let second = Session::open(&app, "alice").await;
    let refused = answer(&app, &second, "resources/subscribe", DASHBOARD).await;
    let text = refused["error"]["message"].as_str().unwrap_or_default();
    assert!(text.contains("dashboard streams open"), "{refused}");
    let request = TestRequest::get("/api/dashboard/stream").user("alice");
    let sse = EventStream::open(&app.router, request).await;
    sse.err()
        .expect("no room")
        .assert_problem(503, "unavailable");
    // Bob's place is his own.
    let bob = Session::open(&app, "bob").await;
    bob.call("resources/subscribe", json!({"uri": DASHBOARD}))
        .await;

    // Unsubscribing from everything frees the place; so does a session's end.
    first
        .call("resources/unsubscribe", json!({"uri": DASHBOARD}))
        .await;
    first
        .call("resources/unsubscribe", json!({"uri": TREND}))
        .await;
    wait_until("the unsubscribed session's place to be free", async || {
        let answer = answer(&app, &second, "resources/subscribe", DASHBOARD).await;
        answer["error"].is_null()
    })
    .await;
    let third = Session::open(&app, "alice").await;
    let refused = answer(&app, &third, "resources/subscribe", DASHBOARD).await;
    assert!(refused["error"].is_object(), "{refused}");
    let ended = app.send(second.without_body(Method::DELETE)).await;
    assert!(ended.status.is_success(), "{}", ended.status);
    wait_until("the ended session's place to be free", async || {
        let answer = answer(&app, &third, "resources/subscribe", DASHBOARD).await;
        answer["error"].is_null()
    })
    .await;
}

async fn a_listen_stream_hears_of_changes(app: TestApp) {
    let task = app.create_task("alice", "Alice's").await;
    let listen = json!({
        "jsonrpc": "2.0", "id": 7, "method": "subscriptions/listen",
        "params": {
            "notifications": {"resourceSubscriptions": [DASHBOARD, "tally://elsewhere"]},
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": LISTEN_VERSION,
                "io.modelcontextprotocol/clientCapabilities": {},
            },
        },
    });
    let request = post(listen)
        .user("alice")
        .header("mcp-protocol-version", LISTEN_VERSION)
        .header("mcp-method", "subscriptions/listen");
    let mut messages = Messages::open(&app, request).await;
    let acknowledged = messages.next().await.expect("an acknowledgment");
    assert_eq!(
        acknowledged["method"], "notifications/subscriptions/acknowledged",
        "{acknowledged}"
    );
    // Of what it asked for, what there is.
    let accepted = &acknowledged["params"]["notifications"]["resourceSubscriptions"];
    assert_eq!(accepted, &json!([DASHBOARD]));

    let commanded = Instant::now();
    app.complete_task(&task, "alice").await;
    assert_eq!(messages.next_update().await, DASHBOARD);
    eprintln!(
        "listen: notified {:?} after the REST command was sent",
        commanded.elapsed()
    );
}

/// Lets `quiet` pass at once on the app's clock (paused only for that: the database's own
/// waits need a running clock), so a ping falls due.
async fn let_pass(quiet: Duration) {
    tokio::time::pause();
    tokio::time::advance(quiet).await;
    tokio::time::resume();
}

/// The next message on `events`, which must be a ping.
async fn next_ping(events: &mut Messages) -> Value {
    let ping = events.next().await.expect("the stream goes on");
    assert_eq!(ping["method"], "ping", "{ping}");
    ping
}

async fn a_quiet_subscriber_is_pinged_and_let_go_when_it_does_not_answer(app: TestApp) {
    let task = app.create_task("alice", "Alice's").await;
    // All but one of Alice's places taken: the subscription's is the last.
    let mut streams = Vec::new();
    for _ in 1..StreamLimits::default().per_user {
        let request = TestRequest::get("/api/dashboard/stream").user("alice");
        streams.push(EventStream::open(&app.router, request).await.unwrap());
    }
    let alice = Session::open(&app, "alice").await;
    let mut events = Messages::open(&app, alice.without_body(Method::GET)).await;
    alice
        .call("resources/subscribe", json!({"uri": DASHBOARD}))
        .await;

    // Nothing changes for a while: the client is pinged (before the session's idle time ends
    // it); it answers, and keeps hearing of changes.
    let_pass(PING_EVERY).await;
    let ping = next_ping(&mut events).await;
    let pong = json!({"jsonrpc": "2.0", "id": ping["id"], "result": {}});
    let answered = app
        .send(alice.request(pong).header(header::HOST, "localhost"))
        .await;
    assert_eq!(answered.status, StatusCode::ACCEPTED, "{}", answered.body);
    app.complete_task(&task, "alice").await;
    assert_eq!(events.next_update().await, DASHBOARD);

    // Pinged again (changes or not), it does not answer: its subscription ends, freeing its
    // place among Alice's streams.
    let_pass(PING_EVERY).await;
    next_ping(&mut events).await;
    let request = TestRequest::get("/api/dashboard/stream").user("alice");
    let full = EventStream::open(&app.router, request).await;
    full.err()
        .expect("no room yet")
        .assert_problem(503, "unavailable");
    let_pass(PING_PATIENCE).await;
    wait_until(
        "the unanswered subscription's place to be free",
        async || {
            let request = TestRequest::get("/api/dashboard/stream").user("alice");
            EventStream::open(&app.router, request).await.is_ok()
        },
    )
    .await;
}

on_both_backends!(
    the_dashboard_is_listed_and_read_as_the_api_answers_it,
    an_unknown_resource_is_not_found,
    a_subscribed_session_hears_of_its_own_changes_only,
    a_subscription_counts_as_one_of_the_users_streams,
    a_listen_stream_hears_of_changes,
    a_quiet_subscriber_is_pinged_and_let_go_when_it_does_not_answer,
);
