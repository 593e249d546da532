//! [`RefreshTokens`]: refresh-token rotation in families, with reuse detection.

use std::time::Duration;

use sha2::{Digest, Sha256};

use crate::backend::{Backend, RotateOutcome};
use crate::error::{Error, Result};
use crate::lock::new_token;

/// A refresh token just issued.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefreshToken {
    /// The token to hand to the client: `<family>.<secret>`.
    pub token: String,
    /// The family (one login) the token belongs to.
    pub family: String,
    /// The user the family was issued to.
    pub user: String,
}

/// What [`RefreshTokens::rotate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rotation {
    /// The token was the family's current one: here is its successor (the presented token
    /// is now invalid).
    Rotated(RefreshToken),
    /// The token had already been rotated: it was replayed (stolen, or a client bug), and
    /// the whole family is revoked; the user must log in again.
    Reused {
        /// The revoked family.
        family: String,
        /// Its user.
        user: String,
    },
    /// Unknown, malformed, expired or revoked.
    Invalid,
}

/// Refresh tokens in families (one per login): [`issue`](Self::issue) starts a family,
/// [`rotate`](Self::rotate) trades the current token for the next, and presenting a token
/// that was already traded revokes the family (OAuth 2.0 Security BCP, refresh token
/// rotation). Rotation and reuse detection are one atomic step on every backend, so two
/// concurrent rotations of one token give one `Rotated` and one `Reused`.
///
/// A family remembers the digests of its last 128 retired tokens: replaying one of them
/// revokes the family; an older one is refused as [`Rotation::Invalid`] without revoking
/// (which bounds a family's size however often it rotates).
///
/// The backend stores SHA-256 digests of the token secrets, never the tokens. A family
/// expires when unused for [`ttl`](Self::ttl) (default 14 days) and cannot be rotated past
/// its [`max_life`](Self::max_life) (default 90 days), both on the backend's clock. Families
/// are indexed per user for [`revoke_user`](Self::revoke_user).
#[derive(Debug, Clone)]
pub struct RefreshTokens<B> {
    backend: B,
    prefix: String,
    ttl: Duration,
    max_life: Option<Duration>,
}

impl<B: Backend> RefreshTokens<B> {
    /// Families under the prefix `refresh:`, 14-day idle TTL, 90-day maximum life.
    pub fn new(backend: B) -> Self {
        RefreshTokens {
            backend,
            prefix: "refresh:".into(),
            ttl: Duration::from_secs(14 * 86_400),
            max_life: Some(Duration::from_secs(90 * 86_400)),
        }
    }

    /// Stores families under `prefix` instead.
    pub fn with_prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// A family not rotated for this long expires.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.ttl = ttl;
        self
    }

    /// A family cannot be rotated this long after it was issued (`None`: no limit).
    pub fn max_life(mut self, max_life: Option<Duration>) -> Self {
        self.max_life = max_life;
        self
    }

    /// The storage key of `family`.
    pub fn family_key(&self, family: &str) -> String {
        format!("{}fam:{family}", self.prefix)
    }

    /// The storage key of `user`'s index of families.
    pub fn index_key(&self, user: &str) -> String {
        format!("{}user:{user}", self.prefix)
    }

    fn member_prefix(&self) -> String {
        format!("{}fam:", self.prefix)
    }

    /// Starts a family for `user` (a login) and returns its first token.
    pub async fn issue(&self, user: &str) -> Result<RefreshToken> {
        loop {
            let family = new_token();
            let secret = secret();
            let created = self
                .backend
                .refresh_create(
                    self.family_key(&family).as_bytes(),
                    user.as_bytes(),
                    digest(&secret).as_bytes(),
                    self.ttl,
                    self.max_life,
                )
                .await?;
            if !created {
                continue; // a 128-bit collision: draw again
            }
            self.index(user, &family).await?;
            return Ok(RefreshToken {
                token: format!("{family}.{secret}"),
                family,
                user: user.to_string(),
            });
        }
    }

    /// Trades `token` for its successor; see [`Rotation`].
    pub async fn rotate(&self, token: &str) -> Result<Rotation> {
        let Some((family, presented)) = parse(token) else {
            return Ok(Rotation::Invalid);
        };
        let next = secret();
        let outcome = self
            .backend
            .refresh_rotate(
                self.family_key(family).as_bytes(),
                digest(presented).as_bytes(),
                digest(&next).as_bytes(),
                self.ttl,
            )
            .await?;
        Ok(match outcome {
            RotateOutcome::Rotated { user } => {
                let user = utf8(user)?;
                if self.max_life.is_none() {
                    // The family lives `ttl` more: so must its index entry.
                    self.index(&user, family).await?;
                }
                Rotation::Rotated(RefreshToken {
                    token: format!("{family}.{next}"),
                    family: family.to_string(),
                    user,
                })
            }
            RotateOutcome::Reused { user } => Rotation::Reused {
                family: family.to_string(),
                user: utf8(user)?,
            },
            RotateOutcome::Invalid => Rotation::Invalid,
        })
    }

    /// Revokes one family (logout); false if it did not exist.
    pub async fn revoke_family(&self, family: &str) -> Result<bool> {
        Ok(self
            .backend
            .delete(&[self.family_key(family).as_bytes()])
            .await?
            == 1)
    }

    /// Revokes every family of `user`, atomically; how many there were.
    pub async fn revoke_user(&self, user: &str) -> Result<u64> {
        self.backend
            .index_purge(
                self.index_key(user).as_bytes(),
                self.member_prefix().as_bytes(),
            )
            .await
    }

    /// The live families of `user`.
    pub async fn families(&self, user: &str) -> Result<Vec<String>> {
        let members = self
            .backend
            .index_members(
                self.index_key(user).as_bytes(),
                self.member_prefix().as_bytes(),
            )
            .await?;
        members.into_iter().map(utf8).collect()
    }

    async fn index(&self, user: &str, family: &str) -> Result<()> {
        self.backend
            .index_add(
                self.index_key(user).as_bytes(),
                self.member_prefix().as_bytes(),
                family.as_bytes(),
                0,
                self.max_life.unwrap_or(self.ttl),
            )
            .await
    }
}

/// 256 random bits in hex.
fn secret() -> String {
    format!("{}{}", new_token(), new_token())
}

fn digest(secret: &str) -> String {
    let d = Sha256::digest(secret.as_bytes());
    d.iter().map(|b| format!("{b:02x}")).collect()
}

/// `<family>.<secret>`, both lowercase hex of the lengths issued; anything else is invalid
/// (and never reaches the backend as a key).
fn parse(token: &str) -> Option<(&str, &str)> {
    let (family, secret) = token.split_once('.')?;
    let hex = |s: &str, n: usize| {
        s.len() == n && s.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f'))
    };
    (hex(family, 32) && hex(secret, 64)).then_some((family, secret))
}

fn utf8(b: bytes::Bytes) -> Result<String> {
    String::from_utf8(b.to_vec()).map_err(|_| Error::Protocol("a user id that is not UTF-8".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_parse_only_in_the_issued_shape() {
        let t = format!("{}.{}", new_token(), secret());
        assert!(parse(&t).is_some());
        assert!(parse("abc.def").is_none());
        assert!(parse(&t.to_uppercase()).is_none());
        assert!(parse(&t.replace('.', ":")).is_none());
        assert!(parse("").is_none());
    }

    #[test]
    fn digest_is_sha256_hex() {
        assert_eq!(
            digest("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
