//! End-to-end: the `embedis-demo` binary on an ephemeral port, driven over HTTP with
//! reqwest, on the embedded backend and on a real redis-server.

mod support;

use std::time::{Duration, Instant};

use reqwest::{Client, Response, StatusCode};
use serde_json::Value;
use support::{Demo, Kind};

/// Starts a demo, or returns from the test (Redis missing outside CI, said loudly).
macro_rules! demo {
    ($kind:expr $(, $arg:expr)* $(,)?) => {
        match Demo::start($kind, &[$($arg),*]) {
            Some(d) => d,
            None => return,
        }
    };
}

fn client() -> Client {
    Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap()
}

async fn json(r: Response) -> Value {
    r.json().await.unwrap()
}

fn header<'a>(r: &'a Response, name: &str) -> Option<&'a str> {
    r.headers().get(name).and_then(|v| v.to_str().ok())
}

/// The `name=value` part of the session cookie a response sets.
fn session_cookie(r: &Response) -> Option<(String, String)> {
    r.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("demo_session="))
        .map(|v| {
            let pair = v.split(';').next().unwrap().to_owned();
            (pair, v.to_owned())
        })
}

mod cases {
    use super::*;

    /// Miss (slow) then hit, refresh invalidates, then a miss again; told apart by the
    /// `cached` flag, not by timing (the miss's lower bound is checked, nothing else).
    pub async fn reports_miss_hit_refresh(kind: Kind) {
        let d = demo!(kind, "--report-delay-ms", "300", "--rate-limit", "100");
        let c = client();
        let t = Instant::now();
        let r = c.get(d.url("/reports/eu")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v = json(r).await;
        assert!(t.elapsed() >= Duration::from_millis(300));
        assert_eq!(v["cached"], false);
        assert_eq!(v["region"], "eu");
        let first = v["generated_at_ms"].clone();

        let v = json(c.get(d.url("/reports/eu")).send().await.unwrap()).await;
        assert_eq!(v["cached"], true);
        assert_eq!(v["generated_at_ms"], first);
        // Another region is its own entry.
        let v = json(c.get(d.url("/reports/us")).send().await.unwrap()).await;
        assert_eq!(v["cached"], false);

        let r = c.post(d.url("/reports/eu/refresh")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json(r).await["invalidated"]["report"], 1);
        let v = json(c.get(d.url("/reports/eu")).send().await.unwrap()).await;
        assert_eq!(v["cached"], false);
        let v = json(c.get(d.url("/reports/us")).send().await.unwrap()).await;
        assert_eq!(v["cached"], true, "refreshing eu leaves us cached");

        let r = c.get(d.url("/reports/EU!")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }

    /// Five requests in the window pass with falling `remaining`; the sixth gets 429 with
    /// a Retry-After within the window, rate limit headers and a problem+json body.
    pub async fn sixth_request_gets_429(kind: Kind) {
        let d = demo!(kind, "--report-delay-ms", "10");
        let c = client();
        for i in 0..5u64 {
            let r = c.get(d.url("/reports/asia")).send().await.unwrap();
            assert_eq!(r.status(), StatusCode::OK, "request {}", i + 1);
            assert_eq!(header(&r, "x-ratelimit-limit"), Some("5"));
            assert_eq!(
                header(&r, "x-ratelimit-remaining"),
                Some((4 - i).to_string().as_str())
            );
            assert_eq!(header(&r, "ratelimit-policy"), Some("\"per-ip\";q=5;w=10"));
            assert!(header(&r, "retry-after").is_none());
        }
        let r = c.get(d.url("/reports/asia")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        let retry: u64 = header(&r, "retry-after").unwrap().parse().unwrap();
        assert!((1..=10).contains(&retry), "Retry-After {retry}");
        assert_eq!(header(&r, "x-ratelimit-remaining"), Some("0"));
        assert!(
            header(&r, "ratelimit")
                .unwrap()
                .starts_with("\"per-ip\";r=0;t=")
        );
        assert_eq!(header(&r, "content-type"), Some("application/problem+json"));
        let v = json(r).await;
        assert_eq!(v["status"], 429);
        assert_eq!(v["title"], "Too Many Requests");
        // Refresh is a /reports route too: same budget.
        let r = c.post(d.url("/reports/asia/refresh")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
        // Routes outside /reports are not limited.
        let r = c.get(d.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert!(header(&r, "x-ratelimit-limit").is_none());
        let m = c
            .get(d.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            m.contains("embedis_demo_ratelimit_allowed_total 5\n"),
            "{m}"
        );
        assert!(m.contains("embedis_demo_ratelimit_denied_total 2\n"), "{m}");
    }

    /// The CSV export goes through the response cache layer: MISS, HIT, 304 on a matching
    /// ETag, and a refresh of the region invalidates it by path prefix.
    pub async fn export_through_response_cache(kind: Kind) {
        let d = demo!(kind, "--report-delay-ms", "10", "--rate-limit", "100");
        let c = client();
        let r = c.get(d.url("/reports/eu/export")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-cache"), Some("MISS"));
        let etag = header(&r, "etag").unwrap().to_owned();
        let body = r.text().await.unwrap();
        assert!(body.starts_with("region,orders"));

        let r = c.get(d.url("/reports/eu/export")).send().await.unwrap();
        assert_eq!(header(&r, "x-cache"), Some("HIT"));
        assert_eq!(header(&r, "etag"), Some(etag.as_str()));
        assert_eq!(header(&r, "content-type"), Some("text/csv"));
        assert_eq!(r.text().await.unwrap(), body);

        let r = c
            .get(d.url("/reports/eu/export"))
            .header("if-none-match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NOT_MODIFIED);
        assert!(r.text().await.unwrap().is_empty());

        let r = c.head(d.url("/reports/eu/export")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(header(&r, "x-cache"), Some("HIT"));

        // A request asking for no stored copy goes to the handler.
        let r = c
            .get(d.url("/reports/eu/export"))
            .header("cache-control", "no-store")
            .send()
            .await
            .unwrap();
        assert_eq!(header(&r, "x-cache"), Some("BYPASS"));

        let r = c.post(d.url("/reports/eu/refresh")).send().await.unwrap();
        assert_eq!(json(r).await["invalidated"]["responses"], 1);
        let r = c.get(d.url("/reports/eu/export")).send().await.unwrap();
        assert_eq!(header(&r, "x-cache"), Some("MISS"));
        let m = c
            .get(d.url("/metrics"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(m.contains("embedis_demo_http_cache_hits_total 3\n"), "{m}");
        assert!(
            m.contains("embedis_demo_http_cache_misses_total 2\n"),
            "{m}"
        );
    }

    /// Reads SSE until `want` appears in the text received so far.
    async fn read_until(r: &mut Response, buf: &mut String, want: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !buf.contains(want) {
            let left = deadline.saturating_duration_since(Instant::now());
            let chunk = tokio::time::timeout(left, r.chunk())
                .await
                .unwrap_or_else(|_| panic!("no {want:?} in {buf:?}"))
                .unwrap()
                .expect("the stream stays open");
            buf.push_str(&String::from_utf8_lossy(&chunk));
        }
    }

    /// An alarm published for a tenant reaches that tenant's stream, and only that one.
    pub async fn sse_delivers_published_alarm(kind: Kind) {
        let d = demo!(kind);
        let c = client();
        let tenant = format!("acme-{}", std::process::id());
        let mut s = c
            .get(d.url(&format!("/alarms/stream?tenant={tenant}")))
            .send()
            .await
            .unwrap();
        assert_eq!(s.status(), StatusCode::OK);
        assert_eq!(header(&s, "content-type"), Some("text/event-stream"));
        let mut buf = String::new();
        read_until(&mut s, &mut buf, "event: ready").await;

        let r = c
            .post(d.url(&format!("/alarms?tenant=other-{tenant}")))
            .body("not for acme")
            .send()
            .await
            .unwrap();
        assert_eq!(json(r).await["delivered"], 0);
        let r = c
            .post(d.url(&format!("/alarms?tenant={tenant}")))
            .body("boiler 3 overheating")
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json(r).await["delivered"], 1);
        read_until(
            &mut s,
            &mut buf,
            "event: alarm\ndata: boiler 3 overheating\n",
        )
        .await;
        assert!(!buf.contains("not for acme"));

        let r = c.post(d.url("/alarms")).body("x").send().await.unwrap();
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "tenant is required");
    }

    /// Login sets an HttpOnly, SameSite=Lax cookie; the session carries state across
    /// requests (and its expiry slides); logout kills it.
    pub async fn sessions_survive_and_die_on_logout(kind: Kind) {
        let d = demo!(kind, "--session-idle-secs", "600");
        let c = client();
        let r = c.get(d.url("/profile")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        let r = c
            .post(d.url("/login"))
            .json(&serde_json::json!({"user": "alice", "password": "wrong"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);

        let r = c
            .post(d.url("/login"))
            .json(&serde_json::json!({"user": "alice", "password": "demo"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let (cookie, full) = session_cookie(&r).expect("a session cookie");
        let lower = full.to_ascii_lowercase();
        assert!(lower.contains("httponly"), "{full}");
        assert!(lower.contains("samesite=lax"), "{full}");
        assert!(!lower.contains("secure"), "{full}");
        assert!(
            lower.contains("max-age=") || lower.contains("expires="),
            "{full}"
        );

        for visits in 1..=2 {
            let r = c
                .get(d.url("/profile"))
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            // Sliding expiry: every request sends the cookie again with a fresh lifetime.
            assert!(session_cookie(&r).is_some());
            let v = json(r).await;
            assert_eq!(v["user"], "alice");
            assert_eq!(v["visits"], visits);
        }
        let r = c
            .post(d.url("/logout"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::NO_CONTENT);
        let r = c
            .get(d.url("/profile"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(
            r.status(),
            StatusCode::UNAUTHORIZED,
            "the old cookie is dead"
        );

        let d = demo!(kind, "--secure-cookies");
        let r = c
            .post(d.url("/login"))
            .json(&serde_json::json!({"user": "bob", "password": "demo"}))
            .send()
            .await
            .unwrap();
        let (_, full) = session_cookie(&r).unwrap();
        assert!(full.to_ascii_lowercase().contains("secure"), "{full}");
    }

    /// X-Forwarded-For is believed only from a trusted proxy: behind one, each forwarded
    /// client has its own budget; without one, the header is ignored and all share the
    /// peer's budget.
    pub async fn trusted_proxy_rules(kind: Kind) {
        let c = client();
        let get = |d: &Demo, xff: &str| {
            c.get(d.url("/reports/eu"))
                .header("x-forwarded-for", xff.to_owned())
                .send()
        };
        let d = demo!(
            kind,
            "--report-delay-ms",
            "1",
            "--rate-limit",
            "2",
            "--trusted-proxy",
            "127.0.0.0/8"
        );
        for _ in 0..2 {
            assert_eq!(
                get(&d, "203.0.113.1").await.unwrap().status(),
                StatusCode::OK
            );
        }
        let status = get(&d, "203.0.113.1").await.unwrap().status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
        // Another client behind the same proxy has its own budget...
        assert_eq!(
            get(&d, "203.0.113.2").await.unwrap().status(),
            StatusCode::OK
        );
        // ...and a spoofed hop before the real client changes nothing.
        let status = get(&d, "6.6.6.6, 203.0.113.1").await.unwrap().status();
        assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);

        let d = demo!(kind, "--report-delay-ms", "1", "--rate-limit", "2");
        assert_eq!(
            get(&d, "203.0.113.1").await.unwrap().status(),
            StatusCode::OK
        );
        assert_eq!(
            get(&d, "203.0.113.2").await.unwrap().status(),
            StatusCode::OK
        );
        let status = get(&d, "203.0.113.3").await.unwrap().status();
        assert_eq!(
            status,
            StatusCode::TOO_MANY_REQUESTS,
            "untrusted XFF ignored"
        );
    }

    /// /healthz checks the backend; /metrics is Prometheus text.
    pub async fn health_and_metrics(kind: Kind) {
        let d = demo!(kind, "--report-delay-ms", "1");
        let c = client();
        let r = c.get(d.url("/healthz")).send().await.unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        let v = json(r).await;
        assert_eq!(v["status"], "ok");
        let name = if kind == Kind::Redis {
            "redis"
        } else {
            "embedded"
        };
        assert_eq!(v["backend"], name);
        c.get(d.url("/reports/eu")).send().await.unwrap();
        c.get(d.url("/reports/eu")).send().await.unwrap();
        let r = c.get(d.url("/metrics")).send().await.unwrap();
        assert!(
            header(&r, "content-type")
                .unwrap()
                .starts_with("text/plain")
        );
        let m = r.text().await.unwrap();
        for line in [
            "# TYPE embedis_demo_report_cache_hits_total counter\n",
            "embedis_demo_report_cache_hits_total 1\n",
            "embedis_demo_report_cache_misses_total 1\n",
            "embedis_demo_ratelimit_allowed_total 2\n",
            "embedis_demo_ratelimit_denied_total 0\n",
            "embedis_demo_backend_errors_total 0\n",
        ] {
            assert!(m.contains(line), "{line:?} missing from\n{m}");
        }
    }
}

on_both!(
    reports_miss_hit_refresh,
    sixth_request_gets_429,
    export_through_response_cache,
    sse_delivers_published_alarm,
    sessions_survive_and_die_on_logout,
    trusted_proxy_rules,
    health_and_metrics,
);

/// With Redis down, /healthz says so (503) and the limiter fails open.
#[tokio::test]
async fn healthz_reports_a_dead_backend() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("redis://127.0.0.1:{port}/");
    let d = Demo::start(
        Kind::Embedded,
        &["--redis-url", &url, "--report-delay-ms", "1"],
    )
    .unwrap();
    let c = client();
    let r = c.get(d.url("/healthz")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json(r).await["status"], "error");
    let r = c.get(d.url("/reports/eu")).send().await.unwrap();
    assert_eq!(
        r.status(),
        StatusCode::OK,
        "fail-open limiter, uncached report"
    );
    assert_eq!(json(r).await["cached"], false);
    let m = c
        .get(d.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(!m.contains("embedis_demo_backend_errors_total 0\n"), "{m}");
}

/// With Redis, sessions live in Redis: a session opened on one instance of the app is
/// valid on another, and a logout on either ends it everywhere.
#[tokio::test]
async fn redis_sessions_are_shared_between_instances() {
    let Some(url) = support::fresh_redis_db() else {
        return;
    };
    let a = Demo::start_with(Some(&url), &[]);
    let b = Demo::start_with(Some(&url), &[]);
    let c = client();
    let r = c
        .post(a.url("/login"))
        .json(&serde_json::json!({"user": "carol", "password": "demo"}))
        .send()
        .await
        .unwrap();
    let (cookie, _) = session_cookie(&r).unwrap();
    for (demo, visits) in [(&b, 1), (&a, 2), (&b, 3)] {
        let r = c
            .get(demo.url("/profile"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(json(r).await["visits"], visits);
    }
    let r = c
        .post(b.url("/logout"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = c
        .get(a.url("/profile"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}
