//! A deadline for writes that make no progress. hyper has no write timeout: a client that
//! stops reading leaves a response's write waiting for ever once the socket's buffers are
//! full, holding its connection (and its slot among `--max-connections`). Wrapped in
//! [`WriteDeadline`], a write, flush or shutdown that has been waiting, without a byte accepted,
//! for the timeout fails with [`io::ErrorKind::TimedOut`], and hyper drops the connection.
//!
//! Only waiting counts: an idle connection (nothing to write) is never cut, and a slow reader
//! that takes some bytes within each timeout keeps its connection.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{Instant, Sleep};

/// A transport that can be told, before it is dropped, to discard what its peer has not taken.
pub trait DiscardUnsent {
    /// Makes the close abortive: the bytes a stalled client never read would otherwise stay in
    /// the kernel's memory (megabytes a connection) until it gave up on them, minutes later.
    fn discard_unsent_on_close(&self);
}

impl DiscardUnsent for TcpStream {
    fn discard_unsent_on_close(&self) {
        // A reset instead of a FIN after the unsent bytes; on failure the close is merely
        // orderly, which is what it would have been anyway.
        let _ = self.set_zero_linger();
    }
}

/// `inner`, whose writes fail once they have waited `timeout` without progress.
pub struct WriteDeadline<T> {
    inner: T,
    timeout: Duration,
    /// Allocated at the first wait and reused: fires `timeout` after the wait began.
    stall: Option<Pin<Box<Sleep>>>,
    /// Whether a write is waiting now (`stall` counts from when it began).
    waiting: bool,
}

impl<T> WriteDeadline<T> {
    pub fn new(inner: T, timeout: Duration) -> Self {
        WriteDeadline {
            inner,
            timeout,
            stall: None,
            waiting: false,
        }
    }
}

impl<T: DiscardUnsent> WriteDeadline<T> {
    /// Passes on what a write-side operation returned, unless it is still waiting and has
    /// waited `timeout` since the last progress: then a `TimedOut` error.
    fn within_deadline<R>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<R>>,
    ) -> Poll<io::Result<R>> {
        if polled.is_ready() {
            self.waiting = false;
            return polled;
        }
        let deadline = Instant::now() + self.timeout;
        let stall = match &mut self.stall {
            Some(stall) => {
                if !self.waiting {
                    stall.as_mut().reset(deadline);
                }
                stall
            }
            None => self
                .stall
                .insert(Box::pin(tokio::time::sleep_until(deadline))),
        };
        self.waiting = true;
        // Polled so that the task wakes when the deadline passes, even if the socket never
        // becomes writable again.
        if stall.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        self.inner.discard_unsent_on_close();
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client took nothing written for {:?}", self.timeout),
        )))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for WriteDeadline<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + DiscardUnsent + Unpin> AsyncWrite for WriteDeadline<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write(cx, buf);
        this.within_deadline(cx, polled)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_write_vectored(cx, bufs);
        this.within_deadline(cx, polled)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_flush(cx);
        this.within_deadline(cx, polled)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_shutdown(cx);
        this.within_deadline(cx, polled)
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt, DuplexStream, duplex};

    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(30);
    const BUFFER: usize = 64;

    impl DiscardUnsent for DuplexStream {
        fn discard_unsent_on_close(&self) {}
    }

    /// A writer over a pipe of `BUFFER` bytes, and the pipe's other end.
    fn pipe() -> (WriteDeadline<DuplexStream>, DuplexStream) {
        let (ours, theirs) = duplex(BUFFER);
        (WriteDeadline::new(ours, TIMEOUT), theirs)
    }

    #[tokio::test(start_paused = true)]
    async fn a_write_the_reader_takes_nothing_of_fails_after_the_timeout_and_not_before() {
        let (mut writer, _reader) = pipe();
        writer.write_all(&[0; BUFFER]).await.expect("fits the pipe");
        let began = Instant::now();

        let stalled = tokio::time::timeout(10 * TIMEOUT, writer.write_all(b"more")).await;

        let error = stalled.expect("the write ends").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), TIMEOUT);
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_reader_that_takes_a_byte_within_each_timeout_is_never_cut() {
        let (mut writer, mut reader) = pipe();
        let slow = tokio::spawn(async move {
            let mut taken = 0;
            let mut byte = [0; 1];
            while reader.read(&mut byte).await.expect("read") == 1 {
                taken += 1;
                tokio::time::sleep(TIMEOUT - Duration::from_secs(1)).await;
            }
            taken
        });
        let began = Instant::now();
        let written = 3 * BUFFER;

        writer.write_all(&vec![0; written]).await.expect("written");
        writer.shutdown().await.expect("closed");

        assert!(began.elapsed() > 10 * TIMEOUT, "{:?}", began.elapsed());
        assert_eq!(slow.await.unwrap(), written);
    }

    #[tokio::test(start_paused = true)]
    async fn an_idle_writer_and_one_whose_wait_ended_start_afresh() {
        let (mut writer, mut reader) = pipe();
        writer.write_all(&[0; BUFFER]).await.expect("fits the pipe");
        let waiting = tokio::spawn(async move { writer.write_all(b"more").await.map(|()| writer) });
        tokio::time::sleep(TIMEOUT - Duration::from_secs(1)).await;
        reader.read_exact(&mut [0; BUFFER]).await.expect("taken");
        let mut writer = waiting
            .await
            .unwrap()
            .expect("written once the reader took some");

        // Idle for far longer than the timeout, then a write that waits: it gets its own
        // timeout, not what is left of an earlier one.
        tokio::time::sleep(10 * TIMEOUT).await;
        writer
            .write_all(&[0; BUFFER - 4])
            .await
            .expect("fits the pipe");
        let began = Instant::now();
        let stalled = tokio::time::timeout(10 * TIMEOUT, writer.write_all(b"more")).await;

        let error = stalled.expect("the write ends").unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(began.elapsed(), TIMEOUT);
    }
}
