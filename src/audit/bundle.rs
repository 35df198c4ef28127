//! Export bundles and their offline verification.
//!
//! A bundle carries an auditor's events (each as the exact leaf bytes that
//! were hashed), an inclusion proof for each, a checkpoint signed by the
//! log's key, the key itself, statements signed by the same key of how many
//! events the auditor's org has (so that an omitted or cut-off event shows
//! as a gap in the org's counters), and optionally a consistency proof from
//! a checkpoint the auditor already trusts. [`verify`] checks all of it with
//! nothing but the bundle: every leaf must be the canonical JSON of an
//! event that conforms to the published schema. It names the first entry,
//! proof or gap that fails.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, VerifierKey};
use super::merkle::{Hash, leaf_hash, verify_consistency, verify_inclusion};
use super::schema::{bundle_violation, event_violation};
use super::scope::ScopeStatement;

/// The bundle format this build writes and verifies (2: with scope
/// statements and per-org counters).
pub const BUNDLE_FORMAT: &str = "rootvault-audit-bundle/2";

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

/// Signed scope statements ([`ScopeStatement`] notes) bracketing the
/// entries: `from` is the org's count where the export starts (absent when
/// it starts at the beginning of the log, count 0), `to` where it ends.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Completeness {
    pub org: String,
    pub from: Option<String>,
    pub to: String,
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
    pub completeness: Completeness,
}

/// What the bundle proves about the org's events being all there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Complete {
    /// Every event of `org` numbered `first..=last` (the events among tree
    /// positions `from_size..size`) is in the bundle.
    Proved { org: String, first: u64, last: u64, from_size: u64, size: u64 },
    /// The export was narrowed by these filters, so its counters have gaps
    /// by design and completeness is not proved.
    NotProved { org: String, filters: Vec<String> },
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub events: usize,
    pub checkpoint: Checkpoint,
    pub key_pinned: bool,
    pub consistent_from: Option<u64>,
    pub complete: Complete,
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
    #[error("the bundle does not match bundle.schema.json: {0}")]
    Schema(String),
    #[error("the scope statement does not verify: {0}")]
    Statement(String),
    #[error(
        "org {org}'s event #{missing} is missing (its counters jump from {before} to {after} at seq {seq}): an event was left out"
    )]
    Gap { org: String, missing: u64, before: u64, after: u64, seq: u64 },
    #[error(
        "the bundle ends at org {org}'s event #{last}, but the signed statement says it has {count} events up to tree size {size}: events were cut off"
    )]
    CutOff { org: String, last: u64, count: u64, size: u64 },
    #[error("the verifier itself failed; the bundle is not verified")]
    Crashed,
}

/// The fields of an event the verifier reads besides the schema check.
#[derive(Deserialize)]
struct Scoped {
    seq: u64,
    #[serde(default)]
    scope: Option<BTreeMap<String, u64>>,
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
        let Ok(value) = serde_json::from_str::<serde_json::Value>(&entry.leaf) else {
            return fail("the event is not JSON");
        };
        if !super::is_canonical_form(&value, &entry.leaf) {
            return fail("its leaf is not the canonical JSON (RFC 8785) of its event");
        }
        if let Some(violation) = event_violation(&value) {
            return fail(&format!("the event does not match event.schema.json: {violation}"));
        }
        let Ok(event) = serde_json::from_value::<Scoped>(value) else {
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
    let shape = serde_json::to_value(bundle).map_err(|_| VerifyError::Crashed)?;
    if let Some(violation) = bundle_violation(&shape) {
        return Err(VerifyError::Schema(violation));
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
    let complete = check_completeness(bundle, &key, &checkpoint)?;
    Ok(Verified {
        events: bundle.entries.len(),
        checkpoint,
        key_pinned: pinned_key.is_some(),
        consistent_from,
        complete,
    })
}

/// Verify one statement note: signed by the log key, for this log and org.
fn statement(key: &VerifierKey, note: &str, origin: &str, org: &str) -> Result<ScopeStatement, VerifyError> {
    let body = key.verify_text(note).map_err(|e| VerifyError::Statement(e.to_string()))?;
    let s = ScopeStatement::parse(&body).map_err(|e| VerifyError::Statement(e.to_string()))?;
    if s.origin != origin || s.org != org {
        return Err(VerifyError::Statement(format!("it is about org {:?} of log {:?}", s.org, s.origin)));
    }
    Ok(s)
}

/// Check that the org's counters in the entries run without a gap from the
/// `from` statement's count to the `to` statement's. The entries' scopes
/// are already covered by their inclusion proofs, and the statements by
/// the log's signature, so neither a deleted entry nor a shortened tail
/// can go unnoticed. Events written before scopes existed carry no counter
/// and are not counted.
fn check_completeness(bundle: &Bundle, key: &VerifierKey, checkpoint: &Checkpoint) -> Result<Complete, VerifyError> {
    let c = &bundle.completeness;
    let to = statement(key, &c.to, &checkpoint.origin, &c.org)?;
    let from = c.from.as_deref().map(|n| statement(key, n, &checkpoint.origin, &c.org)).transpose()?;
    let (first, from_size) = from.as_ref().map_or((1, 0), |f| (f.count.saturating_add(1), f.size));
    let last_seq = bundle.entries.last().map(|e| e.seq);
    // The statement closes the bundle: at the checkpoint, or (for a page cut
    // by `limit`) right after its last entry.
    if to.size != checkpoint.size && Some(to.size) != last_seq.map(|s| s.saturating_add(1)) {
        return Err(VerifyError::Statement(format!(
            "it covers size {}, neither the checkpoint's {} nor the end of the entries",
            to.size, checkpoint.size
        )));
    }
    if from_size > to.size
        || first > to.count.saturating_add(1)
        || from.as_ref().is_some_and(|f| f.filters != to.filters)
    {
        return Err(VerifyError::Statement("its start and end statements do not fit together".into()));
    }
    if !to.filters.is_empty() {
        return Ok(Complete::NotProved { org: c.org.clone(), filters: to.filters });
    }
    let mut expected = first;
    let covered = bundle.entries.iter().enumerate().filter(|(_, e)| e.seq >= from_size && e.seq < to.size);
    for (index, entry) in covered {
        let event: Scoped = serde_json::from_str(&entry.leaf).map_err(|_| VerifyError::Crashed)?;
        let Some(n) = event.scope.as_ref().and_then(|s| s.get(&c.org).copied()) else {
            if event.scope.is_some() {
                return Err(entry_error(index, entry, &format!("the event is not in org {}'s scope", c.org)));
            }
            continue;
        };
        if n != expected {
            return Err(VerifyError::Gap {
                org: c.org.clone(),
                missing: expected,
                before: expected.saturating_sub(1),
                after: n,
                seq: entry.seq,
            });
        }
        expected = expected.saturating_add(1);
    }
    let last = expected.saturating_sub(1);
    if last != to.count {
        return Err(VerifyError::CutOff { org: c.org.clone(), last, count: to.count, size: to.size });
    }
    Ok(Complete::Proved { org: c.org.clone(), first, last, from_size, size: to.size })
}
