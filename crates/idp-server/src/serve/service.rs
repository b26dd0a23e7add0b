//! The HTTP service hyper calls for each request: hands it to the router
//! with what the handlers learn about the connection, and marks the
//! connection idle once the response is out.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, Response};
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use tower::ServiceExt as _;

use super::connection::ConnectionState;

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
            parts.extensions.insert(ConnectInfo(peer));
            let request = Request::from_parts(parts, Body::new(body));
            let response = match router.oneshot(request).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            Ok(response.map(|body| ResponseBody { inner: body, connection }))
        })
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
