//! The read-model tables, one module each. A module owns its table's name, its columns, its
//! key, what an upsert changes, and how its row type is written into a statement and read back
//! ([`Encode`], [`Decode`]: once for sqlx on both backends and for rusqlite alike). What is
//! generic over tables (the bulk upserts and deletes, a rebuild's shadow copies, verify's
//! reads) is written once here against [`Table`], and [`READ_MODELS`] lists them for whatever
//! goes over every table.

pub(crate) mod daily_stats;
pub(crate) mod dashboard_stats;
pub(crate) mod task_shares;
pub(crate) mod tasks;
mod values;

pub(crate) use values::{Columns, Decode};
pub use values::{Encode, Values};

use projections::{DailyRow, ReadModels};

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
pub(crate) const READ_MODELS: [&Table; 4] = [
    &tasks::TABLE,
    &task_shares::TABLE,
    &dashboard_stats::TABLE,
    &daily_stats::TABLE,
];

/// Every row of the folded `models`, table by table, in [`READ_MODELS`]' order; `daily` is
/// `models.daily_rows()` (the models keep the trend as counts by user and day).
pub(crate) fn rows_of<'m>(
    models: &'m ReadModels,
    daily: &'m [DailyRow],
) -> [(&'static Table, Vec<&'m Row<'m>>); 4] {
    [
        (&tasks::TABLE, models.task_rows().map(row).collect()),
        (&task_shares::TABLE, models.share_rows().map(row).collect()),
        (
            &dashboard_stats::TABLE,
            models.stats.values().map(row).collect(),
        ),
        (&daily_stats::TABLE, daily.iter().map(row).collect()),
    ]
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
                "delete from {table} where ({}) in ({})",
                self.key,
                params.tuples(width, keys, 1)
            ),
        }
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
mod tests {
    use chrono::{DateTime, Utc};
    use projections::{DailyRow, DashboardStats, Permission, ShareRow, TaskRow, TaskStatus};
    use sqlx::error::BoxDynError;
    use uuid::Uuid;

    use super::*;

    /// Counts the values a row encodes.
    #[derive(Default)]
    struct Count(usize);

    impl Values<'_> for Count {
        fn uuid(&mut self, _: Uuid) -> Result<(), BoxDynError> {
            self.one()
        }
        fn text(&mut self, _: &str) -> Result<(), BoxDynError> {
            self.one()
        }
        fn int(&mut self, _: i64) -> Result<(), BoxDynError> {
            self.one()
        }
        fn int32(&mut self, _: i32) -> Result<(), BoxDynError> {
            self.one()
        }
        fn time(&mut self, _: DateTime<Utc>) -> Result<(), BoxDynError> {
            self.one()
        }
        fn optional_time(&mut self, _: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
            self.one()
        }
    }

    impl Count {
        fn one(&mut self) -> Result<(), BoxDynError> {
            self.0 += 1;
            Ok(())
        }
    }

    fn encoded(row: &dyn Encode) -> usize {
        let mut count = Count::default();
        row.encode(&mut count).expect("encoded");
        count.0
    }

    /// A column added to a table and not to its row's encoding (or the other way round) would
    /// shift every later value into the wrong column.
    #[test]
    fn every_row_encodes_one_value_per_column_of_its_table() {
        let now = Utc::now();
        let task = TaskRow {
            id: Uuid::now_v7(),
            owner_id: "ann".into(),
            title: "t".into(),
            description: String::new(),
            status: TaskStatus::Pending,
            created_at: now,
            updated_at: now,
            completed_at: None,
            version: 1,
        };
        let share = ShareRow {
            task_id: task.id,
            user_id: "ben".into(),
            permission: Permission::View,
        };
        let daily = DailyRow {
            user_id: "ann".into(),
            day: 1,
            counts: Default::default(),
        };
        let rows: [(&Table, &dyn Encode); 4] = [
            (&tasks::TABLE, &task),
            (&task_shares::TABLE, &share),
            (&dashboard_stats::TABLE, &DashboardStats::empty("ann")),
            (&daily_stats::TABLE, &daily),
        ];
        for (table, row) in rows {
            assert_eq!(encoded(row), table.width(), "{}", table.name);
        }
        let key = task_shares::ShareKey(task.id, "ben");
        assert_eq!(encoded(&key), task_shares::TABLE.key_width());
    }

    /// A row's values by column name, as a table would hold them.
    #[derive(Debug, Default)]
    struct Stored {
        columns: Vec<&'static str>,
        values: std::collections::HashMap<&'static str, Value>,
    }

    #[derive(Clone, Debug, PartialEq)]
    enum Value {
        Uuid(Uuid),
        Text(String),
        Int(i64),
        Time(Option<DateTime<Utc>>),
    }

    impl Stored {
        fn of(table: &'static Table, row: &dyn Encode) -> Stored {
            let mut columns: Vec<&'static str> = table.columns.split(", ").collect();
            columns.reverse();
            let mut stored = Stored {
                columns,
                values: Default::default(),
            };
            row.encode(&mut stored).expect("encoded");
            assert!(stored.columns.is_empty(), "{}: columns left", table.name);
            stored
        }

        fn put(&mut self, value: Value) -> Result<(), BoxDynError> {
            let column = self.columns.pop().ok_or("more values than columns")?;
            self.values.insert(column, value);
            Ok(())
        }

        fn get(&self, column: &str) -> Result<Value, crate::store::StoreError> {
            self.values
                .get(column)
                .cloned()
                .ok_or_else(|| crate::store::StoreError::Corrupt(format!("no {column}")))
        }
    }

    impl<'a> Values<'a> for Stored {
        fn uuid(&mut self, value: Uuid) -> Result<(), BoxDynError> {
            self.put(Value::Uuid(value))
        }
        fn text(&mut self, value: &'a str) -> Result<(), BoxDynError> {
            self.put(Value::Text(value.into()))
        }
        fn int(&mut self, value: i64) -> Result<(), BoxDynError> {
            self.put(Value::Int(value))
        }
        fn int32(&mut self, value: i32) -> Result<(), BoxDynError> {
            self.put(Value::Int(value.into()))
        }
        fn time(&mut self, value: DateTime<Utc>) -> Result<(), BoxDynError> {
            self.put(Value::Time(Some(value)))
        }
        fn optional_time(&mut self, value: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
            self.put(Value::Time(value))
        }
    }

    impl Columns for Stored {
        fn uuid(&self, column: &str) -> Result<Uuid, crate::store::StoreError> {
            match self.get(column)? {
                Value::Uuid(value) => Ok(value),
                other => panic!("{column}: {other:?}"),
            }
        }
        fn text(&self, column: &str) -> Result<String, crate::store::StoreError> {
            match self.get(column)? {
                Value::Text(value) => Ok(value),
                other => panic!("{column}: {other:?}"),
            }
        }
        fn optional_text(&self, column: &str) -> Result<Option<String>, crate::store::StoreError> {
            self.text(column).map(Some)
        }
        fn int(&self, column: &str) -> Result<i64, crate::store::StoreError> {
            match self.get(column)? {
                Value::Int(value) => Ok(value),
                other => panic!("{column}: {other:?}"),
            }
        }
        fn int32(&self, column: &str) -> Result<i32, crate::store::StoreError> {
            Ok(i32::try_from(self.int(column)?).expect("an i32"))
        }
        fn time(&self, column: &str) -> Result<DateTime<Utc>, crate::store::StoreError> {
            Ok(self.optional_time(column)?.expect("a time"))
        }
        fn optional_time(
            &self,
            column: &str,
        ) -> Result<Option<DateTime<Utc>>, crate::store::StoreError> {
            match self.get(column)? {
                Value::Time(value) => Ok(value),
                other => panic!("{column}: {other:?}"),
            }
        }
    }

    /// Each value lands in the column its decode reads it from: two columns swapped in one
    /// and not the other would come back different.
    #[test]
    fn every_row_comes_back_from_its_columns_as_it_went_in() {
        let now = Utc::now();
        let task = TaskRow {
            id: Uuid::now_v7(),
            owner_id: "ann".into(),
            title: "a title".into(),
            description: "a description".into(),
            status: TaskStatus::Completed,
            created_at: now - chrono::Duration::days(1),
            updated_at: now,
            completed_at: Some(now),
            version: 3,
        };
        assert_eq!(
            TaskRow::decode(&Stored::of(&tasks::TABLE, &task)).unwrap(),
            task
        );
        let share = ShareRow {
            task_id: task.id,
            user_id: "ben".into(),
            permission: Permission::Edit,
        };
        let stored = Stored::of(&task_shares::TABLE, &share);
        assert_eq!(ShareRow::decode(&stored).unwrap(), share);
        let mut stats = DashboardStats::empty("ann");
        (
            stats.pending,
            stats.completed,
            stats.shared_view,
            stats.shared_edit,
        ) = (1, 2, 3, 4);
        stats.created_day = projections::Bucket { key: 5, count: 6 };
        stats.created_week = projections::Bucket { key: 7, count: 8 };
        stats.completed_day = projections::Bucket { key: 9, count: 10 };
        stats.completed_week = projections::Bucket { key: 11, count: 12 };
        let stored = Stored::of(&dashboard_stats::TABLE, &stats);
        assert_eq!(DashboardStats::decode(&stored).unwrap(), stats);
        let daily = DailyRow {
            user_id: "ann".into(),
            day: 20_000,
            counts: projections::DayCounts {
                created: 2,
                completed: 1,
            },
        };
        let stored = Stored::of(&daily_stats::TABLE, &daily);
        assert_eq!(DailyRow::decode(&stored).unwrap(), daily);
    }

    /// What a taken key updates, table by table, as the statements did before the tables were
    /// modules.
    #[test]
    fn each_upsert_changes_what_its_table_lets_change() {
        let on_conflict = |sql: String| sql.split_once(" on conflict ").unwrap().1.to_owned();
        let upsert = |table: &Table| on_conflict(table.upsert(Params::Numbered, Tables::Live, 1));
        assert_eq!(
            upsert(&tasks::TABLE),
            "(id) do update set title = excluded.title, description = excluded.description, \
             status = excluded.status, updated_at = excluded.updated_at, \
             completed_at = excluded.completed_at, version = excluded.version"
        );
        assert_eq!(
            upsert(&task_shares::TABLE),
            "(task_id, user_id) do update set permission = excluded.permission"
        );
        assert_eq!(
            upsert(&dashboard_stats::TABLE),
            "(user_id) do update set pending = excluded.pending, completed = excluded.completed, \
             shared_view = excluded.shared_view, shared_edit = excluded.shared_edit, \
             created_day = excluded.created_day, created_day_count = excluded.created_day_count, \
             created_week = excluded.created_week, \
             created_week_count = excluded.created_week_count, \
             completed_day = excluded.completed_day, \
             completed_day_count = excluded.completed_day_count, \
             completed_week = excluded.completed_week, \
             completed_week_count = excluded.completed_week_count"
        );
        assert_eq!(
            upsert(&daily_stats::TABLE),
            "(user_id, day) do update set created = excluded.created, \
             completed = excluded.completed"
        );
        assert_eq!(
            on_conflict(daily_stats::add(Params::Numbered, Tables::Shadow, 1)),
            "(user_id, day) do update set created = daily_stats_rebuild.created + \
             excluded.created, completed = daily_stats_rebuild.completed + excluded.completed"
        );
    }

    #[test]
    fn an_upsert_changes_every_column_but_the_key_and_the_kept_ones() {
        let sql = tasks::TABLE.upsert(Params::Numbered, Tables::Live, 1);
        assert!(sql.starts_with("insert into tasks (id, owner_id,"), "{sql}");
        assert!(sql.contains("on conflict (id) do update set title = excluded.title"));
        assert!(!sql.contains("owner_id = excluded"), "{sql}");
        assert!(!sql.contains("created_at = excluded"), "{sql}");
        assert!(sql.ends_with("version = excluded.version"), "{sql}");
    }

    #[test]
    fn a_delete_names_its_keys_in_the_keys_shape() {
        assert_eq!(
            tasks::TABLE.delete(Params::Numbered, Tables::Shadow, 2),
            "delete from tasks_rebuild where id in ($1, $2)"
        );
        assert_eq!(
            task_shares::TABLE.delete(Params::Positional, Tables::Live, 2),
            "delete from task_shares where (task_id, user_id) in ((?, ?), (?, ?))"
        );
    }

    #[test]
    fn each_shadow_is_its_tables_name_with_rebuild() {
        for table in READ_MODELS {
            assert_eq!(table.shadow, format!("{}_rebuild", table.name));
        }
    }
}
