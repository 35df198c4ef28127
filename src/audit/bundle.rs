//! Export bundles and their offline verification.
//!
//! A bundle carries an auditor's events (each as the exact leaf bytes that
//! were hashed), an inclusion proof for each, a checkpoint signed by the
//! log's key, the key itself, and optionally a consistency proof from a
//! checkpoint the auditor already trusts. [`verify`] checks all of it with
//! nothing but the bundle, and names the first entry or proof that fails.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, VerifierKey};
use super::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};

/// The bundle format this build writes and verifies.
pub const BUNDLE_FORMAT: &str = "rootvault-audit-bundle/1";

/// One event with its inclusion proof.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BundleEntry {
    pub seq: u64,
    /// The event's leaf bytes (canonical JSON), exactly as hashed.
    pub leaf: String,
    pub proof: Vec<String>,
}

/// A proof that the checkpoint of size `from` is a prefix of size `to`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Consistency {
    pub from: u64,
    pub to: u64,
    pub proof: Vec<String>,
}

/// Everything an auditor needs to verify their events offline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Bundle {
    pub format: String,
    pub origin: String,
    pub public_key: String,
    pub checkpoint: String,
    pub tree_size: u64,
    pub entries: Vec<BundleEntry>,
    pub consistency: Option<Consistency>,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: usize,
    pub checkpoint: Checkpoint,
    pub key_pinned: bool,
    pub consistent_from: Option<u64>,
}

/// The first thing that failed, named precisely.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("not a {BUNDLE_FORMAT} bundle")]
    Format,
    #[error("the bundle's public key differs from the pinned key")]
    KeyMismatch,
    #[error("the public key is unusable: {0}")]
    Key(String),
    #[error("the checkpoint does not verify: {0}")]
    Checkpoint(String),
    #[error("the checkpoint names origin {found:?}, expected {expected:?}")]
    Origin { found: String, expected: String },
    #[error("entry {index} (seq {seq}): {what}")]
    Entry { index: usize, seq: u64, what: String },
    #[error("the trusted checkpoint does not verify: {0}")]
    Trusted(String),
    #[error("the log shrank: trusted size {trusted} is larger than the bundle's checkpoint size {size}")]
    Truncated { trusted: u64, size: u64 },
    #[error("the bundle has no consistency proof from the trusted size {0}")]
    NoConsistency(u64),
    #[error("the consistency proof from size {from} to {to} fails: the log was rewritten")]
    Inconsistent { from: u64, to: u64 },
    #[error("the verifier itself failed; the bundle is not verified")]
    Crashed,
}

/// The one field of an event the verifier reads; the rest is only hashed.
#[derive(Deserialize)]
struct SeqOnly {
    seq: u64,
}

fn hashes(encoded: &[String]) -> Option<Vec<Hash>> {
    encoded.iter().map(|h| B64.decode(h).ok()?.try_into().ok()).collect()
}

fn entry_error(index: usize, entry: &BundleEntry, what: &str) -> VerifyError {
    VerifyError::Entry { index, seq: entry.seq, what: what.to_owned() }
}

/// Check entries starting at bundle position `offset`; the first failure.
fn check_entries(offset: usize, entries: &[BundleEntry], checkpoint: &Checkpoint) -> Option<VerifyError> {
    entries.iter().enumerate().find_map(|(i, entry)| {
        let fail = |what: &str| Some(entry_error(offset + i, entry, what));
        let Ok(event) = serde_json::from_str::<SeqOnly>(&entry.leaf) else {
            return fail("the event is not a JSON event");
        };
        if event.seq != entry.seq {
            return fail("the event's own seq differs from its position");
        }
        let Some(proof) = hashes(&entry.proof) else { return fail("the proof is not base64 SHA-256 hashes") };
        if !verify_inclusion(&leaf_hash(entry.leaf.as_bytes()), entry.seq, checkpoint.size, &proof, &checkpoint.root) {
            return fail("its inclusion proof does not verify against the checkpoint");
        }
        None
    })
}

/// Verify `bundle`. `pinned_key` is the verifier key the auditor trusts (if
/// absent, the bundle's own key is used and reported as not pinned);
/// `trusted_checkpoint` is a checkpoint note the auditor kept from earlier.
pub fn verify(
    bundle: &Bundle,
    pinned_key: Option<&str>,
    trusted_checkpoint: Option<&str>,
) -> Result<Verified, VerifyError> {
    if bundle.format != BUNDLE_FORMAT {
        return Err(VerifyError::Format);
    }
    if let Some(pinned) = pinned_key
        && pinned.trim() != bundle.public_key.trim()
    {
        return Err(VerifyError::KeyMismatch);
    }
    let key =
        VerifierKey::parse(pinned_key.unwrap_or(&bundle.public_key)).map_err(|e| VerifyError::Key(e.to_string()))?;
    let checkpoint = key.verify(&bundle.checkpoint).map_err(|e| VerifyError::Checkpoint(e.to_string()))?;
    if checkpoint.origin != bundle.origin {
        return Err(VerifyError::Origin { found: checkpoint.origin, expected: bundle.origin.clone() });
    }
    if checkpoint.size != bundle.tree_size {
        return Err(VerifyError::Checkpoint(format!(
            "it covers size {}, the bundle says {}",
            checkpoint.size, bundle.tree_size
        )));
    }
    for (index, pair) in bundle.entries.windows(2).enumerate() {
        if pair[1].seq <= pair[0].seq {
            return Err(entry_error(index + 1, &pair[1], "entries are out of order or repeated"));
        }
    }
    // Entries verify independently: split them across the machine's cores
    // and report the first failure in bundle order.
    let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
    let chunk = bundle.entries.len().div_ceil(threads).max(1);
    let checked = &checkpoint;
    let first_failure = std::thread::scope(|scope| {
        let workers: Vec<_> = bundle
            .entries
            .chunks(chunk)
            .enumerate()
            .map(|(n, entries)| scope.spawn(move || check_entries(n * chunk, entries, checked)))
            .collect();
        workers.into_iter().find_map(|w| w.join().unwrap_or(Some(VerifyError::Crashed)))
    });
    if let Some(failure) = first_failure {
        return Err(failure);
    }
    let consistent_from = match trusted_checkpoint {
        None => None,
        Some(note) => {
            let trusted = key.verify(note).map_err(|e| VerifyError::Trusted(e.to_string()))?;
            if trusted.origin != checkpoint.origin {
                return Err(VerifyError::Trusted(format!("it is for origin {:?}", trusted.origin)));
            }
            if trusted.size > checkpoint.size {
                return Err(VerifyError::Truncated { trusted: trusted.size, size: checkpoint.size });
            }
            let (from, to) = (trusted.size, checkpoint.size);
            let ok = if from == to {
                trusted.root == checkpoint.root
            } else {
                let c = bundle
                    .consistency
                    .as_ref()
                    .filter(|c| c.from == from && c.to == to)
                    .ok_or(VerifyError::NoConsistency(from))?;
                let proof = hashes(&c.proof).ok_or(VerifyError::Inconsistent { from, to })?;
                verify_consistency(from, to, &trusted.root, &checkpoint.root, &proof)
            };
            if !ok {
                return Err(VerifyError::Inconsistent { from, to });
            }
            Some(from)
        }
    };
    Ok(Verified { events: bundle.entries.len(), checkpoint, key_pinned: pinned_key.is_some(), consistent_from })
}
