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

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};

use super::checkpoint::{Checkpoint, VerifierKey};
use super::entries::{self, OrgCount};
use super::merkle::{Hash, verify_consistency};
use super::schema::envelope_violation;
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

/// A 32-byte hash in base64, decoded without allocating.
pub(super) fn decode_hash(encoded: &str) -> Option<Hash> {
    // Base64 estimates 33 bytes for the 44 characters of a padded 32-byte
    // hash: room for that, and any other length fails or is refused below.
    let mut buffer = [0u8; 33];
    let n = B64.decode_slice(encoded, &mut buffer).ok()?;
    buffer.get(..n)?.try_into().ok()
}

fn hashes(encoded: &[String]) -> Option<Vec<Hash>> {
    encoded.iter().map(|h| decode_hash(h)).collect()
}

fn entry_error(index: usize, entry: &BundleEntry, what: &str) -> VerifyError {
    VerifyError::Entry { index, seq: entry.seq, what: what.to_owned() }
}

/// The bundle as `bundle.schema.json` sees it, but with no entries: they
/// are checked one by one (see [`super::schema`]).
#[derive(Serialize)]
struct Envelope<'a> {
    format: &'a str,
    origin: &'a str,
    public_key: &'a str,
    checkpoint: &'a str,
    tree_size: u64,
    entries: [BundleEntry; 0],
    consistency: &'a Option<Consistency>,
    completeness: &'a Completeness,
}

impl<'a> Envelope<'a> {
    fn of(bundle: &'a Bundle) -> Self {
        // Every field, so that a field added to bundles is not left out.
        let Bundle { format, origin, public_key, checkpoint, tree_size, entries: _, consistency, completeness } =
            bundle;
        Envelope {
            format,
            origin,
            public_key,
            checkpoint,
            tree_size: *tree_size,
            entries: [],
            consistency,
            completeness,
        }
    }
}

/// The key to verify with and the bundle's checkpoint, verified by it.
fn signed_checkpoint(bundle: &Bundle, pinned_key: Option<&str>) -> Result<(VerifierKey, Checkpoint), VerifyError> {
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
    Ok((key, checkpoint))
}

/// The first entry whose seq does not rise above the one before it.
fn out_of_order(entries: &[BundleEntry]) -> Option<VerifyError> {
    entries.windows(2).enumerate().find_map(|(index, pair)| match pair {
        [before, entry] if entry.seq <= before.seq => {
            Some(entry_error(index + 1, entry, "entries are out of order or repeated"))
        }
        _ => None,
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
    let envelope = serde_json::to_value(Envelope::of(bundle)).map_err(|_| VerifyError::Crashed)?;
    if let Some(violation) = envelope_violation(&envelope) {
        return Err(VerifyError::Schema(violation));
    }
    // The failures are reported in this order: the bundle schema (envelope,
    // then entries), the key and checkpoint, the entries' order, then the
    // first failing entry. Entries are checked in one pass over them, their
    // leaves only if the checkpoint and order are sound.
    let signed = signed_checkpoint(bundle, pinned_key);
    let order = out_of_order(&bundle.entries);
    let sound = signed.as_ref().ok().filter(|_| order.is_none()).map(|(_, checkpoint)| checkpoint);
    let checked = entries::check(&bundle.entries, sound, &bundle.completeness.org);
    if let Some(failure) = checked.schema {
        return Err(failure);
    }
    let (key, checkpoint) = signed?;
    if let Some(failure) = order.or(checked.entry) {
        return Err(failure);
    }
    // Every entry passed, so each has its count (the completeness check
    // below must see them all).
    if checked.counts.len() != bundle.entries.len() {
        return Err(VerifyError::Crashed);
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
    let complete = check_completeness(bundle, &checked.counts, &key, &checkpoint)?;
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
fn check_completeness(
    bundle: &Bundle,
    counts: &[OrgCount],
    key: &VerifierKey,
    checkpoint: &Checkpoint,
) -> Result<Complete, VerifyError> {
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
    let covered =
        bundle.entries.iter().zip(counts).enumerate().filter(|(_, (e, _))| e.seq >= from_size && e.seq < to.size);
    for (index, (entry, count)) in covered {
        let n = match *count {
            OrgCount::Nth(n) => n,
            OrgCount::Unscoped => continue,
            OrgCount::Outside => {
                return Err(entry_error(index, entry, &format!("the event is not in org {}'s scope", c.org)));
            }
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

#[cfg(test)]
mod tests {
    use zeroize::Zeroizing;

    use super::*;
    use crate::audit::log::LogKeys;
    use crate::audit::sample::whole_log;
    use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};

    const ORG: &str = "acme";

    fn keys() -> LogKeys {
        LogKeys::from_seed("rootvault/test", &Zeroizing::new([3; 32]))
    }

    /// Event `seq`'s leaf, scoped to `scope` (org and counter), or written
    /// before scopes existed.
    fn leaf(seq: u64, scope: Option<(&str, u64)>) -> String {
        let mut event = EventDraft::new(None, Action::AccountRead, Target::default(), &HttpInfo::default())
            .detail("n", seq)
            .seal(seq, "2026-11-22T00:00:00.000Z", Outcome::Ok, None);
        let Some((org, n)) = scope else {
            let mut value = serde_json::to_value(&event).unwrap();
            value.as_object_mut().unwrap().remove("scope");
            return serde_json_canonicalizer::to_string(&value).unwrap();
        };
        event.scope.insert(org.to_owned(), n);
        event.leaf_json().unwrap()
    }

    /// A bundle of `n` events of ORG, enough for every core to get some.
    fn bundle(n: u64) -> Bundle {
        whole_log(keys().signer(), ORG, (0..n).map(|seq| leaf(seq, Some((ORG, seq + 1)))).collect()).unwrap()
    }

    fn failure(bundle: &Bundle) -> String {
        verify(bundle, Some(&keys().signer().vkey()), None).unwrap_err().to_string()
    }

    #[test]
    fn a_whole_log_verifies_with_every_event_counted() {
        let verified = verify(&bundle(600), Some(&keys().signer().vkey()), None).unwrap();
        assert_eq!(verified.events, 600);
        assert_eq!(
            verified.complete,
            Complete::Proved { org: ORG.into(), first: 1, last: 600, from_size: 0, size: 600 }
        );
    }

    #[test]
    fn the_first_failing_entry_in_bundle_order_is_named_whichever_core_checks_it() {
        let mut b = bundle(600);
        b.entries[450].leaf = b.entries[450].leaf.replacen('{', "{ ", 1);
        b.entries[520].leaf = b.entries[520].leaf.replacen(r#""outcome":"ok""#, r#""outcome":"maybe""#, 1);
        assert_eq!(failure(&b), "entry 450 (seq 450): its leaf is not the canonical JSON (RFC 8785) of its event");
        b.entries[100].leaf = b.entries[100].leaf.replacen(r#""outcome":"ok""#, r#""outcome":"maybe""#, 1);
        let err = failure(&b);
        assert!(
            err.starts_with("entry 100 (seq 100): the event does not match event.schema.json: ")
                && err.ends_with(" at /outcome"),
            "{err}"
        );
        b.entries[7].leaf = "not json".into();
        assert_eq!(failure(&b), "entry 7 (seq 7): the event is not JSON");
    }

    #[test]
    fn an_entry_that_breaks_the_bundle_schema_is_named_before_the_key_the_order_or_any_leaf() {
        let mut b = bundle(600);
        b.entries[3].leaf = "not json".into();
        b.entries.swap(10, 11);
        b.entries[500].proof[0] = "not a hash".into();
        b.entries[580].proof[1] = "nor this".into();
        let err = verify(&b, Some("rootvault/other+00000000+AQ=="), None).unwrap_err().to_string();
        assert!(
            err.starts_with("the bundle does not match bundle.schema.json: ")
                && err.ends_with(" at /entries/500/proof/0"),
            "{err}"
        );
    }

    #[test]
    fn entries_out_of_order_are_named_before_any_leaf() {
        let mut b = bundle(600);
        b.entries[3].leaf = "not json".into();
        b.entries.swap(400, 401);
        assert_eq!(failure(&b), "entry 401 (seq 400): entries are out of order or repeated");
    }

    #[test]
    fn events_before_scopes_are_not_counted_and_an_event_of_another_org_is_named() {
        let leaves = vec![leaf(0, Some((ORG, 1))), leaf(1, None), leaf(2, Some((ORG, 2))), leaf(3, Some(("other", 1)))];
        let b = whole_log(keys().signer(), ORG, leaves.clone()).unwrap();
        assert_eq!(failure(&b), "entry 3 (seq 3): the event is not in org acme's scope");
        let b = whole_log(keys().signer(), ORG, leaves[..3].to_vec()).unwrap();
        let err = failure(&b);
        assert!(err.contains("has 3 events up to tree size 3: events were cut off"), "{err}");
    }
}
