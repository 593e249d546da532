//! The rate limit layer: checks a [`Limiter`] before the inner service runs; admitted
//! requests get the decision in their extensions (see [`RateLimitInfo`]) and the rate
//! limit headers on their response; rejected ones get `429 Too Many Requests` with
//! `Retry-After` and an `application/problem+json` body, without reaching the service.
//!
//! A decision taken by the limiter's failure policy with the backend unreachable
//! (fail-closed) answers `503 Service Unavailable` instead: the client did nothing wrong.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::response::Response;
use http::request::Parts;
use http::{HeaderValue, Request, StatusCode};
use tower::{Layer, Service};

use super::key::KeyExtractor;
use super::{RateLimitInfo, problem};
use crate::backend::Backend;
use crate::headers;
use crate::limiter::{CheckOptions, Decision, FailureMode, Limiter};

/// What to do with a request whose key cannot be extracted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum MissingKey {
    /// Answer `400 Bad Request` (problem+json). The default: a missing key usually means a
    /// missing API key or a server not started with connect info.
    #[default]
    Reject,
    /// Let it through unlimited.
    Allow,
    /// Charge it to this shared key (all key-less requests share one budget).
    Shared(String),
}

/// Which headers admitted and rejected responses carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeaderStyle {
    /// `RateLimit-Policy` and `RateLimit` (draft-ietf-httpapi-ratelimit-headers-11).
    pub ietf: bool,
    /// `X-RateLimit-Limit`, `-Remaining`, `-Reset`.
    pub legacy: bool,
}

impl Default for HeaderStyle {
    fn default() -> Self {
        HeaderStyle {
            ietf: true,
            legacy: true,
        }
    }
}

type TierFn = dyn Fn(&Parts) -> Option<String> + Send + Sync;
type CostFn = dyn Fn(&Parts) -> i64 + Send + Sync;

#[derive(Clone)]
struct Config<B> {
    limiter: Limiter<B>,
    key: Arc<dyn KeyExtractor>,
    scope: Option<String>,
    tier: Option<Arc<TierFn>>,
    cost: Option<Arc<CostFn>>,
    missing: MissingKey,
    headers: HeaderStyle,
}

/// A [`Layer`] that rate limits requests; build it with [`RateLimitLayer::new`].
///
/// Global (`Router::layer`) or per route (`Router::route_layer`, or a `MethodRouter`'s
/// `layer`). Give per-route layers sharing one [`Limiter`] a [`scope`](Self::scope) each,
/// or they share budgets.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use axum::{Router, routing::get};
/// use embedis_kit::backend::EmbeddedBackend;
/// use embedis_kit::http::{PeerIp, RateLimitLayer};
/// use embedis_kit::limiter::{Limiter, Policy};
///
/// let limiter = Limiter::builder(EmbeddedBackend::new(embedis::Db::new()))
///     .policy("burst", Policy::fixed_window(5, Duration::from_secs(10)))
///     .policy("daily", Policy::sliding_window(1000, Duration::from_secs(86_400)))
///     .build()
///     .unwrap();
/// let app: Router = Router::new()
///     .route("/", get(|| async { "hi" }))
///     .layer(RateLimitLayer::new(limiter, PeerIp));
/// # let _ = app;
/// # });
/// ```
pub struct RateLimitLayer<B> {
    cfg: Arc<Config<B>>,
}

impl<B> Clone for RateLimitLayer<B> {
    fn clone(&self) -> Self {
        RateLimitLayer {
            cfg: self.cfg.clone(),
        }
    }
}

impl<B> std::fmt::Debug for RateLimitLayer<B> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimitLayer")
            .field("scope", &self.cfg.scope)
            .field("missing", &self.cfg.missing)
            .finish_non_exhaustive()
    }
}

impl<B: Backend> RateLimitLayer<B> {
    /// Limits with `limiter`'s default policies, keyed by `key`.
    pub fn new(limiter: Limiter<B>, key: impl KeyExtractor) -> Self {
        RateLimitLayer {
            cfg: Arc::new(Config {
                limiter,
                key: Arc::new(key),
                scope: None,
                tier: None,
                cost: None,
                missing: MissingKey::default(),
                headers: HeaderStyle::default(),
            }),
        }
    }

    fn edit(mut self, f: impl FnOnce(&mut Config<B>)) -> Self {
        f(Arc::make_mut(&mut self.cfg));
        self
    }

    /// Prefixes keys with `scope` (`"{scope}/{key}"`): a separate budget for this route.
    pub fn scope(self, scope: impl Into<String>) -> Self {
        let scope = scope.into();
        self.edit(|c| c.scope = Some(scope))
    }

    /// Chooses the limiter tier per request (`None`: the default policies). An unknown
    /// tier is a configuration error: the request is refused (503).
    pub fn tier(self, f: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        self.edit(|c| c.tier = Some(Arc::new(f)))
    }

    /// The cost of a request (default 1).
    pub fn cost(self, f: impl Fn(&Parts) -> i64 + Send + Sync + 'static) -> Self {
        self.edit(|c| c.cost = Some(Arc::new(f)))
    }

    /// What to do when the key extractor finds no key.
    pub fn on_missing_key(self, m: MissingKey) -> Self {
        self.edit(|c| c.missing = m)
    }

    /// Which headers to send.
    pub fn headers(self, h: HeaderStyle) -> Self {
        self.edit(|c| c.headers = h)
    }

    /// The limiter.
    pub fn limiter(&self) -> &Limiter<B> {
        &self.cfg.limiter
    }
}

impl<B, S> Layer<S> for RateLimitLayer<B> {
    type Service = RateLimit<B, S>;

    fn layer(&self, inner: S) -> Self::Service {
        RateLimit {
            cfg: self.cfg.clone(),
            inner,
        }
    }
}

/// The service made by [`RateLimitLayer`].
pub struct RateLimit<B, S> {
    cfg: Arc<Config<B>>,
    inner: S,
}

impl<B, S: Clone> Clone for RateLimit<B, S> {
    fn clone(&self) -> Self {
        RateLimit {
            cfg: self.cfg.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<B, S> std::fmt::Debug for RateLimit<B, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimit").finish_non_exhaustive()
    }
}

impl<B, S, ReqBody> Service<Request<ReqBody>> for RateLimit<B, S>
where
    B: Backend,
    S: Service<Request<ReqBody>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<ReqBody>) -> Self::Future {
        // The clone is the one that was not polled ready: keep the ready one for this call.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let cfg = self.cfg.clone();
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let key = match cfg.key.extract(&parts) {
                Some(k) => k,
                None => match &cfg.missing {
                    MissingKey::Allow => {
                        return inner.call(Request::from_parts(parts, body)).await;
                    }
                    MissingKey::Shared(k) => k.clone(),
                    MissingKey::Reject => {
                        return Ok(problem(
                            StatusCode::BAD_REQUEST,
                            "Missing rate limit key",
                            "the request carries nothing to rate limit it by",
                        ));
                    }
                },
            };
            let key = match &cfg.scope {
                Some(s) => format!("{s}/{key}"),
                None => key,
            };
            let tier = cfg.tier.as_ref().and_then(|f| f(&parts));
            let mut opts = CheckOptions::default();
            if let Some(f) = &cfg.cost {
                opts = CheckOptions::cost(f(&parts));
            }
            if let Some(t) = &tier {
                opts = opts.tier(t);
            }
            let d = cfg.limiter.check_with(&key, opts).await;
            if !d.allowed {
                return Ok(rejection(&d, cfg.headers));
            }
            parts.extensions.insert(RateLimitInfo {
                decision: d.clone(),
                key,
            });
            let mut res = inner.call(Request::from_parts(parts, body)).await?;
            add_headers(&mut res, &d, cfg.headers);
            Ok(res)
        })
    }
}

fn add_headers(res: &mut Response, d: &Decision, style: HeaderStyle) {
    let mut all = Vec::new();
    if style.ietf {
        all.extend(headers::ietf(d, None));
    }
    if style.legacy {
        all.extend(headers::legacy(d));
    }
    all.extend(headers::retry_after(d));
    let h = res.headers_mut();
    for (name, value) in all {
        if let Ok(v) = HeaderValue::from_str(&value) {
            h.insert(name, v);
        }
    }
}

fn rejection(d: &Decision, style: HeaderStyle) -> Response {
    let failed_closed = d
        .degraded
        .is_some_and(|g| g.mode == FailureMode::FailedClosed);
    let mut res = if failed_closed {
        problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "Rate limiter unavailable",
            "the rate limit could not be checked; try again later",
        )
    } else {
        let detail = match d.retry_after {
            Some(w) => format!(
                "rate limit exceeded; retry in {} s",
                w.as_secs() + u64::from(w.subsec_nanos() > 0)
            ),
            None => "rate limit exceeded; this request exceeds the limit".to_owned(),
        };
        problem(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests", &detail)
    };
    add_headers(&mut res, d, style);
    res
}
