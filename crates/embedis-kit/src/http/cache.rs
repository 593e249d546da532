//! The response cache layer: stores successful `GET` responses (status, headers, body) in
//! the [`Backend`] with a TTL and serves `GET` and `HEAD` from it, with ETags and `304 Not
//! Modified`. Write routes invalidate through the [`ResponseCache`] handle.
//!
//! # What is cached
//!
//! - Key: method (`HEAD` shares `GET`'s entries), path, query, and the values of the
//!   request headers named with [`vary`](ResponseCacheBuilder::vary). A response whose own
//!   `Vary` names another header (or `*`) is not stored: its variants could not be told
//!   apart.
//! - Only `2xx` responses other than `206`, without `Set-Cookie`, whose `Cache-Control`
//!   has none of `no-store`, `private`, `no-cache`, `max-age=0`; `max-age`/`s-maxage`
//!   shortens the TTL. Requests with `Authorization` are never served from or stored in
//!   this shared cache.
//! - Request `Cache-Control: no-store` bypasses the cache; `no-cache` (or `Pragma:
//!   no-cache`) skips the lookup and stores the fresh response.
//! - Bodies up to [`max_body`](ResponseCacheBuilder::max_body) bytes; a bigger body (or a
//!   `Content-Length` above it) is streamed through uncached.
//! - Responses without an `ETag` get one (a hash of the body), and a request whose
//!   `If-None-Match` matches gets `304` without the body.
//! - `X-Cache: HIT`, `MISS` or `BYPASS` says what happened. Rate limit headers are not
//!   stored (put the rate limit layer outside the cache layer).
//!
//! # Storage and invalidation
//!
//! An entry is one value, `{prefix}:e:{path}#{hash}`, in a compact binary form (see
//! [`encode`]) that also holds the full request identity, so a hash collision is a miss,
//! never a wrong response. For invalidation by path prefix, an index mirrors the path
//! tree: node `{prefix}:ix:{path}` lists the entries stored for that path and the child
//! paths seen under it. Index nodes are updated by read-modify-write (the `Backend` has no
//! set type): two first-time stores racing on one node may drop one record, and that entry
//! then survives a prefix invalidation until its TTL. [`ResponseCache::invalidate_key`]
//! with a key from [`ResponseCache::key_for`] is always exact.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::Body;
use axum::response::Response;
use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::{Method, Request, StatusCode, Uri};
use http_body::Frame;
use http_body_util::BodyExt;
use tower::{Layer, Service};

use crate::backend::{Backend, SetOptions};
use crate::error::Result;

/// Builds a [`ResponseCache`].
#[derive(Debug)]
pub struct ResponseCacheBuilder<B> {
    backend: B,
    prefix: String,
    ttl: Duration,
    max_body: usize,
    vary: Vec<HeaderName>,
}

impl<B: Backend> ResponseCacheBuilder<B> {
    /// Key prefix (default `hc`).
    pub fn prefix(mut self, p: impl Into<String>) -> Self {
        self.prefix = p.into();
        self
    }

    /// How long an entry lives (default 60 s; a response's `max-age` may shorten it).
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// Largest body stored (default 1 MiB).
    pub fn max_body(mut self, bytes: usize) -> Self {
        self.max_body = bytes;
        self
    }

    /// Request headers whose values are part of the key (e.g. `accept-encoding`,
    /// `accept-language`).
    pub fn vary(mut self, names: impl IntoIterator<Item = HeaderName>) -> Self {
        self.vary.extend(names);
        self
    }

    /// The cache.
    pub fn build(self) -> ResponseCache<B> {
        ResponseCache {
            inner: Arc::new(Inner {
                backend: self.backend,
                prefix: self.prefix,
                ttl: self.ttl,
                max_body: self.max_body,
                vary: self.vary,
                stats: Stats::default(),
            }),
        }
    }
}

#[derive(Debug, Default)]
struct Stats {
    hits: AtomicU64,
    misses: AtomicU64,
    bypasses: AtomicU64,
    stores: AtomicU64,
    not_modified: AtomicU64,
    errors: AtomicU64,
}

/// Counters of a [`ResponseCache`].
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheMetrics {
    /// Requests answered from the cache (304s included).
    pub hits: u64,
    /// Cacheable requests that went to the service.
    pub misses: u64,
    /// Requests that skipped the cache (method, `no-store`, `Authorization`).
    pub bypasses: u64,
    /// Responses stored.
    pub stores: u64,
    /// `304 Not Modified` answers.
    pub not_modified: u64,
    /// Backend calls that failed (the request was then served by the service).
    pub backend_errors: u64,
}

#[derive(Debug)]
struct Inner<B> {
    backend: B,
    prefix: String,
    ttl: Duration,
    max_body: usize,
    vary: Vec<HeaderName>,
    stats: Stats,
}

/// A response cache: makes the [`layer`](Self::layer) and invalidates entries. Cheap to
/// clone; the layer puts a clone in every request's extensions, so handlers can take it
/// as an extractor.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use std::time::Duration;
/// use axum::{Router, routing::{get, post}};
/// use embedis_kit::backend::EmbeddedBackend;
/// use embedis_kit::http::ResponseCache;
///
/// let cache = ResponseCache::builder(EmbeddedBackend::new(embedis::Db::new()))
///     .ttl(Duration::from_secs(30))
///     .build();
/// let app: Router = Router::new()
///     .route("/items/{id}", get(|| async { "item" }))
///     .route(
///         "/items/{id}",
///         post(|cache: ResponseCache<EmbeddedBackend>, uri: axum::http::Uri| async move {
///             cache.invalidate_prefix(uri.path()).await.ok();
///             "updated"
///         }),
///     )
///     .layer(cache.layer());
/// # let _ = app;
/// # });
/// ```
#[derive(Debug)]
pub struct ResponseCache<B> {
    inner: Arc<Inner<B>>,
}

impl<B> Clone for ResponseCache<B> {
    fn clone(&self) -> Self {
        ResponseCache {
            inner: self.inner.clone(),
        }
    }
}

/// FNV-1a, 64 bits: keys and computed ETags (collisions are caught by the stored identity).
fn fnv64(parts: &[&[u8]]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for p in parts {
        for &b in *p {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
        h ^= 0xff;
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

fn directives(headers: &HeaderMap, name: HeaderName) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|d| d.trim().to_ascii_lowercase())
        .filter(|d| !d.is_empty())
        .collect()
}

fn max_age(dirs: &[String]) -> Option<u64> {
    let find = |name: &str| {
        dirs.iter().find_map(|d| {
            let (k, v) = d.split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"').parse::<u64>().ok())?
        })
    };
    find("s-maxage").or_else(|| find("max-age"))
}

/// The index node paths from the root to `path`: `/a/b` -> `/`, `/a`, `/a/b`.
fn path_chain(path: &str) -> Vec<String> {
    let mut chain = vec!["/".to_owned()];
    let mut acc = String::new();
    for seg in path.split('/').filter(|s| !s.is_empty()) {
        acc.push('/');
        acc.push_str(seg);
        chain.push(acc.clone());
    }
    if path != chain[chain.len() - 1] && !path.is_empty() {
        chain.push(path.to_owned());
    }
    chain
}

fn normalize_prefix(p: &str) -> &str {
    let t = p.trim_end_matches('/');
    if t.is_empty() { "/" } else { t }
}

impl<B: Backend> ResponseCache<B> {
    /// A builder over `backend`.
    pub fn builder(backend: B) -> ResponseCacheBuilder<B> {
        ResponseCacheBuilder {
            backend,
            prefix: "hc".into(),
            ttl: Duration::from_secs(60),
            max_body: 1 << 20,
            vary: Vec::new(),
        }
    }

    /// The tower layer.
    pub fn layer(&self) -> ResponseCacheLayer<B> {
        ResponseCacheLayer {
            cache: self.clone(),
        }
    }

    /// The backend.
    pub fn backend(&self) -> &B {
        &self.inner.backend
    }

    /// The counters.
    pub fn metrics(&self) -> CacheMetrics {
        let s = &self.inner.stats;
        let l = |a: &AtomicU64| a.load(Ordering::Relaxed);
        CacheMetrics {
            hits: l(&s.hits),
            misses: l(&s.misses),
            bypasses: l(&s.bypasses),
            stores: l(&s.stores),
            not_modified: l(&s.not_modified),
            backend_errors: l(&s.errors),
        }
    }

    fn identity(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> String {
        let m = if method == Method::HEAD {
            "GET"
        } else {
            method.as_str()
        };
        let mut id = format!("{m} {}", uri.path());
        if let Some(q) = uri.query() {
            id.push('?');
            id.push_str(q);
        }
        for name in &self.inner.vary {
            id.push('\n');
            id.push_str(name.as_str());
            id.push(':');
            for v in headers.get_all(name) {
                id.push_str(&String::from_utf8_lossy(v.as_bytes()));
                id.push(',');
            }
        }
        id
    }

    fn entry_key(&self, path: &str, identity: &str) -> Vec<u8> {
        format!(
            "{}:e:{path}#{:016x}",
            self.inner.prefix,
            fnv64(&[identity.as_bytes()])
        )
        .into_bytes()
    }

    fn node_key(&self, path: &str) -> Vec<u8> {
        format!("{}:ix:{path}", self.inner.prefix).into_bytes()
    }

    /// The storage key of the entry a request would use (for
    /// [`invalidate_key`](Self::invalidate_key)).
    pub fn key_for(&self, method: &Method, uri: &Uri, headers: &HeaderMap) -> Vec<u8> {
        self.entry_key(uri.path(), &self.identity(method, uri, headers))
    }

    /// Removes one entry; true if it existed.
    pub async fn invalidate_key(&self, key: &[u8]) -> Result<bool> {
        Ok(self.inner.backend.delete(&[key]).await? > 0)
    }

    /// Removes every entry whose path is `prefix` or lies under it (segment-wise: `/a`
    /// covers `/a`, `/a/b` and `/a?x=1`, not `/ab`); returns how many entries existed.
    pub async fn invalidate_prefix(&self, prefix: &str) -> Result<u64> {
        let mut stack = vec![normalize_prefix(prefix).to_owned()];
        // `/a/` is stored as its own node under `/a`, reached through the walk.
        let mut removed = 0;
        let mut seen = 0usize;
        while let Some(path) = stack.pop() {
            seen += 1;
            if seen > 100_000 {
                break;
            }
            let node = self.node_key(&path);
            let Some(v) = self.inner.backend.get(&node).await? else {
                continue;
            };
            let mut keys: Vec<&[u8]> = vec![&node];
            for line in v.split(|&b| b == b'\n') {
                if let Some(k) = line.strip_prefix(b"k ") {
                    keys.push(k);
                } else if let Some(c) = line.strip_prefix(b"c ") {
                    stack.push(String::from_utf8_lossy(c).into_owned());
                }
            }
            let n = self.inner.backend.delete(&keys).await?;
            removed += n.saturating_sub(1);
        }
        Ok(removed)
    }

    async fn index_add(&self, node: &[u8], line: &[u8], ttl: Duration) -> Result<()> {
        let b = &self.inner.backend;
        let cur = b.get(node).await?;
        let has = cur
            .as_ref()
            .is_some_and(|v| v.split(|&x| x == b'\n').any(|l| l == line));
        if has {
            b.expire(node, ttl).await?;
            return Ok(());
        }
        let mut v = cur.map(|c| c.to_vec()).unwrap_or_default();
        if !v.is_empty() {
            v.push(b'\n');
        }
        v.extend_from_slice(line);
        b.set(node, &v, SetOptions::ttl(ttl)).await?;
        Ok(())
    }

    async fn store(&self, path: &str, key: &[u8], entry: &[u8], ttl: Duration) -> Result<()> {
        self.inner
            .backend
            .set(key, entry, SetOptions::ttl(ttl))
            .await?;
        // Index nodes outlive their entries: every entry of this cache has at most `ttl`.
        let node_ttl = self.inner.ttl.max(ttl);
        let chain = path_chain(path);
        let mut line = b"k ".to_vec();
        line.extend_from_slice(key);
        self.index_add(&self.node_key(&chain[chain.len() - 1]), &line, node_ttl)
            .await?;
        for w in chain.windows(2).rev() {
            let line = format!("c {}", w[1]);
            self.index_add(&self.node_key(&w[0]), line.as_bytes(), node_ttl)
                .await?;
        }
        Ok(())
    }
}

/// A stored response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The request identity the entry answers (method, path, query, varying headers).
    pub identity: String,
    /// Status code.
    pub status: u16,
    /// The entity tag (quoted), possibly computed.
    pub etag: String,
    /// Response headers (hop-by-hop and rate limit headers removed).
    pub headers: Vec<(String, Bytes)>,
    /// The body.
    pub body: Bytes,
}

const MAGIC: &[u8; 4] = b"EHC1";

/// Serializes an entry: `EHC1`, status (u16), identity, etag (each u32 length + bytes),
/// header count (u16), then per header name (u16 length) and value (u32 length), then the
/// body to the end. Integers are big-endian.
pub fn encode(e: &Entry) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + e.identity.len() + e.body.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&e.status.to_be_bytes());
    for s in [e.identity.as_bytes(), e.etag.as_bytes()] {
        out.extend_from_slice(&(s.len() as u32).to_be_bytes());
        out.extend_from_slice(s);
    }
    let n = e.headers.len().min(usize::from(u16::MAX));
    out.extend_from_slice(&(n as u16).to_be_bytes());
    for (k, v) in &e.headers[..n] {
        let k = &k.as_bytes()[..k.len().min(usize::from(u16::MAX))];
        out.extend_from_slice(&(k.len() as u16).to_be_bytes());
        out.extend_from_slice(k);
        out.extend_from_slice(&(v.len() as u32).to_be_bytes());
        out.extend_from_slice(v);
    }
    out.extend_from_slice(&e.body);
    out
}

/// Parses what [`encode`] wrote; `None` if it is not a valid entry.
pub fn decode(b: &Bytes) -> Option<Entry> {
    struct R<'a> {
        b: &'a Bytes,
        at: usize,
    }
    impl R<'_> {
        fn take(&mut self, n: usize) -> Option<Bytes> {
            let end = self.at.checked_add(n)?;
            if end > self.b.len() {
                return None;
            }
            let s = self.b.slice(self.at..end);
            self.at = end;
            Some(s)
        }
        fn u16(&mut self) -> Option<u16> {
            let s = self.take(2)?;
            Some(u16::from_be_bytes([s[0], s[1]]))
        }
        fn u32(&mut self) -> Option<usize> {
            let s = self.take(4)?;
            Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]) as usize)
        }
        fn string(&mut self, n: usize) -> Option<String> {
            String::from_utf8(self.take(n)?.to_vec()).ok()
        }
    }
    let mut r = R { b, at: 0 };
    if &r.take(4)?[..] != MAGIC {
        return None;
    }
    let status = r.u16()?;
    let n = r.u32()?;
    let identity = r.string(n)?;
    let n = r.u32()?;
    let etag = r.string(n)?;
    let count = r.u16()?;
    let mut headers = Vec::with_capacity(usize::from(count));
    for _ in 0..count {
        let n = usize::from(r.u16()?);
        let k = r.string(n)?;
        let n = r.u32()?;
        headers.push((k, r.take(n)?));
    }
    let body = b.slice(r.at..);
    Some(Entry {
        identity,
        status,
        etag,
        headers,
        body,
    })
}

fn stored_header(name: &HeaderName) -> bool {
    let n = name.as_str();
    !matches!(
        n,
        "connection"
            | "keep-alive"
            | "transfer-encoding"
            | "te"
            | "trailer"
            | "upgrade"
            | "proxy-authenticate"
            | "proxy-authorization"
            | "set-cookie"
            | "retry-after"
            | "ratelimit"
            | "ratelimit-policy"
            | "x-cache"
            | "date"
            | "age"
    ) && !n.starts_with("x-ratelimit-")
}

/// Whether `If-None-Match` matches `etag` (weak comparison, as RFC 9110 asks for GET).
fn etag_matches(headers: &HeaderMap, etag: &str) -> bool {
    let strip = |t: &str| t.trim().trim_start_matches("W/").to_owned();
    let want = strip(etag);
    headers
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim() == "*" || strip(t) == want)
}

fn x_cache(res: &mut Response, v: &'static str) {
    res.headers_mut()
        .insert("x-cache", HeaderValue::from_static(v));
}

fn not_modified(etag: &str, from: &HeaderMap) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = StatusCode::NOT_MODIFIED;
    let h = res.headers_mut();
    for name in [
        header::CACHE_CONTROL,
        header::CONTENT_LOCATION,
        header::EXPIRES,
        header::VARY,
        header::LAST_MODIFIED,
    ] {
        if let Some(v) = from.get(&name) {
            h.insert(name, v.clone());
        }
    }
    if let Ok(v) = HeaderValue::from_str(etag) {
        h.insert(header::ETAG, v);
    }
    res
}

fn from_entry(e: Entry, head: bool) -> Response {
    let mut res = Response::new(if head {
        Body::empty()
    } else {
        Body::from(e.body.clone())
    });
    *res.status_mut() = StatusCode::from_u16(e.status).unwrap_or(StatusCode::OK);
    let h = res.headers_mut();
    for (k, v) in e.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::from_maybe_shared(v)) {
            h.append(k, v);
        }
    }
    if let Ok(v) = HeaderValue::from_str(&e.etag) {
        h.insert(header::ETAG, v);
    }
    res
}

/// A body that replays bytes already read, then the rest of the original body.
pub(super) struct Prefixed {
    pub(super) prefix: Option<Bytes>,
    pub(super) rest: Body,
}

impl http_body::Body for Prefixed {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, axum::Error>>> {
        if let Some(p) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(p))));
        }
        Pin::new(&mut self.rest).poll_frame(cx)
    }
}

enum Collected {
    Whole(Bytes, Option<HeaderMap>),
    TooBig(Body),
    Failed,
}

async fn collect_bounded(mut body: Body, max: usize) -> Collected {
    let mut buf = BytesMut::new();
    let mut trailers = None;
    while let Some(frame) = body.frame().await {
        let Ok(frame) = frame else {
            return Collected::Failed;
        };
        match frame.into_data() {
            Ok(d) => {
                buf.extend_from_slice(&d);
                if buf.len() > max {
                    return Collected::TooBig(Body::new(Prefixed {
                        prefix: Some(buf.freeze()),
                        rest: body,
                    }));
                }
            }
            Err(f) => {
                if let Ok(t) = f.into_trailers() {
                    trailers = Some(t);
                }
            }
        }
    }
    Collected::Whole(buf.freeze(), trailers)
}

/// The [`Layer`] made by [`ResponseCache::layer`].
#[derive(Debug)]
pub struct ResponseCacheLayer<B> {
    cache: ResponseCache<B>,
}

impl<B> Clone for ResponseCacheLayer<B> {
    fn clone(&self) -> Self {
        ResponseCacheLayer {
            cache: self.cache.clone(),
        }
    }
}

impl<B, S> Layer<S> for ResponseCacheLayer<B> {
    type Service = ResponseCaching<B, S>;

    fn layer(&self, inner: S) -> Self::Service {
        ResponseCaching {
            cache: self.cache.clone(),
            inner,
        }
    }
}

/// The service made by [`ResponseCacheLayer`].
#[derive(Debug)]
pub struct ResponseCaching<B, S> {
    cache: ResponseCache<B>,
    inner: S,
}

impl<B, S: Clone> Clone for ResponseCaching<B, S> {
    fn clone(&self) -> Self {
        ResponseCaching {
            cache: self.cache.clone(),
            inner: self.inner.clone(),
        }
    }
}

impl<B, S, ReqBody> Service<Request<ReqBody>> for ResponseCaching<B, S>
where
    B: Backend,
    S: Service<Request<ReqBody>, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send + 'static,
    ReqBody: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let clone = self.inner.clone();
        let inner = std::mem::replace(&mut self.inner, clone);
        let cache = self.cache.clone();
        req.extensions_mut().insert(cache.clone());
        req.extensions_mut().insert(cache.inner.backend.clone());
        Box::pin(serve(cache, inner, req))
    }
}

async fn serve<B, S, ReqBody>(
    cache: ResponseCache<B>,
    mut inner: S,
    req: Request<ReqBody>,
) -> std::result::Result<Response, Infallible>
where
    B: Backend,
    S: Service<Request<ReqBody>, Response = Response, Error = Infallible>,
{
    let stats = &cache.inner.stats;
    let head = req.method() == Method::HEAD;
    let cc = directives(req.headers(), header::CACHE_CONTROL);
    let bypass = !(head || req.method() == Method::GET)
        || cc.iter().any(|d| d == "no-store")
        || req.headers().contains_key(header::AUTHORIZATION);
    if bypass {
        stats.bypasses.fetch_add(1, Ordering::Relaxed);
        let read = head || req.method() == Method::GET;
        let mut res = inner.call(req).await?;
        if read {
            x_cache(&mut res, "BYPASS");
        }
        return Ok(res);
    }
    let no_cache = cc.iter().any(|d| d == "no-cache")
        || directives(req.headers(), header::PRAGMA)
            .iter()
            .any(|d| d == "no-cache");
    let identity = cache.identity(req.method(), req.uri(), req.headers());
    let path = req.uri().path().to_owned();
    let key = cache.entry_key(&path, &identity);
    let req_headers = req.headers().clone();

    if !no_cache {
        match cache.inner.backend.get(&key).await {
            Ok(Some(v)) => {
                if let Some(e) = decode(&v).filter(|e| e.identity == identity) {
                    stats.hits.fetch_add(1, Ordering::Relaxed);
                    let mut res = if etag_matches(&req_headers, &e.etag) {
                        stats.not_modified.fetch_add(1, Ordering::Relaxed);
                        let hm: HeaderMap = e
                            .headers
                            .iter()
                            .filter_map(|(k, v)| {
                                Some((
                                    HeaderName::try_from(k.as_str()).ok()?,
                                    HeaderValue::from_maybe_shared(v.clone()).ok()?,
                                ))
                            })
                            .collect();
                        not_modified(&e.etag, &hm)
                    } else {
                        from_entry(e, head)
                    };
                    x_cache(&mut res, "HIT");
                    return Ok(res);
                }
            }
            Ok(None) => {}
            Err(_) => {
                stats.errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
    stats.misses.fetch_add(1, Ordering::Relaxed);
    let res = inner.call(req).await?;
    let (mut parts, body) = res.into_parts();
    let ttl = if head {
        None
    } else {
        storable(&cache, &parts.status, &parts.headers)
    };
    let Some(ttl) = ttl else {
        let mut res = Response::from_parts(parts, body);
        x_cache(&mut res, "MISS");
        return Ok(res);
    };
    let (body, trailers) = match collect_bounded(body, cache.inner.max_body).await {
        Collected::Whole(b, t) => (b, t),
        Collected::TooBig(body) => {
            let mut res = Response::from_parts(parts, body);
            x_cache(&mut res, "MISS");
            return Ok(res);
        }
        Collected::Failed => {
            let mut res = Response::from_parts(parts, Body::empty());
            *res.status_mut() = StatusCode::BAD_GATEWAY;
            res.headers_mut().remove(header::CONTENT_LENGTH);
            return Ok(res);
        }
    };
    let etag = match parts
        .headers
        .get(header::ETAG)
        .and_then(|v| v.to_str().ok())
    {
        Some(t) => t.to_owned(),
        None => {
            let t = format!("\"{:016x}-{:x}\"", fnv64(&[&body]), body.len());
            if let Ok(v) = HeaderValue::from_str(&t) {
                parts.headers.insert(header::ETAG, v);
            }
            t
        }
    };
    // Trailers are not stored: a response with them is served but not cached.
    if trailers.is_none() {
        let entry = Entry {
            identity,
            status: parts.status.as_u16(),
            etag: etag.clone(),
            headers: parts
                .headers
                .iter()
                .filter(|(k, _)| stored_header(k) && *k != header::ETAG)
                .map(|(k, v)| (k.as_str().to_owned(), Bytes::copy_from_slice(v.as_bytes())))
                .collect(),
            body: body.clone(),
        };
        match cache.store(&path, &key, &encode(&entry), ttl).await {
            Ok(()) => stats.stores.fetch_add(1, Ordering::Relaxed),
            Err(_) => stats.errors.fetch_add(1, Ordering::Relaxed),
        };
    }
    let mut res = if etag_matches(&req_headers, &etag) {
        stats.not_modified.fetch_add(1, Ordering::Relaxed);
        not_modified(&etag, &parts.headers)
    } else {
        Response::from_parts(parts, Body::from(body))
    };
    x_cache(&mut res, "MISS");
    Ok(res)
}

/// The TTL to store a response with, or `None` if it must not be stored.
fn storable<B: Backend>(
    cache: &ResponseCache<B>,
    status: &StatusCode,
    headers: &HeaderMap,
) -> Option<Duration> {
    if !status.is_success() || *status == StatusCode::PARTIAL_CONTENT {
        return None;
    }
    if headers.contains_key(header::SET_COOKIE) {
        return None;
    }
    let cc = directives(headers, header::CACHE_CONTROL);
    if cc
        .iter()
        .any(|d| d == "no-store" || d == "private" || d == "no-cache")
    {
        return None;
    }
    for v in directives(headers, header::VARY) {
        if v == "*" || !cache.inner.vary.iter().any(|n| n.as_str() == v) {
            return None;
        }
    }
    if let Some(len) = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        && len > cache.inner.max_body as u64
    {
        return None;
    }
    let mut ttl = cache.inner.ttl;
    if let Some(secs) = max_age(&cc) {
        if secs == 0 {
            return None;
        }
        ttl = ttl.min(Duration::from_secs(secs));
    }
    Some(ttl)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_round_trip() {
        let e = Entry {
            identity: "GET /a?b=1".into(),
            status: 200,
            etag: "\"x\"".into(),
            headers: vec![
                ("content-type".into(), Bytes::from_static(b"text/plain")),
                ("x-y".into(), Bytes::new()),
            ],
            body: Bytes::from_static(b"hello\0world"),
        };
        let b = Bytes::from(encode(&e));
        assert_eq!(decode(&b), Some(e));
        for n in 0..b.len() - 11 {
            // Every truncation inside the header part is refused, never a panic.
            assert_eq!(decode(&b.slice(..n)), None, "{n}");
        }
        assert_eq!(decode(&Bytes::from_static(b"nope")), None);
    }

    #[test]
    fn chain() {
        assert_eq!(path_chain("/"), ["/"]);
        assert_eq!(path_chain("/a/b"), ["/", "/a", "/a/b"]);
        assert_eq!(path_chain("/a/b/"), ["/", "/a", "/a/b", "/a/b/"]);
        assert_eq!(normalize_prefix("/a/"), "/a");
        assert_eq!(normalize_prefix(""), "/");
    }

    #[test]
    fn cache_control_parsing() {
        let mut h = HeaderMap::new();
        h.insert(header::CACHE_CONTROL, "public, Max-Age=30".parse().unwrap());
        assert_eq!(max_age(&directives(&h, header::CACHE_CONTROL)), Some(30));
        h.insert(header::IF_NONE_MATCH, "W/\"a\", \"b\"".parse().unwrap());
        assert!(etag_matches(&h, "\"a\""));
        assert!(etag_matches(&h, "\"b\""));
        assert!(!etag_matches(&h, "\"c\""));
    }
}
