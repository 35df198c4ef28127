//! The service's own data keys (the audit log's key, the service tokens'
//! key): made once per database, then unwrapped by every node at start.

use super::{Vault, now_rfc3339};
use crate::crypto::{DataKey, EncryptionContext, WrappedKey};
use crate::error::Error;
use crate::store::{Conn, StoreError};

impl Vault {
    /// The service key that `read` finds, unwrapped under `ctx`, and
    /// whether this call made it. When none is stored, one is made and
    /// handed to `store`, which must store it only if none is stored yet:
    /// nodes of a cluster may start together, and every node then uses the
    /// first key stored. `what` names the key in an error.
    pub(super) async fn service_data_key<R, S>(
        &self,
        ctx: &EncryptionContext,
        what: &'static str,
        read: R,
        store: S,
    ) -> Result<(DataKey, bool), Error>
    where
        R: Fn(&Conn) -> Result<Option<(Vec<u8>, String)>, StoreError> + Clone + Send + 'static,
        S: FnOnce(&Conn, &WrappedKey, &str) -> Result<(), StoreError> + Send + 'static,
    {
        if let Some((blob, key_id)) = self.store.read(read.clone()).await? {
            return Ok((self.keys.unwrap_data_key(&WrappedKey { key_id, blob }, ctx).await?, false));
        }
        let (key, wrapped) = self.keys.generate_data_key(None, ctx).await?;
        let ours = wrapped.blob.clone();
        let stored = self
            .store
            .write_bootstrap(move |b| {
                store(b.conn(), &wrapped, &now_rfc3339())?;
                read(b.conn())
            })
            .await?;
        match stored {
            Some((blob, _)) if blob == ours => Ok((key, true)),
            Some((blob, key_id)) => Ok((self.keys.unwrap_data_key(&WrappedKey { key_id, blob }, ctx).await?, false)),
            None => Err(Error::Internal(format!("the {what} was not stored"))),
        }
    }
}
