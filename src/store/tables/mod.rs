//! The read-model tables, one module each. A module owns its table's name, its columns, its
//! key, what an upsert changes, and how its row type is written into a statement and read back
//! ([`Encode`], [`Decode`]: once for sqlx on both backends and for rusqlite alike). What is
//! generic over tables (the bulk upserts and deletes, a rebuild's shadow copies, verify's
//! reads) is written once here against [`Table`], and [`READ_MODELS`] lists them for whatever
//! goes over every table.

pub(crate) mod daily_stats;
pub(crate) mod dashboard_stats;
pub(crate) mod task_access;
pub(crate) mod task_shares;
pub(crate) mod task_team_shares;
pub(crate) mod tasks;
pub(crate) mod team_members;
pub(crate) mod team_stats;
pub(crate) mod teams;
mod values;

pub(crate) use values::{Columns, Decode};
pub use values::{Encode, Values};

use projections::{DailyRow, ReadModels};
use sqlx::error::BoxDynError;
use uuid::Uuid;

use super::common::sql::Params;

/// A row of some table (or a key of one), as the transactions write it.
pub type Row<'a> = dyn Encode + Sync + 'a;

/// The read-model tables a statement goes to: the live ones, or a rebuild's shadow copies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tables {
    Live,
    /// Where a rebuild builds the read models before it swaps them in.
    Shadow,
}

/// A read-model table, as the statements that write, copy and compare it see it.
#[derive(Debug)]
pub struct Table {
    pub name: &'static str,
    /// Its copy while a rebuild builds it: `<name>_rebuild`.
    pub shadow: &'static str,
    /// Its columns, in the order its rows are encoded and decoded.
    pub columns: &'static str,
    /// The columns of its primary key, in the key's order.
    pub key: &'static str,
    /// The columns an upsert leaves as they are, besides the key: what a row is born with.
    pub kept: &'static [&'static str],
}

/// Every read-model table, in the order a rebuild writes them.
pub(crate) const READ_MODELS: [&Table; 9] = [
    &tasks::TABLE,
    &task_shares::TABLE,
    &task_team_shares::TABLE,
    &task_access::TABLE,
    &dashboard_stats::TABLE,
    &daily_stats::TABLE,
    &teams::TABLE,
    &team_members::TABLE,
    &team_stats::TABLE,
];

/// Every row of the folded `models`, table by table, in [`READ_MODELS`]' order; `daily` is
/// `models.daily_rows()` (the models keep the trend as counts by user and day).
pub(crate) fn rows_of<'m>(
    models: &'m ReadModels,
    daily: &'m [DailyRow],
) -> [(&'static Table, Vec<&'m Row<'m>>); 9] {
    [
        (&tasks::TABLE, models.task_rows().map(row).collect()),
        (&task_shares::TABLE, models.share_rows().map(row).collect()),
        (
            &task_team_shares::TABLE,
            models.team_share_rows().map(row).collect(),
        ),
        (&task_access::TABLE, models.access_rows().map(row).collect()),
        (
            &dashboard_stats::TABLE,
            models.stats.values().map(row).collect(),
        ),
        (&daily_stats::TABLE, daily.iter().map(row).collect()),
        (&teams::TABLE, models.team_rows().map(row).collect()),
        (
            &team_members::TABLE,
            models.member_rows().map(row).collect(),
        ),
        (
            &team_stats::TABLE,
            models.team_stats.values().map(row).collect(),
        ),
    ]
}

/// The (task, team) key of a team share to delete.
pub(crate) struct TeamKey(pub Uuid, pub Uuid);

impl Encode for TeamKey {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.0)?;
        values.uuid(self.1)
    }
}

/// The (id, user) key of a row to delete: a share's (task, user), a membership's (team, user).
pub(crate) struct UserKey<'k>(pub Uuid, pub &'k str);

impl Encode for UserKey<'_> {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.uuid(self.0)?;
        values.text(self.1)
    }
}

/// Each (id, user) key as a row key.
pub(crate) fn user_keys<S: AsRef<str>>(keys: &[(Uuid, S)]) -> Vec<UserKey<'_>> {
    keys.iter()
        .map(|(id, user)| UserKey(*id, user.as_ref()))
        .collect()
}

/// Each (task, team) key as a row key.
pub(crate) fn team_keys(keys: &[(Uuid, Uuid)]) -> Vec<TeamKey> {
    keys.iter()
        .map(|&(task, team)| TeamKey(task, team))
        .collect()
}

/// `value` as a row the transactions write.
pub(crate) fn row<'a, R: Encode + Sync + 'a>(value: &'a R) -> &'a Row<'a> {
    value
}

/// Each of `values` as a row.
pub(crate) fn rows<'a, R: Encode + Sync + 'a>(values: &'a [R]) -> Vec<&'a Row<'a>> {
    values.iter().map(row).collect()
}

/// Each row `refs` points to.
pub(crate) fn rows_at<'a, R: Encode + Sync + 'a>(refs: &[&'a R]) -> Vec<&'a Row<'a>> {
    refs.iter().map(|value| row(*value)).collect()
}

impl Table {
    /// Its name among `tables`.
    pub fn named(&self, tables: Tables) -> &'static str {
        match tables {
            Tables::Live => self.name,
            Tables::Shadow => self.shadow,
        }
    }

    /// How many columns a row has.
    pub const fn width(&self) -> usize {
        count_columns(self.columns)
    }

    /// The first column of its key: a child table's parent id (a share's task, a member's
    /// team).
    pub fn first_key(&self) -> &'static str {
        self.key.split(", ").next().unwrap_or(self.key)
    }

    /// How many columns its key has.
    pub const fn key_width(&self) -> usize {
        count_columns(self.key)
    }

    /// Inserts `rows` rows into the table of `tables`, or updates those whose key is taken.
    pub fn upsert(&self, params: Params, tables: Tables, rows: usize) -> String {
        let updates = self.updates();
        if updates.is_empty() {
            // Nothing but the key and what a row is born with: a stored row stays as it is.
            return self.insert_or(params, tables, rows, "do nothing");
        }
        self.upsert_setting(params, tables, rows, &updates)
    }

    /// Like [`upsert`](Self::upsert), with `set` (`column = …, …`) for a taken key.
    pub fn upsert_setting(&self, params: Params, tables: Tables, rows: usize, set: &str) -> String {
        self.insert_or(params, tables, rows, &format!("do update set {set}"))
    }

    /// Inserts `rows` rows, doing `action` where a key is taken.
    fn insert_or(&self, params: Params, tables: Tables, rows: usize, action: &str) -> String {
        format!(
            "insert into {} ({}) values {} on conflict ({}) {action}",
            self.named(tables),
            self.columns,
            params.tuples(self.width(), rows, 1),
            self.key,
        )
    }

    /// Inserts one row (a rebuild's shadow rows, into empty tables).
    pub fn insert(&self, params: Params, tables: Tables) -> String {
        format!(
            "insert into {} ({}) values ({})",
            self.named(tables),
            self.columns,
            params.list(self.width(), 1)
        )
    }

    /// Deletes the rows under `keys` keys.
    pub fn delete(&self, params: Params, tables: Tables, keys: usize) -> String {
        let table = self.named(tables);
        match self.key_width() {
            1 => format!(
                "delete from {table} where {} in ({})",
                self.key,
                params.list(keys, 1)
            ),
            width => format!(
                "delete from {table} where ({}) in {}",
                self.key,
                values_of(params, width, keys)
            ),
        }
    }

    /// The rows under `keys` keys.
    pub fn select_keys(&self, params: Params, tables: Tables, keys: usize) -> String {
        self.select_where(
            tables,
            &format!(
                "({}) in {}",
                self.key,
                values_of(params, self.key_width(), keys)
            ),
        )
    }

    /// Every row (`where` a condition, or `true`), for verify.
    pub fn select_where(&self, tables: Tables, condition: &str) -> String {
        format!(
            "select {} from {} where {condition}",
            self.columns,
            self.named(tables)
        )
    }

    /// `column = excluded.column` for each column an upsert changes.
    fn updates(&self) -> String {
        self.columns
            .split(", ")
            .skip(self.key_width())
            .filter(|column| !self.kept.contains(column))
            .map(|column| format!("{column} = excluded.{column}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `(select * from (values (…), (…)) as v)`: `rows` tuples of `width` placeholders as a
/// subquery, for `(a, b) in …`. Not a list of row constructors: PostgreSQL expands `(a, b) in
/// ((…), (…))` into one `or` per key, and with the thousands of keys a team's fan-out deletes
/// or loads it ran out of stack ("stack depth limit exceeded"); a subquery is a semi-join.
fn values_of(params: Params, width: usize, rows: usize) -> String {
    format!(
        "(select * from (values {}) as v)",
        params.tuples(width, rows, 1)
    )
}

/// The columns of a list written `a, b, c`.
const fn count_columns(list: &str) -> usize {
    let bytes = list.as_bytes();
    let mut count = 1;
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b',' {
            count += 1;
        }
        at += 1;
    }
    count
}

#[cfg(test)]
mod tests;
