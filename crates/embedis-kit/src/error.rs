//! The kit's error type.

use std::fmt;

/// What can go wrong talking to a backend or configuring a component.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// The embedded engine replied with an error (e.g. the key holds another type).
    Engine(embedis::Error),
    /// The Redis client failed: connection, protocol, or an error reply.
    Redis(redis::RedisError),
    /// The backend did not answer within the configured timeout.
    Timeout,
    /// The circuit breaker is open: the backend failed repeatedly and is not being called.
    CircuitOpen,
    /// A policy, cost, name or option is invalid.
    Invalid(String),
    /// The backend replied with something the kit did not expect.
    Protocol(String),
    // --- cache ---
    /// A cache loader failed (every caller waiting on that load gets the same error).
    Load(std::sync::Arc<dyn std::error::Error + Send + Sync>),
    /// A value could not be encoded by the cache's codec.
    Encode(String),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Engine(e) => write!(f, "embedis: {e}"),
            Error::Redis(e) => write!(f, "redis: {e}"),
            Error::Timeout => f.write_str("backend timed out"),
            Error::CircuitOpen => f.write_str("circuit breaker open"),
            Error::Invalid(s) => write!(f, "invalid: {s}"),
            Error::Protocol(s) => write!(f, "unexpected reply: {s}"),
            Error::Load(e) => write!(f, "cache loader failed: {e}"),
            Error::Encode(s) => write!(f, "cache codec: {s}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Engine(e) => Some(e),
            Error::Redis(e) => Some(e),
            _ => None,
        }
    }
}

impl From<embedis::Error> for Error {
    fn from(e: embedis::Error) -> Self {
        Error::Engine(e)
    }
}

impl From<redis::RedisError> for Error {
    fn from(e: redis::RedisError) -> Self {
        Error::Redis(e)
    }
}

impl From<embedis::types::limiter::PolicyError> for Error {
    fn from(e: embedis::types::limiter::PolicyError) -> Self {
        Error::Invalid(e.to_string())
    }
}

/// The kit's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
