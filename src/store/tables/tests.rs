//! The tables' statements and their rows' encodings, checked without a database: each row
//! comes back from its columns as it went in (one value per column, each in its place), and
//! each upsert changes what its table lets change.

use chrono::{DateTime, Utc};
use projections::{
    DailyRow, DashboardStats, MemberRow, Permission, Role, ShareRow, TaskRow, TaskStatus, TeamRow,
};
use sqlx::error::BoxDynError;
use uuid::Uuid;

use super::*;

/// A share's or a membership's key binds one value per column of the table's key.
#[test]
fn a_user_key_binds_the_keys_columns() {
    let key = UserKey(Uuid::now_v7(), "ben");
    let mut arguments = sqlx::sqlite::SqliteArguments::default();
    key.encode(&mut arguments).expect("bound");
    for table in [&task_shares::TABLE, &team_members::TABLE] {
        assert_eq!(sqlx::Arguments::len(&arguments), table.key_width());
    }
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
    Null,
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
    fn optional_text(&mut self, value: Option<&'a str>) -> Result<(), BoxDynError> {
        self.put(value.map_or(Value::Null, |value| Value::Text(value.into())))
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
        match self.get(column)? {
            Value::Null => Ok(None),
            _ => self.text(column).map(Some),
        }
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
    let team = TeamRow {
        id: Uuid::now_v7(),
        name: "ops".into(),
        created_at: now,
        version: 4,
    };
    assert_eq!(
        TeamRow::decode(&Stored::of(&teams::TABLE, &team)).unwrap(),
        team
    );
    let member = MemberRow {
        team_id: team.id,
        user_id: "ben".into(),
        role: Role::Admin,
    };
    let stored = Stored::of(&team_members::TABLE, &member);
    assert_eq!(MemberRow::decode(&stored).unwrap(), member);
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
        upsert(&teams::TABLE),
        "(id) do update set name = excluded.name, version = excluded.version"
    );
    assert_eq!(
        upsert(&team_members::TABLE),
        "(team_id, user_id) do update set role = excluded.role"
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
        "delete from task_shares where (task_id, user_id) in \
         (select * from (values (?, ?), (?, ?)) as v)"
    );
}

#[test]
fn each_shadow_is_its_tables_name_with_rebuild() {
    for table in READ_MODELS {
        assert_eq!(table.shadow, format!("{}_rebuild", table.name));
    }
}
