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

use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::error::ApiError;
pub use crate::store::ReadFrom;

/// The position a read's answer reflects.
pub const POSITION: HeaderName = HeaderName::from_static("tally-position");
/// The position a read must reflect.
pub const MIN_POSITION: HeaderName = HeaderName::from_static("tally-min-position");

/// The layer on every API route: answers reads' positions and honours the wanted ones.
pub async fn positioned(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    if !matches!(*request.method(), Method::GET | Method::HEAD) {
        return next.run(request).await;
    }
    let mut position = state.hub.position();
    let mut from = match asks_no_cache(request.headers()) {
        true => ReadFrom::Primary,
        false => ReadFrom::Nearest,
    };
    match wanted_position(request.headers()) {
        Err(refused) => return refused.into_response(),
        Ok(Some(wanted)) if wanted > position => {
            // Not heard of here: another server's command, or no command's at all.
            let head = match state.store.head_position().await {
                Ok(head) => head,
                Err(error) => return ApiError::from(error).into_response(),
            };
            if wanted > head {
                return ApiError::Validation(format!(
                    "Tally-Min-Position {wanted} is past the log's head, {head}"
                ))
                .into_response();
            }
            position = head;
            from = ReadFrom::Primary;
        }
        Ok(_) => {}
    }
    // The nearest is what a handler assumes without it: no map to allocate for most reads.
    if from == ReadFrom::Primary {
        request.extensions_mut().insert(from);
    }
    let mut response = next.run(request).await;
    let status = response.status();
    if status.is_success() || status.is_redirection() {
        response
            .headers_mut()
            .insert(POSITION, HeaderValue::from(position));
    }
    response
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
    fn no_cache_is_read_among_other_directives() {
        let asks = |value: &str| asks_no_cache(&headers(&[("cache-control", value)]));
        assert!(asks("no-cache"));
        assert!(asks("max-age=0, No-Cache"));
        assert!(!asks("no-store"));
        assert!(!asks("max-age=0"));
        assert!(!asks_no_cache(&HeaderMap::new()));
    }
}
