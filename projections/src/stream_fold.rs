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

use crate::access::{AccessRow, access_rows};
use crate::event::{Event, RecordedEvent};
use crate::fold::contribution;
use crate::memory::{add_stats, fold_event, fold_team_event};
use crate::rows::{TaskView, TeamShareRow};
use crate::stats::{DashboardStats, StatsDelta};
use crate::team::TeamView;
use crate::team_stats::{TeamDelta, TeamStats};
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
    /// Each team's row, once [`StreamFold::settle`] has counted what is shared with it.
    pub team_stats: BTreeMap<Uuid, TeamStats>,
    /// The highest position folded.
    pub position: i64,
    /// Events folded.
    pub events: u64,
    current: Option<(Uuid, TaskView)>,
    /// The tasks shared with teams, whose team shares and access wait for the teams' final
    /// members (a team's stream may come after the task's): see [`StreamFold::settle`].
    team_shared: Vec<TaskView>,
}

/// A task whose stream has ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ended {
    /// Its rows; a task shared with teams without its team shares, which
    /// [`StreamFold::settle`] gives.
    pub view: TaskView,
    /// Who sees it through shares; for a task shared with teams, nobody yet.
    pub access: Vec<AccessRow>,
    /// Whether it is shared with teams.
    pub settled_later: bool,
}

/// What the end of the fold settles for the tasks shared with teams.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Settled {
    pub team_shares: Vec<TeamShareRow>,
    pub access: Vec<AccessRow>,
}

impl StreamFold {
    /// Folds the next event; events come stream after stream, each stream in version order.
    /// Answers the task whose stream this event follows, when that task exists.
    pub fn apply(&mut self, recorded: &RecordedEvent) -> Option<Ended> {
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

    /// Ends the stream being folded: its task, when that task exists.
    pub fn finish(&mut self) -> Option<Ended> {
        let (_, mut view) = self.current.take()?;
        view.task.as_ref()?;
        if !view.team_shares.is_empty() {
            self.team_shared.push(view.clone());
            view.team_shares.clear();
            return Some(Ended {
                view,
                access: Vec::new(),
                settled_later: true,
            });
        }
        let access = access_rows(&view, &self.teams);
        self.count_shared(&access);
        Some(Ended {
            view,
            access,
            settled_later: false,
        })
    }

    /// Once every stream is folded: the team shares of the tasks shared with teams (those
    /// with teams that still exist) and who sees those tasks, their figures counted, and each
    /// team's row (its members, and the tasks shared with it counted as their owners' are).
    pub fn settle(&mut self) -> Settled {
        let mut settled = Settled::default();
        self.team_stats = self
            .teams
            .iter()
            .map(|(id, team)| {
                let mut row = TeamStats::empty(*id);
                row.members = team.members.len() as i64;
                (*id, row)
            })
            .collect();
        for mut view in std::mem::take(&mut self.team_shared) {
            view.team_shares
                .retain(|share| self.teams.contains_key(&share.team_id));
            let access = access_rows(&view, &self.teams);
            self.count_shared(&access);
            if let Some(task) = &view.task {
                for share in &view.team_shares {
                    let delta = TeamDelta {
                        team_id: share.team_id,
                        members: 0,
                        counts: contribution(task, 1),
                    };
                    if let Some(row) = self.team_stats.get_mut(&share.team_id) {
                        row.apply(&delta);
                    }
                }
            }
            settled.access.extend(access);
            settled.team_shares.extend(view.team_shares);
        }
        settled
    }

    /// Counts each row's task in its user's shared figures.
    fn count_shared(&mut self, access: &[AccessRow]) {
        let deltas: Vec<StatsDelta> = access
            .iter()
            .filter_map(|row| Some(StatsDelta::for_user(&row.user_id).shared(row.permission()?, 1)))
            .collect();
        add_stats(&mut self.stats, &deltas);
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
        let mut ended: Vec<Ended> = by_stream.iter().filter_map(|e| fold.apply(e)).collect();
        ended.extend(fold.finish());
        let views: Vec<TaskView> = ended.into_iter().map(|ended| ended.view).collect();

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
