//! The `dashboard_stats` read model: one row per user holding every figure of the dashboard.
//!
//! Day and week counters keep the calendar key they belong to. A counter whose key is not the
//! current day or week reads as zero, so the figures are right at any moment without a
//! scheduled job and without counting at read time.

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::calendar::{day_key, week_key};
use crate::event::Permission;

/// A counter of tasks that belong to one calendar day or week.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bucket {
    /// The day or week key (see [`crate::calendar`]) the count belongs to.
    pub key: i32,
    pub count: i64,
}

impl Bucket {
    /// The count if the bucket belongs to `current`, else zero: a past day counts nothing today.
    pub fn read(self, current: i32) -> i64 {
        if self.key == current { self.count } else { 0 }
    }

    /// Adds `delta` tasks that belong to `key`. A newer key starts the bucket afresh; removals
    /// from an older key are ignored because that key already reads as zero.
    fn bump(&mut self, key: i32, delta: i64) {
        if key == self.key {
            self.count += delta;
        } else if key > self.key && delta > 0 {
            *self = Bucket { key, count: delta };
        }
    }
}

/// One user's row of `dashboard_stats`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DashboardStats {
    pub user_id: String,
    pub pending: i64,
    pub completed: i64,
    pub shared_view: i64,
    pub shared_edit: i64,
    pub created_day: Bucket,
    pub created_week: Bucket,
    pub completed_day: Bucket,
    pub completed_week: Bucket,
}

/// Which dated counter a [`Dated`] change touches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DatedCounter {
    /// Tasks by `created_at`.
    Created,
    /// Completed tasks by `completed_at`.
    Completed,
}

/// A task entering (`+1`) or leaving (`-1`) the day and week counters of the moment `at`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dated {
    pub counter: DatedCounter,
    pub at: DateTime<Utc>,
    pub delta: i64,
}

/// What one event changes in one user's stats row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StatsDelta {
    pub user_id: String,
    pub pending: i64,
    pub completed: i64,
    pub shared_view: i64,
    pub shared_edit: i64,
    pub dated: Vec<Dated>,
}

impl StatsDelta {
    /// An empty change to `user_id`'s row.
    pub fn for_user(user_id: &str) -> Self {
        StatsDelta {
            user_id: user_id.to_owned(),
            ..StatsDelta::default()
        }
    }

    /// Counts a share with `permission` in (`+1`) or out (`-1`).
    pub fn shared(mut self, permission: Permission, delta: i64) -> Self {
        match permission {
            Permission::View => self.shared_view += delta,
            Permission::Edit => self.shared_edit += delta,
        }
        self
    }

    /// Counts a task in or out of the day and week of `at`.
    pub fn dated(mut self, counter: DatedCounter, at: DateTime<Utc>, delta: i64) -> Self {
        self.dated.push(Dated { counter, at, delta });
        self
    }
}

impl DashboardStats {
    /// The row of a user who has no tasks and no shares yet.
    pub fn empty(user_id: &str) -> Self {
        DashboardStats {
            user_id: user_id.to_owned(),
            ..DashboardStats::default()
        }
    }

    /// Applies one change; the only way the row's figures move.
    pub fn apply(&mut self, delta: &StatsDelta) {
        self.pending += delta.pending;
        self.completed += delta.completed;
        self.shared_view += delta.shared_view;
        self.shared_edit += delta.shared_edit;
        for dated in &delta.dated {
            let (day, week) = match dated.counter {
                DatedCounter::Created => (&mut self.created_day, &mut self.created_week),
                DatedCounter::Completed => (&mut self.completed_day, &mut self.completed_week),
            };
            day.bump(day_key(dated.at), dated.delta);
            week.bump(week_key(dated.at), dated.delta);
        }
    }

    /// The figures as the contract defines them, at the moment `now`.
    pub fn figures(&self, now: DateTime<Utc>) -> DashboardFigures {
        let (today, this_week) = (day_key(now), week_key(now));
        let total = self.pending + self.completed;
        DashboardFigures {
            total,
            pending: self.pending,
            completed: self.completed,
            shared: self.shared_view + self.shared_edit,
            view_only: self.shared_view,
            can_edit: self.shared_edit,
            created_today: self.created_day.read(today),
            completed_today: self.completed_day.read(today),
            created_this_week: self.created_week.read(this_week),
            completed_this_week: self.completed_week.read(this_week),
            completion_rate: completion_rate(self.completed, total),
        }
    }
}

/// `100 * completed / total` rounded to two decimals; 0 for no tasks.
pub fn completion_rate(completed: i64, total: i64) -> f64 {
    if total == 0 {
        0.0
    } else {
        (10_000.0 * completed as f64 / total as f64).round() / 100.0
    }
}

/// Every dashboard figure of one user at one moment, as the contract names them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct DashboardFigures {
    pub total: i64,
    pub pending: i64,
    pub completed: i64,
    pub shared: i64,
    pub view_only: i64,
    pub can_edit: i64,
    pub created_today: i64,
    pub completed_today: i64,
    pub created_this_week: i64,
    pub completed_this_week: i64,
    pub completion_rate: f64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: u32, hour: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, day, hour, 0, 0).unwrap()
    }

    #[test]
    fn a_counter_from_yesterday_reads_as_zero_today_but_still_counts_this_week() {
        let mut stats = DashboardStats::empty("u");
        stats.apply(&StatsDelta::for_user("u").dated(DatedCounter::Created, at(24, 10), 1));
        let today = stats.figures(at(25, 9));
        assert_eq!((today.created_today, today.created_this_week), (0, 1));
        let yesterday = stats.figures(at(24, 23));
        assert_eq!(yesterday.created_today, 1);
    }

    #[test]
    fn removing_a_task_from_a_past_day_leaves_the_current_day_alone() {
        let mut stats = DashboardStats::empty("u");
        stats.apply(&StatsDelta::for_user("u").dated(DatedCounter::Created, at(25, 10), 2));
        stats.apply(&StatsDelta::for_user("u").dated(DatedCounter::Created, at(23, 10), -1));
        assert_eq!(stats.figures(at(25, 11)).created_today, 2);
    }

    #[test]
    fn completion_rate_is_rounded_to_two_decimals_and_zero_without_tasks() {
        assert_eq!(completion_rate(1, 3), 33.33);
        assert_eq!(completion_rate(2, 3), 66.67);
        assert_eq!(completion_rate(0, 0), 0.0);
    }
}
