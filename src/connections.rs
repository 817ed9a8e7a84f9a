//! Accepting and serving HTTP connections, with the limits `axum::serve` leaves out: a cap on
//! open connections, a deadline for a request's headers, and one for a response's writes to
//! make progress ([`write_deadline`]), so that slow, silent or stalled clients cannot hold the
//! server's sockets (or its file descriptors) for ever.
//!
//! HTTP/1.1 only: hyper's header deadline covers HTTP/1 connections, and an HTTP/2 connection
//! (prior knowledge, without TLS) would need other limits. A proxy in front speaks HTTP/2 to
//! browsers where that matters.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

use self::write_deadline::{DiscardUnsent, WriteDeadline};

mod write_deadline;

/// How connections are limited.
#[derive(Clone, Copy, Debug)]
pub struct ConnectionLimits {
    /// Connections served at once; beyond it, new ones wait in the listen backlog.
    pub max_connections: usize,
    /// How long a client has to send a request's headers, counted from when it connects or its
    /// previous response was sent: a silent, slow or idle keep-alive connection is closed then.
    pub header_read_timeout: Duration,
    /// How long a write (a response's bytes, a stream's events and keep-alives, the end of
    /// either) may wait without the client taking a byte before the connection is closed.
    pub write_timeout: Duration,
}

/// How long a stop waits for requests in flight before it closes their connections.
pub(crate) const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);
/// How long accepting pauses after an error other than a client's (out of file descriptors).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// Serves `app` on `listener` until `shutdown` completes; then stops accepting, lets requests
/// in flight finish (for at most [`SHUTDOWN_GRACE`]) and returns.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()>,
) {
    let permits = Arc::new(Semaphore::new(limits.max_connections));
    let graceful = GracefulShutdown::new();
    let http = http1(&limits);
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let accepted = async {
            let permit = permits.clone().acquire_owned().await;
            (permit, listener.accept().await)
        };
        let (permit, accepted) = tokio::select! {
            accepted = accepted => accepted,
            () = &mut shutdown => break,
        };
        let permit = permit.expect("the semaphore is never closed");
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(error) if is_the_clients(&error) => continue,
            Err(error) => {
                tracing::error!(%error, "cannot accept connections");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let connection = connection(&http, stream, &app, limits.write_timeout);
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "connection ended with an error");
            }
            drop(permit);
        });
    }
    drop(listener);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("requests still running after {SHUTDOWN_GRACE:?}; closing them");
    }
}

/// hyper's settings for every connection under `limits`.
fn http1(limits: &ConnectionLimits) -> http1::Builder {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    http
}

/// `app` served over `io`, whose writes fail after `write_timeout` without progress: the
/// connection then ends with that error, wherever the response was (its body, a stream's
/// keep-alive, its last bytes, or a graceful stop waiting for it).
fn connection<I>(
    http: &http1::Builder,
    io: I,
    app: &Router,
    write_timeout: Duration,
) -> http1::Connection<TokioIo<WriteDeadline<I>>, TowerToHyperService<Router>>
where
    I: AsyncRead + AsyncWrite + DiscardUnsent + Unpin,
{
    let io = TokioIo::new(WriteDeadline::new(io, write_timeout));
    http.serve_connection(io, TowerToHyperService::new(app.clone()))
}

/// An accept error about one client's connection (gone before it was accepted), not about
/// the server.
fn is_the_clients(error: &std::io::Error) -> bool {
    use std::io::ErrorKind::*;
    matches!(
        error.kind(),
        ConnectionRefused | ConnectionAborted | ConnectionReset
    )
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::error::Error as _;

    use axum::response::sse::{Event, KeepAlive, Sse};
    use axum::routing::get;
    use tokio::io::{AsyncWriteExt, duplex};
    use tokio::time::Instant;

    use super::*;

    const WRITE_TIMEOUT: Duration = Duration::from_secs(30);
    const KEEP_ALIVE: Duration = Duration::from_secs(15);

    /// A stream that never has an event, only keep-alives, as a quiet dashboard stream.
    fn quiet_stream() -> Router {
        let stream = || async {
            let events = futures_util::stream::pending::<Result<Event, Infallible>>();
            Sse::new(events).keep_alive(KeepAlive::new().interval(KEEP_ALIVE))
        };
        Router::new().route("/stream", get(stream))
    }

    #[tokio::test(start_paused = true)]
    async fn a_stream_whose_client_reads_nothing_is_closed_once_its_keep_alives_stall() {
        let limits = ConnectionLimits {
            max_connections: 1,
            header_read_timeout: Duration::from_secs(10),
            write_timeout: WRITE_TIMEOUT,
        };
        // A small pipe: the keep-alives fill it after a few minutes of tokio's paused clock.
        let (mut client, server) = duplex(1024);
        client
            .write_all(b"GET /stream HTTP/1.1\r\nHost: tally\r\n\r\n")
            .await
            .expect("request");
        let began = Instant::now();

        let connection = connection(&http1(&limits), server, &quiet_stream(), WRITE_TIMEOUT);
        let ended = tokio::time::timeout(Duration::from_secs(86_400), connection).await;

        let error = ended
            .expect("the connection ends")
            .expect_err("the stalled connection ends with an error");
        let cause = error
            .source()
            .and_then(|cause| cause.downcast_ref::<std::io::Error>());
        assert_eq!(
            cause.map(std::io::Error::kind),
            Some(std::io::ErrorKind::TimedOut),
            "{error:?}"
        );
        // Keep-alives went out until the pipe was full, and only then the deadline ran.
        assert!(began.elapsed() > 10 * KEEP_ALIVE, "{:?}", began.elapsed());
        drop(client);
    }
}
