//! Request ids: the client's or a new one, echoed, named as a problem's `instance` (checked on
//! every problem answer by `send_to`), and carried by the request's log lines.

use serde_json::Value;

use crate::support::process::Server;
use crate::support::{Backend, TEST_SECRET, TestApp, TestRequest, TestResponse, wait_until};

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

/// The log lines of a real `tally serve` (a process of its own: a subscriber set for one test
/// thread could miss lines whose callsites another test's thread registered first).
#[tokio::test]
async fn json_logs_are_one_object_a_line_and_carry_the_request_id() {
    let root = tempfile::tempdir().unwrap();
    let env = [
        ("TALLY_LOG_FORMAT", "json"),
        ("RUST_LOG", "warn,tally=debug"),
    ];
    let server = Server::start_with(root.path(), Some(TEST_SECRET), &env).await;
    let response = server
        .send(
            TestRequest::get("/api/dashboard")
                .user("alice")
                .header("x-request-id", "logged-1"),
        )
        .await;
    assert_eq!(response.status, 200);

    // Whole lines only: the server may be writing the last one.
    let lines = || -> Vec<Value> {
        let log = server.log();
        let whole = &log[..log.rfind('\n').map_or(0, |end| end + 1)];
        whole
            .lines()
            .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
            .collect()
    };
    let answered = |line: &Value| {
        line["fields"]["message"] == "answered" && line["span"]["request_id"] == "logged-1"
    };
    wait_until("the answer's log line", async || {
        lines().iter().any(answered)
    })
    .await;
    let lines = lines();
    let of_request: Vec<&Value> = lines
        .iter()
        .filter(|line| line["span"]["request_id"] == "logged-1")
        .collect();
    for line in of_request {
        assert_eq!(line["span"]["path"], "/api/dashboard");
        assert!(
            line["timestamp"].is_string() && line["level"].is_string(),
            "{line}"
        );
    }
    let answered = lines.iter().find(|line| answered(line)).unwrap();
    assert_eq!(answered["fields"]["status"], 200);
}
