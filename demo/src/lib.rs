//! The embedis-kit demo service: the kit's HTTP layers in one small axum app, on the
//! embedded engine by default or on real Redis with `--redis-url`.
//!
//! | route | what it shows |
//! | --- | --- |
//! | `GET /reports/{region}` | a slow computation (1.5 s by default) cached 30 s in the backend (cache-aside); the JSON says `cached` |
//! | `GET /reports/{region}/export` | the same report as CSV through the response cache layer (`X-Cache`, `ETag`, `304`) |
//! | `POST /reports/{region}/refresh` | invalidates both |
//! | all `/reports` routes | 5 requests / 10 s per client IP (`429` + `Retry-After`) |
//! | `GET /alarms/stream?tenant=T` | Server-Sent Events fed by the backend's pub/sub, one channel per tenant |
//! | `POST /alarms?tenant=T` | publishes the request body as an alarm |
//! | `POST /login`, `GET /profile`, `POST /logout` | cookie sessions with sliding expiry |
//! | `GET /metrics`, `GET /healthz` | Prometheus text, backend health |

mod app;
mod config;

pub use app::{AppState, router};
pub use config::{Config, ConfigError};

use std::net::SocketAddr;

use embedis_kit::backend::{AnyBackend, EmbeddedBackend, RedisBackend};

/// Connects the backend the configuration asks for.
pub async fn backend(cfg: &Config) -> embedis_kit::Result<AnyBackend> {
    Ok(match &cfg.redis_url {
        Some(url) => RedisBackend::builder(url.clone()).build().await?.into(),
        None => EmbeddedBackend::new(embedis::Db::new()).into(),
    })
}

/// Binds `cfg.listen`, calls `on_bound` with the bound address, and serves until the task
/// is dropped or the process ends.
pub async fn serve(
    cfg: Config,
    on_bound: impl FnOnce(SocketAddr),
) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let backend = backend(&cfg).await?;
    let app = router(&cfg, backend)?;
    let listener = tokio::net::TcpListener::bind(cfg.listen).await?;
    on_bound(listener.local_addr()?);
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await?;
    Ok(())
}
