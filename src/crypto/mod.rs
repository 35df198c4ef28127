//! Keys and ciphers.
//!
//! Every half is sealed with envelope encryption: a fresh 256-bit data key per
//! half version encrypts the payload with AES-256-GCM, and the data key itself
//! is wrapped by a [`KeyProvider`] (local sealed master keys, or AWS KMS) under
//! the key of that half. Both layers bind the same [`EncryptionContext`]
//! (account, half, version), so a ciphertext moved to another row fails to
//! decrypt (invariant 8). No primitive is implemented here: AES-GCM, argon2,
//! Shamir sharing and TOTP come from well-kept crates.

pub mod context;
pub mod envelope;
pub mod kms;
pub mod local;
pub mod passwords;
pub mod provider;
pub mod totp;

pub use context::EncryptionContext;
pub use provider::{DataKey, KeyProvider, SealStatus, WrappedKey};

/// Failures of the key layer. Messages are fixed sentences: they never carry
/// key material, plaintext or share bytes.
#[derive(Debug, thiserror::Error)]
pub enum CryptoError {
    #[error("the vault is sealed")]
    Sealed,
    #[error("decryption failed: the key or the encryption context does not match")]
    Decrypt,
    #[error("the key provider failed: {0}")]
    Provider(String),
    #[error("not a valid unseal share")]
    InvalidShare,
    #[error("this share was already submitted")]
    DuplicateShare,
    #[error("the submitted shares do not reconstruct the sealing key; progress was reset")]
    WrongShares,
    #[error("the vault is already unsealed")]
    AlreadyUnsealed,
    #[error("this key provider is not sealed by shares")]
    NotSealable,
    #[error("the key provider does not support per-account keys")]
    OverridesUnsupported,
    #[error("invalid key ring: {0}")]
    Keyring(&'static str),
}
