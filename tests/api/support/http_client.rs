//! A tiny HTTP/1.1 client for talking to a real `tally serve` process: the request a test
//! built (a `TestRequest`, as for the in-process app) written by hand, one per connection,
//! and an answer only when it arrived whole.

use std::collections::BTreeMap;

use axum::body::Body;
use axum::http::Request;
use http_body_util::BodyExt;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::waiting::PATIENCE;

/// A complete HTTP answer: a response cut short by the kill never becomes one.
#[derive(Debug)]
pub struct HttpResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: BTreeMap<String, String>,
    pub body: Value,
}

/// One HTTP/1.1 request on a fresh connection (`Connection: close`), written by hand: the
/// request line, `Host`, `Connection`, `Content-Length`, then the request's own headers.
pub async fn send(
    address: &str,
    request: impl Into<Request<Body>>,
) -> std::io::Result<HttpResponse> {
    let (parts, body) = request.into().into_parts();
    let body = body.collect().await.expect("an in-memory body").to_bytes();
    let exchange = async {
        let mut stream = TcpStream::connect(address).await?;
        let mut head = format!(
            "{} {} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {}\r\n",
            parts.method,
            parts.uri,
            body.len()
        )
        .into_bytes();
        for (name, value) in &parts.headers {
            head.extend_from_slice(name.as_str().as_bytes());
            head.extend_from_slice(b": ");
            head.extend_from_slice(value.as_bytes());
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"\r\n");
        stream.write_all(&head).await?;
        stream.write_all(&body).await?;
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).await?;
        parse_response(&raw).ok_or_else(|| {
            std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "incomplete response")
        })
    };
    tokio::time::timeout(PATIENCE, exchange)
        .await
        .unwrap_or_else(|_| Err(std::io::ErrorKind::TimedOut.into()))
}

/// Status and body (JSON, else its text), only if the whole body (by `Content-Length` or chunks) arrived.
fn parse_response(raw: &[u8]) -> Option<HttpResponse> {
    let split = raw.windows(4).position(|window| window == b"\r\n\r\n")?;
    let head = std::str::from_utf8(&raw[..split]).ok()?;
    let mut lines = head.split("\r\n");
    let status = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers: BTreeMap<String, String> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_ascii_lowercase(), value.trim().to_owned()))
        .collect();
    let payload = &raw[split + 4..];
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|value| value.eq_ignore_ascii_case("chunked"))
    {
        dechunk(payload)?
    } else {
        let length: usize = headers.get("content-length")?.parse().ok()?;
        payload.get(..length)?.to_vec()
    };
    let body = if body.is_empty() {
        Value::Null
    } else {
        // Not JSON (metrics text, a page): the text, as a JSON string.
        serde_json::from_slice(&body)
            .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()))
    };
    Some(HttpResponse {
        status,
        headers,
        body,
    })
}

/// A chunked body, only if its final zero-length chunk arrived.
fn dechunk(mut payload: &[u8]) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let line_end = payload.windows(2).position(|window| window == b"\r\n")?;
        let size = std::str::from_utf8(&payload[..line_end]).ok()?;
        let size = usize::from_str_radix(size.split(';').next()?.trim(), 16).ok()?;
        if size == 0 {
            return Some(body);
        }
        body.extend_from_slice(payload.get(line_end + 2..line_end + 2 + size)?);
        payload = payload.get(line_end + 2 + size + 2..)?;
    }
}
