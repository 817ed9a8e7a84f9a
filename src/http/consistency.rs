//! The position token (CONTRACT.md, "Consistency"). Every read answers `Tally-Position: <p>`:
//! its answer reflects every event up to `p`. A read that carries `Tally-Min-Position: <p>` (a
//! position some command answered, on any server) reflects every event up to `p` too, or is
//! refused when the log holds no such position. `Cache-Control: no-cache` reads the primary
//! database, past whatever this node keeps in memory.
//!
//! `p` is what the node knows committed before the read begins ([`Hub::position`]), so it
//! costs no query. A wanted position beyond it (another server's command not yet heard of
//! here) costs one read of the log's head, and the read then goes to the primary.
//!
//! [`Hub::position`]: crate::live::Hub::position

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::Response;

use super::AppState;
use super::error::ApiError;
pub use crate::store::ReadFrom;

/// The position a read's answer reflects.
pub const POSITION: HeaderName = HeaderName::from_static("tally-position");
/// The position a read must reflect.
pub const MIN_POSITION: HeaderName = HeaderName::from_static("tally-min-position");

/// What an API read may do, decided before its handler runs (by [`Bounds`](super::bounds)).
pub(super) enum Admission {
    /// Read `from` there now: the answer reflects every event up to `position`.
    Now {
        position: i64,
        from: ReadFrom,
    },
    /// It wants a position not heard of here: [`beyond`] says whether the log holds it.
    Beyond {
        wanted: i64,
    },
    Refused(ApiError),
}

/// Reads the request's wants against what this node knows committed: no query.
pub(super) fn admit(state: &AppState, headers: &HeaderMap) -> Admission {
    let position = state.hub.position();
    let from = match asks_no_cache(headers) {
        true => ReadFrom::Primary,
        false => ReadFrom::Nearest,
    };
    match wanted_position(headers) {
        Err(refused) => Admission::Refused(refused),
        Ok(Some(wanted)) if wanted > position => Admission::Beyond { wanted },
        Ok(_) => Admission::Now { position, from },
    }
}

/// For a wanted position not heard of here (another server's command, or no command's at all):
/// the log's head, which the read then reflects by reading the primary, or a refusal when the
/// log holds no such position.
pub(super) async fn beyond(state: &AppState, wanted: i64) -> Result<i64, ApiError> {
    let head = state.store.head_position().await?;
    if wanted > head {
        return Err(ApiError::Validation(format!(
            "Tally-Min-Position {wanted} is past the log's head, {head}"
        )));
    }
    Ok(head)
}

/// Says on a read's answer which position it reflects; refusals say none.
pub(super) fn answer_position(response: &mut Response, position: i64) {
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        response
            .headers_mut()
            .insert(POSITION, position_header(position));
    }
}

/// `position` as a header value. Between commands every read answers the same one: each
/// thread keeps the last it wrote, and a clone of it shares its bytes instead of formatting
/// and allocating them again.
fn position_header(position: i64) -> HeaderValue {
    thread_local! {
        static LAST: std::cell::RefCell<(i64, HeaderValue)> =
            const { std::cell::RefCell::new((0, HeaderValue::from_static("0"))) };
    }
    LAST.with_borrow_mut(|(last, value)| {
        if *last != position {
            *value = HeaderValue::from(position);
            *last = position;
        }
        value.clone()
    })
}

/// `Tally-Min-Position`, when sent (the largest, if sent more than once): a position is a
/// whole number written in digits. One too large for the log to ever hold is past its head.
fn wanted_position(headers: &HeaderMap) -> Result<Option<i64>, ApiError> {
    let mut wanted = None;
    for value in headers.get_all(MIN_POSITION) {
        let digits = value.to_str().map(str::trim).unwrap_or_default();
        if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(ApiError::Malformed(
                "Tally-Min-Position must be a position a command answered, e.g. 42".into(),
            ));
        }
        let position = digits.parse::<i64>().unwrap_or(i64::MAX);
        wanted = wanted.max(Some(position));
    }
    Ok(wanted)
}

/// Whether `Cache-Control` says `no-cache` (RFC 9111: the answer may not come from a cache
/// without asking the origin, here the primary database).
fn asks_no_cache(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|directive| directive.trim().eq_ignore_ascii_case("no-cache"))
}

/// Handlers take where to read from as an argument; without the layer (a route outside the
/// API), wherever is nearest.
impl<S: Send + Sync> FromRequestParts<S> for ReadFrom {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts.extensions.get().copied().unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(name, value)| {
                (
                    HeaderName::try_from(*name).unwrap(),
                    HeaderValue::from_str(value).unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn a_wanted_position_is_written_in_digits_and_the_largest_sent_counts() {
        let wanted = |value: &str| wanted_position(&headers(&[("tally-min-position", value)]));
        assert_eq!(wanted("42").unwrap(), Some(42));
        assert_eq!(wanted("0").unwrap(), Some(0));
        assert_eq!(wanted(" 7 ").unwrap(), Some(7));
        assert_eq!(wanted("99999999999999999999").unwrap(), Some(i64::MAX));
        for bad in ["-1", "+4", "4.2", "x", ""] {
            let refused = wanted(bad);
            assert!(matches!(refused, Err(ApiError::Malformed(_))), "{bad:?}");
        }
        assert_eq!(wanted_position(&HeaderMap::new()).unwrap(), None);
        let twice = headers(&[("tally-min-position", "3"), ("tally-min-position", "9")]);
        assert_eq!(wanted_position(&twice).unwrap(), Some(9));
    }

    #[test]
    fn the_position_header_is_the_position_written_in_digits() {
        for position in [0, 7, 7, 1_234_567, 0, i64::MAX] {
            assert_eq!(position_header(position), position.to_string().as_str());
        }
    }

    #[test]
    fn no_cache_is_read_among_other_directives() {
        let asks = |value: &str| asks_no_cache(&headers(&[("cache-control", value)]));
        assert!(asks("no-cache"));
        assert!(asks("max-age=0, No-Cache"));
        assert!(!asks("no-store"));
        assert!(!asks("max-age=0"));
        assert!(!asks_no_cache(&HeaderMap::new()));
    }
}
