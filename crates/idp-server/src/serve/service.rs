//! The HTTP service hyper calls for each request: hands it to the router
//! and makes sure the connection stays usable afterwards.
//!
//! A handler may answer without reading the request body (a 413, 415 or
//! 401). HTTP/1.1 can only go on to the next request once the rest of that
//! body has been read, so after the handler:
//! - a small remainder is read and dropped before the response is sent,
//!   and the connection is kept alive;
//! - otherwise the response says `Connection: close` (RFC 9112 §9.6), and
//!   the connection half-closes and drains what the client still sends
//!   (see [`super::connection`]), so the client reads the answer instead
//!   of a reset.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{HeaderValue, Request, Response, header};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use tower::ServiceExt as _;

use super::connection::ConnectionState;

/// An unread remainder up to this size is read before answering (Go's
/// net/http reads up to 256 KiB for the same reason) …
const DRAIN_MAX_BYTES: u64 = 256 * 1024;
/// … if it arrives within this time; otherwise the connection closes.
const DRAIN_TIME: Duration = Duration::from_secs(2);

/// One per connection: the router, and what the handlers learn about the
/// connection (`ConnectInfo` for the client IP).
#[derive(Clone, Debug)]
pub struct HttpService {
    router: Router,
    peer: SocketAddr,
    connection: Arc<ConnectionState>,
}

impl HttpService {
    pub fn new(router: Router, peer: SocketAddr, connection: Arc<ConnectionState>) -> Self {
        Self { router, peer, connection }
    }
}

type ResponseFuture =
    Pin<Box<dyn Future<Output = Result<Response<ResponseBody>, Infallible>> + Send>>;

impl hyper::service::Service<Request<Incoming>> for HttpService {
    type Response = Response<ResponseBody>;
    type Error = Infallible;
    type Future = ResponseFuture;

    fn call(&self, request: Request<Incoming>) -> Self::Future {
        self.connection.request_started();
        let router = self.router.clone();
        let connection = self.connection.clone();
        let peer = self.peer;
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            // RFC 9110 §10.1.1: a client that expects `100 Continue` sends
            // the body only once it is asked for it.
            let expects_continue = parts
                .headers
                .get(header::EXPECT)
                .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
            parts.extensions.insert(ConnectInfo(peer));
            let slot = BodySlot::new(body);
            let request = Request::from_parts(parts, Body::new(slot.reader()));
            let mut response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            if slot.finish(expects_continue).await == Remainder::Unread {
                response
                    .headers_mut()
                    .insert(header::CONNECTION, HeaderValue::from_static("close"));
                connection.linger_on_close();
            }
            Ok(response.map(|body| ResponseBody { inner: body, connection }))
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
enum Remainder {
    /// The body was read to its end (by the handler or here).
    None,
    /// Part of the body is still unread: the connection cannot be reused.
    Unread,
}

/// The request body, shared between the handler (which may read it) and
/// the service (which takes it back when the handler is done).
#[derive(Clone, Debug)]
struct BodySlot(Arc<Mutex<SlotState>>);

#[derive(Debug)]
struct SlotState {
    body: Option<Incoming>,
    ended: bool,
    failed: bool,
    polled: bool,
}

impl BodySlot {
    fn new(body: Incoming) -> Self {
        Self(Arc::new(Mutex::new(SlotState {
            body: Some(body),
            ended: false,
            failed: false,
            polled: false,
        })))
    }

    fn reader(&self) -> SlotReader {
        SlotReader(self.clone())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SlotState> {
        self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Takes the body back from the handler and reads what is left of it,
    /// when that is little and arrives soon.
    async fn finish(&self, expects_continue: bool) -> Remainder {
        let (mut body, polled) = {
            let mut state = self.lock();
            let Some(body) = state.body.take() else { return Remainder::None };
            if state.ended || body.is_end_stream() {
                return Remainder::None;
            }
            if state.failed {
                return Remainder::Unread;
            }
            (body, state.polled)
        };
        if expects_continue && !polled {
            // Reading now would ask the client for a body we do not want;
            // RFC 9110 §10.1.1 lets us answer and close instead.
            return Remainder::Unread;
        }
        if body.size_hint().lower() > DRAIN_MAX_BYTES {
            return Remainder::Unread;
        }
        match tokio::time::timeout(DRAIN_TIME, drain(&mut body, DRAIN_MAX_BYTES)).await {
            Ok(true) => Remainder::None,
            _ => Remainder::Unread,
        }
    }
}

/// Reads `body` to its end and drops it; false if it is longer than `max`
/// or fails.
async fn drain(body: &mut Incoming, max: u64) -> bool {
    let mut read: u64 = 0;
    loop {
        let frame = std::future::poll_fn(|cx| Pin::new(&mut *body).poll_frame(cx)).await;
        match frame {
            None => return true,
            Some(Err(_)) => return false,
            Some(Ok(frame)) => {
                if let Some(data) = frame.data_ref() {
                    read = read.saturating_add(u64::try_from(data.len()).unwrap_or(u64::MAX));
                    if read > max {
                        return false;
                    }
                }
            }
        }
    }
}

/// The request body as the handler sees it.
#[derive(Debug)]
struct SlotReader(BodySlot);

impl HttpBody for SlotReader {
    type Data = Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, hyper::Error>>> {
        let mut state = self.0.lock();
        state.polled = true;
        let Some(body) = state.body.as_mut() else { return Poll::Ready(None) };
        let frame = Pin::new(body).poll_frame(cx);
        match &frame {
            Poll::Ready(None) => state.ended = true,
            Poll::Ready(Some(Err(_))) => state.failed = true,
            _ => {}
        }
        frame
    }

    fn is_end_stream(&self) -> bool {
        let state = self.0.lock();
        state.ended || state.body.as_ref().is_none_or(HttpBody::is_end_stream)
    }

    fn size_hint(&self) -> SizeHint {
        match self.0.lock().body.as_ref() {
            Some(body) => body.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}

/// The response body, which marks the connection idle once hyper is done
/// with it (hyper drops it after writing its last frame).
#[derive(Debug)]
pub struct ResponseBody {
    inner: Body,
    connection: Arc<ConnectionState>,
}

impl HttpBody for ResponseBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.get_mut().inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        self.connection.request_finished();
    }
}
