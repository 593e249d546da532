//! The `embedis-server` binary: `embedis-server [config-file] [--name value ...]`, like
//! redis-server. Logs with `tracing` (filter with `RUST_LOG`, or `--loglevel`), prints the
//! address it listens on, and stops gracefully on SIGINT, SIGTERM or SHUTDOWN.

use std::io::Write as _;

use embedis_server::ServerConfig;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        println!(
            "Usage: embedis-server [/path/to/redis.conf] [--name value ...]\n\n\
             Options are redis.conf directives: --port 6379 --bind 127.0.0.1 --requirepass pw\n\
             --maxmemory 256mb --maxmemory-policy allkeys-lru --timeout 0 --databases 16 ...\n\
             embedis adds --clock manual|system (EMBEDIS.CLOCK ADVANCE <ms> moves a manual\n\
             clock), --seed N and --io-threads N."
        );
        return;
    }
    if args.iter().any(|a| a == "-v" || a == "--version") {
        println!(
            "embedis-server v={} (Redis {} compatible)",
            env!("CARGO_PKG_VERSION"),
            embedis::REDIS_VERSION
        );
        return;
    }
    let config = match ServerConfig::from_args(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("embedis-server: {e}");
            std::process::exit(1);
        }
    };
    init_logging(config.loglevel.as_deref());
    let server = match embedis_server::spawn(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("embedis-server: {e}");
            std::process::exit(1);
        }
    };
    for addr in server.addrs() {
        println!("embedis-server listening on {addr}");
    }
    let _ = std::io::stdout().flush();
    watch_signals(server.trigger());
    server.wait();
}

fn init_logging(loglevel: Option<&str>) {
    use tracing_subscriber::EnvFilter;
    let default = match loglevel {
        Some("debug") => "debug",
        Some("verbose") => "debug",
        Some("warning") => "warn",
        Some("nothing") => "off",
        _ => "info",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
}

/// Stops the server on SIGINT or SIGTERM.
fn watch_signals(trigger: embedis_server::ShutdownTrigger) {
    let spawned = std::thread::Builder::new()
        .name("embedis-signals".into())
        .spawn(move || {
            let rt = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    tracing::error!("cannot watch signals: {e}");
                    return;
                }
            };
            rt.block_on(async {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{SignalKind, signal};
                    let mut term = match signal(SignalKind::terminate()) {
                        Ok(s) => s,
                        Err(e) => {
                            tracing::error!("cannot watch SIGTERM: {e}");
                            let _ = tokio::signal::ctrl_c().await;
                            return;
                        }
                    };
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => tracing::info!("received SIGINT"),
                        _ = term.recv() => tracing::info!("received SIGTERM"),
                    }
                }
                #[cfg(not(unix))]
                {
                    let _ = tokio::signal::ctrl_c().await;
                }
            });
            trigger.shutdown();
        });
    if let Err(e) = spawned {
        tracing::error!("cannot watch signals: {e}");
    }
}
