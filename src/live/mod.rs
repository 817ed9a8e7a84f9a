//! Live figures: telling each open dashboard stream when its user's figures changed, whether by
//! a command committed on this node or another, or at the start of a UTC day.

pub mod announcement;
mod follow;
mod hub;
pub mod read_cache;
mod stream_limits;
mod subscription;

use std::sync::Arc;
use std::time::Duration;

pub use follow::follow;
pub use hub::{Committing, Hub};
pub use stream_limits::{Refused, StreamLimits};
pub use subscription::{Change, Shared, Subscription};

use crate::clock::Clock;
use crate::store::Store;

/// How often the clock is looked at for a new UTC day.
const DAY_CHECK: Duration = Duration::from_secs(1);

/// Wakes every stream when the clock passes into a new UTC day (today's counters fall to
/// zero), until the hub closes. Looks at the clock each second rather than sleeping until
/// midnight, so that it follows a clock that jumps (a test's, or the system's after a
/// correction).
pub async fn watch_days(hub: Arc<Hub>, clock: Clock, store: Arc<dyn Store>) {
    tokio::select! {
        () = roll_days(&hub, &clock, store.as_ref()) => {}
        () = hub.closed() => {}
    }
}

async fn roll_days(hub: &Hub, clock: &Clock, store: &dyn Store) {
    let mut day = clock.now().date_naive();
    let mut ticks = tokio::time::interval(DAY_CHECK);
    ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        ticks.tick().await;
        let today = clock.now().date_naive();
        if today != day {
            day = today;
            // Whatever was committed before midnight is in the head now.
            let head = store.head_position().await.unwrap_or_default();
            hub.roll_day(head);
        }
    }
}
