//! Conditional reads: an `ETag` on the dashboard and task reads, and `304 Not Modified` when
//! the client's `If-None-Match` names it, so a client polling for changes pays a single-row
//! read and a few header bytes when nothing changed.

use std::convert::Infallible;
use std::fmt::Write;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use sha2::{Digest, Sha256};
use utoipa::{IntoParams, IntoResponses};

/// The request's `If-None-Match`, if any.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
pub struct IfNoneMatch {
    /// ETags the client holds (`"…"`, a list, or `*`): 304 with no body when the answer's
    /// `ETag` is among them (weak comparison, as RFC 9110 says for `If-None-Match`).
    #[param(rename = "If-None-Match", value_type = Option<String>, nullable = false)]
    tags: Option<HeaderValue>,
}

/// The answer when the client's `If-None-Match` names the current tag, as the spec tells it.
#[derive(IntoResponses)]
#[response(
    status = 304,
    description = "Not modified: what the caller would see still has the tag `If-None-Match` names; no body.",
    headers(("ETag" = String, description = "The current tag, the one the client holds."))
)]
pub struct NotModified;

impl<S: Send + Sync> FromRequestParts<S> for IfNoneMatch {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Infallible> {
        Ok(IfNoneMatch {
            tags: parts.headers.get(header::IF_NONE_MATCH).cloned(),
        })
    }
}

impl IfNoneMatch {
    /// Whether `etag` (a strong tag, quotes included) is among the client's.
    pub fn matches(&self, etag: &str) -> bool {
        let Some(tags) = self.tags.as_ref().and_then(|tags| tags.to_str().ok()) else {
            return false;
        };
        tags.split(',')
            .map(str::trim)
            .any(|tag| tag == "*" || tag.strip_prefix("W/").unwrap_or(tag) == etag)
    }

    /// `body` as JSON tagged `etag`, or 304 when the client holds that tag already.
    pub fn answer<T: Serialize>(&self, etag: String, body: &T) -> Response {
        if self.matches(&etag) {
            return not_modified(etag);
        }
        tagged(etag, axum::Json(body).into_response())
    }

    /// `body` as JSON tagged by a hash of its bytes, or 304 when the client holds that tag:
    /// exact for answers with no version of their own (figures change with the day, too).
    pub fn answer_hashed<T: Serialize>(&self, body: &T) -> Response {
        let bytes = serde_json::to_vec(body).expect("answers always serialise");
        let mut etag = String::with_capacity(18);
        etag.push('"');
        push_digest(&mut etag, &bytes);
        etag.push('"');
        self.answer_bytes(etag, bytes)
    }

    /// `body` as JSON tagged `"<version>.<hash of its bytes>"`, or 304 when the client holds
    /// that tag: for a versioned answer that also shows what changes without a new version.
    /// `If-Match` reads the version before the dot.
    pub fn answer_versioned_view<T: Serialize>(&self, version: i64, body: &T) -> Response {
        let bytes = serde_json::to_vec(body).expect("answers always serialise");
        let etag = format!("\"{version}.{}\"", digest(&bytes));
        self.answer_bytes(etag, bytes)
    }

    fn answer_bytes(&self, etag: String, bytes: Vec<u8>) -> Response {
        if self.matches(&etag) {
            return not_modified(etag);
        }
        let response = ([(header::CONTENT_TYPE, "application/json")], bytes).into_response();
        tagged(etag, response)
    }
}

/// 16 lowercase hex digits of the SHA-256 of `bytes` (its first 8 bytes), the hash part of the
/// tags this module writes: the same on every node and in every build, so a client's held tag
/// keeps meeting 304s across a rolling deploy (std's `DefaultHasher` is not promised to stay
/// the same between releases of Rust).
pub(super) fn digest(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(16);
    push_digest(&mut text, bytes);
    text
}

/// Writes the [`digest`] of `bytes` at the end of `text`.
fn push_digest(text: &mut String, bytes: &[u8]) {
    let digest = Sha256::digest(bytes);
    let first = u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 has 32 bytes"));
    write!(text, "{first:016x}").expect("writing to a String cannot fail");
}

/// Whether `text` is a [`digest`], as a task's `"<version>.<digest>"` tag carries it.
pub(super) fn is_digest(text: &str) -> bool {
    text.len() == 16 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

fn not_modified(etag: String) -> Response {
    tagged(etag, StatusCode::NOT_MODIFIED.into_response())
}

/// `response` with its tag, and the headers that keep a cache from handing one caller's answer
/// to another: the same URL answers each caller their own view (a task's `shares` only to its
/// owner), so caches key it by `Authorization`, keep it private and check it each time.
fn tagged(etag: String, mut response: Response) -> Response {
    let headers = response.headers_mut();
    // Room for these and the position and request id the outer layers add: grown once.
    headers.reserve(8);
    if let Ok(etag) = HeaderValue::from_str(&etag) {
        headers.insert(header::ETAG, etag);
    }
    headers.insert(header::VARY, HeaderValue::from_static("authorization"));
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, no-cache"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(tags: &str) -> IfNoneMatch {
        IfNoneMatch {
            tags: Some(HeaderValue::from_str(tags).unwrap()),
        }
    }

    #[test]
    fn if_none_match_compares_weakly_and_takes_lists_and_a_star() {
        assert!(with("\"3\"").matches("\"3\""));
        assert!(with("W/\"3\"").matches("\"3\""));
        assert!(with("\"1\", \"3\"").matches("\"3\""));
        assert!(with("*").matches("\"3\""));
        assert!(!with("\"4\"").matches("\"3\""));
        assert!(!with("3").matches("\"3\""));
        assert!(!IfNoneMatch { tags: None }.matches("\"3\""));
    }
}
