//! Connection limits of a real server (`tally::launch` on a port of its own): clients that
//! connect and stay silent, or send half a request and stall, are cut off after the header
//! deadline and cannot keep a well-behaved client out for longer; idle keep-alive connections
//! are closed too.

use std::time::{Duration, Instant};

use clap::Parser;
use tally::config::{Cli, CliCommand};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::oneshot;

use crate::support::http_client::send;
use crate::support::{TEST_SECRET, TestRequest, wait_until};

const MAX_CONNECTIONS: usize = 4;
const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(1);
const PATIENCE: Duration = Duration::from_secs(60);

/// A `tally serve` of this process on a free port, with the limits above; stopped when dropped.
struct Server {
    address: String,
    _stop: oneshot::Sender<()>,
    _data: tempfile::TempDir,
}

async fn serve() -> Server {
    let data = tempfile::tempdir().expect("data folder");
    let data_dir = data.path().display().to_string();
    let max = MAX_CONNECTIONS.to_string();
    let timeout = format!("{}s", HEADER_READ_TIMEOUT.as_secs());
    let cli = Cli::try_parse_from([
        "tally",
        "serve",
        "--data-dir",
        &data_dir,
        "--database-url",
        &format!("sqlite://{data_dir}/tally.db"),
        "--jwt-secret",
        TEST_SECRET,
        "--max-connections",
        &max,
        "--header-read-timeout",
        &timeout,
        "--job-roll-over",
        "off",
        "--job-sample-verify",
        "off",
        "--job-expire-keys",
        "off",
    ])
    .expect("settings");
    let CliCommand::Serve(settings) = cli.command else {
        panic!("parsed as serve")
    };
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("a free port");
    let address = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let shutdown = async {
            let _ = stopped.await;
        };
        tally::launch(&settings, listener, shutdown)
            .await
            .expect("serve");
    });
    let server = Server {
        address,
        _stop: stop,
        _data: data,
    };
    wait_until("the server answers", async || {
        let health = send(&server.address, TestRequest::get("/api/dashboard/health")).await;
        health.is_ok_and(|answer| answer.status == 200)
    })
    .await;
    server
}

/// Reads until the server closes the connection; what it sent before.
async fn read_until_closed(connection: &mut TcpStream) -> String {
    let mut received = Vec::new();
    let read = tokio::time::timeout(PATIENCE, connection.read_to_end(&mut received)).await;
    match read.expect("the server closes the connection") {
        Ok(_) => {}
        // A close with unread bytes in the server's buffer arrives as a reset.
        Err(error) => assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset),
    }
    String::from_utf8_lossy(&received).into_owned()
}

#[tokio::test]
async fn silent_and_stalled_clients_are_cut_off_and_cannot_keep_others_out() {
    let server = serve().await;
    let started = Instant::now();
    // Every slot taken: two clients that say nothing, two that stall mid-request.
    let mut hogs = Vec::new();
    for n in 0..MAX_CONNECTIONS {
        let mut hog = TcpStream::connect(&server.address).await.expect("connect");
        if n % 2 == 1 {
            hog.write_all(b"GET /api/dashboard/health HTTP/1.1\r\nHost: tally\r\n")
                .await
                .expect("half a request");
        }
        hogs.push(hog);
    }

    // A well-behaved client waits for a slot, and gets one once the hogs are cut off.
    let health = send(&server.address, TestRequest::get("/api/dashboard/health"))
        .await
        .expect("served");
    let served = started.elapsed();
    assert_eq!(health.status, 200);
    assert!(
        served >= HEADER_READ_TIMEOUT,
        "served after {served:?}, before any hog could have been cut off"
    );
    for hog in &mut hogs {
        read_until_closed(hog).await;
    }
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_deadline() {
    let server = serve().await;
    let mut client = TcpStream::connect(&server.address).await.expect("connect");
    client
        .write_all(b"GET /api/dashboard/health HTTP/1.1\r\nHost: tally\r\n\r\n")
        .await
        .expect("a keep-alive request");
    let sent = Instant::now();

    let received = read_until_closed(&mut client).await;

    assert!(received.starts_with("HTTP/1.1 200"), "{received}");
    assert!(sent.elapsed() >= HEADER_READ_TIMEOUT);
}
