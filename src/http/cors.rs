//! Cross-origin requests, for a front end served from another origin: off unless
//! `TALLY_CORS_ORIGINS` names the origins allowed.

use std::time::Duration;

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, CorsLayer};

use super::consistency::{MIN_POSITION, POSITION};
use super::request_id::X_REQUEST_ID;

/// The origins of `TALLY_CORS_ORIGINS`, one value for clap: a bare `Vec` with a parser that
/// returns the whole list compiles and then panics at parse ("Mismatch between definition and
/// access"), which is how the setting once shipped.
#[derive(Debug, Clone, Default)]
pub struct Origins(pub Vec<HeaderValue>);

/// Parses `TALLY_CORS_ORIGINS`: comma-separated origins (`https://app.example.com`), each
/// scheme, host and port only.
pub fn parse_origins(raw: &str) -> Result<Origins, String> {
    raw.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            let plausible = (origin.starts_with("http://") || origin.starts_with("https://"))
                && !origin.trim_end_matches('/').contains(['?', '#', ' '])
                && origin.matches('/').count() == 2;
            if !plausible {
                return Err(format!(
                    "{origin:?} is not an origin: use scheme://host[:port], nothing after it"
                ));
            }
            HeaderValue::from_str(origin).map_err(|error| format!("{origin:?}: {error}"))
        })
        .collect::<Result<_, _>>()
        .map(Origins)
}

/// Lets `origins` call the API and `/mcp`: preflights answered, credentials by header (not
/// cookies), and the headers a client reads from answers exposed (for a browser-based MCP
/// client: its session's id, and where to learn about tokens).
pub fn layer(origins: &[HeaderValue]) -> CorsLayer {
    let idempotency_key = HeaderName::from_static("idempotency-key");
    let mcp_session_id = HeaderName::from_static("mcp-session-id");
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins.iter().cloned()))
        .allow_methods([
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
        ])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::IF_NONE_MATCH,
            idempotency_key,
            X_REQUEST_ID.clone(),
            mcp_session_id.clone(),
            HeaderName::from_static("mcp-protocol-version"),
            HeaderName::from_static("last-event-id"),
            header::CACHE_CONTROL,
            MIN_POSITION,
        ])
        .expose_headers([
            header::ETAG,
            header::LOCATION,
            header::RETRY_AFTER,
            X_REQUEST_ID.clone(),
            mcp_session_id,
            header::WWW_AUTHENTICATE,
            POSITION,
        ])
        .max_age(Duration::from_secs(600))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_are_scheme_host_and_port_only() {
        let parsed = parse_origins("https://app.example.com, http://localhost:5173")
            .unwrap()
            .0;
        assert_eq!(parsed, ["https://app.example.com", "http://localhost:5173"]);
        assert!(parse_origins("").unwrap().0.is_empty());
        assert!(parse_origins("app.example.com").is_err());
        assert!(parse_origins("https://app.example.com/path").is_err());
        assert!(parse_origins("*").is_err());
    }
}
