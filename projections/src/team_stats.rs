//! The `team_stats` read model: one row per team holding the figures over the tasks shared with
//! it, kept by the same deltas as an owner's row (a task shared with a team moves the team's
//! figures as it moves its owner's) and its member count.

use chrono::{DateTime, Utc};
use serde::Serialize;
use uuid::Uuid;

use crate::event::TaskEvent;
use crate::fold::contribution;
use crate::rows::TaskView;
use crate::stats::{DashboardStats, StatsDelta, completion_rate};
use crate::team::TeamEvent;

/// One team's row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TeamStats {
    pub team_id: Uuid,
    pub members: i64,
    /// The counts of the tasks shared with the team, kept like a user's own (`user_id` empty,
    /// no shared counts).
    pub counts: DashboardStats,
}

/// What one event changes in one team's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TeamDelta {
    pub team_id: Uuid,
    pub members: i64,
    /// The task counts' change (`user_id` unused).
    pub counts: StatsDelta,
}

/// A team's figures as the contract names them.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct TeamFigures {
    pub total: i64,
    pub pending: i64,
    pub completed: i64,
    pub completion_rate: f64,
    pub created_today: i64,
    pub completed_today: i64,
    pub created_this_week: i64,
    pub completed_this_week: i64,
    pub members: i64,
}

impl TeamStats {
    /// The row of a team with nothing shared and no members.
    pub fn empty(team_id: Uuid) -> Self {
        TeamStats {
            team_id,
            ..TeamStats::default()
        }
    }

    /// Applies one change; the only way the row's figures move.
    pub fn apply(&mut self, delta: &TeamDelta) {
        self.members += delta.members;
        self.counts.apply(&delta.counts);
    }

    /// The figures at the moment `now`.
    pub fn figures(&self, now: DateTime<Utc>) -> TeamFigures {
        let counts = self.counts.figures(now);
        TeamFigures {
            total: counts.total,
            pending: counts.pending,
            completed: counts.completed,
            completion_rate: completion_rate(counts.completed, counts.total),
            created_today: counts.created_today,
            completed_today: counts.completed_today,
            created_this_week: counts.created_this_week,
            completed_this_week: counts.completed_this_week,
            members: self.members,
        }
    }
}

/// What task event `event` on `prior` (before it) changes in the rows of the teams the task is
/// shared with, given `owner` the changes to its owner's row: each team shared with moves as
/// the owner does, and a team share brings the task in or takes it out.
pub fn task_team_deltas(
    prior: &TaskView,
    event: &TaskEvent,
    owner: &[StatsDelta],
) -> Vec<TeamDelta> {
    let Some(task) = &prior.task else {
        return Vec::new();
    };
    let counts = |team_id, counts: StatsDelta| TeamDelta {
        team_id,
        members: 0,
        counts,
    };
    match event {
        TaskEvent::TaskSharedWithTeam { team_id, .. }
            if prior.team_share_of(*team_id).is_none() =>
        {
            vec![counts(*team_id, contribution(task, 1))]
        }
        TaskEvent::TaskUnsharedFromTeam { team_id } if prior.team_share_of(*team_id).is_some() => {
            vec![counts(*team_id, contribution(task, -1))]
        }
        _ => prior
            .team_shares
            .iter()
            .flat_map(|share| {
                owner
                    .iter()
                    .map(|delta| counts(share.team_id, delta.clone()))
            })
            .collect(),
    }
}

/// What team event `event` changes in its team's member count.
pub fn member_delta(team_id: Uuid, event: &TeamEvent) -> Option<TeamDelta> {
    let members = match event {
        TeamEvent::TeamCreated { .. } | TeamEvent::MemberAdded { .. } => 1,
        TeamEvent::MemberRemoved { .. } => -1,
        _ => return None,
    };
    Some(TeamDelta {
        team_id,
        members,
        counts: StatsDelta::default(),
    })
}
