//! The encryption context that binds a ciphertext to its row (invariant 8).

use crate::domain::ids::{AccountId, Half};

/// `{account_id, half, version}`: sent to KMS as encryption context and used
/// as AES-GCM associated data, so both the wrapped data key and the payload
/// decrypt only for the row they were made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext {
    pub account_id: AccountId,
    pub half: Half,
    pub version: u32,
}

impl EncryptionContext {
    pub fn new(account_id: AccountId, half: Half, version: u32) -> Self {
        Self { account_id, half, version }
    }

    /// The associated data for AES-GCM: an unambiguous byte string (the
    /// fields have fixed alphabets, so `;` cannot appear inside one).
    pub fn aad(&self, purpose: &str) -> Vec<u8> {
        format!("rootvault/v1;{purpose};account_id={};half={};version={}", self.account_id, self.half, self.version)
            .into_bytes()
    }

    /// The key-value pairs for KMS. KMS key policies can require these keys
    /// with `kms:EncryptionContextKeys`.
    pub fn pairs(&self) -> [(&'static str, String); 3] {
        [
            ("account_id", self.account_id.to_string()),
            ("half", self.half.to_string()),
            ("version", self.version.to_string()),
        ]
    }
}
