//! The read models held in memory: what `rebuild` and `verify` fold the event log into, and the
//! reference the property tests compare the stored models with.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::access::{Access, AccessRow};
use crate::event::{Event, Permission, RecordedEvent};
use crate::fold::project;
use crate::recount::Recount;
use crate::rows::{ShareRow, TaskRow, TaskView, TeamShareRow};
use crate::stats::{DashboardFigures, DashboardStats, StatsDelta};
use crate::team::{MemberRow, TeamEvent, TeamRow, TeamView};
use crate::team_stats::{TeamDelta, TeamFigures, TeamStats, member_delta, task_team_deltas};
use crate::trend::{DailyRow, DayCounts, apply_daily, rows_of};

/// Every read model, folded from events in position order.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ReadModels {
    /// Tasks that exist, with their shares.
    pub tasks: BTreeMap<Uuid, TaskView>,
    /// Teams that exist, with their members.
    pub teams: BTreeMap<Uuid, TeamView>,
    /// Who sees each task they do not own, and how.
    pub access: Access,
    /// One row per team that exists.
    pub team_stats: BTreeMap<Uuid, TeamStats>,
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
        self.position = self.position.max(recorded.position);
        let id = recorded.stream_id;
        let event = match &recorded.event {
            Event::Team(event) => {
                let none = TeamView::default();
                let prior = self.teams.get(&id).unwrap_or(&none);
                let (shared, unshared) = self.access.apply_team_event(id, prior, event);
                add_stats(&mut self.stats, &shared);
                for task_id in unshared {
                    if let Some(task) = self.tasks.get_mut(&task_id) {
                        task.team_shares.retain(|share| share.team_id != id);
                    }
                }
                if prior.team.is_some() || matches!(event, TeamEvent::TeamCreated { .. }) {
                    add_team_stats(&mut self.team_stats, member_delta(id, event));
                }
                fold_team_event(&mut self.teams, recorded, event);
                if !self.teams.contains_key(&id) {
                    self.team_stats.remove(&id);
                }
                return;
            }
            Event::Task(event) => event,
        };
        let view = self.tasks.entry(id).or_default();
        let team = event.team_id().and_then(|team| self.teams.get(&team));
        let shared = self.access.apply_task_event(id, view, event, team);
        add_stats(&mut self.stats, &shared);
        let changes = fold_event(view, &mut self.stats, &mut self.daily, recorded);
        add_team_stats(&mut self.team_stats, changes);
        if view.task.is_none() {
            self.tasks.remove(&recorded.stream_id);
        }
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
        self.recounted(user_id, now).figures(user_id)
    }

    /// The task and share models of `user_id` (or of everyone) counted.
    fn recounted(&self, user_id: &str, now: DateTime<Utc>) -> Recount {
        let mut recount = Recount::new(now);
        for view in self.tasks.values() {
            // A share of a task that does not exist counts for nothing.
            let Some(task) = &view.task else { continue };
            if task.owner_id == user_id {
                recount.add_task(task);
            }
            if let Some(permission) = self.permission_of(view, user_id) {
                recount.add_shared(user_id, permission);
            }
        }
        recount
    }

    /// The permission `user_id` holds on the task of `view` through its direct share and every
    /// team of theirs it is shared with, the highest of them, worked out from the shares and
    /// memberships (not from [`ReadModels::access`]): the definition the access rows must
    /// agree with. `None` for its owner and for anyone without a share.
    pub fn permission_of(&self, view: &TaskView, user_id: &str) -> Option<Permission> {
        let task = view.task.as_ref()?;
        if task.owner_id == user_id {
            return None;
        }
        let through_teams = view.team_shares.iter().filter(|share| {
            let team = self.teams.get(&share.team_id);
            team.is_some_and(|team| team.role_of(user_id).is_some())
        });
        view.share_of(user_id)
            .into_iter()
            .chain(through_teams.map(|share| share.permission))
            .max_by_key(|permission| *permission == Permission::Edit)
    }

    /// The figures of team `team_id` counted from the task and team models, the way
    /// `COUNT(*)` over the tasks shared with it would: the definition its maintained row must
    /// agree with.
    pub fn recount_team(&self, team_id: Uuid, now: DateTime<Utc>) -> TeamFigures {
        let Some(team) = self.teams.get(&team_id) else {
            return TeamFigures::default();
        };
        // Counted as if the team owned them: the same definition as an owner's figures.
        let counted_as = team_id.to_string();
        let mut recount = Recount::new(now);
        for view in self
            .tasks
            .values()
            .filter(|v| v.team_share_of(team_id).is_some())
        {
            if let Some(task) = &view.task {
                let mut task = task.clone();
                task.owner_id.clone_from(&counted_as);
                recount.add_task(&task);
            }
        }
        let figures = recount.figures(&counted_as);
        TeamFigures {
            total: figures.total,
            pending: figures.pending,
            completed: figures.completed,
            completion_rate: figures.completion_rate,
            created_today: figures.created_today,
            completed_today: figures.completed_today,
            created_this_week: figures.created_this_week,
            completed_this_week: figures.completed_this_week,
            members: team.members.len() as i64,
        }
    }

    /// Every access row.
    pub fn access_rows(&self) -> impl Iterator<Item = &AccessRow> {
        self.access.rows()
    }

    /// The trend of `user_id` counted from the task model, the way `COUNT(*) … group by day`
    /// would: the definition `daily_stats` must always agree with. Days that count nothing are
    /// left out.
    pub fn recount_daily(&self, user_id: &str) -> BTreeMap<i32, DayCounts> {
        // The day keys do not depend on the moment of counting.
        self.recounted(user_id, DateTime::<Utc>::MIN_UTC)
            .daily_of(user_id)
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

    /// Every team share row.
    pub fn team_share_rows(&self) -> impl Iterator<Item = &TeamShareRow> {
        self.tasks.values().flat_map(|view| &view.team_shares)
    }

    /// Every team row.
    pub fn team_rows(&self) -> impl Iterator<Item = &TeamRow> {
        self.teams.values().filter_map(|view| view.team.as_ref())
    }

    /// Every membership row.
    pub fn member_rows(&self) -> impl Iterator<Item = &MemberRow> {
        self.teams.values().flat_map(|view| &view.members)
    }

    /// Every user id that owns a task, holds a share or has a stats or trend row.
    pub fn users(&self) -> BTreeSet<String> {
        self.task_rows()
            .map(|task| task.owner_id.clone())
            .chain(self.share_rows().map(|share| share.user_id.clone()))
            .chain(self.access_rows().map(|row| row.user_id.clone()))
            .chain(self.stats.keys().cloned())
            .chain(self.daily.keys().map(|(user, _)| user.clone()))
            .collect()
    }
}

/// Adds each change to its team's row.
pub(crate) fn add_team_stats(
    rows: &mut BTreeMap<Uuid, TeamStats>,
    deltas: impl IntoIterator<Item = TeamDelta>,
) {
    for delta in deltas {
        rows.entry(delta.team_id)
            .or_insert_with(|| TeamStats::empty(delta.team_id))
            .apply(&delta);
    }
}

/// Adds each change to its user's row.
pub(crate) fn add_stats(stats: &mut BTreeMap<String, DashboardStats>, deltas: &[StatsDelta]) {
    for delta in deltas {
        stats
            .entry(delta.user_id.clone())
            .or_insert_with(|| DashboardStats::empty(&delta.user_id))
            .apply(delta);
    }
}

/// Folds a team's event onto its view among `teams`, which keeps only teams that exist: the
/// one step of [`ReadModels`] and of [`crate::StreamFold`] for teams.
pub(crate) fn fold_team_event(
    teams: &mut BTreeMap<Uuid, TeamView>,
    recorded: &RecordedEvent,
    event: &TeamEvent,
) {
    let id = recorded.stream_id;
    let view = teams.entry(id).or_default();
    view.apply(id, recorded.stream_version, recorded.recorded_at, event);
    if view.team.is_none() {
        teams.remove(&id);
    }
}

/// Folds one event onto its task's view and onto the per-user models, through the same
/// [`project`] the live write path uses: the one step of [`ReadModels`] and of
/// [`crate::StreamFold`] alike. Answers what it changes in the rows of the teams the task is
/// shared with.
pub(crate) fn fold_event(
    view: &mut TaskView,
    stats: &mut BTreeMap<String, DashboardStats>,
    daily: &mut BTreeMap<(String, i32), DayCounts>,
    recorded: &RecordedEvent,
) -> Vec<TeamDelta> {
    let changes = project(view, recorded);
    let teams = match &recorded.event {
        Event::Task(event) => task_team_deltas(view, event, &changes.stats),
        Event::Team(_) => Vec::new(),
    };
    view.apply(&changes);
    apply_daily(daily, &changes.stats);
    add_stats(stats, &changes.stats);
    teams
}
