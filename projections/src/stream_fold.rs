//! The log folded stream by stream (`order by stream_id, stream_version`), for rebuild and
//! verify: a task's view lives only while its events go by, so what is kept is the per-user
//! models (one `dashboard_stats` row per user, one trend count per user and day), never the
//! whole log's tasks.
//!
//! The result equals [`crate::ReadModels`]' position-order fold: the fold of an event reads
//! only its own task's prior rows, the counts are sums, and a day or week [`crate::Bucket`]
//! ends holding the newest key any task was counted into with the sum of every change to that
//! key, whichever order the tasks come in (a task leaves a key only after entering it).

use std::collections::BTreeMap;

use uuid::Uuid;

use crate::event::{Event, RecordedEvent};
use crate::memory::{fold_event, fold_team_event};
use crate::rows::TaskView;
use crate::stats::DashboardStats;
use crate::team::TeamView;
use crate::trend::{DailyRow, DayCounts, rows_of};

/// The per-user models of the streams folded so far, and the stream being folded.
#[derive(Clone, Debug, Default)]
pub struct StreamFold {
    /// One row per user that any event touched.
    pub stats: BTreeMap<String, DashboardStats>,
    /// The trend: counts by (user, day key), none of them zero.
    pub daily: BTreeMap<(String, i32), DayCounts>,
    /// Every team that exists, with its members: teams are kept to the end like users.
    pub teams: BTreeMap<Uuid, TeamView>,
    /// The highest position folded.
    pub position: i64,
    /// Events folded.
    pub events: u64,
    current: Option<(Uuid, TaskView)>,
}

impl StreamFold {
    /// Folds the next event; events come stream after stream, each stream in version order.
    /// Answers the view of the task whose stream this event follows, when that task exists.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Option<TaskView> {
        let ended = match &self.current {
            Some((task_id, _)) if *task_id == recorded.stream_id => None,
            _ => self.finish(),
        };
        self.position = self.position.max(recorded.position);
        self.events += 1;
        if let Event::Team(event) = &recorded.event {
            fold_team_event(&mut self.teams, recorded, event);
            return ended;
        }
        let (_, view) = self
            .current
            .get_or_insert_with(|| (recorded.stream_id, TaskView::default()));
        fold_event(view, &mut self.stats, &mut self.daily, recorded);
        ended
    }

    /// Ends the stream being folded: the view of its task, when that task exists.
    pub fn finish(&mut self) -> Option<TaskView> {
        self.current
            .take()
            .map(|(_, view)| view)
            .filter(|view| view.task.is_some())
    }

    /// Every trend row.
    pub fn daily_rows(&self) -> Vec<DailyRow> {
        rows_of(&self.daily)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ReadModels;
    use crate::event::{Permission, TaskEvent};
    use crate::team::{Role, TeamEvent};
    use chrono::{DateTime, Duration, TimeZone, Utc};

    fn event(
        position: i64,
        task: u128,
        version: i64,
        at: DateTime<Utc>,
        event: impl Into<Event>,
    ) -> RecordedEvent {
        RecordedEvent {
            position,
            event_id: Uuid::from_u128(position as u128),
            stream_id: Uuid::from_u128(task),
            stream_version: version,
            actor: "a".into(),
            recorded_at: at,
            event: event.into(),
        }
    }

    fn team_created(name: &str, admin: &str) -> TeamEvent {
        TeamEvent::TeamCreated {
            name: name.into(),
            admin_id: admin.into(),
        }
    }

    fn joined(member: &str) -> TeamEvent {
        TeamEvent::MemberAdded {
            member_id: member.into(),
            role: Role::Member,
        }
    }

    fn created(owner: &str) -> TaskEvent {
        TaskEvent::TaskCreated {
            owner_id: owner.into(),
            title: "t".into(),
            description: String::new(),
        }
    }

    #[test]
    fn folding_stream_by_stream_gives_what_folding_in_position_order_gives() {
        let day = |n: i64| Utc.with_ymd_and_hms(2026, 11, 2, 9, 0, 0).unwrap() + Duration::days(n);
        let shared = |user: &str, permission| TaskEvent::TaskShared {
            user_id: user.into(),
            permission,
        };
        // Tasks across days and weeks, whose buckets move in an order the stream order
        // does not keep: a later task counted before an earlier one's delete and reopen.
        let log = vec![
            event(1, 3, 1, day(0), created("ann")),
            event(2, 1, 1, day(1), created("ann")),
            event(3, 3, 2, day(1), shared("bob", Permission::View)),
            event(4, 1, 2, day(2), TaskEvent::TaskCompleted {}),
            event(5, 2, 1, day(8), created("ann")),
            event(6, 1, 3, day(8), shared("bob", Permission::Edit)),
            event(7, 3, 3, day(9), TaskEvent::TaskCompleted {}),
            event(8, 2, 2, day(9), TaskEvent::TaskCompleted {}),
            event(9, 1, 4, day(9), TaskEvent::TaskReopened {}),
            event(10, 3, 4, day(9), TaskEvent::TaskDeleted {}),
            event(11, 2, 3, day(9), TaskEvent::TaskReopened {}),
            event(12, 40, 1, day(9), created("bob")),
            event(13, 40, 2, day(9), TaskEvent::TaskCompleted {}),
            // Teams, whose streams come between the tasks': one lives, one is deleted.
            event(14, 5, 1, day(9), team_created("ops", "ann")),
            event(15, 6, 1, day(9), team_created("gone", "bob")),
            event(16, 5, 2, day(9), joined("bob")),
            event(17, 6, 2, day(9), TeamEvent::TeamDeleted {}),
        ];
        let mut in_order = ReadModels::default();
        for recorded in &log {
            in_order.apply(recorded);
        }
        let mut by_stream = log.clone();
        by_stream.sort_by_key(|recorded| (recorded.stream_id, recorded.stream_version));
        let mut fold = StreamFold::default();
        let mut views: Vec<TaskView> = by_stream.iter().filter_map(|e| fold.apply(e)).collect();
        views.extend(fold.finish());

        assert_eq!(fold.stats, in_order.stats);
        assert_eq!(fold.daily, in_order.daily);
        assert_eq!(fold.position, in_order.position);
        assert_eq!(fold.events, 17);
        let tasks: Vec<TaskView> = in_order.tasks.values().cloned().collect();
        assert_eq!(views, tasks);
        assert_eq!(views.len(), 3, "the deleted task is not answered");
        assert_eq!(fold.teams, in_order.teams);
        assert_eq!(fold.teams.len(), 1, "the deleted team is not kept");
        assert_eq!(fold.teams[&Uuid::from_u128(5)].members.len(), 2);
    }
}
