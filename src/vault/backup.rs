//! Online backups with a signed manifest.

use sha2::{Digest, Sha256};

use super::{Vault, now_rfc3339, require_role};
use crate::audit::manifest::Manifest;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::error::Error;
use crate::store;

/// A backup: the database file's bytes and its signed manifest.
pub struct BackupFile {
    pub bytes: Vec<u8>,
    pub manifest: String,
    pub size: u64,
}

impl std::fmt::Debug for BackupFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupFile").field("bytes", &self.bytes.len()).field("size", &self.size).finish_non_exhaustive()
    }
}

impl Vault {
    /// Take a consistent copy of the database while the service runs (the
    /// provider's admins only), and sign what it holds: its audit tree size
    /// and root, and the file's hash. The backup itself is audited first, so
    /// the copy records that it was taken.
    /// On PostgreSQL there is no file to copy: PostgreSQL's own tools back
    /// it up, which the refusal says.
    pub async fn backup(&self, caller: &Caller, http: &HttpInfo) -> Result<BackupFile, Error> {
        if self.store.dialect() == store::Dialect::Postgres {
            return Err(Error::conflict("backup_unsupported", store::postgres::BACKUP_GUIDANCE));
        }
        let draft = EventDraft::new(Some(&caller.principal), Action::SysBackup, Target::default(), http);
        let (orgs, who) = (std::sync::Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |_, _, _| {
            if !orgs.is_provider(&who.principal.org) {
                return Err(Error::forbidden("forbidden", "only the provider takes backups"));
            }
            require_role(&who, crate::domain::ids::Role::Admin, "taking a backup")
        })
        .await?;
        let keys = self.store.log().keys().ok_or(Error::Sealed)?;
        let path = std::env::temp_dir().join(format!("rootvault-backup-{}.db", uuid::Uuid::new_v4().simple()));
        let copy = path.clone();
        self.store.read(move |c| store::backup::snapshot(c, &copy)).await?;
        let read = tokio::task::spawn_blocking(move || {
            let tree = store::backup::read_copy(&path, store::audit::rebuild_tree);
            let bytes = std::fs::read(&path);
            let _ = std::fs::remove_file(&path);
            Ok::<_, Error>((tree?, bytes.map_err(|e| Error::Internal(format!("cannot read the backup copy: {e}")))?))
        })
        .await
        .map_err(|_| Error::Internal("backup task failed".into()))??;
        let (tree, bytes) = read;
        let size = tree.size();
        let root = tree.root(size).map_err(|e| Error::Internal(e.to_string()))?;
        if self.store.log().tree().root(size).ok() != Some(root) {
            return Err(Error::Internal("the backup's audit log differs from the live one".into()));
        }
        let manifest = Manifest {
            origin: self.origin(),
            size,
            root,
            sha256: Sha256::digest(&bytes).into(),
            created_at: now_rfc3339(),
        };
        Ok(BackupFile { manifest: keys.signer().sign_text(&manifest.body()), bytes, size })
    }
}
