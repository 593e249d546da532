//! The layers driven with `tower::ServiceExt::oneshot` over an embedded backend.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

use super::*;
use crate::backend::{Backend, EmbeddedBackend};
use crate::limiter::{FailurePolicy, Limiter, NamedPolicy, Policy};

fn backend() -> EmbeddedBackend {
    EmbeddedBackend::new(embedis::Db::new())
}

fn req(uri: &str) -> http::request::Builder {
    Request::builder().uri(uri)
}

fn from(ip: [u8; 4], b: http::request::Builder) -> Request<Body> {
    let mut r = b.body(Body::empty()).unwrap();
    r.extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((ip, 1234))));
    r
}

async fn body(r: Response) -> String {
    String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap()
}

fn h<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

fn limiter(n: i64) -> Limiter<EmbeddedBackend> {
    Limiter::builder(backend())
        .policy("min", Policy::fixed_window(n, Duration::from_secs(60)))
        .tier(
            "pro",
            vec![NamedPolicy::new(
                "pro",
                Policy::fixed_window(100, Duration::from_secs(60)),
            )],
        )
        .build()
        .unwrap()
}

#[tokio::test]
async fn rate_limit_headers_and_429() {
    let app = Router::new()
        .route(
            "/",
            get(|rl: RateLimitInfo| async move { rl.decision.remaining.to_string() }),
        )
        .layer(RateLimitLayer::new(limiter(2), PeerIp));
    let r = app
        .clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(&r, "x-ratelimit-remaining"), Some("1"));
    assert_eq!(h(&r, "ratelimit-policy"), Some("\"min\";q=2;w=60"));
    assert_eq!(body(r).await, "1");
    app.clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    let r = app
        .clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = h(&r, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry));
    assert_eq!(h(&r, "content-type"), Some("application/problem+json"));
    assert!(body(r).await.contains("\"status\":429"));
    // Another peer, another budget.
    let r = app
        .clone()
        .oneshot(from([2, 2, 2, 2], req("/")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    // No ConnectInfo: no key, rejected by default.
    let r = app
        .clone()
        .oneshot(req("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn tiers_cost_scope_and_missing_keys() {
    let l = limiter(1);
    let layer = RateLimitLayer::new(l.clone(), HeaderKey("x-api-key".parse().unwrap()))
        .tier(|p| {
            p.headers
                .get("x-api-key")
                .filter(|v| v.as_bytes().starts_with(b"pro-"))
                .map(|_| "pro".to_owned())
        })
        .cost(|p| if p.uri.path() == "/bulk" { 10 } else { 1 })
        .on_missing_key(MissingKey::Shared("anon".into()))
        .scope("api");
    let ok = || async { "ok" };
    let app = Router::new()
        .route("/", get(ok))
        .route("/bulk", get(ok))
        .layer(layer);
    let call = |uri: &'static str, key: Option<&'static str>| {
        let mut b = req(uri);
        if let Some(k) = key {
            b = b.header("x-api-key", k);
        }
        app.clone().oneshot(b.body(Body::empty()).unwrap())
    };
    assert_eq!(
        call("/", Some("free-1")).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        call("/", Some("free-1")).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    let r = call("/bulk", Some("pro-1")).await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(h(&r, "x-ratelimit-remaining"), Some("90"));
    assert_eq!(h(&r, "ratelimit-policy"), Some("\"pro\";q=100;w=60"));
    // Key-less requests share one budget.
    assert_eq!(call("/", None).await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        call("/", None).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    // Keys are scoped.
    let d = l.peek("api/free-1").await;
    assert_eq!(d.remaining, 0);
    assert_eq!(l.peek("free-1").await.remaining, 1);
}

#[derive(Clone)]
struct UserId(u64);

impl std::fmt::Display for UserId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "user-{}", self.0)
    }
}

#[tokio::test]
async fn extension_and_closure_keys_and_allow() {
    let l = limiter(1);
    let app = Router::new().route("/", get(|| async { "ok" })).layer(
        RateLimitLayer::new(l.clone(), ExtensionKey::<UserId>::new())
            .on_missing_key(MissingKey::Allow),
    );
    let with_user = |id| {
        let mut r = req("/").body(Body::empty()).unwrap();
        r.extensions_mut().insert(UserId(id));
        r
    };
    assert_eq!(
        app.clone().oneshot(with_user(7)).await.unwrap().status(),
        StatusCode::OK
    );
    assert_eq!(
        app.clone().oneshot(with_user(7)).await.unwrap().status(),
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(l.peek("user-7").await.remaining, 0);
    for _ in 0..3 {
        let r = app
            .clone()
            .oneshot(req("/").body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "allowed unlimited");
        assert!(h(&r, "x-ratelimit-limit").is_none());
    }
    let by_path = |p: &http::request::Parts| Some(p.uri.path().to_owned());
    let app = Router::new()
        .route("/a", get(|| async { "ok" }))
        .layer(RateLimitLayer::new(limiter(1), by_path));
    let r = app.clone().oneshot(req("/a").body(Body::empty()).unwrap());
    assert_eq!(r.await.unwrap().status(), StatusCode::OK);
    let r = app.clone().oneshot(req("/a").body(Body::empty()).unwrap());
    assert_eq!(r.await.unwrap().status(), StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn several_policies_and_fail_closed_without_backend() {
    let l = Limiter::builder(backend())
        .policy("burst", Policy::fixed_window(3, Duration::from_secs(1)))
        .policy("hour", Policy::fixed_window(2, Duration::from_secs(3600)))
        .build()
        .unwrap();
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(RateLimitLayer::new(l, PeerIp));
    let r = app
        .clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    assert_eq!(h(&r, "ratelimit-policy"), Some("\"hour\";q=2;w=3600"));
    app.clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    let r = app
        .clone()
        .oneshot(from([1, 1, 1, 1], req("/")))
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(h(&r, "ratelimit-policy"), Some("\"hour\";q=2;w=3600"));

    // A Redis backend on a closed port: fail-closed answers 503, fail-open lets through.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let dead = crate::backend::RedisBackend::builder(format!("redis://127.0.0.1:{port}/"))
        .connection_timeout(Duration::from_millis(50))
        .build()
        .await
        .unwrap();
    for (policy, want) in [
        (FailurePolicy::FailClosed, StatusCode::SERVICE_UNAVAILABLE),
        (FailurePolicy::FailOpen, StatusCode::OK),
    ] {
        let l = Limiter::builder(dead.clone())
            .policy("p", Policy::fixed_window(1, Duration::from_secs(1)))
            .failure_policy(policy)
            .build()
            .unwrap();
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .layer(RateLimitLayer::new(l, PeerIp));
        let r = app.oneshot(from([1, 1, 1, 1], req("/"))).await.unwrap();
        assert_eq!(r.status(), want, "{policy:?}");
    }
}

/// An app whose handlers count their calls.
fn cached_app(cache: &ResponseCache<EmbeddedBackend>, calls: Arc<AtomicUsize>) -> Router {
    let counted = move |res: fn(usize) -> Response| {
        let calls = calls.clone();
        move || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            async move { Ok::<_, Infallible>(res(n)) }
        }
    };
    Router::new()
        .route(
            "/items/{id}",
            get(counted(|n| format!("item {n}").into_response())),
        )
        .route(
            "/items/{id}/sub",
            get(counted(|n| format!("sub {n}").into_response())),
        )
        .route(
            "/private",
            get(counted(|n| {
                ([("cache-control", "private")], format!("p {n}")).into_response()
            })),
        )
        .route(
            "/nostore",
            get(counted(|n| {
                ([("cache-control", "no-store")], format!("n {n}")).into_response()
            })),
        )
        .route(
            "/cookie",
            get(counted(|n| {
                ([("set-cookie", "a=b")], format!("c {n}")).into_response()
            })),
        )
        .route(
            "/missing",
            get(counted(|n| {
                (StatusCode::NOT_FOUND, format!("m {n}")).into_response()
            })),
        )
        .route("/big", get(counted(|_| "x".repeat(100).into_response())))
        .route(
            "/stream",
            get(counted(|_| {
                Body::new(super::cache::Prefixed {
                    prefix: Some(Bytes::from(vec![b'a'; 30])),
                    rest: Body::from(vec![b'b'; 40]),
                })
                .into_response()
            })),
        )
        .route(
            "/lang",
            get(counted(|n| {
                ([("vary", "accept-language")], format!("l {n}")).into_response()
            })),
        )
        .route(
            "/enc",
            get(counted(|n| {
                ([("vary", "accept-encoding")], format!("e {n}")).into_response()
            })),
        )
        .layer(cache.layer())
}

async fn get_body(app: &Router, uri: &str, headers: &[(&str, &str)]) -> (String, Option<String>) {
    let mut b = req(uri);
    for (k, v) in headers {
        b = b.header(*k, *v);
    }
    let r = app
        .clone()
        .oneshot(b.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let xc = h(&r, "x-cache").map(str::to_owned);
    (body(r).await, xc)
}

#[tokio::test]
async fn response_cache_rules() {
    let cache = ResponseCache::builder(backend())
        .max_body(50)
        .vary(["accept-language".parse().unwrap()])
        .build();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = cached_app(&cache, calls.clone());
    let hit = Some("HIT".to_owned());
    let miss = Some("MISS".to_owned());

    assert_eq!(
        get_body(&app, "/items/1", &[]).await,
        ("item 0".into(), miss.clone())
    );
    assert_eq!(
        get_body(&app, "/items/1", &[]).await,
        ("item 0".into(), hit.clone())
    );
    // The query is part of the key.
    assert_eq!(get_body(&app, "/items/1?x=1", &[]).await.0, "item 1");
    assert_eq!(get_body(&app, "/items/1?x=1", &[]).await.0, "item 1");
    // Request no-cache: fresh response, stored.
    let r = get_body(&app, "/items/1", &[("cache-control", "no-cache")]).await;
    assert_eq!(r.0, "item 2");
    assert_eq!(get_body(&app, "/items/1", &[]).await.0, "item 2");
    // Authorization bypasses.
    let r = get_body(&app, "/items/1", &[("authorization", "Bearer x")]).await;
    assert_eq!(r, ("item 3".into(), Some("BYPASS".into())));

    for uri in [
        "/private", "/nostore", "/cookie", "/missing", "/big", "/enc",
    ] {
        let a = get_body(&app, uri, &[]).await;
        let b = get_body(&app, uri, &[]).await;
        if uri != "/big" {
            assert_ne!(a.0, b.0, "{uri} must not be cached");
        }
        assert_eq!((a.1, &b.1), (miss.clone(), &miss), "{uri}");
    }
    assert_eq!(
        get_body(&app, "/big", &[]).await.0.len(),
        100,
        "big bodies pass whole"
    );
    // A streamed body (no Content-Length) that outgrows the bound mid-way passes whole.
    for _ in 0..2 {
        let (b, xc) = get_body(&app, "/stream", &[]).await;
        assert_eq!((b.len(), xc), (70, miss.clone()));
    }

    // Vary on a configured header: one entry per value.
    let fr = get_body(&app, "/lang", &[("accept-language", "fr")])
        .await
        .0;
    let de = get_body(&app, "/lang", &[("accept-language", "de")])
        .await
        .0;
    assert_ne!(fr, de);
    assert_eq!(
        get_body(&app, "/lang", &[("accept-language", "fr")])
            .await
            .0,
        fr
    );

    let m = cache.metrics();
    assert!(m.hits >= 4 && m.stores >= 4 && m.bypasses == 1, "{m:?}");
}

#[tokio::test]
async fn etags_head_and_invalidation() {
    let cache = ResponseCache::builder(backend()).build();
    let calls = Arc::new(AtomicUsize::new(0));
    let app = cached_app(&cache, calls.clone());
    let r = app
        .clone()
        .oneshot(req("/items/1").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let etag = h(&r, "etag").unwrap().to_owned();
    assert!(etag.starts_with('"'));
    for inm in [
        etag.clone(),
        format!("W/{etag}"),
        format!("\"zz\", {etag}"),
        "*".into(),
    ] {
        let r = app
            .clone()
            .oneshot(
                req("/items/1")
                    .header("if-none-match", inm)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(h(&r, "etag"), Some(etag.as_str()));
    }
    let r = app
        .clone()
        .oneshot(
            req("/items/1")
                .header("if-none-match", "\"other\"")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let r = app
        .clone()
        .oneshot(req("/items/1").method("HEAD").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (r.status(), h(&r, "x-cache")),
        (StatusCode::OK, Some("HIT"))
    );
    assert_eq!(body(r).await, "");

    get_body(&app, "/items/1?page=2", &[]).await;
    get_body(&app, "/items/1/sub", &[]).await;
    get_body(&app, "/items/2", &[]).await;
    get_body(&app, "/items/10", &[]).await;
    assert_eq!(calls.load(Ordering::SeqCst), 5);
    // `/items/1` covers its query variants and `/items/1/sub`, not `/items/10`.
    assert_eq!(cache.invalidate_prefix("/items/1/").await.unwrap(), 3);
    for uri in ["/items/1", "/items/1?page=2", "/items/1/sub"] {
        assert_eq!(
            get_body(&app, uri, &[]).await.1.as_deref(),
            Some("MISS"),
            "{uri}"
        );
    }
    for uri in ["/items/2", "/items/10"] {
        assert_eq!(
            get_body(&app, uri, &[]).await.1.as_deref(),
            Some("HIT"),
            "{uri}"
        );
    }
    let key = cache.key_for(
        &http::Method::GET,
        &"/items/2".parse().unwrap(),
        &http::HeaderMap::new(),
    );
    assert!(cache.invalidate_key(&key).await.unwrap());
    assert_eq!(
        get_body(&app, "/items/2", &[]).await.1.as_deref(),
        Some("MISS")
    );
    assert_eq!(cache.invalidate_prefix("/").await.unwrap(), 5);
    assert_eq!(
        get_body(&app, "/items/10", &[]).await.1.as_deref(),
        Some("MISS")
    );
}

#[tokio::test]
async fn entries_live_for_the_ttl() {
    let clock = embedis::ManualClock::starting_at_micros(1_700_000_000_000_000);
    let db = embedis::Db::builder().clock(clock.clone()).build();
    let cache = ResponseCache::builder(EmbeddedBackend::new(db))
        .ttl(Duration::from_secs(30))
        .build();
    let app = cached_app(&cache, Arc::new(AtomicUsize::new(0)));
    get_body(&app, "/items/1", &[]).await;
    clock.advance(Duration::from_secs(29));
    assert_eq!(
        get_body(&app, "/items/1", &[]).await.1.as_deref(),
        Some("HIT")
    );
    clock.advance(Duration::from_secs(2));
    assert_eq!(
        get_body(&app, "/items/1", &[]).await.1.as_deref(),
        Some("MISS")
    );
}

#[tokio::test]
async fn extractors() {
    let b = backend();
    let cache = ResponseCache::builder(b.clone()).build();
    let app = Router::new()
        .route(
            "/b",
            get(
                |BackendHandle(b): BackendHandle<EmbeddedBackend>| async move {
                    b.set(b"k", b"v", Default::default()).await.unwrap();
                    "ok"
                },
            ),
        )
        .route(
            "/o",
            get(|rl: Option<RateLimitInfo>| async move { format!("{}", rl.is_some()) }),
        )
        .layer(cache.layer());
    app.clone()
        .oneshot(req("/b").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(b.get(b"k").await.unwrap(), Some(Bytes::from_static(b"v")));
    assert_eq!(get_body(&app, "/o", &[]).await.0, "false");
    let bare = Router::new().route("/", get(|_: RateLimitInfo| async { "x" }));
    let r = bare
        .oneshot(req("/").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::INTERNAL_SERVER_ERROR);
}
