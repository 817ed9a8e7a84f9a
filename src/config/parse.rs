//! Parsing and checking the values of settings: each refusal says what is expected.

use std::net::SocketAddr;

use crate::server::without_password;
use crate::store::StoreError;

/// A PostgreSQL URL that sqlx cannot read is refused naming its variable: sqlx's own words
/// ("relative URL without a base") name neither.
pub(super) fn check_postgres_url(variable: &'static str, url: &str) -> Result<(), StoreError> {
    use std::str::FromStr;
    if !(url.starts_with("postgres:") || url.starts_with("postgresql:")) {
        return match variable {
            "TALLY_DATABASE_URL" => Err(StoreError::UnsupportedUrl(without_password(url))),
            _ => Err(StoreError::BadUrl {
                variable,
                url: without_password(url),
                reason: "not postgres://".into(),
            }),
        };
    }
    sqlx::postgres::PgConnectOptions::from_str(url)
        .map(drop)
        .map_err(|error| StoreError::BadUrl {
            variable,
            url: without_password(url),
            reason: error.to_string(),
        })
}

/// Parses `IP:PORT` or `HOST:PORT` (looked up once, now) into the address to bind.
pub(super) fn parse_listen(raw: &str) -> Result<SocketAddr, String> {
    use std::net::ToSocketAddrs;
    if let Ok(address) = raw.parse() {
        return Ok(address);
    }
    let expected = "expected IP:PORT or HOST:PORT, e.g. 127.0.0.1:8080, [::1]:8080, localhost:8080";
    if raw
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.parse::<u16>().is_err())
    {
        return Err(format!("no port: {expected}"));
    }
    match raw.to_socket_addrs() {
        Ok(mut addresses) => addresses
            .next()
            .ok_or_else(|| format!("no address for it; {expected}")),
        Err(error) => Err(format!("cannot look it up ({error}); {expected}")),
    }
}

/// Checks a job's schedule with the parser the scheduler uses (6 fields, seconds first), so
/// that a wrong one stops the start with its reason instead of the scheduler's bare
/// `ParseSchedule`.
pub(super) fn parse_schedule(raw: &str) -> Result<String, String> {
    if raw == "off" {
        return Ok(raw.to_owned());
    }
    let fields = raw.split_whitespace().count();
    let expected =
        "expected `off` or a cron of 6 fields, seconds first, in UTC (e.g. `0 0 0 * * *`)";
    if fields != 6 {
        return Err(format!("{fields} fields; {expected}"));
    }
    croner::parser::CronParser::builder()
        .seconds(croner::parser::Seconds::Required)
        .dom_and_dow(true)
        .build()
        .parse(raw)
        .map(|_| raw.to_owned())
        .map_err(|error| format!("{error}; {expected}"))
}

/// Parses `90s`, `30m`, `1h`, `7d` or a plain number of seconds.
pub(super) fn parse_duration(raw: &str) -> Result<chrono::Duration, String> {
    let raw = raw.trim();
    let (number, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(index) => raw.split_at(index),
        None => (raw, "s"),
    };
    let number: i64 = number.parse().map_err(|_| {
        format!("{raw:?} is not a duration: use a number with s, m, h or d (30s, 5m)")
    })?;
    let seconds = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return Err(format!("{raw:?}: use s, m, h or d")),
    };
    if number <= 0 {
        return Err("the duration must be positive".into());
    }
    Ok(chrono::Duration::seconds(number * seconds))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls_take_the_usual_units_and_refuse_nonsense() {
        assert_eq!(parse_duration("90s"), Ok(chrono::Duration::seconds(90)));
        assert_eq!(parse_duration("1h"), Ok(chrono::Duration::hours(1)));
        assert_eq!(parse_duration("7d"), Ok(chrono::Duration::days(7)));
        assert_eq!(parse_duration("120"), Ok(chrono::Duration::seconds(120)));
        assert!(parse_duration("1y").is_err());
        assert!(parse_duration("0h").is_err());
    }

    #[test]
    fn schedules_are_checked_as_the_scheduler_reads_them() {
        assert_eq!(parse_schedule("off").as_deref(), Ok("off"));
        assert!(parse_schedule("0 0 0 * * *").is_ok());
        let five = parse_schedule("0 0 * * *").unwrap_err();
        assert!(
            five.contains("5 fields") && five.contains("seconds first"),
            "{five}"
        );
        assert!(parse_schedule("0 0 99 * * *").is_err());
    }

    #[test]
    fn listen_addresses_may_name_a_host() {
        assert_eq!(
            parse_listen("0.0.0.0:80"),
            Ok("0.0.0.0:80".parse().unwrap())
        );
        assert!(parse_listen("localhost:8080").unwrap().ip().is_loopback());
        assert!(parse_listen("localhost").unwrap_err().contains("no port"));
        assert!(parse_listen("127.0.0.1:99999").is_err());
    }
}
