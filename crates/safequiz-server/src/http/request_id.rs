//! The request-id middleware: every request gets a [`RequestId`], every response carries it in
//! `X-Request-Id`, and every log line and error body written while serving it names it.
//!
//! A request from one of `http.trusted_proxies` keeps the `X-Request-Id` its proxy set when the
//! value is sane ([`RequestId::parse`]), so one id follows a request from the edge to the log
//! here; from anyone else, or when absent or odd, a new random one is made. The id is held in a
//! task-local for the life of the service call ([`RequestId::scope`]), which is what the log
//! formatter and [`super::error::ApiError`] read: no span, no allocation besides the header.

use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll};

use actix_web::Error;
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::http::header::{HeaderName, HeaderValue};

use tokio::task::futures::TaskLocalFuture;

use super::client_address::TrustedProxies;
use crate::telemetry::{RequestId, RequestScope};

/// The header the id travels in, both ways.
pub const REQUEST_ID_HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The middleware factory: registered once, outermost, in `startup`.
#[derive(Clone)]
pub struct RequestIds {
    trusted_proxies: Rc<TrustedProxies>,
}

impl RequestIds {
    /// Ids from `trusted_proxies` are kept; every other request gets a new one.
    pub fn new(trusted_proxies: TrustedProxies) -> RequestIds {
        RequestIds {
            trusted_proxies: Rc::new(trusted_proxies),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestIds
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Transform = RequestIdService<S>;
    type InitError = ();
    type Future = std::future::Ready<Result<RequestIdService<S>, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        std::future::ready(Ok(RequestIdService {
            service,
            trusted_proxies: Rc::clone(&self.trusted_proxies),
        }))
    }
}

/// The middleware around the application.
pub struct RequestIdService<S> {
    service: S,
    trusted_proxies: Rc<TrustedProxies>,
}

impl<S> RequestIdService<S> {
    /// The proxy's id when the peer is a trusted proxy and the id is sane, else a new one.
    fn id_for(&self, request: &ServiceRequest) -> RequestId {
        let from_trusted_proxy = request
            .peer_addr()
            .is_some_and(|peer| self.trusted_proxies.contains(peer.ip()));
        from_trusted_proxy
            .then(|| request.headers().get(REQUEST_ID_HEADER))
            .flatten()
            .and_then(|value| RequestId::parse(value.as_bytes()))
            .unwrap_or_else(RequestId::generate)
    }
}

impl<S, B> Service<ServiceRequest> for RequestIdService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = Error>,
{
    type Response = ServiceResponse<B>;
    type Error = Error;
    type Future = WithId<TaskLocalFuture<RequestScope, S::Future>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let id = self.id_for(&request);
        let response = id.sync_scope(|| self.service.call(request));
        WithId {
            inner: id.scope(response),
            id,
        }
    }
}

pin_project_lite::pin_project! {
    /// The service's future inside the request's scope, then the header.
    pub struct WithId<F> {
        #[pin]
        inner: F,
        id: RequestId,
    }
}

impl<F, B> Future for WithId<F>
where
    F: Future<Output = Result<ServiceResponse<B>, Error>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = std::task::ready!(this.inner.poll(cx))?;
        if let Ok(value) = HeaderValue::from_str(this.id.as_str()) {
            response.headers_mut().insert(REQUEST_ID_HEADER, value);
        }
        Poll::Ready(Ok(response))
    }
}
