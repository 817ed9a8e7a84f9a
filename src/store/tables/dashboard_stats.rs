//! `dashboard_stats`: one row of figures per user, kept by the fold.

use projections::{Bucket, DashboardStats};
use sqlx::error::BoxDynError;

use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

/// The columns, as a literal for the queries built with `concat!` (`common/sql.rs`).
macro_rules! stats_columns {
    () => {
        "user_id, pending, completed, shared_view, shared_edit, created_day, created_day_count, \
         created_week, created_week_count, completed_day, completed_day_count, completed_week, \
         completed_week_count"
    };
}
pub(crate) use stats_columns;

pub(crate) const TABLE: Table = Table {
    name: "dashboard_stats",
    shadow: "dashboard_stats_rebuild",
    columns: stats_columns!(),
    key: "user_id",
    kept: &[],
};

impl Encode for DashboardStats {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        values.text(&self.user_id)?;
        values.int(self.pending)?;
        values.int(self.completed)?;
        values.int(self.shared_view)?;
        values.int(self.shared_edit)?;
        for bucket in [
            self.created_day,
            self.created_week,
            self.completed_day,
            self.completed_week,
        ] {
            values.int32(bucket.key)?;
            values.int(bucket.count)?;
        }
        Ok(())
    }
}

impl Decode for DashboardStats {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let bucket = |key: &str, count: &str| -> Result<Bucket, StoreError> {
            Ok(Bucket {
                key: row.int32(key)?,
                count: row.int(count)?,
            })
        };
        Ok(DashboardStats {
            user_id: row.text("user_id")?,
            pending: row.int("pending")?,
            completed: row.int("completed")?,
            shared_view: row.int("shared_view")?,
            shared_edit: row.int("shared_edit")?,
            created_day: bucket("created_day", "created_day_count")?,
            created_week: bucket("created_week", "created_week_count")?,
            completed_day: bucket("completed_day", "completed_day_count")?,
            completed_week: bucket("completed_week", "completed_week_count")?,
        })
    }
}
