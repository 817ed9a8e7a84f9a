//! The hub's dashboard rows kept in memory (PostgreSQL): served, begun and kept through the
//! hub, which alone knows whether the node follows every change. The rows themselves and
//! their rules are `read_cache.rs`'s; the hub tells them its changes (`hub.rs`).

use std::sync::Arc;

use projections::DashboardStats;

use super::Hub;
use crate::live::read_cache::{Kept, ReadBegun, ReadCache};

impl Hub {
    /// This hub, keeping dashboard rows in `cache` while it hears every change.
    pub fn with_read_cache(self, cache: ReadCache) -> Hub {
        Hub {
            read_cache: Some(cache),
            ..self
        }
    }

    /// `user`'s dashboard row as kept in memory, while this node knows it current: it is
    /// following every other server's changes.
    pub fn kept_row(&self, user: &str) -> Option<Arc<Kept>> {
        let cache = self.read_cache.as_ref()?;
        if !self.is_following() {
            return None;
        }
        cache.get(user)
    }

    /// A read of a dashboard row from the database begins: what [`keep_row`](Self::keep_row)
    /// needs to keep it; `None` where rows are not kept now.
    pub fn row_read_begins(&self) -> Option<ReadBegun> {
        let cache = self.read_cache.as_ref()?;
        self.is_following().then(|| cache.begin(self.position()))
    }

    /// Keeps `user`'s `row`, read since `begun`, unless a change was told meanwhile.
    pub fn keep_row(&self, user: &str, row: Option<DashboardStats>, begun: ReadBegun) {
        if let Some(cache) = &self.read_cache {
            cache.keep(user, row, begun);
        }
    }

    /// Whether dashboard rows are kept in memory here.
    pub fn has_read_cache(&self) -> bool {
        self.read_cache.is_some()
    }

    /// The rows kept in memory and their weight in bytes, for the metrics.
    pub fn read_cache_usage(&self) -> Option<(usize, u64)> {
        self.read_cache.as_ref().map(ReadCache::usage)
    }

    /// Drops every row kept in memory: any may have changed unheard.
    pub(super) fn forget_rows(&self) {
        if let Some(cache) = &self.read_cache {
            cache.forget_all();
        }
    }
}
