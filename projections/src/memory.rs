//! The read models held in memory: what `rebuild` and `verify` fold the event log into, and the
//! reference the property tests compare the stored models with.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::calendar::{day_key, week_key};
use crate::event::{Permission, RecordedEvent};
use crate::fold::project;
use crate::rows::{ShareRow, TaskRow, TaskStatus, TaskView};
use crate::stats::{DashboardFigures, DashboardStats, completion_rate};
use crate::trend::{DailyRow, DayCounts, apply_daily, rows_of};

/// Every read model, folded from events in position order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadModels {
    /// Tasks that exist, with their shares.
    pub tasks: BTreeMap<Uuid, TaskView>,
    /// One row per user that any event touched.
    pub stats: BTreeMap<String, DashboardStats>,
    /// The trend: counts by (user, day key), none of them zero.
    pub daily: BTreeMap<(String, i32), DayCounts>,
    /// Position of the last event applied.
    pub position: i64,
}

impl ReadModels {
    /// Folds one event in, through the same [`project`] the live write path uses.
    pub fn apply(&mut self, recorded: &RecordedEvent) {
        let view = self.tasks.entry(recorded.task_id).or_default();
        let changes = project(view, recorded);
        view.apply(&changes);
        if view.task.is_none() {
            self.tasks.remove(&recorded.task_id);
        }
        apply_daily(&mut self.daily, &changes.stats);
        for delta in &changes.stats {
            self.stats
                .entry(delta.user_id.clone())
                .or_insert_with(|| DashboardStats::empty(&delta.user_id))
                .apply(delta);
        }
        self.position = self.position.max(recorded.position);
    }

    /// The figures of `user_id` as the maintained row gives them.
    pub fn figures(&self, user_id: &str, now: DateTime<Utc>) -> DashboardFigures {
        self.stats
            .get(user_id)
            .map(|stats| stats.figures(now))
            .unwrap_or_default()
    }

    /// The figures of `user_id` counted from the task and share models, the way `COUNT(*)`
    /// queries would: the definition the maintained row must always agree with.
    pub fn recount(&self, user_id: &str, now: DateTime<Utc>) -> DashboardFigures {
        let (today, this_week) = (day_key(now), week_key(now));
        let mut figures = DashboardFigures::default();
        for view in self.tasks.values() {
            let Some(task) = &view.task else { continue };
            if task.owner_id == user_id {
                figures.total += 1;
                match task.status {
                    TaskStatus::Pending => figures.pending += 1,
                    TaskStatus::Completed => figures.completed += 1,
                }
                figures.created_today += i64::from(day_key(task.created_at) == today);
                figures.created_this_week += i64::from(week_key(task.created_at) == this_week);
                if let Some(done) = task.completed_at {
                    figures.completed_today += i64::from(day_key(done) == today);
                    figures.completed_this_week += i64::from(week_key(done) == this_week);
                }
            }
            match view.share_of(user_id) {
                Some(Permission::View) => figures.view_only += 1,
                Some(Permission::Edit) => figures.can_edit += 1,
                None => {}
            }
        }
        figures.shared = figures.view_only + figures.can_edit;
        figures.completion_rate = completion_rate(figures.completed, figures.total);
        figures
    }

    /// The trend of `user_id` counted from the task model, the way `COUNT(*) … group by day`
    /// would: the definition `daily_stats` must always agree with. Days that count nothing are
    /// left out.
    pub fn recount_daily(&self, user_id: &str) -> BTreeMap<i32, DayCounts> {
        let mut days: BTreeMap<i32, DayCounts> = BTreeMap::new();
        for task in self.task_rows().filter(|task| task.owner_id == user_id) {
            days.entry(day_key(task.created_at)).or_default().created += 1;
            if let (TaskStatus::Completed, Some(done)) = (task.status, task.completed_at) {
                days.entry(day_key(done)).or_default().completed += 1;
            }
        }
        days
    }

    /// The trend of `user_id` as the maintained rows give it.
    pub fn daily_of(&self, user_id: &str) -> BTreeMap<i32, DayCounts> {
        self.daily
            .range((user_id.to_owned(), i32::MIN)..=(user_id.to_owned(), i32::MAX))
            .map(|((_, day), counts)| (*day, *counts))
            .collect()
    }

    /// Every trend row.
    pub fn daily_rows(&self) -> Vec<DailyRow> {
        rows_of(&self.daily)
    }

    /// Every task row.
    pub fn task_rows(&self) -> impl Iterator<Item = &TaskRow> {
        self.tasks.values().filter_map(|view| view.task.as_ref())
    }

    /// Every share row.
    pub fn share_rows(&self) -> impl Iterator<Item = &ShareRow> {
        self.tasks.values().flat_map(|view| &view.shares)
    }

    /// Every user id that owns a task, holds a share or has a stats or trend row.
    pub fn users(&self) -> BTreeSet<String> {
        self.task_rows()
            .map(|task| task.owner_id.clone())
            .chain(self.share_rows().map(|share| share.user_id.clone()))
            .chain(self.stats.keys().cloned())
            .chain(self.daily.keys().map(|(user, _)| user.clone()))
            .collect()
    }
}
