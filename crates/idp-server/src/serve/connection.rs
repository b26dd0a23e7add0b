//! One accepted connection: where it is in its request cycle, and the
//! socket wrapper that enforces the deadline of each stage.
//!
//! A connection is always in one of three stages:
//! - **headers**: a request has begun (or the connection has just opened)
//!   and its headers must be complete by `HEADER_READ_TIMEOUT_SECONDS`;
//! - **busy**: a request is being handled and its response written (the
//!   handler's own `REQUEST_TIMEOUT_SECONDS` bounds it);
//! - **idle**: kept alive between requests, closed after
//!   `IDLE_TIMEOUT_SECONDS`.
//!
//! hyper's own `header_read_timeout` is not used: it starts when hyper
//! starts waiting for a request, idle time included, so it would close
//! every kept-alive connection after the header timeout (10 s) instead of
//! the idle timeout (60 s).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Waker, ready};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// After a response that leaves part of the request unread, the server
/// half-closes and keeps reading (and dropping) what the client still
/// sends, up to this much …
const LINGER_MAX_BYTES: u64 = 8 * 1024 * 1024;
/// … for at most this long, before it closes the socket. Closing with
/// unread data in the socket makes the kernel answer with a reset, which
/// can destroy the response in the client's buffers before it is read
/// (RFC 9112 §9.6).
const LINGER_TIME: Duration = Duration::from_secs(5);

/// How long a connection may wait in each stage.
#[derive(Clone, Copy, Debug)]
pub struct Timeouts {
    pub header_read: Duration,
    pub idle: Duration,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Headers,
    Busy,
    Idle,
}

/// A connection's stage and the requests made of it from outside, shared
/// by its socket wrapper and HTTP service (both polled by the connection's
/// task) and the accept loop (which reads it to pick a connection to close).
#[derive(Debug)]
pub struct ConnectionState {
    /// The stage and, in microseconds since `epoch`, when it began:
    /// `micros << 2 | stage`, one word so that readers see both together.
    stage: AtomicU64,
    epoch: Instant,
    /// Eviction or shutdown asked the connection to close.
    closing: AtomicBool,
    close_requested: Notify,
    /// The last response left part of its request unread.
    linger: AtomicBool,
    /// The connection's task, parked on a read: woken when the connection
    /// goes idle, so that the read arms the idle deadline (hyper does not
    /// poll the read again by itself once the response is out).
    reader: Mutex<Option<Waker>>,
}

const HEADERS: u64 = 0;
const BUSY: u64 = 1;
const IDLE: u64 = 2;

impl ConnectionState {
    /// A connection just accepted: its first request's headers are due.
    pub fn new(epoch: Instant) -> Self {
        let state = Self {
            stage: AtomicU64::new(0),
            epoch,
            closing: AtomicBool::new(false),
            close_requested: Notify::new(),
            linger: AtomicBool::new(false),
            reader: Mutex::new(None),
        };
        state.enter(HEADERS);
        state
    }

    fn enter(&self, stage: u64) {
        let micros = u64::try_from(self.epoch.elapsed().as_micros()).unwrap_or(u64::MAX >> 2);
        self.stage.store(micros << 2 | stage, Ordering::Relaxed);
    }

    /// The current stage and when it began.
    pub fn stage(&self) -> (Stage, Instant) {
        let word = self.stage.load(Ordering::Relaxed);
        let stage = match word & 3 {
            HEADERS => Stage::Headers,
            BUSY => Stage::Busy,
            _ => Stage::Idle,
        };
        (stage, self.epoch + Duration::from_micros(word >> 2))
    }

    /// hyper has read a request's headers and calls the service.
    pub fn request_started(&self) {
        self.enter(BUSY);
    }

    /// The response has been handed to the socket: the connection waits
    /// for the next request.
    pub fn request_finished(&self) {
        self.enter(IDLE);
        let reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(waker) = reader {
            waker.wake();
        }
    }

    fn park_reader(&self, waker: &Waker) {
        let mut reader = self.reader.lock().unwrap_or_else(PoisonError::into_inner);
        if !reader.as_ref().is_some_and(|w| w.will_wake(waker)) {
            *reader = Some(waker.clone());
        }
    }

    /// The first bytes of a request arrived on an idle connection: the
    /// header deadline starts now.
    fn bytes_arrived(&self) {
        if self.stage().0 == Stage::Idle {
            self.enter(HEADERS);
        }
    }

    /// When the connection is closed if nothing changes.
    fn deadline(&self, timeouts: &Timeouts) -> Option<Instant> {
        match self.stage() {
            (Stage::Headers, since) => Some(since + timeouts.header_read),
            (Stage::Idle, since) => Some(since + timeouts.idle),
            (Stage::Busy, _) => None,
        }
    }

    /// Closes the connection as soon as it has no request in progress: at
    /// once when idle or still reading headers, after its response (which
    /// then says `Connection: close`) when busy.
    pub fn request_close(&self) {
        self.closing.store(true, Ordering::Relaxed);
        self.close_requested.notify_one();
    }

    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }

    /// Completes once [`Self::request_close`] has been called.
    pub async fn close_requested(&self) {
        self.close_requested.notified().await;
    }

    /// The response being sent leaves request bytes unread: drain them
    /// when the connection closes after it.
    pub fn linger_on_close(&self) {
        self.linger.store(true, Ordering::Relaxed);
    }
}

/// A client socket that fails its reads when the connection's deadline
/// passes (hyper then drops the connection), fails its writes when the
/// client stops reading for the idle timeout, and closes in stages when
/// the last request was not read to its end.
#[derive(Debug)]
pub struct GuardedStream {
    inner: TcpStream,
    state: Arc<ConnectionState>,
    timeouts: Timeouts,
    /// The read deadline, or the end of lingering.
    timer: Pin<Box<Sleep>>,
    timer_set_for: Option<Instant>,
    /// Since when writes have made no progress: a client that stops
    /// reading our response is cut off after the idle timeout.
    write_stalled_since: Option<Instant>,
    write_timer: Pin<Box<Sleep>>,
    linger: Option<Linger>,
}

#[derive(Debug)]
struct Linger {
    until: Instant,
    drained: u64,
}

impl GuardedStream {
    pub fn new(inner: TcpStream, state: Arc<ConnectionState>, timeouts: Timeouts) -> Self {
        let now = Instant::now();
        Self {
            inner,
            state,
            timeouts,
            timer: Box::pin(tokio::time::sleep_until(now)),
            timer_set_for: None,
            write_stalled_since: None,
            write_timer: Box::pin(tokio::time::sleep_until(now)),
            linger: None,
        }
    }

    /// Ready once `deadline` has passed; otherwise arranges a wake-up then.
    fn poll_timer(&mut self, cx: &mut Context<'_>, deadline: Instant) -> Poll<()> {
        if self.timer_set_for != Some(deadline) {
            self.timer.as_mut().reset(deadline);
            self.timer_set_for = Some(deadline);
        }
        self.timer.as_mut().poll(cx)
    }

    fn poll_write_guarded(
        &mut self,
        cx: &mut Context<'_>,
        write: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<usize>>,
    ) -> Poll<io::Result<usize>> {
        match write(Pin::new(&mut self.inner), cx) {
            Poll::Ready(result) => {
                self.write_stalled_since = None;
                Poll::Ready(result)
            }
            Poll::Pending => {
                if self.write_stalled_since.is_none() {
                    let now = Instant::now();
                    self.write_timer.as_mut().reset(now + self.timeouts.idle);
                    self.write_stalled_since = Some(now);
                }
                if self.write_timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Err(io::Error::new(
                        io::ErrorKind::TimedOut,
                        "the client stopped reading the response",
                    )));
                }
                Poll::Pending
            }
        }
    }

    /// Reads and drops what the client still sends after our half-close,
    /// until it closes its side, the bounds are reached, or the server is
    /// asked to close the connection at once.
    fn poll_linger(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let now = Instant::now();
        let until =
            self.linger.get_or_insert(Linger { until: now + LINGER_TIME, drained: 0 }).until;
        let mut scratch = [0u8; 8 * 1024];
        loop {
            let drained = self.linger.as_ref().map_or(0, |l| l.drained);
            if drained >= LINGER_MAX_BYTES || self.state.is_closing() {
                return Poll::Ready(());
            }
            let mut buf = ReadBuf::new(&mut scratch);
            match Pin::new(&mut self.inner).poll_read(cx, &mut buf) {
                Poll::Ready(Ok(())) if buf.filled().is_empty() => return Poll::Ready(()),
                Poll::Ready(Ok(())) => {
                    let n = u64::try_from(buf.filled().len()).unwrap_or(u64::MAX);
                    if let Some(linger) = self.linger.as_mut() {
                        linger.drained = linger.drained.saturating_add(n);
                    }
                }
                Poll::Ready(Err(_)) => return Poll::Ready(()),
                Poll::Pending => return self.poll_timer(cx, until),
            }
        }
    }
}

impl AsyncRead for GuardedStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.state.is_closing() && this.state.stage().0 != Stage::Busy {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::ConnectionAborted,
                "closed by the server (shutdown or connection cap)",
            )));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.inner).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                if buf.filled().len() > before {
                    this.state.bytes_arrived();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(err)) => Poll::Ready(Err(err)),
            Poll::Pending => {
                this.state.park_reader(cx.waker());
                let Some(deadline) = this.state.deadline(&this.timeouts) else {
                    return Poll::Pending;
                };
                ready!(this.poll_timer(cx, deadline));
                let what = match this.state.stage().0 {
                    Stage::Idle => "idle timeout",
                    _ => "request headers not received in time",
                };
                Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, what)))
            }
        }
    }
}

impl AsyncWrite for GuardedStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_guarded(cx, |inner, cx| inner.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.get_mut().poll_write_guarded(cx, |inner, cx| inner.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    /// hyper calls this when it closes the connection after a response.
    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            if !this.state.linger.load(Ordering::Relaxed) {
                return Poll::Ready(Ok(()));
            }
        }
        ready!(this.poll_linger(cx));
        Poll::Ready(Ok(()))
    }
}
