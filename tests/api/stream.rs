//! `GET /api/dashboard/stream`: the current figures at once, then every change to them (the
//! caller's own commands, other users' shares, unshares and deletes, the start of a UTC day),
//! a burst as its latest state, resumed from `Last-Event-ID` without a miss or a repeat,
//! bounded per user and per server, and ended by a graceful stop.

use axum::Router;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use tally::background::Background;
use tally::http::{Tuning, router};
use tally::live::StreamLimits;
use tally::store::SqliteOptions;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    Backend, EventStream, Launched, TEST_SECRET, TestApp, TestRequest, on_both_backends, serving,
    signed, token, wait_until,
};

on_both_backends!(
    the_first_event_is_the_current_dashboard_at_once,
    each_command_of_the_caller_sends_its_figures,
    a_burst_is_sent_as_its_latest_state,
    shares_unshares_and_deletes_by_others_reach_the_sharee,
    a_resume_from_the_latest_id_waits_for_the_next_change,
    a_resume_from_before_a_change_gets_the_figures_at_once,
    a_resume_from_past_the_head_gets_the_figures_at_once,
    a_server_that_started_later_knows_only_what_came_after,
    the_start_of_a_utc_day_sends_the_fallen_counters,
    a_graceful_stop_ends_every_stream,
    a_change_on_one_server_reaches_a_stream_on_another,
);

fn stream_request(user: &str) -> TestRequest {
    TestRequest::get("/api/dashboard/stream").user(user)
}

async fn open(router: &Router, request: TestRequest) -> EventStream {
    EventStream::open(router, request)
        .await
        .unwrap_or_else(|answer| panic!("the stream did not open: {answer:?}"))
}

/// Creates a task as `user`; its id and the command's position.
async fn create(app: &TestApp, user: &str, title: &str) -> (String, i64) {
    let answer = app
        .send(
            TestRequest::post("/api/tasks")
                .user(user)
                .json(json!({ "title": title })),
        )
        .await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    (
        answer.body["task_id"].as_str().unwrap().to_owned(),
        position(&answer.body),
    )
}

fn position(answer: &Value) -> i64 {
    answer["position"].as_i64().expect("a command's position")
}

async fn the_first_event_is_the_current_dashboard_at_once(app: TestApp) {
    let (task, _) = create(&app, "alice", "one").await;
    create(&app, "alice", "two").await;
    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;

    let mut stream = open(&app.router, stream_request("alice")).await;
    assert_eq!(stream.headers["content-type"], "text/event-stream");
    assert_eq!(stream.headers["cache-control"], "no-cache");
    assert_eq!(stream.headers["x-accel-buffering"], "no");
    let first = stream.next().await.expect("an event");
    assert_eq!(
        first.retry,
        Some(2000),
        "the client is told when to reconnect"
    );
    assert!(first.data.is_none());

    let (id, figures) = stream.next_figures().await;
    assert_eq!(id, position(&completed.body));
    assert_eq!(figures, app.dashboard("alice").await);
    assert_eq!(figures["total"], 2);
    assert_eq!(figures["completed"], 1);
}

async fn each_command_of_the_caller_sends_its_figures(app: TestApp) {
    let mut stream = open(&app.router, stream_request("alice")).await;
    let (_, zeros) = stream.next_figures().await;
    assert_eq!(zeros, app.dashboard("alice").await);
    assert_eq!(zeros["total"], 0);

    let (task, created) = create(&app, "alice", "one").await;
    let (id, figures) = stream.next_figures().await;
    assert_eq!((id, &figures["total"]), (created, &json!(1)));

    let completed = app
        .post(&format!("/api/tasks/{task}/complete"), "alice")
        .await;
    let (id, figures) = stream.next_figures().await;
    assert_eq!(id, position(&completed.body));
    assert_eq!(figures["completed"], 1);
    assert_eq!(figures["completion_rate"], 100.0);

    let reopened = app
        .post(&format!("/api/tasks/{task}/reopen"), "alice")
        .await;
    let (id, figures) = stream.next_figures().await;
    assert_eq!(id, position(&reopened.body));
    assert_eq!(figures["pending"], 1);
    assert_eq!(figures, app.dashboard("alice").await);
}

async fn a_burst_is_sent_as_its_latest_state(app: TestApp) {
    let mut stream = open(&app.router, stream_request("alice")).await;
    stream.next_figures().await;

    // The client reads nothing while five commands commit: it is owed one state, the last.
    let mut last = 0;
    for n in 0..5 {
        last = create(&app, "alice", &format!("task {n}")).await.1;
    }
    let (id, figures) = stream.next_figures().await;
    assert_eq!((id, &figures["total"]), (last, &json!(5)));

    // Nothing of the burst is still queued: the next event is the next change.
    let (_, sixth) = create(&app, "alice", "task 5").await;
    let (id, figures) = stream.next_figures().await;
    assert_eq!((id, &figures["total"]), (sixth, &json!(6)));
}

async fn shares_unshares_and_deletes_by_others_reach_the_sharee(app: TestApp) {
    let (task, _) = create(&app, "alice", "shared").await;
    let mut bob = open(&app.router, stream_request("bob")).await;
    let (_, figures) = bob.next_figures().await;
    assert_eq!(figures["shared"], 0);

    let shared = app.share(&task, "alice", "bob", "view").await;
    let (id, figures) = bob.next_figures().await;
    assert_eq!(id, position(&shared.body));
    assert_eq!(
        (&figures["shared"], &figures["view_only"]),
        (&json!(1), &json!(1))
    );

    // Alice's own task changes nothing of Bob's; the permission change does.
    create(&app, "alice", "her own").await;
    let edit = app.share(&task, "alice", "bob", "edit").await;
    let (id, figures) = bob.next_figures().await;
    assert_eq!(id, position(&edit.body));
    assert_eq!(
        (&figures["view_only"], &figures["can_edit"]),
        (&json!(0), &json!(1))
    );

    let unshare = TestRequest::delete(format!("/api/tasks/{task}/shares/bob")).user("alice");
    let unshared = app.send(unshare).await;
    let (id, figures) = bob.next_figures().await;
    assert_eq!(id, position(&unshared.body));
    assert_eq!(figures["shared"], 0);

    app.share(&task, "alice", "bob", "view").await;
    assert_eq!(bob.next_figures().await.1["shared"], 1);
    let deleted = app
        .send(TestRequest::delete(format!("/api/tasks/{task}")).user("alice"))
        .await;
    let (id, figures) = bob.next_figures().await;
    assert_eq!(id, position(&deleted.body));
    assert_eq!(figures, app.dashboard("bob").await);
    assert_eq!(figures["shared"], 0);
}

async fn a_resume_from_the_latest_id_waits_for_the_next_change(app: TestApp) {
    let mut stream = open(&app.router, stream_request("alice")).await;
    stream.next_figures().await;
    create(&app, "alice", "one").await;
    let (seen, _) = stream.next_figures().await;
    drop(stream);

    // Someone else's change moves the log, not Alice's figures.
    create(&app, "bob", "his").await;
    let mut resumed = open(
        &app.router,
        stream_request("alice").header("last-event-id", &seen.to_string()),
    )
    .await;
    // Had the stream sent the figures the client has, its first event would say one task.
    let (_, created) = create(&app, "alice", "two").await;
    let (id, figures) = resumed.next_figures().await;
    assert_eq!((id, &figures["total"]), (created, &json!(2)));
}

async fn a_resume_from_before_a_change_gets_the_figures_at_once(app: TestApp) {
    let mut stream = open(&app.router, stream_request("alice")).await;
    let (seen, _) = stream.next_figures().await;
    drop(stream);

    let (_, created) = create(&app, "alice", "made while away").await;
    let request = stream_request("alice").header("last-event-id", &seen.to_string());
    let mut resumed = open(&app.router, request).await;
    let (id, figures) = resumed.next_figures().await;
    assert_eq!((id, &figures["total"]), (created, &json!(1)));
}

/// As after a restore from a backup older than the client's figures: the log's head is behind
/// the id the client has, so what it shows may be gone.
async fn a_resume_from_past_the_head_gets_the_figures_at_once(app: TestApp) {
    let (_, head) = create(&app, "alice", "the one the backup kept").await;
    let mut stream = open(&app.router, stream_request("alice")).await;
    assert_eq!(stream.next_figures().await.0, head);
    drop(stream);

    for seen in [head + 1, head + 1_000] {
        let request = stream_request("alice").header("last-event-id", &seen.to_string());
        let (id, figures) = open(&app.router, request).await.next_figures().await;
        assert_eq!((id, &figures["total"]), (head, &json!(1)), "from {seen}");
    }
}

async fn a_server_that_started_later_knows_only_what_came_after(app: TestApp) {
    let (_, before) = create(&app, "alice", "before the restart").await;
    // A second server on the same store: it knows nothing of what happened before it began.
    let (later, _background) =
        serving(app.store.clone(), app.auth.clone(), app.clock.clock()).await;
    let later = router(later);

    // From before its start, or from its start (which may predate a midnight it did not
    // see): the figures at once.
    for seen in [before - 1, before] {
        let request = stream_request("alice").header("last-event-id", &seen.to_string());
        let (id, figures) = open(&later, request).await.next_figures().await;
        assert_eq!((id, &figures["total"]), (before, &json!(1)));
    }

    // From a change it told: it waits.
    let told = later_create(&later, "alice").await;
    let request = stream_request("alice").header("last-event-id", &told.to_string());
    let mut resumed = open(&later, request).await;
    let answer = later_create(&later, "alice").await;
    let (id, figures) = resumed.next_figures().await;
    assert_eq!((id, &figures["total"]), (answer, &json!(3)));
}

async fn later_create(router: &Router, user: &str) -> i64 {
    let request = TestRequest::post("/api/tasks")
        .user(user)
        .json(json!({ "title": "after" }));
    let answer = crate::support::send_to(router, request).await;
    position(&answer.body)
}

async fn the_start_of_a_utc_day_sends_the_fallen_counters(app: TestApp) {
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 25, 23, 59, 0).unwrap());
    create(&app, "alice", "late").await;
    let mut stream = open(&app.router, stream_request("alice")).await;
    let (seen, figures) = stream.next_figures().await;
    assert_eq!(figures["created_today"], 1);

    // Thursday: the same ISO week.
    app.clock
        .set(Utc.with_ymd_and_hms(2026, 11, 26, 0, 0, 1).unwrap());
    let (_, figures) = stream.next_figures().await;
    assert_eq!(figures["created_today"], 0);
    assert_eq!(figures["created_this_week"], 1);
    assert_eq!(figures, app.dashboard("alice").await);

    // A client that last heard before midnight is not left with yesterday's counters.
    let request = stream_request("alice").header("last-event-id", &seen.to_string());
    let (_, figures) = open(&app.router, request).await.next_figures().await;
    assert_eq!(figures["created_today"], 0);
}

/// A second server on the test app's database (its own store, writer and streams), once it
/// follows the first one's changes: from its start, before any stream opens on it.
async fn second_server(app: &TestApp) -> (Router, Background) {
    let store = app.db.open_store(SqliteOptions::default()).await;
    let (state, background) = serving(store, app.auth.clone(), app.clock.clock()).await;
    let hub = state.hub.clone();
    wait_until("the second server follows", async || hub.is_following()).await;
    (router(state), background)
}

async fn a_change_on_one_server_reaches_a_stream_on_another(app: TestApp) {
    let (other, _background) = second_server(&app).await;
    // Opened once the second server follows: only what it hears or finds unheard wakes them.
    let mut alice = open(&other, stream_request("alice")).await;
    let mut bob = open(&other, stream_request("bob")).await;
    alice.next_figures().await;
    bob.next_figures().await;

    let (task, created) = create(&app, "alice", "made on the first server").await;
    let (id, figures) = alice.next_figures().await;
    assert_eq!(figures, app.dashboard("alice").await);
    assert_eq!(figures["total"], 1);
    // PostgreSQL: its announcement names the position; SQLite: the head, looked at, when
    // it first shows the change (no later than the answer's position: nothing else wrote).
    assert!(id <= created, "{id} > {created}");
    if app.db.backend == Backend::Postgres {
        assert_eq!(id, created);
    }

    let shared = app.share(&task, "alice", "bob", "edit").await;
    let (id, figures) = bob.next_figures().await;
    assert_eq!(figures, app.dashboard("bob").await);
    assert_eq!(
        (&figures["shared"], &figures["can_edit"]),
        (&json!(1), &json!(1))
    );
    assert!(id <= position(&shared.body));
    if app.db.backend == Backend::Postgres {
        assert_eq!(id, position(&shared.body));
    }
}

#[tokio::test]
#[cfg_attr(
    postgres_unavailable,
    ignore = "PostgreSQL is not available: install its server binaries or set TALLY_TEST_POSTGRES_URL"
)]
async fn on_postgres_a_change_while_the_listener_was_away_still_arrives() {
    let app = TestApp::start(Backend::Postgres)
        .await
        .expect("PostgreSQL (TALLY_TEST_POSTGRES_URL or a throwaway server)");
    let (other, _background) = second_server(&app).await;
    let mut stream = open(&other, stream_request("ann")).await;
    stream.next_figures().await;
    // Both nodes listen: the test app's and the second server.
    let mut listeners = Vec::new();
    wait_until("both nodes listen", async || {
        listeners = app.db.texts(LISTENER_PIDS).await;
        listeners.len() == 2
    })
    .await;

    // The listener's connection is cut; a change is committed meanwhile (its announcement
    // is heard if the listener is back in time, else found unheard in the log).
    app.db
        .execute(
            "select pg_terminate_backend(pid) from pg_stat_activity \
             where datname = current_database() and query like 'LISTEN%'",
        )
        .await;
    create(&app, "ann", "made while the listener was away").await;
    let (_, figures) = stream.next_figures().await;
    assert_eq!(figures["total"], 1);
    wait_until("both listeners are back, on new connections", async || {
        let now = app.db.texts(LISTENER_PIDS).await;
        now.len() == 2 && now.iter().all(|pid| !listeners.contains(pid))
    })
    .await;
}

/// The pids of the connections listening for announcements on the test's database.
const LISTENER_PIDS: &str = "select pid::text from pg_stat_activity \
                             where datname = current_database() and query like 'LISTEN%'";

async fn a_graceful_stop_ends_every_stream(app: TestApp) {
    let mut server = Launched::start(&app).await;
    let address = server.address.clone();

    let mut connection = connect_stream(&address).await;
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("\ndata: ") {
        let read = connection.read(&mut buffer).await.expect("the stream");
        assert!(read > 0, "the stream ended before its first event");
        received.extend_from_slice(&buffer[..read]);
    }

    server.stop();
    let rest = tokio::time::timeout(
        crate::support::PATIENCE,
        connection.read_to_end(&mut received),
    )
    .await
    .expect("the stream ends");
    rest.expect("the server closes the stream cleanly");
    // A stream the server ended, not one cut off when the stop gave up waiting: the last
    // chunk of a chunked answer is there.
    let received = String::from_utf8_lossy(&received);
    assert!(received.ends_with("\r\n0\r\n\r\n"), "{received:?}");
    server.stopped().await;
}

/// A raw connection that has asked for Alice's stream, once the server answers.
async fn connect_stream(address: &str) -> TcpStream {
    let request = format!(
        "GET /api/dashboard/stream HTTP/1.1\r\nHost: {address}\r\nAuthorization: Bearer {}\r\n\r\n",
        token("alice")
    );
    let mut connection = None;
    wait_until("the server accepts", async || {
        connection = TcpStream::connect(address).await.ok();
        connection.is_some()
    })
    .await;
    let mut connection = connection.unwrap();
    connection.write_all(request.as_bytes()).await.unwrap();
    connection
}

#[tokio::test]
async fn streams_beyond_the_limits_are_refused_with_503() {
    let tuning = Tuning {
        streams: StreamLimits {
            per_user: 2,
            per_node: 3,
        },
        ..Tuning::default()
    };
    let app = TestApp::start_tuned(Backend::Sqlite, tuning).await.unwrap();
    let first = open(&app.router, stream_request("alice")).await;
    let _second = open(&app.router, stream_request("alice")).await;
    let refused = EventStream::open(&app.router, stream_request("alice")).await;
    let refused = refused
        .err()
        .expect("a third stream for one user is refused");
    refused.assert_problem(503, "unavailable");
    assert!(refused.headers.contains_key("retry-after"));

    let _bob = open(&app.router, stream_request("bob")).await;
    let refused = EventStream::open(&app.router, stream_request("carol")).await;
    refused
        .err()
        .expect("a fourth on the server is refused")
        .assert_problem(503, "unavailable");

    // A stream that closes frees its place.
    drop(first);
    open(&app.router, stream_request("carol")).await;
}

#[tokio::test]
async fn a_stream_needs_a_token_and_an_id_it_sent() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let anonymous = EventStream::open(&app.router, TestRequest::get("/api/dashboard/stream"));
    anonymous
        .await
        .err()
        .expect("refused")
        .assert_problem(401, "unauthorized");
    for id in ["ten", "-1", "1.5", ""] {
        let request = stream_request("alice").header("last-event-id", id);
        let answer = EventStream::open(&app.router, request).await;
        answer
            .err()
            .expect("refused")
            .assert_problem(400, "malformed-request");
    }
}

#[tokio::test]
async fn a_stream_ends_when_its_token_expires() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let expires = chrono::Utc::now() + chrono::Duration::seconds(2);
    let claims = json!({ "sub": "alice", "exp": expires.timestamp() });
    let token = signed(
        jsonwebtoken::Algorithm::HS256,
        TEST_SECRET.as_bytes(),
        &claims,
    );
    let request = TestRequest::get("/api/dashboard/stream").bearer(&token);
    let mut stream = open(&app.router, request).await;
    stream.next_figures().await;
    // No change comes; the token's end does, and the client must come back with a new one.
    assert!(stream.next().await.is_none(), "the stream ends");
}
