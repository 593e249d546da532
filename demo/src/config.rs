//! Command-line configuration.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use embedis_kit::http::{Cidr, TrustedProxies};

/// How the demo runs.
#[derive(Debug, Clone)]
pub struct Config {
    /// Address to listen on (`--listen`, default `127.0.0.1:3000`; port 0 picks one).
    pub listen: SocketAddr,
    /// Real Redis instead of the embedded engine (`--redis-url redis://...`).
    pub redis_url: Option<String>,
    /// How long a report takes to compute (`--report-delay-ms`, default 1500).
    pub report_delay: Duration,
    /// How long a report stays cached (`--report-ttl-secs`, default 30).
    pub report_ttl: Duration,
    /// Requests per window per client on `/reports` (`--rate-limit`, default 5).
    pub rate_limit: i64,
    /// The rate limit window (`--rate-window-secs`, default 10).
    pub rate_window: Duration,
    /// Proxies whose `X-Forwarded-For` is believed (`--trusted-proxy CIDR`, repeatable;
    /// default none).
    pub trusted_proxies: Vec<Cidr>,
    /// Mark the session cookie `Secure` (`--secure-cookies`; off by default so the demo
    /// works over plain http on localhost).
    pub secure_cookies: bool,
    /// Session idle timeout, slid forward by every request (`--session-idle-secs`,
    /// default 1800).
    pub session_idle: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 3000)),
            redis_url: None,
            report_delay: Duration::from_millis(1500),
            report_ttl: Duration::from_secs(30),
            rate_limit: 5,
            rate_window: Duration::from_secs(10),
            trusted_proxies: Vec::new(),
            secure_cookies: false,
            session_idle: Duration::from_secs(1800),
        }
    }
}

/// A bad command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

/// The usage text.
pub const USAGE: &str = "usage: embedis-demo [--listen ADDR] [--redis-url URL] \
[--report-delay-ms N] [--report-ttl-secs N] [--rate-limit N] [--rate-window-secs N] \
[--trusted-proxy CIDR]... [--secure-cookies] [--session-idle-secs N]";

impl Config {
    /// Parses arguments (without the program name).
    pub fn from_args(args: impl IntoIterator<Item = String>) -> Result<Config, ConfigError> {
        let mut c = Config::default();
        let mut it = args.into_iter();
        while let Some(flag) = it.next() {
            if flag == "--secure-cookies" {
                c.secure_cookies = true;
                continue;
            }
            if flag == "--help" || flag == "-h" {
                return Err(ConfigError(USAGE.into()));
            }
            let value = it
                .next()
                .ok_or_else(|| ConfigError(format!("{flag} needs a value\n{USAGE}")))?;
            let bad = || ConfigError(format!("invalid value for {flag}: {value:?}"));
            let num = |v: &str| v.parse::<u64>().map_err(|_| bad());
            match flag.as_str() {
                "--listen" => c.listen = value.parse().map_err(|_| bad())?,
                "--redis-url" => c.redis_url = Some(value.clone()),
                "--report-delay-ms" => c.report_delay = Duration::from_millis(num(&value)?),
                "--report-ttl-secs" => {
                    c.report_ttl = Duration::from_secs(num(&value)?.max(1));
                }
                "--rate-limit" => {
                    c.rate_limit = i64::try_from(num(&value)?.max(1)).map_err(|_| bad())?;
                }
                "--rate-window-secs" => {
                    c.rate_window = Duration::from_secs(num(&value)?.max(1));
                }
                "--trusted-proxy" => c.trusted_proxies.push(value.parse().map_err(|_| bad())?),
                "--session-idle-secs" => {
                    c.session_idle = Duration::from_secs(num(&value)?.max(1));
                }
                _ => return Err(ConfigError(format!("unknown option {flag}\n{USAGE}"))),
            }
        }
        Ok(c)
    }

    /// The trusted proxies as the kit wants them.
    pub fn trusted(&self) -> TrustedProxies {
        TrustedProxies::new(self.trusted_proxies.iter().copied())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(a: &[&str]) -> Result<Config, ConfigError> {
        Config::from_args(a.iter().map(|s| s.to_string()))
    }

    #[test]
    fn flags() {
        let c = parse(&[
            "--listen",
            "127.0.0.1:0",
            "--report-delay-ms",
            "50",
            "--trusted-proxy",
            "10.0.0.0/8",
            "--secure-cookies",
        ])
        .unwrap();
        assert_eq!(c.listen.port(), 0);
        assert_eq!(c.report_delay, Duration::from_millis(50));
        assert!(c.secure_cookies);
        assert!(c.trusted().contains("10.2.3.4".parse().unwrap()));
        assert!(parse(&["--listen"]).is_err());
        assert!(parse(&["--bogus", "1"]).is_err());
        assert!(parse(&["--trusted-proxy", "10.0.0.0/99"]).is_err());
    }
}
