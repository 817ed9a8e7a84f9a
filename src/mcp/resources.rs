//! The dashboard as MCP resources: `tally://dashboard` (what `GET /api/dashboard` answers) and
//! `tally://dashboard/trend` (what `GET /api/dashboard/trend` answers for its default days),
//! each the caller's own; and the client told when they change, from the live hub that feeds
//! the dashboard's SSE stream (the same coalescing, the same per-user limit of open streams).
//!
//! How a client subscribes depends on its protocol version: up to 2025-11-25 with
//! `resources/subscribe` in a session (the notifications go to the session's event stream);
//! from 2026-07-28 with `subscriptions/listen` (they go on that request's own stream).

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::FutureExt;
use rmcp::model::{
    CacheScope, ListResourcesResult, PingRequest, ReadResourceResult, Resource, ResourceContents,
    ResourceUpdatedNotificationParam, ServerRequest, SubscriptionFilter,
};
use rmcp::service::{PeerRequestOptions, SubscriptionContext};
use rmcp::{ErrorData, Peer, RoleServer};
use tokio::task::JoinHandle;
use tokio::time::{Instant, sleep_until};

use crate::domain::UserId;
use crate::http::AppState;
use crate::http::dashboard::{Everything, figures};
use crate::http::error::ApiError;
use crate::http::trend::{DEFAULT_DAYS, TrendParams, trend_of};
use crate::live::{Refused, Subscription};
use crate::mcp::sessions::SESSION_IDLE;
use crate::store::ReadFrom;

pub(super) const DASHBOARD: &str = "tally://dashboard";
pub(super) const TREND: &str = "tally://dashboard/trend";
/// Every resource: both change whenever the caller's figures do.
const URIS: [&str; 2] = [DASHBOARD, TREND];
const JSON: &str = "application/json";
/// How often a subscribed session's client is pinged: rmcp counts only messages as use, not
/// an open event stream, so a client listening quietly would lose its session after
/// [`SESSION_IDLE`] (the ping and its answer count as use, a minute before that); and a
/// client gone without ending its session would, while the user's changes kept being sent
/// to it, hold its session and its hub stream for ever (it does not answer).
pub const PING_EVERY: Duration = SESSION_IDLE.saturating_sub(Duration::from_secs(60));
/// How long the client has to answer a ping before its subscriptions end.
pub const PING_PATIENCE: Duration = Duration::from_secs(30);

/// The resources, as `resources/list` answers them.
pub(super) fn list() -> ListResourcesResult {
    ListResourcesResult::with_all_items(vec![
        Resource::new(DASHBOARD, "dashboard")
            .with_title("Your dashboard")
            .with_description(
                "Your task counts by status, shared with you, done today and this week, \
                 completion rate (as GET /api/dashboard answers them). Subscribe to hear when \
                 they change.",
            )
            .with_mime_type(JSON),
        Resource::new(TREND, "dashboard-trend")
            .with_title("Your dashboard's trend")
            .with_description(format!(
                "Your tasks created and completed per UTC day over the last {DEFAULT_DAYS} days \
                 (as GET /api/dashboard/trend answers them)."
            ))
            .with_mime_type(JSON),
    ])
}

/// `uri`'s contents for `caller`, as JSON.
pub(super) async fn read(
    state: &AppState,
    caller: UserId,
    uri: &str,
) -> Result<ReadResourceResult, ErrorData> {
    let json = match uri {
        DASHBOARD => {
            let figures = figures(state, &caller, ReadFrom::Nearest)
                .await
                .map_err(read_failed)?;
            serde_json::to_string(&Everything::from(figures))
        }
        TREND => {
            let trend = trend_of(
                state,
                &caller,
                TrendParams { days: None },
                ReadFrom::Nearest,
            )
            .await
            .map_err(read_failed)?;
            serde_json::to_string(&trend)
        }
        _ => return Err(not_found(uri)),
    };
    let json = json.map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
    let contents = ResourceContents::text(json, uri).with_mime_type(JSON);
    // The caller's own figures, which change at any time: no cache may keep or share them.
    Ok(ReadResourceResult::new(vec![contents])
        .with_ttl_ms(0)
        .with_cache_scope(CacheScope::Private))
}

/// The protocol's answer to a URI that names none of the resources.
pub(super) fn not_found(uri: &str) -> ErrorData {
    ErrorData::resource_not_found(
        format!("no resource {uri:?}: there are {DASHBOARD} and {TREND}"),
        None,
    )
}

/// What `subscriptions/listen` may hear of: both resources.
pub(super) fn subscription_filter() -> SubscriptionFilter {
    SubscriptionFilter::builder()
        .resource_subscriptions(URIS)
        .build()
}

/// A read that failed, as a protocol error (a resource read has no `isError` result).
fn read_failed(error: ApiError) -> ErrorData {
    if let ApiError::Internal(source) = &error {
        tracing::error!(error = %source, "an MCP resource read failed");
    }
    let message = format!("{}: {error}", error.problem_type());
    match error {
        ApiError::Unauthorized(_) => ErrorData::invalid_request(message, None),
        _ => ErrorData::internal_error(message, None),
    }
}

/// A stream of the hub for `user`'s figures, counted against the same limits as the SSE
/// stream's; it hears only changes from now on (the client has just read, or will).
fn subscribe_hub(state: &AppState, user: &UserId) -> Result<Subscription, ErrorData> {
    let mut subscription =
        state
            .hub
            .subscribe(user.as_str(), None)
            .map_err(|refused| match refused {
                Refused::Closed => ErrorData::internal_error(refused.to_string(), None),
                limit => ErrorData::invalid_request(
                    format!(
                        "{limit}: each subscribing session and each dashboard stream counts; \
                     close one and subscribe again"
                    ),
                    None,
                ),
            })?;
    if subscription.sends_at_once() {
        // Without a position to resume from, the hub hands over the present at once: that is
        // not a change, so it is taken here (at once: no waiting) and not notified.
        let _present = subscription.next_change().now_or_never();
    }
    Ok(subscription)
}

/// One session's `resources/subscribe`s (protocol versions up to 2025-11-25): one hub stream
/// for the session, whatever it subscribed to, notifying each URI subscribed at the time. The
/// task ends when the session unsubscribes from everything, when the session ends (its
/// handler, which holds this, is dropped), or when the hub closes (the server is stopping).
#[derive(Clone, Default)]
pub(crate) struct SessionSubscriptions(Arc<Mutex<Option<Watcher>>>);

struct Watcher {
    user: UserId,
    uris: Arc<Mutex<BTreeSet<&'static str>>>,
    task: JoinHandle<()>,
}

impl Drop for Watcher {
    fn drop(&mut self) {
        // Dropping the task's hub stream frees its place in the user's limit.
        self.task.abort();
    }
}

impl SessionSubscriptions {
    pub(super) fn subscribe(
        &self,
        state: &AppState,
        user: UserId,
        uri: &str,
        peer: &Peer<RoleServer>,
    ) -> Result<(), ErrorData> {
        let uri = URIS
            .into_iter()
            .find(|known| *known == uri)
            .ok_or_else(|| not_found(uri))?;
        let mut watcher = lock(&self.0);
        match watcher.as_ref() {
            Some(running) if running.user != user => {
                return Err(ErrorData::invalid_request(
                    "this session's subscriptions are another user's: open a session of your own",
                    None,
                ));
            }
            // Still running (the hub has not closed): it notifies `uri` too from now on.
            Some(running) if !running.task.is_finished() => {}
            _ => {
                // From now on: an at-once change would race the URI's insertion below and
                // notify the client of nothing, or not, by chance.
                let subscription = subscribe_hub(state, &user)?.from_now();
                let uris = Arc::new(Mutex::new(BTreeSet::new()));
                let first_ping = Instant::now() + PING_EVERY;
                let notifying = notify(subscription, uris.clone(), peer.clone(), first_ping);
                let task = tokio::spawn(notifying);
                *watcher = Some(Watcher { user, uris, task });
            }
        }
        if let Some(running) = watcher.as_ref() {
            lock(&running.uris).insert(uri);
        }
        Ok(())
    }

    /// Stops notifying `uri`; with nothing left subscribed, the hub stream closes.
    pub(super) fn unsubscribe(&self, uri: &str) -> Result<(), ErrorData> {
        if !URIS.contains(&uri) {
            return Err(not_found(uri));
        }
        let mut watcher = lock(&self.0);
        let nothing_left = watcher.as_ref().is_none_or(|running| {
            let mut uris = lock(&running.uris);
            uris.remove(uri);
            uris.is_empty()
        });
        if nothing_left {
            *watcher = None;
        }
        Ok(())
    }
}

/// Tells the session's client of each change to the subscribed URIs until the hub closes,
/// the session is gone, or its client stops answering pings (every [`PING_EVERY`], changes
/// or not: a notification is sent whether or not anyone reads it).
async fn notify(
    mut subscription: Subscription,
    uris: Arc<Mutex<BTreeSet<&'static str>>>,
    peer: Peer<RoleServer>,
    mut next_ping: Instant,
) {
    loop {
        tokio::select! {
            // Cancel-safe: a change not yet handed stays in the hub's channel.
            change = subscription.next_change() => {
                if change.is_none() {
                    return; // The server is stopping.
                }
                let subscribed: Vec<&str> = lock(&uris).iter().copied().collect();
                for uri in subscribed {
                    let updated = ResourceUpdatedNotificationParam::new(uri);
                    if peer.notify_resource_updated(updated).await.is_err() {
                        return; // The session ended.
                    }
                }
            }
            () = sleep_until(next_ping) => {
                // Counted from the ping's sending, not its answer: a slow answer does not
                // push the next ping past the session's idle time.
                next_ping = Instant::now() + PING_EVERY;
                if !answers_ping(&peer).await {
                    // Its hub stream closes with this task; rmcp ends the session once idle.
                    tracing::info!("an MCP client did not answer a ping: its subscriptions end");
                    return;
                }
            }
        }
    }
}

/// Whether the session's client answers a `ping` within [`PING_PATIENCE`].
async fn answers_ping(peer: &Peer<RoleServer>) -> bool {
    let ping = ServerRequest::PingRequest(PingRequest::default());
    let mut options = PeerRequestOptions::no_options();
    options.timeout = Some(PING_PATIENCE);
    match peer.send_request_with_option(ping, options).await {
        Ok(pending) => pending.await_response().await.is_ok(),
        Err(_) => false,
    }
}

/// A `subscriptions/listen` stream (protocol 2026-07-28): notifies the URIs it accepted until
/// the client cancels it, or the hub closes (then it ends gracefully, with its final result).
pub(super) async fn listen(
    state: &AppState,
    user: UserId,
    context: SubscriptionContext,
) -> Result<(), ErrorData> {
    let uris = context
        .accepted()
        .resource_subscriptions
        .clone()
        .unwrap_or_default();
    if uris.is_empty() {
        // Nothing of the hub's to hear: no stream of the hub taken.
        context.cancelled().await;
        return Ok(());
    }
    let mut subscription = subscribe_hub(state, &user)?;
    loop {
        tokio::select! {
            change = subscription.next_change() => if change.is_none() {
                return Ok(());
            },
            () = context.cancelled() => return Ok(()),
        }
        for uri in &uris {
            if context
                .sink()
                .notify_resource_updated(uri.clone())
                .await
                .is_err()
            {
                // The client is gone: nothing to answer.
                return Ok(());
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // Nothing panics while holding these; if something did, the data is still coherent.
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
