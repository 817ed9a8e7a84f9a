//! Clients that stop reading, against the real binary (`TALLY_WRITE_TIMEOUT`): a response
//! whose write makes no progress for the timeout closes its connection, so stalled readers
//! cannot hold every connection slot nor hold up a graceful stop; a value of the setting that is no duration is refused
//! at start. (A stalled dashboard stream, whose keep-alives take minutes to fill a socket's
//! buffers, is tested over hyper and a small pipe on tokio's paused clock: `connections`' unit
//! tests in the library.)

use std::process::Command;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use crate::support::http_client::send;
use crate::support::process::{PATIENCE, Server, with_clean_env};
use crate::support::{TestRequest, wait_until};

const MAX_CONNECTIONS: usize = 4;
const WRITE_TIMEOUT: Duration = Duration::from_secs(2);
/// What the health check may take beyond the write timeout on a busy machine: without the
/// timeout it never answers, so any bound tells the two apart.
const MARGIN: Duration = Duration::from_secs(10);
/// The largest file the server has (Swagger UI's script, about 1.5 MB uncompressed): asked
/// for this many times in a row it is more than the sockets' buffers hold.
const BIG: &str = "/docs/swagger-ui-bundle.js";
const REPEATS: usize = 6;

/// A connection that asks for [`BIG`] [`REPEATS`] times, pipelined, and reads nothing.
async fn stalled_reader(address: &str) -> TcpStream {
    let socket = TcpSocket::new_v4().expect("socket");
    // A small receive window: the server's writes stall sooner.
    socket.set_recv_buffer_size(4096).expect("receive buffer");
    let mut connection = socket
        .connect(address.parse().expect("an address"))
        .await
        .expect("connect");
    let request = format!("GET {BIG} HTTP/1.1\r\nHost: tally\r\n\r\n");
    connection
        .write_all(request.repeat(REPEATS).as_bytes())
        .await
        .expect("requests");
    connection
}

/// Reads until the server closes the connection (an abortive close arrives as a reset).
async fn read_until_closed(connection: &mut TcpStream) {
    let mut chunk = vec![0; 64 * 1024];
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let read = tokio::time::timeout(left, connection.read(&mut chunk)).await;
        match read.expect("the server closes the connection") {
            Ok(0) => return,
            Ok(_) => {}
            Err(error) => {
                assert_eq!(error.kind(), std::io::ErrorKind::ConnectionReset);
                return;
            }
        }
    }
}

#[tokio::test]
async fn clients_that_stop_reading_are_cut_off_after_the_write_timeout_and_cannot_keep_others_out()
{
    let root = tempfile::tempdir().unwrap();
    let max = MAX_CONNECTIONS.to_string();
    let timeout = format!("{}s", WRITE_TIMEOUT.as_secs());
    let server = Server::start_with(
        root.path(),
        None,
        &[
            ("TALLY_MAX_CONNECTIONS", &max),
            ("TALLY_WRITE_TIMEOUT", &timeout),
            // Longer than the test: a hog whose answers all fit in the kernel's buffers must
            // not be let go as an idle keep-alive instead.
            ("TALLY_HEADER_READ_TIMEOUT", "120s"),
        ],
    )
    .await;
    let started = Instant::now();
    let mut hogs = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        hogs.push(stalled_reader(&server.address).await);
    }

    // Waits in the listen backlog until a hog's connection is closed.
    let health = tokio::time::timeout(
        WRITE_TIMEOUT + MARGIN,
        send(&server.address, TestRequest::get("/api/dashboard/health")),
    )
    .await;
    let served = started.elapsed();

    let health = health.expect("the health check answers within the write timeout and a margin");
    assert_eq!(health.expect("served").status, 200);
    assert!(
        served >= WRITE_TIMEOUT,
        "served after {served:?}, before any stalled reader could have been cut off"
    );
    // Not read: reading would let a hog not yet cut go on being answered.
    for hog in &hogs {
        let mut reset = false;
        wait_until("the server resets every stalled reader", async || {
            reset = reset || hog.take_error().is_ok_and(|error| is_reset(error.as_ref()));
            reset
        })
        .await;
    }
}

/// Whether `error`, a socket's pending error, is the abortive close the write timeout makes.
fn is_reset(error: Option<&std::io::Error>) -> bool {
    error.is_some_and(|error| error.kind() == std::io::ErrorKind::ConnectionReset)
}

#[tokio::test]
async fn a_graceful_stop_waits_for_stalled_readers_no_longer_than_the_write_timeout() {
    let root = tempfile::tempdir().unwrap();
    let timeout = format!("{}s", WRITE_TIMEOUT.as_secs());
    let mut server = Server::start_with(
        root.path(),
        None,
        &[
            ("TALLY_WRITE_TIMEOUT", &timeout),
            ("TALLY_HEADER_READ_TIMEOUT", "120s"),
        ],
    )
    .await;
    let mut hogs = Vec::new();
    for _ in 0..MAX_CONNECTIONS {
        let mut hog = stalled_reader(&server.address).await;
        // Its answer has begun: the stop finds a response in flight, which it waits for.
        let mut status = [0; 12];
        hog.read_exact(&mut status).await.expect("an answer begins");
        assert_eq!(&status, b"HTTP/1.1 200");
        hogs.push(hog);
    }
    let stopping = Instant::now();

    let status = server.stop().await;

    let took = stopping.elapsed();
    assert!(status.success(), "tally serve ended with {status}");
    // Without the write timeout the stop would wait out its 30 s grace for them.
    assert!(took < WRITE_TIMEOUT + MARGIN, "the stop took {took:?}");
    for hog in &mut hogs {
        read_until_closed(hog).await;
    }
}

#[tokio::test]
async fn a_write_timeout_that_is_no_duration_is_refused_at_start_naming_the_variable() {
    let root = tempfile::tempdir().unwrap();
    for refused in ["soon", "0s"] {
        let mut command = Command::new(env!("CARGO_BIN_EXE_tally"));
        command.arg("serve");
        with_clean_env(&mut command, root.path(), None);
        command.env("TALLY_WRITE_TIMEOUT", refused);
        let output = tokio::process::Command::from(command)
            .output()
            .await
            .unwrap();

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{refused}: {stderr}");
        assert!(
            stderr.contains("TALLY_WRITE_TIMEOUT"),
            "{refused}: {stderr}"
        );
        assert!(stderr.contains(refused), "{refused}: {stderr}");
    }
}
