//! Checking a bundle's entries, split across the machine's cores: each
//! entry against the bundle schema, its leaf (the canonical JSON of an
//! event that conforms to the event schema, carrying the entry's seq) and
//! its inclusion proof. Failures are reported for the first failing entry
//! in bundle order, whatever core found it.
//!
//! Bundles run to hundreds of thousands of entries, so each core keeps its
//! buffers from one entry to the next: the entry as the schema sees it, the
//! canonical form of its event and its decoded proof. Neighbouring entries'
//! proofs share most of their hashes: a hash the same as the one at its
//! place in the last entry's proof has already passed the schema and been
//! decoded, and the inclusion proof's hashing stops where it meets the last
//! verified path ([`Inclusions`]).

use std::collections::BTreeMap;

use serde::Deserialize;
use serde_json::{Map, Value};

use super::bundle::{BundleEntry, VerifyError, decode_hash};
use super::canonical::is_canonical_form;
use super::checkpoint::Checkpoint;
use super::merkle::{Hash, Inclusions, leaf_hash};
use super::schema::{entry_violation, event_violation, proof_hash_violation};

/// Where an entry's event stands in the bundle's org.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgCount {
    /// Written before scopes existed: not counted.
    Unscoped,
    /// Scoped, but not to the org.
    Outside,
    /// The org's n-th event.
    Nth(u64),
}

/// What checking the entries found.
#[derive(Debug)]
pub struct Checked {
    /// The first entry, in bundle order, that breaks the bundle schema (or
    /// a checker that crashed): this outranks every other failure.
    pub schema: Option<VerifyError>,
    /// The first entry whose leaf or proof fails.
    pub entry: Option<VerifyError>,
    /// Each entry's place in the org, complete when nothing failed.
    pub counts: Vec<OrgCount>,
}

/// The fields of an event the verifier reads besides the schema check.
#[derive(Deserialize)]
struct Scoped<'a> {
    seq: u64,
    #[serde(default, borrow)]
    scope: Option<BTreeMap<&'a str, u64>>,
}

/// Check `entries` against the bundle schema and, given the bundle's
/// verified `checkpoint`, their leaves and proofs too; `org` is the org
/// whose counters the bundle's completeness rests on.
pub fn check(entries: &[BundleEntry], checkpoint: Option<&Checkpoint>, org: &str) -> Checked {
    let threads = std::thread::available_parallelism().map_or(1, usize::from).clamp(1, 8);
    let chunk = entries.len().div_ceil(threads).max(1);
    let parts: Vec<Checked> = std::thread::scope(|scope| {
        let workers: Vec<_> = entries
            .chunks(chunk)
            .enumerate()
            .map(|(n, part)| scope.spawn(move || check_chunk(n * chunk, part, checkpoint, org)))
            .collect();
        let crashed = || Checked { schema: Some(VerifyError::Crashed), entry: None, counts: Vec::new() };
        workers.into_iter().map(|w| w.join().unwrap_or_else(|_| crashed())).collect()
    });
    let mut all = Checked { schema: None, entry: None, counts: Vec::with_capacity(entries.len()) };
    for part in parts {
        all.schema = all.schema.or(part.schema);
        all.entry = all.entry.or(part.entry);
        all.counts.extend(part.counts);
    }
    all
}

/// The buffers one core reuses from entry to entry.
#[derive(Default)]
struct Scratch {
    /// The entry as JSON (`seq`, `leaf` and an empty `proof`), as the
    /// schema sees it, and one proof hash as JSON.
    shape: Map<String, Value>,
    hash: Value,
    /// Each proof hash of the last entry that passed the schema and
    /// decoded, by its place in the proof.
    known: Vec<(String, Hash)>,
    /// The entry's decoded proof, if every hash decodes.
    proof: Vec<Hash>,
    proof_decodes: bool,
    canonical: Vec<u8>,
}

fn check_chunk(offset: usize, entries: &[BundleEntry], checkpoint: Option<&Checkpoint>, org: &str) -> Checked {
    let mut scratch = Scratch::default();
    let mut inclusions = checkpoint.map(|c| Inclusions::new(c.size, c.root));
    let mut out = Checked { schema: None, entry: None, counts: Vec::with_capacity(entries.len()) };
    for (i, entry) in (offset..).zip(entries) {
        if let Some(violation) = scratch.shape_violation(i, entry) {
            // Nothing later in this chunk can outrank it.
            out.schema = Some(VerifyError::Schema(violation));
            break;
        }
        // After an entry fails, the rest are still checked against the
        // schema, whose failures come first.
        if let (None, Some(inclusions)) = (&out.entry, &mut inclusions) {
            match check_leaf(entry, inclusions, org, &mut scratch) {
                Ok(count) => out.counts.push(count),
                Err(what) => out.entry = Some(VerifyError::Entry { index: i, seq: entry.seq, what }),
            }
        }
    }
    out
}

/// The entry's leaf: canonical JSON of a conforming event with the entry's
/// seq, included in the checkpoint's tree (`inclusions`). Where it stands
/// in `org`.
fn check_leaf(
    entry: &BundleEntry,
    inclusions: &mut Inclusions,
    org: &str,
    scratch: &mut Scratch,
) -> Result<OrgCount, String> {
    let Ok(value) = serde_json::from_str::<Value>(&entry.leaf) else {
        return Err("the event is not JSON".into());
    };
    if !is_canonical_form(&value, &entry.leaf, &mut scratch.canonical) {
        return Err("its leaf is not the canonical JSON (RFC 8785) of its event".into());
    }
    if let Some(violation) = event_violation(&value) {
        return Err(format!("the event does not match event.schema.json: {violation}"));
    }
    let Ok(event) = Scoped::deserialize(&value) else {
        return Err("the event is not a JSON event".into());
    };
    if event.seq != entry.seq {
        return Err("the event's own seq differs from its position".into());
    }
    if !scratch.proof_decodes {
        return Err("the proof is not base64 SHA-256 hashes".into());
    }
    if !inclusions.verify(&leaf_hash(entry.leaf.as_bytes()), entry.seq, &scratch.proof) {
        return Err("its inclusion proof does not verify against the checkpoint".into());
    }
    Ok(match event.scope {
        None => OrgCount::Unscoped,
        Some(scope) => scope.get(org).map_or(OrgCount::Outside, |&n| OrgCount::Nth(n)),
    })
}

impl Scratch {
    /// The first way `entry` (number `index`) breaks the bundle schema.
    /// Decodes its proof on the way.
    fn shape_violation(&mut self, index: usize, entry: &BundleEntry) -> Option<String> {
        // Every field, so that a field added to entries is not left out.
        let BundleEntry { seq, leaf, proof } = entry;
        put(&mut self.shape, "seq", |slot| *slot = Value::from(*seq));
        put(&mut self.shape, "leaf", |slot| set_text(slot, leaf));
        put(&mut self.shape, "proof", |slot| *slot = Value::Array(Vec::new()));
        let shape = Value::Object(std::mem::take(&mut self.shape));
        let violation = entry_violation(index, &shape);
        if let Value::Object(fields) = shape {
            self.shape = fields;
        }
        if violation.is_some() {
            return violation;
        }
        self.proof.clear();
        self.proof_decodes = true;
        for (k, text) in proof.iter().enumerate() {
            let hash = match self.known.get(k) {
                Some((known, hash)) if known == text => Some(*hash),
                _ => {
                    set_text(&mut self.hash, text);
                    if let Some(violation) = proof_hash_violation(index, k, &self.hash) {
                        return Some(violation);
                    }
                    let hash = decode_hash(text);
                    self.remember(k, text, hash);
                    hash
                }
            };
            match hash {
                Some(hash) => self.proof.push(hash),
                None => self.proof_decodes = false,
            }
        }
        None
    }

    /// Keep `text` as the known hash at place `k` of proofs, if it decoded.
    fn remember(&mut self, k: usize, text: &str, hash: Option<Hash>) {
        // One that does not decode is checked again wherever it appears.
        let Some(hash) = hash else { return };
        if let Some(known) = self.known.get_mut(k) {
            set_string(&mut known.0, text);
            known.1 = hash;
        } else if k == self.known.len() {
            self.known.push((text.to_owned(), hash));
        }
    }
}

/// Overwrite the field `key`, adding it the first time.
fn put(fields: &mut Map<String, Value>, key: &str, write: impl FnOnce(&mut Value)) {
    match fields.get_mut(key) {
        Some(slot) => write(slot),
        None => {
            let mut slot = Value::Null;
            write(&mut slot);
            fields.insert(key.to_owned(), slot);
        }
    }
}

/// Make `slot` the string `text`, in the buffer it already has.
fn set_text(slot: &mut Value, text: &str) {
    match slot {
        Value::String(s) => set_string(s, text),
        other => *other = Value::String(text.to_owned()),
    }
}

fn set_string(s: &mut String, text: &str) {
    s.clear();
    s.push_str(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(seq: u64, leaf: &str, proof: &[&str]) -> BundleEntry {
        BundleEntry { seq, leaf: leaf.into(), proof: proof.iter().map(|&p| p.into()).collect() }
    }

    /// A well-formed hash (its last character's trailing bits are zero).
    fn hash(c: char) -> String {
        c.to_string().repeat(42) + "A="
    }

    #[test]
    fn the_reused_shape_is_each_entry_as_serde_writes_it_with_its_proof_decoded_apart() {
        let mut scratch = Scratch::default();
        let (a, b) = (hash('A'), hash('B'));
        for e in [
            entry(3, "a longer leaf than the next one", &[&a, &b, &a]),
            entry(4, "{}", &[&b, &b]),
            entry(5, "", &[]),
            entry(6, "{}", &[&b, &a, &a, &b]),
        ] {
            assert_eq!(scratch.shape_violation(0, &e), None);
            let mut expected = serde_json::to_value(&e).unwrap();
            expected["proof"] = Value::Array(Vec::new());
            assert_eq!(Value::Object(scratch.shape.clone()), expected);
            let decoded: Vec<Hash> = e.proof.iter().map(|h| decode_hash(h).unwrap()).collect();
            assert!(scratch.proof_decodes);
            assert_eq!(scratch.proof, decoded);
        }
    }

    #[test]
    fn a_proof_hash_is_checked_and_decoded_wherever_it_differs_from_the_last_entrys() {
        let mut scratch = Scratch::default();
        let (a, b) = (hash('A'), hash('B'));
        // Well formed, but with trailing bits set: the schema lets it pass,
        // base64 does not.
        let loose = "A".repeat(42) + "B=";
        assert_eq!(scratch.shape_violation(0, &entry(0, "{}", &[&a, &b])), None);
        assert!(scratch.proof_decodes);
        assert_eq!(scratch.shape_violation(1, &entry(1, "{}", &[&a, &loose, &b])), None);
        assert!(!scratch.proof_decodes);
        assert_eq!(scratch.shape_violation(2, &entry(2, "{}", &[&a, &b, &b])), None);
        assert!(scratch.proof_decodes);
        let violation = scratch.shape_violation(3, &entry(3, "{}", &[&a, &b, "AA=="])).unwrap();
        assert!(violation.ends_with(" at /entries/3/proof/2"), "{violation}");
        let violation = scratch.shape_violation(4, &entry(4, "{}", &[&a, &(a.clone() + "A")])).unwrap();
        assert!(violation.ends_with(" at /entries/4/proof/1"), "{violation}");
    }
}
