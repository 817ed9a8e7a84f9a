//! Learning of the changes other servers commit to the same database, so that a stream on this
//! node shows them too.
//!
//! PostgreSQL: every batch is announced with `NOTIFY` in its own transaction (so only a
//! committed batch is heard), naming its users, and each node `LISTEN`s on a direct connection
//! (a transaction pooler cannot hold one).
//!
//! Both backends: the log's head is looked at while streams are open, and events in it that
//! this node neither committed nor heard announced (lost while the listener was away, or
//! written by another process on the same SQLite file, which has no notifications) make every
//! stream read its figures again.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::time::Instant;

use super::Hub;
use super::announcement::{self, CHANNEL};
use crate::store::Store;

/// How often the head is looked at where nothing is announced (SQLite).
const POLL_UNANNOUNCED: Duration = Duration::from_millis(250);
/// How often where announcements are heard (PostgreSQL): a safety net only.
const POLL_ANNOUNCED: Duration = Duration::from_secs(1);
/// The pause before listening again; it doubles up to [`MAX_BACKOFF`] while connections fail
/// or end within [`STABLE`].
const BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);
const STABLE: Duration = Duration::from_secs(30);

/// Tells `hub` of other servers' changes until it closes.
pub async fn follow(store: Arc<dyn Store>, hub: Arc<Hub>) {
    let options = store.listen_options();
    let every = match options {
        Some(_) => POLL_ANNOUNCED,
        None => POLL_UNANNOUNCED,
    };
    let listening = async {
        match &options {
            Some(options) => listen(options, store.as_ref(), &hub).await,
            None => {
                hub.set_following(true);
                std::future::pending().await
            }
        }
    };
    tokio::select! {
        () = listening => {}
        () = poll(store.as_ref(), &hub, every) => {}
        () = hub.closed() => {}
    }
}

async fn listen(options: &PgConnectOptions, store: &dyn Store, hub: &Hub) {
    let mut pause = BACKOFF;
    loop {
        let began = Instant::now();
        if let Err(error) = listen_once(options, store, hub).await {
            tracing::warn!(%error, retry_in = ?pause, "cannot listen for other servers' changes");
        }
        hub.set_following(false);
        if began.elapsed() >= STABLE {
            pause = BACKOFF;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(MAX_BACKOFF);
    }
}

/// Connects and passes on what it hears until the connection is lost.
async fn listen_once(
    options: &PgConnectOptions,
    store: &dyn Store,
    hub: &Hub,
) -> Result<(), sqlx::Error> {
    // One connection, kept for as long as it lives.
    let connection = PgPoolOptions::new()
        .max_connections(1)
        .max_lifetime(None)
        .idle_timeout(None)
        .connect_with(options.clone())
        .await?;
    let mut listener = PgListener::connect_with(&connection).await?;
    // A lost connection ends this listener; the next is a new one, checked as this one was.
    listener.eager_reconnect(false);
    listener.listen(CHANNEL).await?;
    // Whatever was announced before now was not heard: a rewrite among it too.
    fence_replicas(store).await;
    check(store, hub).await;
    hub.set_following(true);
    tracing::info!("listening for other servers' changes");
    while let Some(notification) = listener.try_recv().await? {
        let Some(heard) = announcement::parse(notification.payload()) else {
            tracing::warn!(
                payload = notification.payload(),
                "not an announcement; ignored"
            );
            continue;
        };
        if heard.node != hub.node() {
            let lag = chrono::Utc::now() - heard.at;
            crate::telemetry::notification_lag(lag.to_std().unwrap_or_default());
        }
        if heard.is_rewrite() {
            fence_replicas(store).await;
        }
        hub.heard(&heard);
    }
    tracing::warn!("the connection listening for other servers' changes was lost");
    Ok(())
}

async fn poll(store: &dyn Store, hub: &Hub, every: Duration) {
    let mut ticks = tokio::time::interval(every);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        // Rows kept in memory need the check as streams do: a batch committed and never
        // announced (its node stopped between the two) is found here.
        if hub.open_streams() > 0 || hub.has_read_cache() {
            check(store, hub).await;
        }
    }
}

/// Keeps reads off the standbys until they have replayed what was written before now.
async fn fence_replicas(store: &dyn Store) {
    if let Err(error) = store.fence_replicas().await {
        tracing::warn!(%error, "cannot read the primary's WAL location; standbys keep the last");
    }
}

/// Looks at the head for changes this node has not heard of.
async fn check(store: &dyn Store, hub: &Hub) {
    match store.head_position().await {
        // Rows kept in memory may be older than a write of another process.
        Ok(head) => hub.check_head(head, || store.forget_cached_reads()),
        Err(error) => tracing::debug!(%error, "cannot read the head for other servers' changes"),
    }
}
