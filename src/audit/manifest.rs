//! Backup manifests: what a backup holds, signed by the log's key.
//!
//! The body is a signed note (same key and format as checkpoints):
//!
//! ```text
//! rootvault backup v1
//! <origin>
//! <audit tree size>
//! <base64 root hash>
//! <hex SHA-256 of the database file>
//! <created at, RFC 3339 UTC>
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::merkle::Hash;

const HEADER: &str = "rootvault backup v1";

/// A backup's contents, as signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
    pub sha256: [u8; 32],
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a rootvault backup manifest")]
pub struct ManifestError;

impl Manifest {
    /// The text to sign.
    pub fn body(&self) -> String {
        format!(
            "{HEADER}\n{}\n{}\n{}\n{}\n{}\n",
            self.origin,
            self.size,
            B64.encode(self.root),
            hex::encode(self.sha256),
            self.created_at
        )
    }

    /// Read a verified note body back.
    pub fn parse(body: &str) -> Result<Self, ManifestError> {
        let lines: Vec<&str> = body.lines().collect();
        let [HEADER, origin, size, root, sha, created_at] = lines.as_slice() else { return Err(ManifestError) };
        Ok(Self {
            origin: (*origin).to_owned(),
            size: size.parse().map_err(|_| ManifestError)?,
            root: B64.decode(root).ok().and_then(|r| r.try_into().ok()).ok_or(ManifestError)?,
            sha256: hex::decode(sha).ok().and_then(|h| h.try_into().ok()).ok_or(ManifestError)?,
            created_at: (*created_at).to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_body_round_trips() {
        let m = Manifest {
            origin: "rootvault/acme".into(),
            size: 42,
            root: [1; 32],
            sha256: [2; 32],
            created_at: "2026-11-22T00:00:00.000Z".into(),
        };
        assert_eq!(Manifest::parse(&m.body()), Ok(m));
        assert_eq!(Manifest::parse("something else\n"), Err(ManifestError));
    }
}
