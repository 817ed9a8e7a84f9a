//! Reading a Server-Sent Events answer one event at a time, as a client would, from the body
//! of a response the app is still writing.

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use super::requests::TestResponse;
use super::waiting::PATIENCE;

/// One event as the client parsed it (fields it did not get are `None`).
#[derive(Debug, Default)]
pub struct SseEvent {
    pub id: Option<i64>,
    pub data: Option<Value>,
    pub retry: Option<u64>,
}

/// An open event stream.
pub struct EventStream {
    pub headers: HeaderMap,
    body: Body,
    /// What arrived and is not yet a whole event.
    pending: String,
}

impl EventStream {
    /// Sends `request` to `router`; the stream when it answered 200, else the whole answer.
    pub async fn open(
        router: &Router,
        request: impl Into<Request<Body>>,
    ) -> Result<EventStream, TestResponse> {
        let request = request.into();
        let response = router.clone().oneshot(request).await.unwrap();
        if response.status() != StatusCode::OK {
            let status = response.status();
            let headers = response.headers().clone();
            let bytes = response.into_body().collect().await.unwrap().to_bytes();
            let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
            return Err(TestResponse {
                status,
                headers,
                body,
            });
        }
        Ok(EventStream {
            headers: response.headers().clone(),
            body: response.into_body(),
            pending: String::new(),
        })
    }

    /// The next event, comments skipped; `None` when the stream ended. Fails the test if
    /// none comes within [`PATIENCE`].
    pub async fn next(&mut self) -> Option<SseEvent> {
        loop {
            if let Some(end) = self.pending.find("\n\n") {
                let block: String = self.pending.drain(..end + 2).collect();
                if let Some(event) = parse(&block) {
                    return Some(event);
                }
                continue;
            }
            let frame = tokio::time::timeout(PATIENCE, self.body.frame())
                .await
                .expect("an event within the patience");
            match frame {
                None => return None,
                Some(frame) => {
                    let frame = frame.expect("the stream does not fail");
                    if let Ok(data) = frame.into_data() {
                        self.pending
                            .push_str(std::str::from_utf8(&data).expect("UTF-8"));
                    }
                }
            }
        }
    }

    /// The next event that carries figures: its id and its data.
    pub async fn next_figures(&mut self) -> (i64, Value) {
        loop {
            let event = self.next().await.expect("the stream goes on");
            if let Some(data) = event.data {
                return (event.id.expect("every figures event has an id"), data);
            }
        }
    }
}

/// The event of one block of lines; `None` for a block of comments only.
fn parse(block: &str) -> Option<SseEvent> {
    let mut event = SseEvent::default();
    let mut any = false;
    for line in block.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "" => continue,
            "id" => event.id = Some(value.parse().expect("a numeric id")),
            "data" => event.data = Some(serde_json::from_str(value).expect("JSON data")),
            "retry" => event.retry = Some(value.parse().expect("retry in ms")),
            other => panic!("unexpected field {other:?} in {block:?}"),
        }
        any = true;
    }
    any.then_some(event)
}
