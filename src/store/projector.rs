//! The stored side of the fold: the rows a run of events touches are loaded into a
//! [`Changeset`], the events are folded onto it in memory (by `projections`), and the rows it
//! changed are written back in bulk. The command writer, a rebuild's catch-up and nothing else
//! change the read models, and both go through here.

use projections::{Changeset, RecordedEvent, changeset::distinct};
use uuid::Uuid;

use super::StoreError;
use super::tx::{Tables, Tx};

/// The stored views of `task_ids` in `tables`, ready for events to be folded onto.
pub async fn load_changeset<T: Tx + ?Sized>(
    tx: &mut T,
    tables: Tables,
    task_ids: &[Uuid],
) -> Result<Changeset, StoreError> {
    Ok(Changeset::new(tx.load_views(tables, task_ids).await?))
}

/// Writes the final task and share rows of `changes`, then the figures, to `tables`. Each
/// dashboard row touched is read once and written once.
pub async fn write_changeset<T: Tx + ?Sized>(
    tx: &mut T,
    tables: Tables,
    changes: &Changeset,
) -> Result<(), StoreError> {
    let (upserts, deletes) = changes.tasks();
    if !deletes.is_empty() {
        tx.delete_tasks(tables, &deletes).await?;
    }
    if !upserts.is_empty() {
        tx.upsert_tasks(tables, &upserts).await?;
    }
    let (upserts, deletes) = changes.shares();
    if !deletes.is_empty() {
        tx.delete_shares(tables, &deletes).await?;
    }
    if !upserts.is_empty() {
        tx.upsert_shares(tables, &upserts).await?;
    }
    let users = changes.stats_users();
    if users.is_empty() {
        return Ok(());
    }
    let stats = changes.stats_after(tx.load_stats(tables, &users).await?);
    tx.save_stats(tables, &stats.iter().collect::<Vec<_>>())
        .await
}

/// Folds `events` (in position order) onto the rows of `tables` and writes the result.
pub(crate) async fn project_events<T: Tx + ?Sized>(
    tx: &mut T,
    tables: Tables,
    events: &[RecordedEvent],
) -> Result<(), StoreError> {
    let task_ids = distinct(events.iter().map(|event| event.task_id));
    let mut changes = load_changeset(tx, tables, &task_ids).await?;
    for event in events {
        changes.apply(event);
    }
    write_changeset(tx, tables, &changes).await
}
