//! The dashboard and trend figures counted from task and share rows, the way `COUNT(*)`
//! queries would: the definition the maintained `dashboard_stats` and `daily_stats` rows must
//! always agree with. Rows are added one at a time, so a verify can count tables it reads a
//! range at a time; what it keeps is one set of figures per user and one count per user and day.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::calendar::{day_key, week_key};
use crate::event::Permission;
use crate::rows::{TaskRow, TaskStatus};
use crate::stats::{DashboardFigures, completion_rate};
use crate::trend::DayCounts;

/// Figures by user and trend counts by (user, day), counted at one moment.
#[derive(Clone, Debug)]
pub struct Recount {
    today: i32,
    this_week: i32,
    figures: BTreeMap<String, DashboardFigures>,
    daily: BTreeMap<(String, i32), DayCounts>,
}

impl Recount {
    /// Counts nothing yet; `now` says which day and week "today" and "this week" are.
    pub fn new(now: DateTime<Utc>) -> Self {
        Recount {
            today: day_key(now),
            this_week: week_key(now),
            figures: BTreeMap::new(),
            daily: BTreeMap::new(),
        }
    }

    /// Counts a task that exists for its owner.
    pub fn add_task(&mut self, task: &TaskRow) {
        let figures = self.figures.entry(task.owner_id.clone()).or_default();
        figures.total += 1;
        match task.status {
            TaskStatus::Pending => figures.pending += 1,
            TaskStatus::Completed => figures.completed += 1,
        }
        figures.created_today += i64::from(day_key(task.created_at) == self.today);
        figures.created_this_week += i64::from(week_key(task.created_at) == self.this_week);
        if let Some(done) = task.completed_at {
            figures.completed_today += i64::from(day_key(done) == self.today);
            figures.completed_this_week += i64::from(week_key(done) == self.this_week);
        }
        let day = |at| (task.owner_id.clone(), day_key(at));
        self.daily.entry(day(task.created_at)).or_default().created += 1;
        if let (TaskStatus::Completed, Some(done)) = (task.status, task.completed_at) {
            self.daily.entry(day(done)).or_default().completed += 1;
        }
    }

    /// Counts a task that exists for a user who sees it through shares, with the highest
    /// permission of them.
    pub fn add_shared(&mut self, user_id: &str, permission: Permission) {
        let figures = self.figures.entry(user_id.to_owned()).or_default();
        match permission {
            Permission::View => figures.view_only += 1,
            Permission::Edit => figures.can_edit += 1,
        }
    }

    /// The figures of `user_id`.
    pub fn figures(&self, user_id: &str) -> DashboardFigures {
        let mut figures = self.figures.get(user_id).cloned().unwrap_or_default();
        figures.shared = figures.view_only + figures.can_edit;
        figures.completion_rate = completion_rate(figures.completed, figures.total);
        figures
    }

    /// The trend of `user_id`: days that count nothing are left out.
    pub fn daily_of(&self, user_id: &str) -> BTreeMap<i32, DayCounts> {
        self.daily
            .range((user_id.to_owned(), i32::MIN)..=(user_id.to_owned(), i32::MAX))
            .map(|((_, day), counts)| (*day, *counts))
            .collect()
    }

    /// Every user something was counted for.
    pub fn users(&self) -> impl Iterator<Item = &String> {
        self.figures.keys()
    }
}
