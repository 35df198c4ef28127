//! The encryption context that binds a ciphertext to its row (invariant 8).

use crate::domain::ids::{AccountId, Half};

/// What a data key protects: one version of one half of one account, or the
/// audit log's own key. Sent to KMS as encryption context and used as
/// AES-GCM associated data, so a wrapped key or payload decrypts only for
/// the row it was made for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptionContext {
    subject: Subject,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Subject {
    Half {
        account_id: AccountId,
        half: Half,
        version: u32,
    },
    AuditLogKey,
    /// One of the service's own keys, by name (e.g. `token-signing`).
    ServiceKey(&'static str),
}

impl EncryptionContext {
    /// `{account_id, half, version}` of a half version.
    pub fn new(account_id: AccountId, half: Half, version: u32) -> Self {
        Self { subject: Subject::Half { account_id, half, version } }
    }

    /// The audit log's signing and MAC key. It is wrapped under the password
    /// half's key (kept apart from half data by its context); holders of
    /// the MFA key alone can neither sign checkpoints nor forge log rows.
    pub fn audit_log_key() -> Self {
        Self { subject: Subject::AuditLogKey }
    }

    /// A key of the service's own, such as the one that signs the tokens
    /// `rootvault login` hands out. Wrapped like the audit log key.
    pub fn service_key(name: &'static str) -> Self {
        Self { subject: Subject::ServiceKey(name) }
    }

    /// Which half's master key wraps this data key.
    pub fn key_half(&self) -> Half {
        match &self.subject {
            Subject::Half { half, .. } => *half,
            Subject::AuditLogKey | Subject::ServiceKey(_) => Half::Password,
        }
    }

    /// The associated data for AES-GCM: an unambiguous byte string (the
    /// fields have fixed alphabets, so `;` cannot appear inside one).
    pub fn aad(&self, purpose: &str) -> Vec<u8> {
        match &self.subject {
            Subject::Half { account_id, half, version } => {
                format!("rootvault/v1;{purpose};account_id={account_id};half={half};version={version}")
            }
            Subject::AuditLogKey => format!("rootvault/v1;{purpose};audit-log-key"),
            Subject::ServiceKey(name) => format!("rootvault/v1;{purpose};service-key={name}"),
        }
        .into_bytes()
    }

    /// The key-value pairs for KMS. Key policies can require `account_id`
    /// and `half` with `kms:EncryptionContextKeys`; the audit log key carries
    /// them too, with values no AWS account or half can have.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        match &self.subject {
            Subject::Half { account_id, half, version } => vec![
                ("account_id", account_id.to_string()),
                ("half", half.to_string()),
                ("version", version.to_string()),
            ],
            Subject::AuditLogKey => vec![("account_id", "audit-log".into()), ("half", "audit-log-key".into())],
            Subject::ServiceKey(name) => vec![("account_id", (*name).into()), ("half", "service-key".into())],
        }
    }
}
