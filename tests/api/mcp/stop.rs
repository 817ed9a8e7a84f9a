//! A graceful stop with MCP clients connected.

use serde_json::json;
use tokio::io::AsyncReadExt;

use super::session::{exchange, initialize_request, send_raw};
use crate::support::{Launched, PATIENCE, TestApp, on_both_backends};

/// A real server (`tally::launch`) whose stop begins while a client holds a session's event
/// stream open (`GET /mcp`): the stream ends and the server stops, rather than the stop
/// waiting for the client.
async fn a_graceful_stop_ends_open_mcp_streams(app: TestApp) {
    let mut server = Launched::start(&app).await;
    let address = server.address.clone();

    let initialize = initialize_request();
    let answer = exchange(&address, "POST", None, Some(initialize)).await;
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
    let answer = exchange(&address, "POST", Some(&session), Some(initialized)).await;
    assert!(answer.starts_with("HTTP/1.1 202"), "{answer}");

    let mut stream = send_raw(&address, "GET", Some(&session), None).await;
    let mut received = Vec::new();
    let mut buffer = [0; 4096];
    while !String::from_utf8_lossy(&received).contains("\r\n\r\n") {
        let read = stream.read(&mut buffer).await.expect("the stream");
        assert!(read > 0, "the stream ended before it opened");
        received.extend_from_slice(&buffer[..read]);
    }
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

on_both_backends!(a_graceful_stop_ends_open_mcp_streams);
