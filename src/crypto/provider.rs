//! The `KeyProvider` trait: who wraps and unwraps data keys.

use std::fmt;

use async_trait::async_trait;
use serde::Serialize;
use zeroize::Zeroizing;

use super::{CryptoError, EncryptionContext};

/// A 256-bit data key in the clear. Zeroized on drop; never printed.
pub struct DataKey(Zeroizing<[u8; 32]>);

impl DataKey {
    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        Self(bytes)
    }

    /// Copy a key out of a buffer the caller is about to zeroize.
    pub fn from_slice(bytes: &[u8]) -> Result<Self, CryptoError> {
        let mut key = Zeroizing::new([0u8; 32]);
        if bytes.len() != key.len() {
            return Err(CryptoError::Provider("data key has the wrong length".into()));
        }
        key.copy_from_slice(bytes);
        Ok(Self(key))
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DataKey(<redacted>)")
    }
}

/// A data key wrapped by the provider, safe to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WrappedKey {
    /// Which master key wrapped it: `local:password`, or a KMS key ARN.
    pub key_id: String,
    pub blob: Vec<u8>,
}

/// What `GET /v1/sys/seal-status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct SealStatus {
    pub sealed: bool,
    pub threshold: u8,
    pub progress: u8,
}

/// The provider of the two half keys. Implementations keep the password and
/// MFA keys apart: a data key wrapped for one half cannot be unwrapped as the
/// other, and with KMS the two keys can sit under disjoint key policies.
#[async_trait]
pub trait KeyProvider: Send + Sync + fmt::Debug {
    /// `local` or `aws-kms`, for status output and audit details.
    fn kind(&self) -> &'static str;

    /// Whether the provider can currently wrap and unwrap keys.
    fn seal_status(&self) -> SealStatus;

    /// Add one unseal share. Only the local provider is sealed by shares.
    fn submit_unseal_share(&self, share: &str) -> Result<SealStatus, CryptoError>;

    /// Forget the keys (and any unseal progress). A no-op for providers
    /// that are not sealed by shares.
    fn seal(&self);

    /// Whether an account may name its own key for a half.
    fn supports_key_overrides(&self) -> bool;

    /// A fresh data key for the half named in `ctx`, wrapped under that
    /// half's key or under `key_override` when the account names one.
    async fn generate_data_key(
        &self,
        key_override: Option<&str>,
        ctx: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), CryptoError>;

    /// Unwrap a stored data key; fails unless `ctx` is the one it was made for.
    async fn unwrap_data_key(&self, wrapped: &WrappedKey, ctx: &EncryptionContext) -> Result<DataKey, CryptoError>;
}
