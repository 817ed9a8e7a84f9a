//! Learning of the changes other servers commit to the same database, so that a stream on this
//! node shows them too.
//!
//! PostgreSQL: every batch is announced with `NOTIFY` in its own transaction (so only a
//! committed batch is heard), and each node `LISTEN`s on a direct connection (a transaction
//! pooler cannot hold one). Notifications sent while the listener was disconnected are lost,
//! so every (re)connection re-reads every stream.
//!
//! SQLite (several `tally serve` on one file): no notifications; the log's head is looked at
//! a few times a second while streams are open, and a head moved by another process re-reads
//! every stream.

use std::sync::Arc;
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};

use super::Hub;
use super::announcement::{self, CHANNEL};
use crate::store::Store;

/// How often the head is looked at, without notifications.
const POLL: Duration = Duration::from_millis(250);
/// The first pause before connecting the listener again; it doubles up to [`MAX_BACKOFF`].
const BACKOFF: Duration = Duration::from_millis(250);
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Tells `hub` of other servers' changes until it closes.
pub async fn follow(store: Arc<dyn Store>, hub: Arc<Hub>) {
    let work = async {
        match store.listen_options() {
            Some(options) => listen(&options, store.as_ref(), &hub).await,
            None => poll(store.as_ref(), &hub).await,
        }
    };
    tokio::select! {
        () = work => {}
        () = hub.closed() => {}
    }
}

async fn listen(options: &PgConnectOptions, store: &dyn Store, hub: &Hub) {
    let mut pause = BACKOFF;
    loop {
        match listen_once(options, store, hub).await {
            // It was connected: the next connection is tried at once.
            Ok(()) => pause = BACKOFF,
            Err(error) => {
                tracing::warn!(%error, retry_in = ?pause, "cannot listen for other servers' changes");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Connects, re-reads every stream, and passes on what it hears until the connection is lost.
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
    listener.listen(CHANNEL).await?;
    // Whatever was announced before now was not heard.
    let head = store
        .head_position()
        .await
        .map_err(|error| sqlx::Error::Protocol(error.to_string()))?;
    hub.publish_all(head, "listener-connected");
    tracing::info!("listening for other servers' changes");
    loop {
        let Some(notification) = listener.try_recv().await? else {
            tracing::warn!("the connection listening for other servers' changes was lost");
            return Ok(());
        };
        let Some(heard) = announcement::parse(notification.payload()) else {
            tracing::warn!(
                payload = notification.payload(),
                "not an announcement; ignored"
            );
            continue;
        };
        if heard.node == hub.node() {
            continue;
        }
        let lag = chrono::Utc::now() - heard.at;
        crate::telemetry::notification_lag(lag.to_std().unwrap_or_default());
        match &heard.users {
            Some(users) => hub.publish(heard.position, users.iter().map(String::as_str)),
            None => hub.publish_all(heard.position, "too-many-users"),
        }
    }
}

async fn poll(store: &dyn Store, hub: &Hub) {
    let mut ticks = tokio::time::interval(POLL);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        if hub.open_streams() == 0 {
            continue;
        }
        match store.head_position().await {
            Ok(head) if head > hub.latest() => {
                // Rows kept in memory may be older than that write.
                store.forget_cached_reads();
                hub.publish_all(head, "another-process-wrote");
            }
            Ok(_) => {}
            Err(error) => {
                tracing::debug!(%error, "cannot read the head for other servers' changes")
            }
        }
    }
}
