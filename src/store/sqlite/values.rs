//! The read models' rows through rusqlite, on SQLite's fast path: each value bound and read the
//! way sqlx's SQLite driver stores it (a uuid as its 16 bytes, a time as RFC 3339 text with
//! `SecondsFormat::AutoSi`), so that a row written either way is the same row.

use chrono::{DateTime, SecondsFormat, Utc};
use rusqlite::types::{ToSqlOutput, Value, ValueRef};
use sqlx::error::BoxDynError;
use uuid::Uuid;

use crate::store::StoreError;
use crate::store::tables::{Columns, Values};

/// A row's values as rusqlite parameters.
#[derive(Default)]
pub(super) struct Parameters<'a>(pub Vec<ToSqlOutput<'a>>);

impl<'a> Values<'a> for Parameters<'a> {
    fn uuid(&mut self, value: Uuid) -> Result<(), BoxDynError> {
        self.owned(Value::Blob(value.as_bytes().to_vec()))
    }

    fn text(&mut self, value: &'a str) -> Result<(), BoxDynError> {
        self.0
            .push(ToSqlOutput::Borrowed(ValueRef::Text(value.as_bytes())));
        Ok(())
    }

    fn optional_text(&mut self, value: Option<&'a str>) -> Result<(), BoxDynError> {
        match value {
            Some(value) => Values::text(self, value),
            None => self.owned(Value::Null),
        }
    }

    fn int(&mut self, value: i64) -> Result<(), BoxDynError> {
        self.owned(Value::Integer(value))
    }

    fn int32(&mut self, value: i32) -> Result<(), BoxDynError> {
        self.owned(Value::Integer(i64::from(value)))
    }

    fn time(&mut self, value: DateTime<Utc>) -> Result<(), BoxDynError> {
        self.owned(Value::Text(time(value)))
    }

    fn optional_time(&mut self, value: Option<DateTime<Utc>>) -> Result<(), BoxDynError> {
        self.owned(value.map_or(Value::Null, |at| Value::Text(time(at))))
    }
}

impl Parameters<'_> {
    fn owned(&mut self, value: Value) -> Result<(), BoxDynError> {
        self.0.push(ToSqlOutput::Owned(value));
        Ok(())
    }
}

/// A time as sqlx's SQLite driver stores it.
fn time(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// A rusqlite row's values by column name.
pub(super) struct Fetched<'a, 'r>(pub &'a rusqlite::Row<'r>);

impl Columns for Fetched<'_, '_> {
    fn uuid(&self, column: &str) -> Result<Uuid, StoreError> {
        let bytes: Vec<u8> = self.0.get(column)?;
        Uuid::from_slice(&bytes).map_err(|e| corrupt(column, &e))
    }

    fn text(&self, column: &str) -> Result<String, StoreError> {
        Ok(self.0.get(column)?)
    }

    fn optional_text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.0.get(column)?)
    }

    fn int(&self, column: &str) -> Result<i64, StoreError> {
        Ok(self.0.get(column)?)
    }

    fn int32(&self, column: &str) -> Result<i32, StoreError> {
        Ok(self.0.get(column)?)
    }

    fn time(&self, column: &str) -> Result<DateTime<Utc>, StoreError> {
        parse_time(column, &self.0.get::<_, String>(column)?)
    }

    fn optional_time(&self, column: &str) -> Result<Option<DateTime<Utc>>, StoreError> {
        let stored: Option<String> = self.0.get(column)?;
        stored.map(|at| parse_time(column, &at)).transpose()
    }
}

/// A time as sqlx's SQLite driver stores it, read back.
pub(super) fn parse_time(column: &str, stored: &str) -> Result<DateTime<Utc>, StoreError> {
    DateTime::parse_from_rfc3339(stored)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|e| corrupt(column, &e))
}

pub(super) fn corrupt(what: &str, error: &dyn std::fmt::Display) -> StoreError {
    StoreError::Corrupt(format!("{what}: {error}"))
}
