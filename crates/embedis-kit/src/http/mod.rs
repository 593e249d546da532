//! Tower layers and axum extractors (feature `axum`): rate limiting and response caching
//! for an axum app, over any [`Backend`], in a few lines.
//!
//! - [`RateLimitLayer`]: a [`Limiter`](crate::limiter::Limiter) in front of routes, keyed
//!   by a [`KeyExtractor`] ([`PeerIp`], [`ClientIp`] behind [`TrustedProxies`],
//!   [`HeaderKey`], [`ExtensionKey`], or a closure); `429` with `Retry-After`, the IETF
//!   `RateLimit`/`RateLimit-Policy` and the `X-RateLimit-*` headers, and a problem+json body.
//! - [`ResponseCache`] and its [`layer`](ResponseCache::layer): `GET`/`HEAD` responses
//!   stored in the backend, ETags and `304`, invalidation by key or path prefix.
//! - Extractors: [`RateLimitInfo`] (the decision that admitted the request),
//!   [`ResponseCache`] and [`BackendHandle`] (the backend of a layer in front).
//!
//! The layers answer with responses, never with errors: a backend failure goes through the
//! limiter's failure policy (rate limit) or straight to the service (cache). They wrap axum
//! services (`Response = axum::response::Response`, `Error = Infallible`), which is what
//! `Router::layer` and `Router::route_layer` hand them.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::time::Duration;
//! use axum::{Router, routing::get};
//! use embedis_kit::backend::{AnyBackend, EmbeddedBackend};
//! use embedis_kit::http::{ClientIp, RateLimitInfo, RateLimitLayer, ResponseCache, TrustedProxies};
//! use embedis_kit::limiter::{Limiter, Policy};
//!
//! let backend: AnyBackend = EmbeddedBackend::new(embedis::Db::new()).into();
//! let limiter = Limiter::builder(backend.clone())
//!     .policy("per-ip", Policy::fixed_window(5, Duration::from_secs(10)))
//!     .build()
//!     .unwrap();
//! let cache = ResponseCache::builder(backend).ttl(Duration::from_secs(30)).build();
//! let app: Router = Router::new()
//!     .route("/", get(|rl: RateLimitInfo| async move { format!("{} left", rl.decision.remaining) }))
//!     .layer(cache.layer())
//!     .layer(RateLimitLayer::new(limiter, ClientIp::new(TrustedProxies::parse(["10.0.0.0/8"]).unwrap())));
//! # let _ = app;
//! # });
//! ```

mod cache;
mod key;
mod ratelimit;

use axum::body::Body;
use axum::extract::{FromRequestParts, OptionalFromRequestParts};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, StatusCode, header};

pub use self::cache::{
    CacheMetrics, Entry, ResponseCache, ResponseCacheBuilder, ResponseCacheLayer, ResponseCaching,
    decode, encode,
};
pub use self::key::{
    Cidr, CidrError, ClientIp, ExtensionKey, ForwardedHeader, HeaderKey, KeyExtractor, PeerIp,
    TrustedProxies,
};
pub use self::ratelimit::{HeaderStyle, MissingKey, RateLimit, RateLimitLayer};
use crate::backend::Backend;
use crate::limiter::Decision;

/// An `application/problem+json` (RFC 9457) response.
pub fn problem(status: StatusCode, title: &str, detail: &str) -> Response {
    let body = format!(
        "{{\"type\":\"about:blank\",\"title\":{},\"status\":{},\"detail\":{}}}",
        json_string(title),
        status.as_u16(),
        json_string(detail)
    );
    let mut res = Response::new(Body::from(body));
    *res.status_mut() = status;
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/problem+json"),
    );
    res
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// The rate limit decision that admitted this request (set by [`RateLimitLayer`]; with
/// several layers, the innermost one's). Extract `Option<RateLimitInfo>` on routes that
/// may run without the layer.
#[derive(Debug, Clone)]
pub struct RateLimitInfo {
    /// The decision.
    pub decision: Decision,
    /// The key it was charged to (with the layer's scope).
    pub key: String,
}

fn missing(what: &str) -> Response {
    problem(
        StatusCode::INTERNAL_SERVER_ERROR,
        "Server misconfigured",
        &format!("{what} is not installed in front of this route"),
    )
}

impl<S: Send + Sync> FromRequestParts<S> for RateLimitInfo {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<RateLimitInfo>()
            .cloned()
            .ok_or_else(|| missing("RateLimitLayer"))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for RateLimitInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<RateLimitInfo>().cloned())
    }
}

impl<S: Send + Sync, B: Backend> FromRequestParts<S> for ResponseCache<B> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<ResponseCache<B>>()
            .cloned()
            .ok_or_else(|| missing("ResponseCache::layer"))
    }
}

/// The backend a layer in front of the route runs on (the response cache layer puts its
/// backend in the extensions; so does `axum::Extension(backend)`).
#[derive(Debug, Clone)]
pub struct BackendHandle<B>(pub B);

impl<S: Send + Sync, B: Backend> FromRequestParts<S> for BackendHandle<B> {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Response> {
        parts
            .extensions
            .get::<B>()
            .cloned()
            .map(BackendHandle)
            .ok_or_else(|| missing("a backend (ResponseCache::layer or Extension)"))
    }
}

impl IntoResponse for RateLimitInfo {
    fn into_response(self) -> Response {
        let mut res = Response::new(Body::empty());
        for (k, v) in crate::headers::ietf(&self.decision, None) {
            if let Ok(v) = HeaderValue::from_str(&v) {
                res.headers_mut().insert(k, v);
            }
        }
        res
    }
}

#[cfg(test)]
mod tests;
