//! Signed checkpoints in the C2SP tlog-checkpoint / signed-note format.
//!
//! A checkpoint is the text
//!
//! ```text
//! <origin>
//! <tree size>
//! <base64 root hash>
//!
//! — <key name> <base64(key hash ‖ Ed25519 signature)>
//! ```
//!
//! where the signature covers the first three lines (with their newlines)
//! and the key hash is the first four bytes of
//! `SHA-256(key name ‖ "\n" ‖ 0x01 ‖ public key)`. The public key is published
//! as a verifier key (`vkey`): `<name>+<hex key hash>+<base64(0x01 ‖ key)>`.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use ed25519_dalek::{Signature, Signer, SigningKey, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::merkle::Hash;

const ED25519: u8 = 0x01;
const DASH: &str = "\u{2014} ";

/// Why a checkpoint or verifier key was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("the verifier key is not of the form name+hash+key")]
    VerifierKey,
    #[error("the checkpoint is not a signed note (origin, size, root, blank line, signatures)")]
    Shape,
    #[error("the checkpoint has no signature by key {0}")]
    NoSignature(String),
    #[error("the checkpoint's signature does not verify")]
    BadSignature,
}

fn key_hash(name: &str, public: &VerifyingKey) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public.as_bytes());
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

/// A checkpoint's contents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    pub origin: String,
    pub size: u64,
    pub root: Hash,
}

impl Checkpoint {
    /// The signed body: origin, size and root, each on its own line.
    pub fn body(&self) -> String {
        format!("{}\n{}\n{}\n", self.origin, self.size, B64.encode(self.root))
    }
}

/// Signs checkpoints with the log's Ed25519 key.
pub struct CheckpointSigner {
    name: String,
    key: SigningKey,
}

impl fmt::Debug for CheckpointSigner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckpointSigner").field("name", &self.name).finish_non_exhaustive()
    }
}

impl CheckpointSigner {
    /// A signer named `origin` (the key name is the origin) from a 32-byte seed.
    pub fn new(origin: &str, seed: &Zeroizing<[u8; 32]>) -> Self {
        Self { name: origin.to_owned(), key: SigningKey::from_bytes(seed) }
    }

    pub fn origin(&self) -> &str {
        &self.name
    }

    /// The verifier key auditors pin.
    pub fn vkey(&self) -> String {
        let public = self.key.verifying_key();
        let mut bytes = vec![ED25519];
        bytes.extend_from_slice(public.as_bytes());
        format!("{}+{}+{}", self.name, hex::encode(key_hash(&self.name, &public)), B64.encode(bytes))
    }

    /// The signed note for the tree of `size` entries with `root`.
    pub fn sign(&self, size: u64, root: &Hash) -> String {
        self.sign_text(&Checkpoint { origin: self.name.clone(), size, root: *root }.body())
    }

    /// A signed note of any `body` (lines, each ending in a newline), such
    /// as a backup manifest.
    pub fn sign_text(&self, body: &str) -> String {
        let signature = self.key.sign(body.as_bytes());
        let mut sig = key_hash(&self.name, &self.key.verifying_key()).to_vec();
        sig.extend_from_slice(&signature.to_bytes());
        format!("{body}\n{DASH}{} {}\n", self.name, B64.encode(sig))
    }
}

/// A parsed verifier key.
#[derive(Debug, Clone)]
pub struct VerifierKey {
    name: String,
    hash: [u8; 4],
    key: VerifyingKey,
}

impl VerifierKey {
    pub fn parse(vkey: &str) -> Result<Self, NoteError> {
        let mut parts = vkey.trim().splitn(3, '+');
        let (Some(name), Some(hash), Some(key)) = (parts.next(), parts.next(), parts.next()) else {
            return Err(NoteError::VerifierKey);
        };
        let bytes = B64.decode(key).map_err(|_| NoteError::VerifierKey)?;
        let (Some(&ED25519), Some(raw)) = (bytes.first(), bytes.get(1..)) else {
            return Err(NoteError::VerifierKey);
        };
        let raw: &[u8; 32] = raw.try_into().map_err(|_| NoteError::VerifierKey)?;
        let key = VerifyingKey::from_bytes(raw).map_err(|_| NoteError::VerifierKey)?;
        let hash: [u8; 4] = hex::decode(hash).ok().and_then(|h| h.try_into().ok()).ok_or(NoteError::VerifierKey)?;
        if name.is_empty() || hash != key_hash(name, &key) {
            return Err(NoteError::VerifierKey);
        }
        Ok(Self { name: name.to_owned(), hash, key })
    }

    /// Check a signed note and return its checkpoint.
    pub fn verify(&self, note: &str) -> Result<Checkpoint, NoteError> {
        let body = self.verify_text(note)?;
        let mut lines = body.lines();
        let (Some(origin), Some(size), Some(root), None) = (lines.next(), lines.next(), lines.next(), lines.next())
        else {
            return Err(NoteError::Shape);
        };
        let size: u64 = size.parse().map_err(|_| NoteError::Shape)?;
        let root: Hash = B64.decode(root).ok().and_then(|r| r.try_into().ok()).ok_or(NoteError::Shape)?;
        Ok(Checkpoint { origin: origin.to_owned(), size, root })
    }

    /// Check any signed note by this key and return its body.
    pub fn verify_text(&self, note: &str) -> Result<String, NoteError> {
        let (body, signatures) = note.split_once("\n\n").ok_or(NoteError::Shape)?;
        let body = format!("{body}\n");
        let mut found = false;
        for line in signatures.lines() {
            let Some((name, sig)) = line.strip_prefix(DASH).and_then(|l| l.split_once(' ')) else {
                return Err(NoteError::Shape);
            };
            let sig = B64.decode(sig).map_err(|_| NoteError::Shape)?;
            if name != self.name || sig.len() != 68 || sig[..4] != self.hash {
                continue;
            }
            let signature = Signature::from_slice(&sig[4..]).map_err(|_| NoteError::BadSignature)?;
            self.key.verify(body.as_bytes(), &signature).map_err(|_| NoteError::BadSignature)?;
            found = true;
        }
        if !found {
            return Err(NoteError::NoSignature(self.name.clone()));
        }
        Ok(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> CheckpointSigner {
        CheckpointSigner::new("rootvault/acme", &Zeroizing::new([9u8; 32]))
    }

    #[test]
    fn a_signed_checkpoint_verifies_with_its_vkey_and_nothing_else() {
        let s = signer();
        let note = s.sign(42, &[7u8; 32]);
        assert!(note.starts_with(
            "rootvault/acme\n42\nBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwcHBwc=\n\n\u{2014} rootvault/acme "
        ));
        let vkey = VerifierKey::parse(&s.vkey()).unwrap();
        let cp = vkey.verify(&note).unwrap();
        assert_eq!((cp.origin.as_str(), cp.size, cp.root), ("rootvault/acme", 42, [7u8; 32]));

        let forged = note.replacen("\n42\n", "\n43\n", 1);
        assert_eq!(vkey.verify(&forged), Err(NoteError::BadSignature));
        let other = CheckpointSigner::new("rootvault/acme", &Zeroizing::new([8u8; 32]));
        let other_vkey = VerifierKey::parse(&other.vkey()).unwrap();
        assert!(matches!(other_vkey.verify(&note), Err(NoteError::NoSignature(_))));
        assert_eq!(vkey.verify("garbage"), Err(NoteError::Shape));
    }

    #[test]
    fn verifier_keys_must_be_well_formed_and_self_consistent() {
        let good = signer().vkey();
        assert!(VerifierKey::parse(&good).is_ok());
        let renamed = good.replacen("rootvault/acme", "rootvault/evil", 1);
        assert_eq!(VerifierKey::parse(&renamed).unwrap_err(), NoteError::VerifierKey);
        assert!(VerifierKey::parse("nonsense").is_err());
    }
}
