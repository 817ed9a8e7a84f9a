//! `team_stats`: one row of figures per team over the tasks shared with it, kept by the fold.

use projections::{Bucket, DashboardStats, TeamStats};
use sqlx::error::BoxDynError;

use super::{Columns, Decode, Encode, Table, Values};
use crate::store::StoreError;

pub(crate) const TABLE: Table = Table {
    name: "team_stats",
    shadow: "team_stats_rebuild",
    columns: "team_id, members, pending, completed, created_day, created_day_count, \
              created_week, created_week_count, completed_day, completed_day_count, \
              completed_week, completed_week_count",
    key: "team_id",
    kept: &[],
};

impl Encode for TeamStats {
    fn encode<'a>(&'a self, values: &mut dyn Values<'a>) -> Result<(), BoxDynError> {
        let counts = &self.counts;
        values.uuid(self.team_id)?;
        values.int(self.members)?;
        values.int(counts.pending)?;
        values.int(counts.completed)?;
        for bucket in [
            counts.created_day,
            counts.created_week,
            counts.completed_day,
            counts.completed_week,
        ] {
            values.int32(bucket.key)?;
            values.int(bucket.count)?;
        }
        Ok(())
    }
}

impl Decode for TeamStats {
    fn decode(row: &impl Columns) -> Result<Self, StoreError> {
        let bucket = |key: &str, count: &str| -> Result<Bucket, StoreError> {
            Ok(Bucket {
                key: row.int32(key)?,
                count: row.int(count)?,
            })
        };
        Ok(TeamStats {
            team_id: row.uuid("team_id")?,
            members: row.int("members")?,
            counts: DashboardStats {
                pending: row.int("pending")?,
                completed: row.int("completed")?,
                created_day: bucket("created_day", "created_day_count")?,
                created_week: bucket("created_week", "created_week_count")?,
                completed_day: bucket("completed_day", "completed_day_count")?,
                completed_week: bucket("completed_week", "completed_week_count")?,
                ..DashboardStats::default()
            },
        })
    }
}
