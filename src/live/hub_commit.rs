//! A commit of this node in flight, and what the hub learns when it lands: the standby floor
//! first, then the kept rows, the position and the streams (`hub.rs` says why in that order).

use projections::DashboardStats;

use super::Hub;

/// A commit of this node in flight (see [`Hub::committing`]).
pub struct Committing<'hub> {
    pub(super) hub: &'hub Hub,
}

impl Committing<'_> {
    /// It committed `events` events up to `position`, leaving the dashboard rows `stats`.
    pub fn committed(self, position: i64, events: usize, stats: &[DashboardStats]) {
        let mut known = self.hub.known();
        self.hub.raise_standby_floor(position);
        if let Some(cache) = &self.hub.read_cache {
            // Under the hub's lock, as every announcement heard: `latest` orders the two.
            cache.committed(position, known.latest, stats);
        }
        known.account(position, events as i64);
        self.hub.tell(&mut known, position);
        known.publish(
            position,
            stats.iter().map(|row| (row.user_id.as_str(), Some(row))),
        );
        // Told: dropping `self` ends the flight.
    }
}

impl Drop for Committing<'_> {
    /// Committed or not (refused, unanswered, its task panicked), it is no longer in flight;
    /// one that landed unanswered shows as unheard at the next check.
    fn drop(&mut self) {
        self.hub.known().in_flight -= 1;
    }
}
