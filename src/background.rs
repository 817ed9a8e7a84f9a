//! The node's long-running tasks, started together before the first request and stopped and
//! joined together after the last: the command writer, the day watcher, the follower of other
//! servers' changes and the scheduled jobs. No request handler and no state constructor starts
//! a task, so nothing outlives the server unseen.

use std::sync::Arc;

use tokio::task::JoinHandle;
use tokio_cron_scheduler::JobScheduler;

use crate::auth::Authenticator;
use crate::clock::Clock;
use crate::commands::Commands;
use crate::http::{AppState, StateParts, Tuning};
use crate::jobs::JobSettings;
use crate::live::Hub;
use crate::live::read_cache::ReadCache;
use crate::server::LaunchError;
use crate::store::Store;

/// Checks the standbys (if any) until the hub closes.
async fn follow_replicas(store: Arc<dyn Store>, hub: Arc<Hub>) {
    tokio::select! {
        () = store.follow_replicas(hub.watermark()) => {}
        () = hub.closed() => {}
    }
}

/// The running tasks (see the module's description). [`shutdown`](Self::shutdown) stops and
/// joins them; dropped without it (a test that ends early), the watchers are told to stop and
/// the writer ends with the last `Commands`, but the jobs would run on: only `launch` starts
/// them, and it always shuts down.
pub struct Background {
    hub: Arc<Hub>,
    commands: Arc<Commands>,
    /// The day watcher, the follower and the standbys' checker: all end when the hub closes.
    watchers: Vec<JoinHandle<()>>,
    jobs: Option<JobScheduler>,
}

impl Background {
    /// Starts every task on `store` (the scheduled jobs only with `jobs`), and answers the
    /// state the API serves with them.
    pub async fn start(
        store: Arc<dyn Store>,
        auth: Arc<Authenticator>,
        clock: Clock,
        tuning: Tuning,
        jobs: Option<JobSettings>,
    ) -> Result<(AppState, Background), LaunchError> {
        // The streams' positions count from the head now: the follower is heard from here on.
        let head = store.head_position().await?;
        let hub = Hub::new(tuning.streams, head);
        // Only where every other server's change is announced (PostgreSQL): SQLite has no
        // announcements, and its fast path keeps rows of its own.
        let hub = match store.listen_options() {
            Some(_) if tuning.read_cache_bytes > 0 => {
                hub.with_read_cache(ReadCache::new(tuning.read_cache_bytes))
            }
            _ => hub,
        };
        let hub = Arc::new(hub);
        // The writer is a task of `Commands`, which `close` joins.
        let commands = Arc::new(Commands::with_deadlines(
            store.clone(),
            hub.clone(),
            tuning.deadlines,
        ));
        let watchers = vec![
            tokio::spawn(crate::live::watch_days(
                hub.clone(),
                clock.clone(),
                store.clone(),
            )),
            tokio::spawn(crate::live::follow(store.clone(), hub.clone())),
            tokio::spawn(follow_replicas(store.clone(), hub.clone())),
        ];
        let mut background = Background {
            hub: hub.clone(),
            commands: commands.clone(),
            watchers,
            jobs: None,
        };
        if let Some(settings) = jobs {
            background.jobs =
                Some(crate::jobs::start(store.clone(), clock.clone(), settings).await?);
        }
        let state = AppState::from(StateParts {
            store,
            commands,
            hub,
            auth,
            clock,
            cors_origins: Vec::new(),
            public_url: None,
        });
        Ok((state, background))
    }

    /// Stops every task and waits for each to end: open streams end, the watchers stop, the
    /// jobs stop, then the writer commits what is queued. Call it once no request can come in
    /// any more; the store may close after it.
    pub async fn shutdown(mut self) {
        self.hub.close();
        for watcher in std::mem::take(&mut self.watchers) {
            if let Err(error) = watcher.await {
                tracing::warn!(%error, "a background task did not end cleanly");
            }
        }
        // The jobs first: none of them goes through the writer, and a tick must not start
        // while the writer drains (up to its deadline, in an outage) or the store closes.
        if let Some(mut jobs) = self.jobs.take()
            && let Err(error) = jobs.shutdown().await
        {
            tracing::warn!(%error, "scheduler did not stop cleanly");
        }
        self.commands.close().await;
    }
}

impl Drop for Background {
    /// Not shut down: the watchers are told to stop.
    fn drop(&mut self) {
        // After `shutdown` it is closed already; closing again changes nothing.
        self.hub.close();
    }
}
