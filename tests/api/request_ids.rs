//! Request ids: the client's or a new one, echoed, named as a problem's `instance` (checked on
//! every problem answer by `send_to`), and carried by the request's log lines.

use std::io::Write;
use std::sync::{Arc, Mutex};

use serde_json::Value;
use tally::logging::{LogFormat, subscriber};
use tracing_subscriber::EnvFilter;

use crate::support::{Backend, TestApp, TestRequest, TestResponse};

fn request_id(response: &TestResponse) -> &str {
    response.headers["x-request-id"].to_str().unwrap()
}

#[tokio::test]
async fn a_plain_client_id_is_echoed_and_anything_else_is_replaced_by_a_new_one() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let kept = app
        .send(
            TestRequest::get("/api/dashboard")
                .user("alice")
                .header("x-request-id", "trace-42.a_b~c"),
        )
        .await;
    assert_eq!(request_id(&kept), "trace-42.a_b~c");
    let refused = app
        .send(TestRequest::get("/api/dashboard").header("x-request-id", "trace-43"))
        .await;
    refused.assert_problem(401, "unauthorized");
    assert_eq!(request_id(&refused), "trace-43");

    let mut made = Vec::new();
    for sent in [
        None,
        Some("two words"),
        Some("a:b"),
        Some(&*"x".repeat(129)),
    ] {
        let mut request = TestRequest::get("/api/dashboard/health");
        if let Some(id) = sent {
            request = request.header("x-request-id", id);
        }
        let response = app.send(request).await;
        let id = request_id(&response).to_owned();
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "{sent:?} gave {id}");
        made.push(id);
    }
    made.sort();
    made.dedup();
    assert_eq!(made.len(), 4, "every made id is new");
}

/// Log lines written to memory.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn json_logs_are_one_object_a_line_and_carry_the_request_id() {
    let app = TestApp::start(Backend::Sqlite).await.unwrap();
    let captured = Captured::default();
    let writer = captured.clone();
    let logs = subscriber(LogFormat::Json, EnvFilter::new("tally=debug"), move || {
        writer.clone()
    });
    // This test's runtime runs on this thread only, so the request is served under it.
    let _guard = tracing::subscriber::set_default(logs);
    let response = app
        .send(
            TestRequest::get("/api/dashboard")
                .user("alice")
                .header("x-request-id", "logged-1"),
        )
        .await;
    assert_eq!(response.status, 200);

    let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "logged-1")
        .collect();
    assert!(!of_request.is_empty(), "{text}");
    for line in of_request {
        assert_eq!(line["span"]["path"], "/api/dashboard");
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let answered = lines
        .iter()
        .find(|line| line["fields"]["message"] == "answered")
        .expect("the answer is logged");
    assert_eq!(answered["fields"]["status"], 200);
}
