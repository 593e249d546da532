//! [`BackendStore`]: a `tower_sessions` [`SessionStore`] over any [`Backend`].

use async_trait::async_trait;
use tower_sessions_core::SessionStore;
use tower_sessions_core::session::{Id, Record};
use tower_sessions_core::session_store::{Error as StoreError, Result as StoreResult};

use crate::backend::{Backend, SetCondition};
use crate::error::Result;

/// A session store for tower-sessions 0.15 on any backend.
///
/// A session is the key `prefix + id` holding the record as JSON, expiring at the record's
/// expiry date. [`create`](SessionStore::create) writes only if the id is new (drawing a new
/// id on a collision); [`save`](SessionStore::save) writes only if the session still exists,
/// so a request that was in flight while the session was deleted, revoked or expired cannot
/// bring it back.
///
/// With [`index_by`](Self::index_by), sessions are indexed by a user field of their data,
/// for [`revoke_user`](Self::revoke_user) and [`user_sessions`](Self::user_sessions).
#[derive(Debug, Clone)]
pub struct BackendStore<B> {
    backend: B,
    prefix: String,
    user_field: Option<String>,
}

impl<B: Backend> BackendStore<B> {
    /// Sessions under the prefix `session:`, not indexed by user.
    pub fn new(backend: B) -> Self {
        BackendStore {
            backend,
            prefix: "session:".into(),
            user_field: None,
        }
    }

    /// Stores sessions under `prefix` instead.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// Indexes sessions by the value of `field` in their data (a string or a number; a
    /// session without it is not indexed).
    pub fn index_by(mut self, field: impl Into<String>) -> Self {
        self.user_field = Some(field.into());
        self
    }

    /// The storage key of session `id`.
    pub fn key(&self, id: &Id) -> String {
        format!("{}{id}", self.prefix)
    }

    /// The storage key of `user`'s index (session ids are base64url, never with a `:`, so
    /// this cannot collide with a session key).
    pub fn index_key(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }

    /// The live sessions of `user` (needs [`index_by`](Self::index_by)).
    pub async fn user_sessions(&self, user: &str) -> Result<Vec<Id>> {
        let members = self
            .backend
            .index_members(self.index_key(user).as_bytes(), self.prefix.as_bytes())
            .await?;
        Ok(members
            .iter()
            .filter_map(|m| std::str::from_utf8(m).ok()?.parse().ok())
            .collect())
    }

    /// Deletes every session of `user`, atomically; how many there were (needs
    /// [`index_by`](Self::index_by)).
    pub async fn revoke_user(&self, user: &str) -> Result<u64> {
        self.backend
            .index_purge(self.index_key(user).as_bytes(), self.prefix.as_bytes())
            .await
    }

    fn user_of(&self, record: &Record) -> Option<String> {
        match record.data.get(self.user_field.as_deref()?)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            _ => None,
        }
    }

    async fn write(&self, record: &Record, condition: SetCondition) -> StoreResult<bool> {
        let value = serde_json::to_vec(record).map_err(|e| StoreError::Encode(e.to_string()))?;
        let at_ms = expiry_ms(record);
        let key = self.key(&record.id);
        let written = self
            .backend
            .set_until(key.as_bytes(), &value, at_ms, condition)
            .await
            .map_err(backend_error)?;
        if written && let Some(user) = self.user_of(record) {
            self.backend
                .index_add(
                    self.index_key(&user).as_bytes(),
                    self.prefix.as_bytes(),
                    record.id.to_string().as_bytes(),
                    at_ms,
                    std::time::Duration::ZERO,
                )
                .await
                .map_err(backend_error)?;
        }
        Ok(written)
    }
}

/// The record's expiry as Unix ms (at least 1: an expiry before 1970 is simply past).
fn expiry_ms(record: &Record) -> u64 {
    let ms = record.expiry_date.unix_timestamp_nanos() / 1_000_000;
    u64::try_from(ms).unwrap_or(0).max(1)
}

fn backend_error(e: crate::Error) -> StoreError {
    StoreError::Backend(e.to_string())
}

#[async_trait]
impl<B: Backend + std::fmt::Debug> SessionStore for BackendStore<B> {
    async fn create(&self, record: &mut Record) -> StoreResult<()> {
        while !self.write(record, SetCondition::IfAbsent).await? {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> StoreResult<()> {
        self.write(record, SetCondition::IfPresent).await?;
        Ok(())
    }

    async fn load(&self, id: &Id) -> StoreResult<Option<Record>> {
        let Some(value) = self
            .backend
            .get(self.key(id).as_bytes())
            .await
            .map_err(backend_error)?
        else {
            return Ok(None);
        };
        serde_json::from_slice(&value)
            .map(Some)
            .map_err(|e| StoreError::Decode(e.to_string()))
    }

    async fn delete(&self, id: &Id) -> StoreResult<()> {
        self.backend
            .delete(&[self.key(id).as_bytes()])
            .await
            .map_err(backend_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use tower_sessions_core::{Expiry, Session};

    use super::*;
    use crate::backend::EmbeddedBackend;

    /// The store under tower-sessions' own `Session`: the calls a request handler makes.
    #[tokio::test]
    async fn works_under_tower_sessions() {
        let store = Arc::new(
            BackendStore::new(EmbeddedBackend::new(embedis::Db::new())).index_by("user_id"),
        );
        let expiry = Some(Expiry::OnInactivity(time::Duration::hours(1)));
        let s = Session::new(None, store.clone(), expiry);
        s.insert("user_id", "ada").await.unwrap();
        s.insert("cart", vec![1, 2]).await.unwrap();
        s.save().await.unwrap();
        let id = s.id().expect("created");

        let again = Session::new(Some(id), store.clone(), expiry);
        assert_eq!(
            again.get::<Vec<i32>>("cart").await.unwrap(),
            Some(vec![1, 2])
        );
        again.cycle_id().await.unwrap();
        again.save().await.unwrap();
        let new_id = again.id().expect("new id");
        assert_ne!(new_id, id);
        assert_eq!(store.load(&id).await.unwrap(), None);
        assert_eq!(store.user_sessions("ada").await.unwrap(), vec![new_id]);

        assert_eq!(store.revoke_user("ada").await.unwrap(), 1);
        let revoked = Session::new(Some(new_id), store.clone(), expiry);
        assert_eq!(revoked.get::<Vec<i32>>("cart").await.unwrap(), None);
    }
}
