//! The live state of the audit log: its Merkle tree, its keys, and whether
//! it is intact.
//!
//! The tree is rebuilt from the stored events at start and extended after
//! every committed batch. The log key (unwrapped from the key provider once
//! it is unsealed) signs checkpoints and authenticates each row with an
//! HMAC over `seq ‖ leaf hash`, so an attacker with the database file but
//! without the key cannot edit, remove, reorder or add a row unnoticed. Rows
//! written while the service is sealed cannot carry a MAC; such a row is
//! accepted only if it is one of the exact kinds a sealed service writes
//! AND something vouches for its place (see [`MacLess`]).

use std::collections::HashSet;
use std::sync::{Arc, Mutex, PoisonError, RwLock};

use hmac::{Hmac, Mac};
use sha2::Sha256;
use zeroize::Zeroizing;

use super::checkpoint::CheckpointSigner;
use super::merkle::{Hash, MerkleTree, leaf_hash};

/// How many events may be appended between two checkpoints.
pub const CHECKPOINT_EVERY: u64 = 1000;

/// The log's signing key and the row-MAC key derived from it.
pub struct LogKeys {
    signer: CheckpointSigner,
    mac_key: Zeroizing<[u8; 32]>,
    /// Seals the few service secrets that must be kept for later, such as
    /// a hand-off link's URL (which carries the link key).
    sealing_key: Zeroizing<[u8; 32]>,
    /// Keys the fingerprints that tell when a new half version repeats an
    /// earlier secret (invariant 2), so stored fingerprints confirm no guess.
    fingerprint_key: Zeroizing<[u8; 32]>,
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    // HMAC accepts keys of any length, so construction cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { unreachable!("HMAC takes keys of any length") };
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

impl std::fmt::Debug for LogKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LogKeys").field("signer", &self.signer).finish_non_exhaustive()
    }
}

impl LogKeys {
    /// Keys from the 32-byte log key; `origin` names the log in checkpoints.
    pub fn from_seed(origin: &str, seed: &Zeroizing<[u8; 32]>) -> Self {
        let mac_key = Zeroizing::new(hmac(seed.as_slice(), &[b"rootvault audit row mac v1"]));
        let sealing_key = Zeroizing::new(hmac(seed.as_slice(), &[b"rootvault sealed service secrets v1"]));
        let fingerprint_key = Zeroizing::new(hmac(seed.as_slice(), &[b"rootvault secret fingerprints v1"]));
        Self { signer: CheckpointSigner::new(origin, seed), mac_key, sealing_key, fingerprint_key }
    }

    pub fn signer(&self) -> &CheckpointSigner {
        &self.signer
    }

    /// Seal a service secret with AES-256-GCM, bound to `aad`.
    pub fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<Vec<u8>, crate::crypto::CryptoError> {
        crate::crypto::envelope::seal_with(&self.sealing_key, aad, plaintext)
    }

    /// Open what [`LogKeys::seal`] produced.
    pub fn open(&self, aad: &[u8], sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, crate::crypto::CryptoError> {
        crate::crypto::envelope::open_with(&self.sealing_key, aad, sealed)
    }

    /// The keyed fingerprint of a half's secret, bound to its account and
    /// half (lengths are prefixed so no two inputs share an encoding).
    pub fn fingerprint(&self, account: &str, half: &str, secret: &[u8]) -> [u8; 32] {
        let len = |b: &[u8]| (b.len() as u64).to_be_bytes();
        hmac(
            self.fingerprint_key.as_slice(),
            &[&len(account.as_bytes()), account.as_bytes(), &len(half.as_bytes()), half.as_bytes(), secret],
        )
    }

    /// The MAC binding a row's position to its content.
    pub fn row_mac(&self, seq: u64, leaf: &Hash) -> [u8; 32] {
        hmac(self.mac_key.as_slice(), &[&seq.to_be_bytes(), leaf])
    }
}

/// A stored row, as the integrity check reads it.
#[derive(Debug, Clone)]
pub struct StoredRow {
    pub seq: u64,
    pub event_json: String,
    pub mac: Option<Vec<u8>>,
}

/// Whether an event of `action` refused with `code` is one written without
/// the log key, and so may lack a row MAC: unseal attempts, authentication
/// failures and refusals because the service is sealed, and the record the
/// offline `restore` leaves. This is what may be *written* without the key;
/// [`first_problem`] is stricter about what it *accepts*.
pub fn may_lack_mac(action: &str, code: Option<&str>) -> bool {
    matches!(action, "auth.fail" | "seal.unseal" | "sys.restore") || code == Some("sealed")
}

/// The exact kinds of rows a sealed service writes: an unseal attempt, an
/// authentication failure, a refusal because it is sealed (never a granted
/// change), and the offline restore's record.
fn sealed_time_row(event: &serde_json::Value) -> bool {
    let action = event["action"].as_str().unwrap_or("");
    let outcome = event["outcome"].as_str().unwrap_or("");
    match action {
        "auth.fail" | "seal.unseal" | "sys.restore" => true,
        _ => outcome != "ok" && event["details"]["code"].as_str() == Some("sealed"),
    }
}

/// What vouches for rows without a MAC. A sealed-time row is accepted only
/// when it lies before `boundary` (the log size when the log key was
/// created, kept with the key under its MAC), or inside `vouched` (the
/// newest stored checkpoint whose signature verified: the service signs
/// only a log it found intact), or when this very process wrote it while
/// sealed (`own`), or, for `sys.restore`, when it sits exactly at the size
/// of the backup it records. A row added behind the service's back after
/// the last checkpoint has none of these.
#[derive(Debug, Default)]
pub struct MacLess<'a> {
    pub boundary: u64,
    pub vouched: u64,
    pub own: Option<&'a HashSet<u64>>,
}

impl MacLess<'_> {
    fn accepts(&self, seq: u64, event_json: &str) -> bool {
        let Ok(event) = serde_json::from_str::<serde_json::Value>(event_json) else { return false };
        if !sealed_time_row(&event) {
            return false;
        }
        let restore_at_its_place =
            event["action"].as_str() == Some("sys.restore") && event["details"]["backup_size"].as_u64() == Some(seq);
        seq < self.boundary || seq < self.vouched || self.own.is_some_and(|o| o.contains(&seq)) || restore_at_its_place
    }
}

/// The first integrity problem in `rows` (in `seq` order) given the log
/// keys, what vouches for MAC-less rows and the stored checkpoints
/// `(size, root)`; `None` when intact.
pub fn first_problem(
    rows: &[StoredRow],
    keys: &LogKeys,
    macless: &MacLess<'_>,
    checkpoints: &[(u64, Hash)],
    tree: &MerkleTree,
) -> Option<String> {
    for (expected, row) in rows.iter().enumerate() {
        if row.seq != expected as u64 {
            return Some(format!("entry {expected} is missing or out of order (found seq {})", row.seq));
        }
        let leaf = leaf_hash(row.event_json.as_bytes());
        match &row.mac {
            Some(mac)
                if bool::from(subtle::ConstantTimeEq::ct_eq(mac.as_slice(), &keys.row_mac(row.seq, &leaf)[..])) => {}
            Some(_) => return Some(format!("entry {} was altered: its MAC does not match", row.seq)),
            None if macless.accepts(row.seq, &row.event_json) => {}
            None => return Some(format!("entry {} was not written by this service (no MAC)", row.seq)),
        }
    }
    for (size, root) in checkpoints {
        match tree.root(*size) {
            Ok(r) if r == *root => {}
            Ok(_) => return Some(format!("the log no longer matches its checkpoint of size {size}")),
            Err(_) => return Some(format!("the log is shorter than its checkpoint of size {size}")),
        }
    }
    None
}

/// The MAC that makes the recorded key boundary tamper-evident.
pub fn boundary_mac(keys: &LogKeys, boundary: u64) -> [u8; 32] {
    hmac(keys.mac_key.as_slice(), &[b"rootvault log key boundary v1", &boundary.to_be_bytes()])
}

/// Shared state of the audit log.
#[derive(Debug, Default)]
pub struct AuditLog {
    tree: RwLock<MerkleTree>,
    keys: RwLock<Option<Arc<LogKeys>>>,
    tampered: RwLock<Option<String>>,
    /// The provider org, which every event is scoped to.
    provider: RwLock<Option<String>>,
    /// Rows this process wrote without a MAC (while sealed).
    own_macless: Mutex<HashSet<u64>>,
    /// The newest checkpoint a group commit signed and made durable with
    /// its events: its size and signed note.
    signed: RwLock<Option<(u64, Arc<str>)>>,
    /// Woken when enough events arrived for a checkpoint.
    pub checkpoint_due: tokio::sync::Notify,
    /// How the store's writer appends to it.
    metrics: crate::metrics::WriterMetrics,
}

impl AuditLog {
    pub fn new(tree: MerkleTree) -> Self {
        Self { tree: RwLock::new(tree), ..Self::default() }
    }

    /// Read the tree. The locks guard plain data that every writer replaces
    /// in one step, so a poisoned lock still holds a consistent value.
    pub fn tree(&self) -> std::sync::RwLockReadGuard<'_, MerkleTree> {
        self.tree.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Add committed leaves (in `seq` order).
    pub fn extend(&self, leaves: Vec<Hash>) {
        if leaves.is_empty() {
            return;
        }
        let mut tree = self.tree.write().unwrap_or_else(PoisonError::into_inner);
        let before = tree.size();
        for leaf in leaves {
            tree.push(leaf);
        }
        if before / CHECKPOINT_EVERY != tree.size() / CHECKPOINT_EVERY {
            self.checkpoint_due.notify_one();
        }
    }

    /// Take the tree as the database has it now (a node of a cluster
    /// becoming active: other nodes appended meanwhile).
    pub fn replace_tree(&self, tree: MerkleTree) {
        *self.tree.write().unwrap_or_else(PoisonError::into_inner) = tree;
    }

    pub fn keys(&self) -> Option<Arc<LogKeys>> {
        self.keys.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_keys(&self, keys: Option<Arc<LogKeys>>) {
        *self.keys.write().unwrap_or_else(PoisonError::into_inner) = keys;
    }

    /// The provider org (every event's scope includes it); `None` until the
    /// service or an offline tool knows it, and no event can be appended.
    pub fn provider(&self) -> Option<String> {
        self.provider.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    pub fn set_provider(&self, provider: &str) {
        *self.provider.write().unwrap_or_else(PoisonError::into_inner) = Some(provider.to_owned());
    }

    /// Why the log is flagged as tampered, if it is.
    pub fn tampered(&self) -> Option<String> {
        self.tampered.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Remember a row this process wrote without a MAC.
    pub fn note_macless(&self, seq: u64) {
        self.own_macless.lock().unwrap_or_else(PoisonError::into_inner).insert(seq);
    }

    /// The rows this process wrote without a MAC.
    pub fn own_macless(&self) -> HashSet<u64> {
        self.own_macless.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Remember a checkpoint a group commit stored (the newest wins).
    pub fn note_signed(&self, size: u64, note: String) {
        let mut signed = self.signed.write().unwrap_or_else(PoisonError::into_inner);
        if signed.as_ref().is_none_or(|(newest, _)| *newest < size) {
            *signed = Some((size, note.into()));
        }
    }

    /// The newest checkpoint a group commit stored, if any since start.
    pub fn newest_signed(&self) -> Option<(u64, Arc<str>)> {
        self.signed.read().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// The writer's timings and group sizes.
    pub fn metrics(&self) -> &crate::metrics::WriterMetrics {
        &self.metrics
    }

    pub fn flag(&self, problem: String) {
        *self.tampered.write().unwrap_or_else(PoisonError::into_inner) = Some(problem);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> LogKeys {
        LogKeys::from_seed("rootvault/acme", &Zeroizing::new([3u8; 32]))
    }

    fn row(keys: &LogKeys, seq: u64, json: &str) -> StoredRow {
        let mac = keys.row_mac(seq, &leaf_hash(json.as_bytes())).to_vec();
        StoredRow { seq, event_json: json.to_owned(), mac: Some(mac) }
    }

    fn tree_of(rows: &[StoredRow]) -> MerkleTree {
        let mut t = MerkleTree::default();
        for r in rows {
            t.push(leaf_hash(r.event_json.as_bytes()));
        }
        t
    }

    #[test]
    fn debug_output_shows_no_key_material() {
        let shown = format!("{:?}", keys());
        assert!(
            shown.contains("rootvault/acme") && !shown.contains("mac_key") && !shown.contains("sealing_key"),
            "{shown}"
        );
    }

    #[test]
    fn each_kind_of_tamper_is_named() {
        let k = keys();
        let rows: Vec<_> = (0..4).map(|i| row(&k, i, &format!(r#"{{"action":"account.read","seq":{i}}}"#))).collect();
        let cp = vec![(4, tree_of(&rows).root(4).unwrap())];
        assert_eq!(first_problem(&rows, &k, &MacLess::default(), &cp, &tree_of(&rows)), None);

        let mut edited = rows.clone();
        edited[2].event_json = r#"{"action":"account.read","seq":99}"#.into();
        assert!(
            first_problem(&edited, &k, &MacLess::default(), &cp, &tree_of(&edited))
                .unwrap()
                .contains("entry 2 was altered")
        );

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert!(
            first_problem(&deleted, &k, &MacLess::default(), &cp, &tree_of(&deleted))
                .unwrap()
                .contains("entry 1 is missing")
        );

        let mut appended = rows.clone();
        appended.push(StoredRow { seq: 4, event_json: r#"{"action":"half.release"}"#.into(), mac: None });
        assert!(
            first_problem(&appended, &k, &MacLess::default(), &cp, &tree_of(&appended))
                .unwrap()
                .contains("entry 4 was not written")
        );
        let forged = LogKeys::from_seed("rootvault/acme", &Zeroizing::new([4u8; 32]));
        appended[4] = row(&forged, 4, r#"{"action":"half.release"}"#);
        assert!(
            first_problem(&appended, &k, &MacLess::default(), &cp, &tree_of(&appended))
                .unwrap()
                .contains("entry 4 was altered")
        );

        let sealed = StoredRow { seq: 4, event_json: r#"{"action":"auth.fail"}"#.into(), mac: None };
        let mut with_sealed = rows.clone();
        with_sealed.push(sealed);
        let own: HashSet<u64> = [4].into();
        let mine = MacLess { own: Some(&own), ..MacLess::default() };
        assert_eq!(first_problem(&with_sealed, &k, &mine, &cp, &tree_of(&with_sealed)), None);

        let short = &rows[..3];
        let cp3 = vec![(3, tree_of(short).root(3).unwrap())];
        assert_eq!(first_problem(short, &k, &MacLess::default(), &cp3, &tree_of(short)), None);
        assert!(
            first_problem(short, &k, &MacLess::default(), &cp, &tree_of(short))
                .unwrap()
                .contains("shorter than its checkpoint of size 4")
        );
    }

    #[test]
    fn a_row_without_a_mac_needs_a_sealed_time_kind_and_something_that_vouches_for_its_place() {
        let k = keys();
        let unmacced = |seq: u64, json: &str| StoredRow { seq, event_json: json.to_owned(), mac: None };
        let fail = r#"{"action":"auth.fail","outcome":"denied"}"#;
        let sealed_refusal = r#"{"action":"account.read","outcome":"error","details":{"code":"sealed"}}"#;
        let forged_approve = r#"{"action":"request.approve","outcome":"ok","details":{"code":"sealed"}}"#;
        let check = |rows: &[StoredRow], m: &MacLess<'_>| first_problem(rows, &k, m, &[], &tree_of(rows));

        // Before the key existed: the exact sealed-time kinds only.
        let early = vec![unmacced(0, fail), unmacced(1, sealed_refusal), row(&k, 2, r#"{"action":"x"}"#)];
        let before = MacLess { boundary: 2, ..MacLess::default() };
        assert_eq!(check(&early, &before), None);
        let forged_early = vec![unmacced(0, forged_approve)];
        let any_place = MacLess { boundary: 5, vouched: 5, ..MacLess::default() };
        assert!(check(&forged_early, &any_place).unwrap().contains("entry 0 was not written"));

        // After the boundary and the last checkpoint, a genuine-looking
        // sealed-time row is refused unless this process wrote it.
        let late = vec![row(&k, 0, r#"{"action":"x"}"#), unmacced(1, fail)];
        let after = MacLess { boundary: 1, vouched: 1, ..MacLess::default() };
        assert!(check(&late, &after).unwrap().contains("entry 1 was not written"));
        let own: HashSet<u64> = [1].into();
        assert_eq!(check(&late, &MacLess { own: Some(&own), ..after }), None);
        let vouched = MacLess { boundary: 1, vouched: 2, ..MacLess::default() };
        assert_eq!(check(&late, &vouched), None);

        // The restore's record is accepted only at the size it restored.
        let restore =
            |at: u64| format!(r#"{{"action":"sys.restore","outcome":"ok","details":{{"backup_size":{at}}}}}"#);
        let restored = vec![row(&k, 0, r#"{"action":"x"}"#), unmacced(1, &restore(1))];
        assert_eq!(check(&restored, &after), None);
        let moved = vec![row(&k, 0, r#"{"action":"x"}"#), unmacced(1, &restore(0))];
        assert!(check(&moved, &after).is_some());
    }

    #[test]
    fn the_key_boundary_is_bound_to_the_log_key() {
        let k = keys();
        assert_eq!(boundary_mac(&k, 7), boundary_mac(&k, 7));
        assert_ne!(boundary_mac(&k, 7), boundary_mac(&k, 8));
        let other = LogKeys::from_seed("rootvault/acme", &Zeroizing::new([4u8; 32]));
        assert_ne!(boundary_mac(&k, 7), boundary_mac(&other, 7));
    }
}
