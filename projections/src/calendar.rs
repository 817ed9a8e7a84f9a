//! The calendar keys that day and week counters belong to.
//!
//! Keys are whole numbers so that both backends store and compare them the same way: a day is
//! the count of days since 1970-01-01 (UTC), an ISO week is the day key of its Monday.

use chrono::{DateTime, Datelike, NaiveDate, Utc};

/// Days since 1970-01-01 of the UTC day `at` falls in.
pub fn day_key(at: DateTime<Utc>) -> i32 {
    at.date_naive().num_days_from_ce() - EPOCH_DAYS_FROM_CE
}

/// Day key of the Monday that starts the ISO week `at` falls in.
pub fn week_key(at: DateTime<Utc>) -> i32 {
    day_key(at) - at.weekday().num_days_from_monday() as i32
}

/// The UTC date of a day key; `None` beyond the dates chrono can hold.
pub fn date_of_day_key(key: i32) -> Option<NaiveDate> {
    NaiveDate::from_num_days_from_ce_opt(key.checked_add(EPOCH_DAYS_FROM_CE)?)
}

/// `NaiveDate::from_ymd(1970, 1, 1).num_days_from_ce()`.
const EPOCH_DAYS_FROM_CE: i32 = 719_163;

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn the_epoch_is_day_zero_and_a_thursday_belongs_to_the_week_of_the_monday_before() {
        let epoch = Utc.with_ymd_and_hms(1970, 1, 1, 12, 0, 0).unwrap();
        assert_eq!(day_key(epoch), 0);
        assert_eq!(week_key(epoch), -3);
        assert_eq!(date_of_day_key(0), Some(epoch.date_naive()));
        assert_eq!(date_of_day_key(i32::MAX), None);
    }

    #[test]
    fn a_sunday_night_and_the_following_monday_morning_are_in_different_weeks() {
        let sunday = Utc.with_ymd_and_hms(2026, 11, 29, 23, 59, 59).unwrap();
        let monday = Utc.with_ymd_and_hms(2026, 11, 30, 0, 0, 0).unwrap();
        assert_eq!(day_key(monday) - day_key(sunday), 1);
        assert_eq!(week_key(monday), day_key(monday));
        assert_eq!(week_key(monday) - week_key(sunday), 7);
    }
}
