//! Extractors that turn raw request parts into checked values, so that bad input is refused
//! with the contract's problem+json before a handler runs.

use axum::body::Bytes;
use std::collections::HashSet;

use axum::extract::{FromRequest, FromRequestParts, Query, Request};
use axum::http::{HeaderMap, Method, header, request::Parts};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use super::AppState;
use super::conditional::is_digest;
use super::error::ApiError;
pub(crate) use super::path_params::user_of;
pub use super::path_params::{TaskId, TeamId, TeamInPath, UserInPath};
use super::strict_json::StrictValue;
use crate::commands::Idempotency;
use crate::domain::{ExpectedVersion, UserId};

/// The authenticated caller: the `sub` of a valid bearer token.
#[derive(Clone, Debug)]
pub struct Caller(pub UserId);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        Ok(Session::from_request_parts(parts, state).await?.caller)
    }
}

/// The caller, and when their token expires (its `exp`, seconds since the epoch): what a
/// long-lived answer (a stream) must not outlive.
pub struct Session {
    pub caller: Caller,
    pub expires: Option<i64>,
}

impl FromRequestParts<AppState> for Session {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let value = parts
            .headers
            .get(header::AUTHORIZATION)
            .ok_or(ApiError::Unauthorized("a bearer token is required"))?;
        let token = value
            .to_str()
            .ok()
            .and_then(|value| value.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token)
            .ok_or(ApiError::Unauthorized(
                "the Authorization header must be 'Bearer <token>'",
            ))?;
        match state.auth.verify_until(token.trim()) {
            Ok((user, expires)) => Ok(Session {
                caller: Caller(user),
                expires,
            }),
            Err(error) if error.is_expired() => Err(ApiError::Unauthorized(
                "the bearer token has expired: get a new one",
            )),
            Err(error) => {
                tracing::debug!(%error, "token refused");
                Err(ApiError::Unauthorized("the bearer token is not valid"))
            }
        }
    }
}

/// The headers every command may carry.
pub struct CommandHeaders {
    /// `If-Match: "<version>"`.
    pub expected_version: Option<ExpectedVersion>,
    /// `Idempotency-Key`, still to be fingerprinted with the request it came with.
    pub idempotency_key: Option<String>,
    pub method: Method,
    pub path: String,
}

impl<S: Send + Sync> FromRequestParts<S> for CommandHeaders {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(CommandHeaders {
            expected_version: if_match(&parts.headers)?,
            idempotency_key: idempotency_key(&parts.headers)?,
            method: parts.method.clone(),
            path: parts.uri.path().to_owned(),
        })
    }
}

impl CommandHeaders {
    /// The key with the fingerprint of this request: method, path, `If-Match` and the body's
    /// JSON value (so whitespace and key order do not make a repeat look different).
    pub fn idempotency(&self, body: Option<&serde_json::Value>) -> Option<Idempotency> {
        let key = self.idempotency_key.clone()?;
        let body = body.map(serde_json::Value::to_string).unwrap_or_default();
        // If-Match last and only when present, so keys stored before it counted keep matching.
        let if_match = self.expected_version.map(|expected| match expected {
            ExpectedVersion::Strong(version) => version.to_string(),
            ExpectedVersion::Weak(tag) => format!("W/{tag}"),
        });
        let mut parts = vec![self.method.as_str(), &self.path, &body];
        parts.extend(if_match.as_deref());
        Some(Idempotency {
            key,
            fingerprint: fingerprint(&parts),
        })
    }
}

/// What an idempotency key's first use is remembered by: the SHA-256 of `parts` with a NUL
/// between each, in hex. Serialized JSON never holds a raw NUL, so no two lists of parts
/// (methods, paths, tool names, JSON) run into one another.
pub(crate) fn fingerprint(parts: &[&str]) -> String {
    let mut digest = Sha256::new();
    for (index, part) in parts.iter().enumerate() {
        if index > 0 {
            digest.update([0]);
        }
        digest.update(part);
    }
    hex::encode(digest.finalize())
}

fn if_match(headers: &HeaderMap) -> Result<Option<ExpectedVersion>, ApiError> {
    let Some(value) = headers.get(header::IF_MATCH) else {
        return Ok(None);
    };
    let malformed =
        || ApiError::Malformed("If-Match must be a version, e.g. \"3\", or a task's tag".into());
    let text = value.to_str().map_err(|_| malformed())?.trim();
    let (weak, text) = match text.strip_prefix("W/") {
        Some(tag) => (true, tag),
        None => (false, text),
    };
    let text = match text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
        // A task read by someone other than its owner, or with team shares, is tagged
        // `"<version>.<hash>"`: the hash tags the view, the version is what a command compares.
        Some(quoted) => match quoted.split_once('.') {
            Some((version, view)) if is_digest(view) => version,
            _ => quoted,
        },
        None => text,
    };
    let version = text
        .parse::<i64>()
        .ok()
        .filter(|version| *version >= 0)
        .ok_or_else(malformed)?;
    Ok(Some(if weak {
        ExpectedVersion::Weak(version)
    } else {
        ExpectedVersion::Strong(version)
    }))
}

fn idempotency_key(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    idempotency_key_of(value.as_bytes()).map(Some)
}

/// An idempotency key, wherever it came from (a header, an AI assistant's tool argument): 1 to
/// 255 printable ASCII characters.
pub(crate) fn idempotency_key_of(bytes: &[u8]) -> Result<String, ApiError> {
    if bytes.is_empty() || bytes.len() > 255 || !bytes.iter().all(|b| (0x20..=0x7e).contains(b)) {
        return Err(ApiError::Malformed(
            "Idempotency-Key must be 1 to 255 printable ASCII characters".into(),
        ));
    }
    Ok(String::from_utf8_lossy(bytes).into_owned())
}

/// Query parameters read into `T`, with the contract's problem for what cannot be read: a
/// parameter given twice (which one to believe?) is 400 naming it, not serde's text.
pub struct QueryParams<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for QueryParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, ApiError> {
        let query = parts.uri.query().unwrap_or_default();
        let mut seen = HashSet::new();
        for (name, _) in form_urlencoded::parse(query.as_bytes()) {
            if !seen.insert(name.clone()) {
                return Err(ApiError::Malformed(format!(
                    "the query parameter {name:?} is given more than once"
                )));
            }
        }
        // Every parameter of tally's routes is read as text and checked by its handler, so
        // once none repeats, what is left to fail is the query string itself.
        Query::try_from_uri(&parts.uri)
            .map(|Query(value)| QueryParams(value))
            .map_err(|_| ApiError::Malformed("the query string cannot be read".into()))
    }
}

/// A JSON body: `application/json` (415 otherwise), within the size limit (413), valid JSON
/// (400) of the expected shape (422). Keeps the parsed value for idempotency fingerprints.
pub struct JsonBody<T> {
    pub value: T,
    pub raw: serde_json::Value,
}

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !declares_json(&request) {
            return Err(unsupported_media_type());
        }
        let raw = parse_json(&read_body(request, state).await?)?;
        if !raw.is_object() {
            return Err(ApiError::Validation(
                "the body must be a JSON object".into(),
            ));
        }
        let value = T::deserialize(&raw).map_err(|error| {
            ApiError::Validation(format!("the body has the wrong shape: {error}"))
        })?;
        Ok(JsonBody { value, raw })
    }
}

/// The body of a command that takes none: empty, or JSON `{}` or `null` (some clients always
/// send one). Anything else is refused as a body would be, not silently ignored.
pub struct NoBody;

impl<S: Send + Sync> FromRequest<S> for NoBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        let declares_json = declares_json(&request);
        let bytes = read_body(request, state).await?;
        if bytes.trim_ascii().is_empty() {
            return Ok(NoBody);
        }
        if !declares_json {
            return Err(unsupported_media_type());
        }
        match parse_json(&bytes)? {
            serde_json::Value::Null => Ok(NoBody),
            serde_json::Value::Object(fields) if fields.is_empty() => Ok(NoBody),
            _ => Err(ApiError::Validation("this command takes no body".into())),
        }
    }
}

fn declares_json(request: &Request) -> bool {
    request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .is_some_and(is_json)
}

fn unsupported_media_type() -> ApiError {
    ApiError::UnsupportedMediaType("the body must be application/json".into())
}

/// The whole body, within the size limit (413).
async fn read_body<S: Send + Sync>(request: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(request, state)
        .await
        .map_err(|rejection| match rejection.status().as_u16() {
            413 => ApiError::PayloadTooLarge,
            _ => ApiError::Malformed("the body could not be read".into()),
        })
}

/// The body as JSON, refused (400) when it is not, or when an object names a key twice.
fn parse_json(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice::<StrictValue>(bytes)
        .map(|strict| strict.0)
        .map_err(|error| ApiError::Malformed(format!("the body is not valid JSON: {error}")))
}

/// `application/json` or any `application/*+json`, whatever the parameters.
fn is_json(content_type: &str) -> bool {
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    let essence = essence.to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(method: Method, path: &str, expected: Option<ExpectedVersion>) -> CommandHeaders {
        CommandHeaders {
            expected_version: expected,
            idempotency_key: Some("k".into()),
            method,
            path: path.into(),
        }
    }

    fn if_match_of(value: &str) -> Result<Option<ExpectedVersion>, ApiError> {
        let mut headers = HeaderMap::new();
        headers.insert(header::IF_MATCH, value.parse().unwrap());
        if_match(&headers)
    }

    #[test]
    fn if_match_reads_a_version_bare_quoted_weak_or_before_a_views_hash() {
        use ExpectedVersion::{Strong, Weak};
        assert!(matches!(if_match_of("3"), Ok(Some(Strong(3)))));
        assert!(matches!(if_match_of("\"3\""), Ok(Some(Strong(3)))));
        assert!(matches!(if_match_of("W/\"3\""), Ok(Some(Weak(3)))));
        let view = "\"3.00ff00ff00ff00ff\"";
        assert!(matches!(if_match_of(view), Ok(Some(Strong(3)))));
        let weak_view = "W/\"3.00ff00ff00ff00ff\"";
        assert!(matches!(if_match_of(weak_view), Ok(Some(Weak(3)))));
        for malformed in [
            "\"3.\"",
            "\"3.xyz\"",
            "\"3.00ff00ff00ff00fg\"",
            "\"3.00FF00FF00FF00FF\"",
            "3.00ff00ff00ff00ff",
            "\"-1\"",
            "\"a\"",
        ] {
            assert!(if_match_of(malformed).is_err(), "{malformed}");
        }
    }

    /// Keys stored by earlier builds must keep matching their repeats: the fingerprint of a
    /// request is pinned here to SHA-256 values computed outside tally (Python's hashlib).
    #[test]
    fn the_fingerprint_of_a_request_does_not_drift_between_builds() {
        let body = serde_json::json!({ "title": "a" });
        let create = headers(Method::POST, "/api/tasks", None);
        assert_eq!(
            create.idempotency(Some(&body)).unwrap().fingerprint,
            "f075457474b5a25c8361fbd7a1f37e8746cd39603ec8ffee8b761aea8c688f0f"
        );
        let strong = Some(ExpectedVersion::Strong(3));
        let edit = headers(Method::PATCH, "/api/tasks/0199", strong);
        assert_eq!(
            edit.idempotency(Some(&body)).unwrap().fingerprint,
            "2cf8b0e287d87982e6a9c2cd200e420a09cc67a87537dbee53615a11ae1253af"
        );
        let complete = headers(Method::POST, "/api/tasks/0199/complete", strong);
        assert_eq!(
            complete.idempotency(None).unwrap().fingerprint,
            "a263b011f4a8879656f2117e32396c0c9576e95dddc87810dba8d77db41ff9ba",
            "no body, then If-Match"
        );
        let weak = headers(
            Method::PATCH,
            "/api/tasks/0199",
            Some(ExpectedVersion::Weak(3)),
        );
        assert_ne!(
            weak.idempotency(Some(&body)).unwrap().fingerprint,
            edit.idempotency(Some(&body)).unwrap().fingerprint,
            "W/\"3\" is another request than \"3\""
        );
    }
}
