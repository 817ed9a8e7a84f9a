//! Dashboard rows kept in this node's memory, on PostgreSQL, where a read is otherwise a round
//! trip to the database (SQLite's fast path keeps its own, per worker thread).
//!
//! The hub drives it: it knows every change this node commits and hears every other node's, so
//! it drops (or, for its own commits, replaces) the rows of the users a change touched, and
//! drops them all when it may have missed one (the listener gone, events in the log it never
//! heard of). A row read from the database is kept only if no change of any user was told
//! between the moment its read began and the moment it is kept ([`ReadCache::keep`]): a read
//! racing a change never leaves a row older than the change behind, not even for an instant
//! (keeping and telling exclude each other).
//!
//! A day or week boundary needs no telling: a row's day and week counters carry the day and
//! week they count, and figures read them against the clock. A row written by anything but
//! tally (an `update` by hand) is never told of: a kept row is read again after [`MAX_AGE`],
//! as SQLite's fast path does.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use projections::DashboardStats;
use quick_cache::Weighter;
use quick_cache::sync::Cache;

/// What one kept row costs beyond its user id, measured with `examples/read_cache_memory.rs`
/// (BENCHMARKS.md): the row's own fields and its copy of the id, the `Arc`, the cache's slot and
/// its hash table's share.
pub const BYTES_PER_ROW: u64 = 304;

/// How long a row is kept: the bound on how late a change nobody announced shows.
pub const MAX_AGE: Duration = Duration::from_secs(1);

/// A user's row as of `position`; `None` for a user no event has touched.
pub struct Kept {
    pub row: Option<DashboardStats>,
    pub position: i64,
    /// When it was read or committed.
    at: Instant,
}

/// See the module's description.
pub struct ReadCache {
    rows: Cache<String, Arc<Kept>, ByBytes>,
    /// Moves whenever a change is told: a read begun before it may not keep its row.
    told: AtomicU64,
    /// Held to read while a row is kept (its check of `told` and its insert), and to write
    /// while a change is told: a change never falls between the check and the insert. Reads
    /// of kept rows take no lock.
    telling: RwLock<()>,
}

/// A read of the database about to begin: what [`ReadCache::keep`] needs to know whether a
/// change was told meanwhile.
#[derive(Clone, Copy, Debug)]
pub struct ReadBegun {
    told: u64,
    /// The newest position the node knew committed when the read began: the row reflects it.
    pub position: i64,
    at: Instant,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<String, Arc<Kept>> for ByBytes {
    fn weight(&self, user: &String, _: &Arc<Kept>) -> u64 {
        user.len() as u64 + BYTES_PER_ROW
    }
}

impl ReadCache {
    /// A cache of rows weighing at most `bytes`.
    pub fn new(bytes: u64) -> ReadCache {
        let rows = (bytes / (BYTES_PER_ROW + 36)).max(1) as usize;
        ReadCache {
            rows: Cache::with_weighter(rows, bytes, ByBytes),
            told: AtomicU64::new(0),
            telling: RwLock::new(()),
        }
    }

    /// Tells a change: `change` runs with keeping excluded, after `told` moved.
    fn tell(&self, change: impl FnOnce()) {
        let _telling = self
            .telling
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        self.told.fetch_add(1, Ordering::SeqCst);
        change();
    }

    /// `user`'s kept row, if any and younger than [`MAX_AGE`].
    pub fn get(&self, user: &str) -> Option<Arc<Kept>> {
        self.rows
            .get(user)
            .filter(|kept| kept.at.elapsed() <= MAX_AGE)
    }

    /// Notes that a read of the database begins, when the node knew up to `position`.
    pub fn begin(&self, position: i64) -> ReadBegun {
        ReadBegun {
            told: self.told.load(Ordering::SeqCst),
            position,
            at: Instant::now(),
        }
    }

    /// Keeps `row`, read since `begun`, unless a change was told meanwhile.
    pub fn keep(&self, user: &str, row: Option<DashboardStats>, begun: ReadBegun) {
        let _keeping = self
            .telling
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if self.told.load(Ordering::SeqCst) != begun.told {
            return;
        }
        let kept = Kept {
            row,
            position: begun.position,
            at: begun.at,
        };
        self.rows.insert(user.to_owned(), Arc::new(kept));
    }

    /// This node committed up to `position`, leaving these rows: they replace the kept ones,
    /// unless a later change was told already (`latest`, the newest position told before; the
    /// caller holds what orders the two): then the rows as of `position` may be older than
    /// that change, and go instead.
    pub fn committed(&self, position: i64, latest: i64, rows: &[DashboardStats]) {
        self.tell(|| {
            let at = Instant::now();
            for row in rows {
                if position < latest {
                    self.rows.remove(row.user_id.as_str());
                    continue;
                }
                let kept = Kept {
                    row: Some(row.clone()),
                    position,
                    at,
                };
                self.rows.insert(row.user_id.clone(), Arc::new(kept));
            }
        });
    }

    /// The rows of `users` changed at `position`: any kept from before it go.
    pub fn changed<'a>(&self, position: i64, users: impl IntoIterator<Item = &'a str>) {
        self.tell(|| {
            for user in users {
                self.rows.remove_if(user, |kept| kept.position < position);
            }
        });
    }

    /// Any row may have changed: every one goes.
    pub fn forget_all(&self) {
        self.tell(|| self.rows.clear());
    }

    /// The rows kept, and their weight in bytes.
    pub fn usage(&self) -> (usize, u64) {
        (self.rows.len(), self.rows.weight())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(user: &str, pending: i64) -> DashboardStats {
        DashboardStats {
            user_id: user.to_owned(),
            pending,
            ..DashboardStats::default()
        }
    }

    fn pending(cache: &ReadCache, user: &str) -> Option<i64> {
        cache
            .get(user)
            .map(|kept| kept.row.as_ref().map_or(0, |row| row.pending))
    }

    #[test]
    fn a_row_read_while_a_change_was_told_is_not_kept() {
        let cache = ReadCache::new(1 << 20);
        let begun = cache.begin(5);
        cache.changed(6, ["bob"]);
        cache.keep("alice", Some(row("alice", 1)), begun);
        assert_eq!(pending(&cache, "alice"), None);

        let begun = cache.begin(6);
        cache.keep("alice", Some(row("alice", 1)), begun);
        assert_eq!(pending(&cache, "alice"), Some(1));
    }

    #[test]
    fn a_change_drops_only_rows_from_before_it_and_a_commit_replaces_them() {
        let cache = ReadCache::new(1 << 20);
        cache.committed(7, 6, &[row("alice", 2), row("bob", 1)]);
        // This node's own announcement of the same commit, heard back.
        cache.changed(7, ["alice"]);
        assert_eq!(pending(&cache, "alice"), Some(2));
        cache.changed(8, ["alice"]);
        assert_eq!(pending(&cache, "alice"), None);
        assert_eq!(pending(&cache, "bob"), Some(1));
        cache.forget_all();
        assert_eq!(pending(&cache, "bob"), None);
    }

    #[test]
    fn a_commit_told_after_a_later_change_drops_its_rows_rather_than_keep_them() {
        let cache = ReadCache::new(1 << 20);
        let begun = cache.begin(1);
        cache.keep("alice", Some(row("alice", 1)), begun);
        // Another node's change at 8 was heard before this node's commit at 7 was told.
        cache.committed(7, 8, &[row("alice", 2)]);
        assert_eq!(pending(&cache, "alice"), None);
    }

    #[test]
    fn the_budget_holds_however_many_users_read() {
        let budget = 64 * 1024;
        let cache = ReadCache::new(budget);
        for user in 0..10_000 {
            let user = format!("user-{user:08}");
            let begun = cache.begin(1);
            cache.keep(&user, Some(row(&user, 1)), begun);
        }
        let (rows, bytes) = cache.usage();
        assert!(
            bytes <= budget,
            "{bytes} bytes kept in a budget of {budget}"
        );
        assert!(rows > 100, "only {rows} rows kept");
    }
}
