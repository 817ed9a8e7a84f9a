//! Verify's check of the task tables (tasks, shares, team shares, access), range by range as
//! the fold ends each task, and of the tasks shared with teams once the fold has settled them.

use std::collections::{BTreeMap, HashSet};

use projections::{AccessRow, Ended, Settled, ShareRow, TaskRow, TeamShareRow};
use uuid::Uuid;

use super::Check;
use crate::store::StoreError;
use crate::store::tables::{
    rows, rows_at, task_access, task_shares, task_team_shares, tasks, team_keys, user_keys,
};
use crate::store::tx::{ReplayTx, Tables, TaskRange};

impl Check {
    /// Compares the tasks with ids in `from..=to` the fold ended (`expected`) with the stored
    /// ones, and counts the stored ones; with `repair`, rewrites what differs.
    pub(super) async fn range(
        &mut self,
        tx: &mut dyn ReplayTx,
        from: Uuid,
        to: Uuid,
        expected: &[Ended],
    ) -> Result<(), StoreError> {
        let TaskRange {
            tasks,
            shares,
            team_shares,
            access,
        } = tx.task_range(Tables::Live, from, to).await?;
        let existing: HashSet<Uuid> = tasks.iter().map(|task| task.id).collect();
        for task in &tasks {
            self.stored.add_task(task);
            self.note_user(&task.owner_id);
        }
        let later: HashSet<Uuid> = expected
            .iter()
            .filter(|ended| ended.settled_later)
            .filter_map(|ended| Some(ended.view.task.as_ref()?.id))
            .collect();
        for row in &access {
            // Access to a task that does not exist counts for nothing; that of a task shared
            // with teams is counted when it is settled.
            if existing.contains(&row.task_id)
                && !later.contains(&row.task_id)
                && let Some(permission) = row.permission()
            {
                self.stored.add_shared(&row.user_id, permission);
            }
            self.note_user(&row.user_id);
        }
        for share in &shares {
            self.note_user(&share.user_id);
        }
        self.settled_later.extend(&later);
        let views = || expected.iter().map(|ended| &ended.view);
        let expected_tasks = task_rows(views().filter_map(|view| view.task.as_ref()));
        let (write_tasks, delete_tasks) =
            self.report
                .tasks
                .compare(&expected_tasks, &task_rows(tasks.iter()), Uuid::to_string);
        let expected_shares = share_rows(views().flat_map(|view| &view.shares));
        let (write_shares, delete_shares) = self.report.shares.compare(
            &expected_shares,
            &share_rows(shares.iter()),
            |(task, user)| format!("{task} shared with {user}"),
        );
        // The team shares and access of tasks shared with teams are settled at the end.
        let now = |task: &Uuid| !later.contains(task);
        let stored_team_shares = team_share_rows(team_shares.iter().filter(|s| now(&s.task_id)));
        let (write_team_shares, delete_team_shares) = self.report.team_shares.compare(
            &team_share_rows(views().flat_map(|view| &view.team_shares)),
            &stored_team_shares,
            |(task, team)| format!("{task} shared with team {team}"),
        );
        let stored_access = access_rows(access.iter().filter(|row| now(&row.task_id)));
        let (write_access, delete_access) = self.report.access.compare(
            &access_rows(expected.iter().flat_map(|ended| &ended.access)),
            &stored_access,
            |(task, user)| format!("{task} seen by {user}"),
        );
        if self.repair {
            let live = Tables::Live;
            // Each of these splits its rows into statements of its own size.
            tx.delete(&tasks::TABLE, live, &rows(&delete_tasks)).await?;
            tx.delete(&task_shares::TABLE, live, &rows(&user_keys(&delete_shares)))
                .await?;
            tx.upsert(&tasks::TABLE, live, &rows_at(&write_tasks))
                .await?;
            tx.upsert(&task_shares::TABLE, live, &rows_at(&write_shares))
                .await?;
            let team_shares = (write_team_shares, delete_team_shares);
            rewrite_team_paths(tx, team_shares, (write_access, delete_access)).await?;
        }
        Ok(())
    }

    /// Compares the team shares and access rows of the tasks shared with teams with what the
    /// fold settled for them; with `repair`, rewrites what differs.
    pub(super) async fn settled(
        &mut self,
        tx: &mut dyn ReplayTx,
        settled: Settled,
    ) -> Result<(), StoreError> {
        let ids = std::mem::take(&mut self.settled_later);
        if ids.is_empty() {
            return Ok(());
        }
        let live = Tables::Live;
        let views = tx.load_views(live, &ids).await?;
        let stored_team_shares = team_share_rows(views.values().flat_map(|v| &v.team_shares));
        let (write_team_shares, delete_team_shares) = self.report.team_shares.compare(
            &team_share_rows(settled.team_shares.iter()),
            &stored_team_shares,
            |(task, team)| format!("{task} shared with team {team}"),
        );
        let stored = tx.load_task_access(live, &ids).await?;
        // The stored access of these tasks is counted here, their ranges having left it out.
        for row in &stored {
            if let Some(permission) = row.permission() {
                self.stored.add_shared(&row.user_id, permission);
            }
            self.note_user(&row.user_id);
        }
        let (write_access, delete_access) = self.report.access.compare(
            &access_rows(settled.access.iter()),
            &access_rows(stored.iter()),
            |(task, user)| format!("{task} seen by {user}"),
        );
        if self.repair {
            let team_shares = (write_team_shares, delete_team_shares);
            rewrite_team_paths(tx, team_shares, (write_access, delete_access)).await?;
        }
        Ok(())
    }
}

/// Writes the team shares and access rows verify found missing or different, and deletes those
/// it found stored and not expected: `(write, delete)` for each table.
async fn rewrite_team_paths(
    tx: &mut dyn ReplayTx,
    (write_team_shares, delete_team_shares): (Vec<&TeamShareRow>, Vec<(Uuid, Uuid)>),
    (write_access, delete_access): (Vec<&AccessRow>, Vec<(Uuid, String)>),
) -> Result<(), StoreError> {
    let live = Tables::Live;
    let team_keys = team_keys(&delete_team_shares);
    tx.delete(&task_team_shares::TABLE, live, &rows(&team_keys))
        .await?;
    tx.delete(&task_access::TABLE, live, &rows(&user_keys(&delete_access)))
        .await?;
    tx.upsert(&task_team_shares::TABLE, live, &rows_at(&write_team_shares))
        .await?;
    tx.upsert(&task_access::TABLE, live, &rows_at(&write_access))
        .await?;
    Ok(())
}

/// Task rows by id.
fn task_rows<'a>(rows: impl Iterator<Item = &'a TaskRow>) -> BTreeMap<Uuid, &'a TaskRow> {
    rows.map(|task| (task.id, task)).collect()
}

/// Share rows by task id and user.
fn share_rows<'a>(
    rows: impl Iterator<Item = &'a ShareRow>,
) -> BTreeMap<(Uuid, String), &'a ShareRow> {
    rows.map(|share| ((share.task_id, share.user_id.clone()), share))
        .collect()
}

/// Team share rows by task id and team.
fn team_share_rows<'a>(
    rows: impl Iterator<Item = &'a TeamShareRow>,
) -> BTreeMap<(Uuid, Uuid), &'a TeamShareRow> {
    rows.map(|share| ((share.task_id, share.team_id), share))
        .collect()
}

/// Access rows by task id and user.
fn access_rows<'a>(
    rows: impl Iterator<Item = &'a AccessRow>,
) -> BTreeMap<(Uuid, String), &'a AccessRow> {
    rows.map(|row| ((row.task_id, row.user_id.clone()), row))
        .collect()
}
