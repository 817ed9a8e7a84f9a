//! The node's background tasks (the writer, the day watcher, the follower of other servers'
//! changes): ended and joined by a shutdown. That the follower runs before any stream opens
//! is the stream tests' `second_server`.

use std::sync::Arc;

use tally::store::SqliteOptions;

use crate::support::{TestApp, on_both_backends, serving, wait_until};

on_both_backends!(a_shutdown_stops_every_background_task);

async fn a_shutdown_stops_every_background_task(app: TestApp) {
    let store = app.db.open_store(SqliteOptions::default()).await;
    let (state, background) = serving(store.clone(), app.auth.clone(), app.clock.clock()).await;
    wait_until("the node follows", async || state.hub.is_following()).await;
    let stream = state.hub.subscribe("alice", None).expect("a stream");

    background.shutdown().await;
    assert!(
        state.hub.subscribe("bob", None).is_err(),
        "the hub is closed"
    );
    drop(stream);
    // The day watcher's and the follower's hold on the hub went with their tasks (a task left
    // running would keep its own, or keep the shutdown waiting): only the state's own and its
    // writer's remain.
    assert_eq!(Arc::strong_count(&state.hub), 2);
    store.close().await;
}
