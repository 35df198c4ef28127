//! One trusted issuer's current keys, kept fresh from their source.
//!
//! The keys sit behind a lock as one `Arc`, swapped whole when a fetch
//! brings a usable set; verification clones the `Arc` and never holds the
//! lock across an await. A fetch that fails, or brings a document that
//! cannot be used, keeps the keys there are and logs a warning: an
//! identity provider's outage must not lock out callers whose tokens
//! still verify.

use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Instant;

use super::jwt::{KeySetError, TrustedIssuer};
use super::key_source::{KeySource, SourceError};
use super::refresh::RefreshGate;
use crate::domain::ids::OrgName;

/// Why an issuer's keys could not be loaded at start.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Source(#[from] SourceError),
    #[error(transparent)]
    KeySet(#[from] KeySetError),
}

#[derive(Debug)]
struct Current {
    keys: Arc<TrustedIssuer>,
    gate: RefreshGate,
}

/// A trusted issuer, where its keys come from, and the keys it has now.
#[derive(Debug)]
pub struct IssuerKeys {
    org: OrgName,
    issuer: String,
    /// `None` for keys given once (dev issuers), never refreshed.
    source: Option<KeySource>,
    current: RwLock<Current>,
}

impl IssuerKeys {
    /// An issuer whose keys never change (dev issuers, tests).
    pub fn fixed(keys: TrustedIssuer) -> Self {
        Self::with(keys, None)
    }

    /// Read the issuer's keys from `source` for the first time. Unlike a
    /// refresh, a failure here is an error: there are no keys to keep.
    pub async fn load(org: OrgName, issuer: String, source: KeySource) -> Result<Self, LoadError> {
        let keys = TrustedIssuer::from_jwks(org, issuer, &source.read().await?)?;
        Ok(Self::with(keys, Some(source)))
    }

    fn with(keys: TrustedIssuer, source: Option<KeySource>) -> Self {
        Self {
            org: keys.org().clone(),
            issuer: keys.issuer().to_owned(),
            source,
            current: RwLock::new(Current { keys: Arc::new(keys), gate: RefreshGate::new(Instant::now()) }),
        }
    }

    /// The `iss` this issuer signs as.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The keys as they are now.
    pub fn keys(&self) -> Arc<TrustedIssuer> {
        Arc::clone(&self.lock_read().keys)
    }

    /// When the regular refresh is due; `None` for fixed keys.
    pub fn due_at(&self) -> Option<Instant> {
        self.source.as_ref().map(|_| self.lock_read().gate.due_at())
    }

    /// A token named a key this issuer does not have: fetch the keys again
    /// if the gate allows. Returns whether the keys were replaced. The gate
    /// is consulted and updated under the lock before fetching, so
    /// concurrent callers fetch at most once between them.
    pub async fn refetch_for_unknown_kid(&self, now: Instant) -> bool {
        let Some(source) = &self.source else { return false };
        let allowed = self.lock_write().gate.begin_unknown_kid(now);
        allowed && self.fetch(source, now).await
    }

    /// Refresh the keys if their regular refresh is due at `now`.
    pub async fn refresh_if_due(&self, now: Instant) {
        let Some(source) = &self.source else { return };
        let due = self.lock_write().gate.begin_regular(now);
        if due {
            self.fetch(source, now).await;
        }
    }

    // Writers only ever replace whole values, so a poisoned lock still
    // holds a consistent state: take it as it is.
    fn lock_read(&self) -> RwLockReadGuard<'_, Current> {
        self.current.read().unwrap_or_else(PoisonError::into_inner)
    }

    fn lock_write(&self) -> RwLockWriteGuard<'_, Current> {
        self.current.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Read the keys from `source` and, if usable, install them. Returns
    /// whether it did.
    async fn fetch(&self, source: &KeySource, now: Instant) -> bool {
        let read = match source.read().await {
            Ok(document) => {
                TrustedIssuer::from_jwks(self.org.clone(), self.issuer.clone(), &document).map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        };
        match read {
            Ok(keys) => {
                let mut current = self.lock_write();
                current.keys = Arc::new(keys);
                current.gate.succeeded(now);
                true
            }
            Err(reason) => {
                tracing::warn!(
                    org = %self.org,
                    issuer = %self.issuer,
                    %reason,
                    "the issuer's keys could not be refreshed; keeping the ones there are"
                );
                false
            }
        }
    }
}
