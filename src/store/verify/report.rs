//! What `verify` reports: per-user figure drift, drifted rows (counted, the first few named by
//! id), broken invariants, and whether a repair rewrote them.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

/// Drifted rows named in a report, per table: enough to start looking, bounded whatever the
/// drift.
pub const NAMED_ROWS: usize = 20;

/// What `verify` found.
#[derive(Clone, Debug, Default, Serialize)]
pub struct VerifyReport {
    /// The log was checked up to here.
    pub position: i64,
    /// Users with figures, in the fold or in the tables.
    pub users: usize,
    /// Users whose stored figures differ from the fold's.
    pub drifted: Vec<UserDrift>,
    /// Task and share rows that differ from the fold's.
    pub tasks: RowDrift,
    pub shares: RowDrift,
    /// Team share and access rows that differ from the fold's.
    pub team_shares: RowDrift,
    pub access: RowDrift,
    /// Trend rows (by user and day) that differ from the fold's.
    pub daily: RowDrift,
    /// Team and membership rows that differ from the fold's.
    pub teams: RowDrift,
    pub members: RowDrift,
    /// Team rows whose figures differ from the fold's.
    pub team_stats: RowDrift,
    /// Broken invariants of the stored tables themselves.
    pub violations: Vec<String>,
    /// Whether the drifted rows were rewritten.
    pub repaired: bool,
}

impl VerifyReport {
    /// No drift and no broken invariant.
    pub fn is_clean(&self) -> bool {
        self.drifted.is_empty()
            && self.tasks.is_clean()
            && self.shares.is_clean()
            && self.team_shares.is_clean()
            && self.access.is_clean()
            && self.daily.is_clean()
            && self.teams.is_clean()
            && self.members.is_clean()
            && self.team_stats.is_clean()
            && self.violations.is_empty()
    }
}

/// One user's figures that differ: name, stored value, value the log gives.
#[derive(Clone, Debug, Serialize)]
pub struct UserDrift {
    pub user_id: String,
    pub figures: Vec<(String, serde_json::Value, serde_json::Value)>,
}

/// Rows that the fold has and the table lacks, the other way round, or that differ.
#[derive(Clone, Debug, Default, Serialize)]
pub struct RowDrift {
    pub missing: usize,
    pub unexpected: usize,
    pub different: usize,
    /// The keys of the first [`NAMED_ROWS`] drifted rows (a task's or team's id; a share's task
    /// id and user; a membership's team id and user; a trend row's user and day), in key order.
    pub named: Vec<String>,
}

impl RowDrift {
    pub fn is_clean(&self) -> bool {
        self.count() == 0
    }

    /// Drifted rows in all.
    pub fn count(&self) -> usize {
        self.missing + self.unexpected + self.different
    }

    /// Adds the drift of `stored` from `expected`, naming rows by `name`; answers the rows to
    /// write (missing or different) and the keys to delete (unexpected).
    pub(super) fn compare<'a, K: Ord + Clone, V: PartialEq>(
        &mut self,
        expected: &BTreeMap<K, &'a V>,
        stored: &BTreeMap<K, &V>,
        name: impl Fn(&K) -> String,
    ) -> (Vec<&'a V>, Vec<K>) {
        let mut write = Vec::new();
        let mut delete = Vec::new();
        let mut drifted = BTreeSet::new();
        for (key, row) in expected {
            match stored.get(key) {
                None => self.missing += 1,
                Some(found) if found != row => self.different += 1,
                Some(_) => continue,
            }
            write.push(*row);
            drifted.insert(key);
        }
        for key in stored.keys().filter(|key| !expected.contains_key(key)) {
            self.unexpected += 1;
            delete.push(key.clone());
            drifted.insert(key);
        }
        let room = NAMED_ROWS.saturating_sub(self.named.len());
        self.named.extend(drifted.into_iter().take(room).map(name));
        (write, delete)
    }
}
