//! The `daily_stats` read model, the dashboard's trend: for each user and UTC day, how many of
//! the tasks the user owns were created that day, and how many are completed with their latest
//! completion that day, counting only tasks that exist now. The same dated changes that move
//! the dashboard's day and week counters move it (a delete or a reopen takes a task out of the
//! day it was counted in), but no day ever expires.

use std::collections::BTreeMap;

use crate::calendar::day_key;
use crate::stats::{DatedCounter, StatsDelta};

/// One user's counts of one day, or a change to them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DayCounts {
    pub created: i64,
    pub completed: i64,
}

impl DayCounts {
    pub fn is_zero(self) -> bool {
        self.created == 0 && self.completed == 0
    }

    fn add(&mut self, counter: DatedCounter, delta: i64) {
        match counter {
            DatedCounter::Created => self.created += delta,
            DatedCounter::Completed => self.completed += delta,
        }
    }
}

/// One row of `daily_stats`, or a change to one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DailyRow {
    pub user_id: String,
    /// The day key (see [`crate::calendar`]).
    pub day: i32,
    pub counts: DayCounts,
}

/// The rows of a map of counts by (user, day).
pub fn rows_of(days: &BTreeMap<(String, i32), DayCounts>) -> Vec<DailyRow> {
    days.iter()
        .map(|((user_id, day), counts)| DailyRow {
            user_id: user_id.clone(),
            day: *day,
            counts: *counts,
        })
        .collect()
}

/// The changes to `daily_stats` that `deltas` make, summed by (user, day key); sums of zero
/// are left out. Added to the stored counts, they give the counts after the deltas.
pub fn daily_changes<'a>(
    deltas: impl IntoIterator<Item = &'a StatsDelta>,
) -> BTreeMap<(String, i32), DayCounts> {
    let mut changes = BTreeMap::new();
    apply_daily(&mut changes, deltas);
    changes
}

/// Adds `deltas` to `days`, removing the days whose counts become zero: the table holds no row
/// that counts nothing.
pub fn apply_daily<'a>(
    days: &mut BTreeMap<(String, i32), DayCounts>,
    deltas: impl IntoIterator<Item = &'a StatsDelta>,
) {
    for delta in deltas {
        for dated in &delta.dated {
            let key = (delta.user_id.clone(), day_key(dated.at));
            let counts = days.entry(key.clone()).or_default();
            counts.add(dated.counter, dated.delta);
            if counts.is_zero() {
                days.remove(&key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    #[test]
    fn a_task_created_and_deleted_the_same_day_leaves_no_row_and_a_reopen_moves_its_day() {
        let monday = Utc.with_ymd_and_hms(2026, 11, 23, 9, 0, 0).unwrap();
        let tuesday = Utc.with_ymd_and_hms(2026, 11, 24, 9, 0, 0).unwrap();
        let delta = |counter, at, n| StatsDelta::for_user("u").dated(counter, at, n);
        let mut days = BTreeMap::new();
        apply_daily(
            &mut days,
            &[
                delta(DatedCounter::Created, monday, 1),
                delta(DatedCounter::Completed, monday, 1),
                delta(DatedCounter::Completed, monday, -1),
                delta(DatedCounter::Completed, tuesday, 1),
            ],
        );
        let day = |at| ("u".to_owned(), day_key(at));
        assert_eq!(
            days[&day(monday)],
            DayCounts {
                created: 1,
                completed: 0
            }
        );
        assert_eq!(
            days[&day(tuesday)],
            DayCounts {
                created: 0,
                completed: 1
            }
        );
        apply_daily(
            &mut days,
            &[
                delta(DatedCounter::Created, monday, -1),
                delta(DatedCounter::Completed, tuesday, -1),
            ],
        );
        assert!(days.is_empty(), "{days:?}");
    }
}
