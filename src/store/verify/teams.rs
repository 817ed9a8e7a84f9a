//! Verify's check of the team tables: kept whole like the per-user rows, compared with the
//! fold's teams, and held to the rules every team keeps whatever the log says.

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use projections::{MemberRow, Role, StreamFold, TeamFigures, TeamRow, TeamStats};
use uuid::Uuid;

use super::Check;
use crate::store::StoreError;
use crate::store::tables::{rows, rows_at, team_members, team_stats, teams, user_keys};
use crate::store::tx::{ReplayTx, Tables};

impl Check {
    /// Compares the stored teams and memberships with the fold's; with `repair`, rewrites what
    /// differs.
    pub(super) async fn teams(
        &mut self,
        tx: &mut dyn ReplayTx,
        fold: &StreamFold,
        stored_teams: &[TeamRow],
        stored_members: &[MemberRow],
        stored_stats: &[TeamStats],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let expected: BTreeMap<Uuid, &TeamRow> = fold
            .teams
            .values()
            .filter_map(|view| view.team.as_ref())
            .map(|team| (team.id, team))
            .collect();
        let stored: BTreeMap<Uuid, &TeamRow> =
            stored_teams.iter().map(|team| (team.id, team)).collect();
        let (write_teams, delete_teams) =
            self.report
                .teams
                .compare(&expected, &stored, Uuid::to_string);
        let expected_members = member_rows(fold.teams.values().flat_map(|view| &view.members));
        let (write_members, delete_members) = self.report.members.compare(
            &expected_members,
            &member_rows(stored_members.iter()),
            |(team, user)| format!("{user} in team {team}"),
        );
        self.team_rules(&stored, stored_members);
        // A team's row is compared by its figures: a day or week that counts nothing reads the
        // same whichever key it holds.
        let figures = |rows: &mut dyn Iterator<Item = &TeamStats>| -> BTreeMap<Uuid, TeamFigures> {
            rows.map(|row| (row.team_id, row.figures(now))).collect()
        };
        let expected_figures = figures(&mut fold.team_stats.values());
        let stored_figures = figures(&mut stored_stats.iter());
        let (_, delete_stats) = self.report.team_stats.compare(
            &expected_figures.iter().map(|(id, f)| (*id, f)).collect(),
            &stored_figures.iter().map(|(id, f)| (*id, f)).collect(),
            Uuid::to_string,
        );
        let team_stats_drifted = !self.report.team_stats.is_clean();
        if self.repair {
            let live = Tables::Live;
            tx.delete(
                &team_members::TABLE,
                live,
                &rows(&user_keys(&delete_members)),
            )
            .await?;
            tx.delete(&teams::TABLE, live, &rows(&delete_teams)).await?;
            tx.upsert(&teams::TABLE, live, &rows_at(&write_teams))
                .await?;
            tx.upsert(&team_members::TABLE, live, &rows_at(&write_members))
                .await?;
            if team_stats_drifted {
                tx.delete(&team_stats::TABLE, live, &rows(&delete_stats))
                    .await?;
                let rows_now: Vec<&TeamStats> = fold.team_stats.values().collect();
                tx.upsert(&team_stats::TABLE, live, &rows_at(&rows_now))
                    .await?;
            }
        }
        Ok(())
    }

    /// What must hold of the stored teams whatever the log says: every membership is of a team
    /// that exists, and every team has an admin.
    fn team_rules(&mut self, teams: &BTreeMap<Uuid, &TeamRow>, members: &[MemberRow]) {
        let mut with_admin = BTreeSet::new();
        for member in members {
            if !teams.contains_key(&member.team_id) {
                self.report.violations.push(format!(
                    "{} is a member of team {}, which does not exist",
                    member.user_id, member.team_id
                ));
            }
            if member.role == Role::Admin {
                with_admin.insert(member.team_id);
            }
        }
        for id in teams.keys().filter(|id| !with_admin.contains(id)) {
            self.report
                .violations
                .push(format!("team {id} has no admin"));
        }
    }
}

/// Membership rows by team id and user.
fn member_rows<'a>(
    rows: impl Iterator<Item = &'a MemberRow>,
) -> BTreeMap<(Uuid, String), &'a MemberRow> {
    rows.map(|member| ((member.team_id, member.user_id.clone()), member))
        .collect()
}
