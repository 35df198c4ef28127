//! Unsealing the local key provider.

use std::sync::Arc;

use super::Vault;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::crypto::SealStatus;
use crate::error::Error;

impl Vault {
    /// Submit one unseal share. Anyone holding a share may call this; the
    /// attempt and its result are audited, never the share.
    ///
    /// The share is applied inside the audit transaction; if the event then
    /// cannot be committed, the provider is sealed again, so no unseal
    /// happens without its record (invariant 4).
    pub async fn unseal(&self, http: &HttpInfo, share: secrecy::SecretString) -> Result<SealStatus, Error> {
        use secrecy::ExposeSecret;
        let draft = EventDraft::new(None, Action::SealUnseal, Target::default(), http);
        let keys = Arc::clone(&self.keys);
        let result = self
            .audited(draft, move |_, draft, _| {
                let status = keys.submit_unseal_share(share.expose_secret())?;
                draft.details.insert("sealed".into(), status.sealed.into());
                draft.details.insert("progress".into(), status.progress.into());
                Ok(status)
            })
            .await;
        match &result {
            Err(Error::AuditUnavailable) => self.keys.seal(),
            Ok(status) if !status.sealed => {
                // The log key can only be read once the provider is unsealed;
                // until it is loaded the vault still refuses work.
                if let Err(e) = self.open_audit_log().await {
                    tracing::error!(code = e.code(), "cannot open the audit log after unsealing; sealing again");
                    self.keys.seal();
                    return Err(e);
                }
            }
            _ => {}
        }
        result
    }
}
