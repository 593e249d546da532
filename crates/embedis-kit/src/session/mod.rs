//! Sessions on any backend: a [`tower_sessions`](https://docs.rs/tower-sessions/0.15)
//! session store ([`BackendStore`]), refresh-token rotation with reuse detection
//! ([`RefreshTokens`]), and revoking everything of one user without `KEYS`.
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use std::collections::HashMap;
//! use embedis_kit::backend::EmbeddedBackend;
//! use embedis_kit::session::{BackendStore, RefreshTokens, Rotation};
//! use tower_sessions_core::session::{Id, Record};
//! use tower_sessions_core::SessionStore;
//!
//! let backend = EmbeddedBackend::new(embedis::Db::new());
//!
//! // The store tower-sessions' `SessionManagerLayer::new(store)` takes; sessions whose
//! // "user_id" is set are indexed by it, for revoke-all.
//! let store = BackendStore::new(backend.clone()).index_by("user_id");
//! let mut record = Record {
//!     id: Id::default(),
//!     data: HashMap::from([("user_id".to_string(), "ada".into())]),
//!     expiry_date: time::OffsetDateTime::now_utc() + time::Duration::hours(1),
//! };
//! store.create(&mut record).await?;
//! assert_eq!(store.load(&record.id).await?, Some(record.clone()));
//!
//! // Refresh tokens: each rotation invalidates the token it replaces...
//! let tokens = RefreshTokens::new(backend.clone());
//! let first = tokens.issue("ada").await.unwrap();
//! let Rotation::Rotated(second) = tokens.rotate(&first.token).await.unwrap() else { panic!() };
//! // ...and replaying a replaced token revokes the whole family.
//! assert!(matches!(tokens.rotate(&first.token).await.unwrap(), Rotation::Reused { .. }));
//! assert_eq!(tokens.rotate(&second.token).await.unwrap(), Rotation::Invalid);
//!
//! // Password changed: every session and every token family of the user goes.
//! let fresh = tokens.issue("ada").await.unwrap();
//! assert_eq!(store.revoke_user("ada").await.unwrap(), 1);
//! assert_eq!(tokens.revoke_user("ada").await.unwrap(), 1);
//! assert_eq!(store.load(&record.id).await?, None);
//! assert_eq!(tokens.rotate(&fresh.token).await.unwrap(), Rotation::Invalid);
//! # Ok::<(), tower_sessions_core::session_store::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Revoking everything of a user
//!
//! Each user has an index: a set of the ids of their sessions (or token families), updated
//! on every write. Revoking deletes every key the set names, and the set, in one atomic step
//! (a Lua script on Redis, one engine step in-process): O(sessions of that user), no `KEYS`,
//! no `SCAN`. This was chosen over a per-user generation number checked on load because it
//! also lists a user's sessions ("signed in on 3 devices") and frees revoked sessions' memory
//! at once, and a load stays one read. Members whose key has gone (expired, deleted) are
//! pruned as the index is written and read; the set expires with the last session it names.
//!
//! The index operations name member keys that are not declared to the script, so they need
//! a standalone Redis (or Valkey, or embedis-server), not Redis Cluster.
//!
//! # Time
//!
//! A session key expires at its record's `expiry_date` as an absolute time (`SET ... PXAT`),
//! judged on the backend's clock; refresh-token families expire on the backend's clock too
//! (the server's `TIME` in the scripts), so every app instance agrees.

mod refresh;
mod store;

pub use self::refresh::{RefreshToken, RefreshTokens, Rotation};
pub use self::store::BackendStore;
