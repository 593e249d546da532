//! `embedis-demo`: see the crate docs and demo/README.md.

use std::io::Write;

#[tokio::main]
async fn main() {
    let cfg = match embedis_demo::Config::from_args(std::env::args().skip(1)) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(2);
        }
    };
    let backend = if cfg.redis_url.is_some() {
        "redis"
    } else {
        "embedded"
    };
    let r = embedis_demo::serve(cfg, |addr| {
        // Tests read this line to find the port.
        println!("embedis-demo listening on http://{addr} (backend: {backend})");
        let _ = std::io::stdout().flush();
    })
    .await;
    if let Err(e) = r {
        eprintln!("embedis-demo: {e}");
        std::process::exit(1);
    }
}
