//! A graceful stop with MCP clients connected.

use serde_json::json;
use tokio::io::AsyncReadExt;

use super::session::{exchange, initialize_request, send_raw};
use crate::support::{Launched, PATIENCE, TestApp, on_both_backends, wait_until};

/// An initialized session of Alice's on the server at `address`: its id.
async fn open_session(address: &str) -> String {
    let initialize = initialize_request();
    let answer = exchange(address, "POST", None, Some(initialize)).await;
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    let session = answer
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase()
                .strip_prefix("mcp-session-id:")
                .map(|id| id.trim().to_owned())
        })
        .unwrap_or_else(|| panic!("no session id in {answer}"));
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"});
    let answer = exchange(address, "POST", Some(&session), Some(initialized)).await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");
    session
}

/// Reads `stream` until the head of its answer has arrived: the answer's head and what came.
async fn read_head(stream: &mut tokio::net::TcpStream) -> Vec<u8> {
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("\r\n\r\n") {
        let read = stream.read(&mut buffer).await.expect("the answer");
        assert!(read > 0, "the answer ended before it began");
        received.extend_from_slice(&buffer[..read]);
    }
    received
}

/// A real server (`tally::launch`) whose stop begins while a client holds a session's event
/// stream open (`GET /mcp`): the stream ends and the server stops, rather than the stop
/// waiting for the client.
async fn a_graceful_stop_ends_open_mcp_streams(app: TestApp) {
    let mut server = Launched::start(&app).await;
    let address = server.address.clone();

    let session = open_session(&address).await;

    let mut stream = send_raw(&address, "GET", Some(&session), None).await;
    let mut received = read_head(&mut stream).await;
    let head = String::from_utf8_lossy(&received).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("text/event-stream"), "{head}");

    server.stop();
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the stream ends")
        .expect("the server closes the stream cleanly");
    server.stopped().await;
}

/// A tool call whose command waits for the write lock when the stop begins: the stop waits
/// for it, and the client gets its answer (its command applied), rather than an answer stream
/// cut off after the command may have been applied.
async fn a_tool_call_in_flight_when_the_stop_begins_gets_its_answer(app: TestApp) {
    let mut server = Launched::start(&app).await;
    let address = server.address.clone();
    let session = open_session(&address).await;

    let held = app.db.hold_writes().await;
    let call = json!({
        "jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "add_task", "arguments": {"title": "Answered at the stop"}},
    });
    let mut stream = send_raw(&address, "POST", Some(&session), Some(call)).await;
    let mut received = read_head(&mut stream).await;
    let head = String::from_utf8_lossy(&received).into_owned();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");

    server.stop();
    wait_until("the server stops taking connections", async || {
        tokio::net::TcpStream::connect(&address).await.is_err()
    })
    .await;
    held.release().await;
    tokio::time::timeout(PATIENCE, stream.read_to_end(&mut received))
        .await
        .expect("the answer ends")
        .expect("the server sends the whole answer");
    let answer = String::from_utf8_lossy(&received).into_owned();
    assert!(
        answer.contains("\"isError\":false") && answer.contains("\"position\":1"),
        "{answer}"
    );
    server.stopped().await;
    assert_eq!(
        app.db.event_count().await,
        1,
        "the command was applied once"
    );
}

on_both_backends!(
    a_graceful_stop_ends_open_mcp_streams,
    a_tool_call_in_flight_when_the_stop_begins_gets_its_answer,
);
