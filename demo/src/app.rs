//! The routes and the state they share.

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use bytes::Bytes;
use embedis_kit::backend::{AnyBackend, Backend, SetOptions};
use embedis_kit::http::{ClientIp, RateLimitLayer, ResponseCache, problem};
use embedis_kit::limiter::{FailurePolicy, Limiter, Policy};
use embedis_kit::session::BackendStore;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use serde_json::json;
use tower_sessions::cookie::SameSite;
use tower_sessions::{Expiry, Session, SessionManagerLayer, SessionStore};

use crate::config::Config;

/// What the handlers share.
pub struct AppState {
    backend: AnyBackend,
    backend_name: &'static str,
    limiter: Limiter<AnyBackend>,
    cache: ResponseCache<AnyBackend>,
    report_delay: Duration,
    report_ttl: Duration,
    report_hits: AtomicU64,
    report_misses: AtomicU64,
    backend_errors: AtomicU64,
}

type Shared = Arc<AppState>;

impl AppState {
    fn backend_error(&self) {
        self.backend_errors.fetch_add(1, Ordering::Relaxed);
    }
}

/// The whole app over `backend`.
pub fn router(
    cfg: &Config,
    backend: AnyBackend,
) -> Result<Router, Box<dyn std::error::Error + Send + Sync>> {
    // The demo keeps answering when the backend is down: the limit is best effort.
    let limiter = Limiter::builder(backend.clone())
        .prefix("demo:rl")
        .policy(
            "per-ip",
            Policy::sliding_log(cfg.rate_limit, cfg.rate_window),
        )
        .failure_policy(FailurePolicy::FailOpen)
        .build()?;
    let cache = ResponseCache::builder(backend.clone())
        .prefix("demo:http")
        .ttl(cfg.report_ttl)
        .build();
    let state = Arc::new(AppState {
        backend_name: match backend {
            AnyBackend::Embedded(_) => "embedded",
            _ => "redis",
        },
        backend: backend.clone(),
        limiter: limiter.clone(),
        cache: cache.clone(),
        report_delay: cfg.report_delay,
        report_ttl: cfg.report_ttl,
        report_hits: AtomicU64::new(0),
        report_misses: AtomicU64::new(0),
        backend_errors: AtomicU64::new(0),
    });

    let reports = Router::new()
        .route("/reports/{region}", get(report))
        .route("/reports/{region}/export", get(export).layer(cache.layer()))
        .route("/reports/{region}/refresh", post(refresh))
        .route_layer(RateLimitLayer::new(limiter, ClientIp::new(cfg.trusted())).scope("reports"));

    // Sessions live in the backend too: with Redis, every instance of the app sees them.
    let sessions = session_routes(
        BackendStore::new(backend).with_prefix("demo:session:"),
        cfg.secure_cookies,
        cfg.session_idle,
    );

    Ok(Router::new()
        .merge(reports)
        .route("/alarms", post(publish_alarm))
        .route("/alarms/stream", get(alarm_stream))
        .route("/metrics", get(metrics))
        .route("/healthz", get(healthz))
        .with_state(state)
        .merge(sessions))
}

fn session_routes<S: SessionStore + Clone>(store: S, secure: bool, idle: Duration) -> Router {
    let idle = tower_sessions::cookie::time::Duration::try_from(idle)
        .unwrap_or(tower_sessions::cookie::time::Duration::hours(1));
    let layer = SessionManagerLayer::new(store)
        .with_name("demo_session")
        .with_http_only(true)
        .with_secure(secure)
        .with_same_site(SameSite::Lax)
        // Saved on every request, so the idle timeout slides.
        .with_always_save(true)
        .with_expiry(Expiry::OnInactivity(idle));
    Router::new()
        .route("/login", post(login))
        .route("/profile", get(profile))
        .route("/logout", post(logout))
        .layer(layer)
}

fn valid_name(s: &str) -> bool {
    (1..=32).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn bad_name(what: &str) -> Response {
    problem(
        StatusCode::BAD_REQUEST,
        "Bad name",
        &format!("{what} must be 1 to 32 characters of a-z, 0-9 and -"),
    )
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// A report as stored and served.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Report {
    region: String,
    orders: u64,
    revenue_cents: u64,
    generated_at_ms: u64,
}

/// The deliberately slow computation.
async fn compute(region: &str, delay: Duration) -> Report {
    tokio::time::sleep(delay).await;
    let seed = region.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    });
    Report {
        region: region.to_owned(),
        orders: seed % 10_000,
        revenue_cents: (seed >> 16) % 100_000_000,
        generated_at_ms: now_ms(),
    }
}

fn report_key(region: &str) -> String {
    format!("demo:report:{region}")
}

/// Cache-aside: the stored report, or a fresh one (then stored). A backend failure is
/// counted and the report computed anyway.
async fn load_report(st: &AppState, region: &str) -> (Report, bool) {
    let key = report_key(region);
    match st.backend.get(key.as_bytes()).await {
        Ok(Some(v)) => {
            if let Ok(r) = serde_json::from_slice::<Report>(&v) {
                st.report_hits.fetch_add(1, Ordering::Relaxed);
                return (r, true);
            }
        }
        Ok(None) => {}
        Err(_) => st.backend_error(),
    }
    st.report_misses.fetch_add(1, Ordering::Relaxed);
    let r = compute(region, st.report_delay).await;
    if let Ok(v) = serde_json::to_vec(&r)
        && st
            .backend
            .set(key.as_bytes(), &v, SetOptions::ttl(st.report_ttl))
            .await
            .is_err()
    {
        st.backend_error();
    }
    (r, false)
}

async fn report(State(st): State<Shared>, Path(region): Path<String>) -> Response {
    if !valid_name(&region) {
        return bad_name("region");
    }
    let started = std::time::Instant::now();
    let (r, cached) = load_report(&st, &region).await;
    Json(json!({
        "region": r.region,
        "orders": r.orders,
        "revenue_cents": r.revenue_cents,
        "generated_at_ms": r.generated_at_ms,
        "cached": cached,
        "took_ms": started.elapsed().as_millis() as u64,
    }))
    .into_response()
}

async fn export(State(st): State<Shared>, Path(region): Path<String>) -> Response {
    if !valid_name(&region) {
        return bad_name("region");
    }
    let (r, _) = load_report(&st, &region).await;
    let csv = format!(
        "region,orders,revenue_cents,generated_at_ms\n{},{},{},{}\n",
        r.region, r.orders, r.revenue_cents, r.generated_at_ms
    );
    (
        [
            (header::CONTENT_TYPE, "text/csv"),
            (header::CACHE_CONTROL, "public, max-age=30"),
        ],
        csv,
    )
        .into_response()
}

async fn refresh(State(st): State<Shared>, Path(region): Path<String>) -> Response {
    if !valid_name(&region) {
        return bad_name("region");
    }
    let key = report_key(&region);
    let report = match st.backend.delete(&[key.as_bytes()]).await {
        Ok(n) => n,
        Err(_) => {
            st.backend_error();
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Backend error",
                "try again",
            );
        }
    };
    let responses = match st
        .cache
        .invalidate_prefix(&format!("/reports/{region}"))
        .await
    {
        Ok(n) => n,
        Err(_) => {
            st.backend_error();
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Backend error",
                "try again",
            );
        }
    };
    Json(json!({ "region": region, "invalidated": { "report": report, "responses": responses } }))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct TenantQuery {
    tenant: Option<String>,
}

fn tenant(q: &TenantQuery) -> Option<String> {
    q.tenant.clone().filter(|t| valid_name(t))
}

fn alarm_channel(tenant: &str) -> String {
    format!("demo:alarms:{tenant}")
}

async fn publish_alarm(
    State(st): State<Shared>,
    Query(q): Query<TenantQuery>,
    body: Bytes,
) -> Response {
    let Some(tenant) = tenant(&q) else {
        return bad_name("tenant (?tenant=)");
    };
    if body.is_empty() || body.len() > 16 * 1024 {
        return problem(
            StatusCode::BAD_REQUEST,
            "Bad alarm",
            "the body is the alarm: 1 to 16384 bytes",
        );
    }
    match st
        .backend
        .publish(alarm_channel(&tenant).as_bytes(), &body)
        .await
    {
        Ok(n) => Json(json!({ "tenant": tenant, "delivered": n })).into_response(),
        Err(_) => {
            st.backend_error();
            problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Backend error",
                "try again",
            )
        }
    }
}

async fn alarm_stream(State(st): State<Shared>, Query(q): Query<TenantQuery>) -> Response {
    let Some(tenant) = tenant(&q) else {
        return bad_name("tenant (?tenant=)");
    };
    let sub = match st
        .backend
        .subscribe(alarm_channel(&tenant).as_bytes())
        .await
    {
        Ok(s) => s,
        Err(_) => {
            st.backend_error();
            return problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "Backend error",
                "try again",
            );
        }
    };
    // `ready` tells the client the subscription is in place: alarms published from now on
    // reach it.
    let ready = futures_util::stream::once(async move {
        Ok::<_, Infallible>(Event::default().event("ready").data(tenant))
    });
    let alarms = sub.map(|m| {
        let text = String::from_utf8_lossy(&m.payload).replace('\r', "");
        Ok(Event::default().event("alarm").data(text))
    });
    Sse::new(ready.chain(alarms))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

#[derive(Debug, Deserialize)]
struct Login {
    user: String,
    password: String,
}

const USER_KEY: &str = "user";
const VISITS_KEY: &str = "visits";

fn session_error() -> Response {
    problem(
        StatusCode::SERVICE_UNAVAILABLE,
        "Session store error",
        "try again",
    )
}

async fn login(session: Session, Json(l): Json<Login>) -> Response {
    // A demo: every valid user name, one shared password.
    if !valid_name(&l.user) || l.password != "demo" {
        return problem(
            StatusCode::UNAUTHORIZED,
            "Login failed",
            "user must be a-z0-9- and the password is \"demo\"",
        );
    }
    // A new id at login: a session id planted before login is worth nothing after it.
    if session.cycle_id().await.is_err()
        || session.insert(USER_KEY, &l.user).await.is_err()
        || session.insert(VISITS_KEY, 0u64).await.is_err()
    {
        return session_error();
    }
    Json(json!({ "user": l.user })).into_response()
}

async fn profile(session: Session) -> Response {
    let user = match session.get::<String>(USER_KEY).await {
        Ok(Some(u)) => u,
        Ok(None) => {
            return problem(
                StatusCode::UNAUTHORIZED,
                "Not logged in",
                "POST /login first",
            );
        }
        Err(_) => return session_error(),
    };
    let visits = session
        .get::<u64>(VISITS_KEY)
        .await
        .ok()
        .flatten()
        .unwrap_or(0)
        + 1;
    if session.insert(VISITS_KEY, visits).await.is_err() {
        return session_error();
    }
    Json(json!({ "user": user, "visits": visits })).into_response()
}

async fn logout(session: Session) -> Response {
    match session.flush().await {
        Ok(()) => StatusCode::NO_CONTENT.into_response(),
        Err(_) => session_error(),
    }
}

async fn metrics(State(st): State<Shared>) -> Response {
    let l = st.limiter.metrics();
    let c = st.cache.metrics();
    let errors = st.backend_errors.load(Ordering::Relaxed)
        + l.backend_errors
        + l.timeouts
        + c.backend_errors;
    let mut out = String::new();
    let mut metric = |name: &str, help: &str, v: u64| {
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} counter\n{name} {v}\n"
        ));
    };
    metric(
        "embedis_demo_report_cache_hits_total",
        "Reports served from the backend cache.",
        st.report_hits.load(Ordering::Relaxed),
    );
    metric(
        "embedis_demo_report_cache_misses_total",
        "Reports computed.",
        st.report_misses.load(Ordering::Relaxed),
    );
    metric(
        "embedis_demo_http_cache_hits_total",
        "Responses served by the response cache layer.",
        c.hits,
    );
    metric(
        "embedis_demo_http_cache_misses_total",
        "Cacheable requests the response cache layer passed on.",
        c.misses,
    );
    metric(
        "embedis_demo_ratelimit_allowed_total",
        "Requests the rate limiter admitted.",
        l.allowed,
    );
    metric(
        "embedis_demo_ratelimit_denied_total",
        "Requests the rate limiter rejected.",
        l.rejected,
    );
    metric(
        "embedis_demo_backend_errors_total",
        "Backend calls that failed or timed out.",
        errors,
    );
    let mut res = out.into_response();
    res.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4"),
    );
    res
}

async fn healthz(State(st): State<Shared>) -> Response {
    let check = async {
        let v = now_ms().to_string();
        st.backend
            .set(
                b"demo:healthz",
                v.as_bytes(),
                SetOptions::ttl(Duration::from_secs(10)),
            )
            .await?;
        st.backend.get(b"demo:healthz").await
    };
    match tokio::time::timeout(Duration::from_secs(1), check).await {
        Ok(Ok(Some(_))) => {
            Json(json!({ "status": "ok", "backend": st.backend_name })).into_response()
        }
        Ok(Ok(None)) => unhealthy(&st, "the value just written is missing".into()),
        Ok(Err(e)) => unhealthy(&st, e.to_string()),
        Err(_) => unhealthy(&st, "timed out after 1 s".into()),
    }
}

fn unhealthy(st: &AppState, error: String) -> Response {
    st.backend_error();
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": "error", "backend": st.backend_name, "error": error })),
    )
        .into_response()
}
