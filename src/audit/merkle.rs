//! The RFC 9162 Merkle tree over audit events.
//!
//! Leaf hash `SHA-256(0x00 ‖ leaf)`, node hash `SHA-256(0x01 ‖ left ‖ right)`,
//! the empty tree's hash `SHA-256("")`, and the RFC's split at the largest
//! power of two below the size. The in-memory tree keeps every complete
//! subtree's hash, so any root, inclusion proof or consistency proof takes
//! O(log n) hash operations, whatever the size of the log. The verifiers are
//! the RFC's algorithms (§2.1.3.2, §2.1.4.2) and need nothing but hashes.

use sha2::{Digest, Sha256};

/// A SHA-256 hash.
pub type Hash = [u8; 32];

pub fn leaf_hash(leaf: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update([0x00]);
    h.update(leaf);
    h.finalize().into()
}

pub fn node_hash(left: &Hash, right: &Hash) -> Hash {
    let mut h = Sha256::new();
    h.update([0x01]);
    h.update(left);
    h.update(right);
    h.finalize().into()
}

pub fn empty_root() -> Hash {
    Sha256::digest([]).into()
}

/// The largest power of two strictly below `n` (n ≥ 2).
fn split(n: u64) -> u64 {
    1 << (63 - (n - 1).leading_zeros())
}

/// Every complete subtree's hash: `levels[h][i]` covers leaves
/// `i·2^h .. (i+1)·2^h`.
#[derive(Debug, Clone, Default)]
pub struct MerkleTree {
    levels: Vec<Vec<Hash>>,
}

/// A proof was asked for sizes or indices the tree cannot answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProofError {
    #[error("the log has {have} entries; size {asked} is beyond it")]
    BeyondLog { have: u64, asked: u64 },
    #[error("entry {index} is not in a tree of size {size}")]
    NotInTree { index: u64, size: u64 },
    #[error("a consistency proof needs 0 < from <= to")]
    BadRange,
}

impl MerkleTree {
    pub fn size(&self) -> u64 {
        self.levels.first().map_or(0, |l| l.len() as u64)
    }

    /// Append the leaf hash of the next entry.
    pub fn push(&mut self, leaf: Hash) {
        if self.levels.is_empty() {
            self.levels.push(Vec::new());
        }
        self.levels[0].push(leaf);
        let mut level = 0;
        while self.levels[level].len().is_multiple_of(2) {
            let n = self.levels[level].len();
            let parent = node_hash(&self.levels[level][n - 2], &self.levels[level][n - 1]);
            if self.levels.len() == level + 1 {
                self.levels.push(Vec::new());
            }
            self.levels[level + 1].push(parent);
            level += 1;
        }
    }

    /// The leaf hash at `index`.
    pub fn leaf(&self, index: u64) -> Option<Hash> {
        self.levels.first()?.get(usize::try_from(index).ok()?).copied()
    }

    /// MTH of the `n` leaves from `start`; callers only ask for ranges the
    /// RFC's recursion produces, whose power-of-two parts are aligned.
    fn mth(&self, start: u64, n: u64) -> Hash {
        match n {
            0 => empty_root(),
            _ if n.is_power_of_two() => {
                let h = n.trailing_zeros() as usize;
                self.levels[h][(start >> h) as usize]
            }
            _ => {
                let k = split(n);
                node_hash(&self.mth(start, k), &self.mth(start + k, n - k))
            }
        }
    }

    fn check(&self, size: u64) -> Result<(), ProofError> {
        if size > self.size() { Err(ProofError::BeyondLog { have: self.size(), asked: size }) } else { Ok(()) }
    }

    /// The root of the tree of the first `size` entries.
    pub fn root(&self, size: u64) -> Result<Hash, ProofError> {
        self.check(size)?;
        Ok(self.mth(0, size))
    }

    /// The root of this tree with `more` leaves appended, leaving the tree
    /// as it is: what a group commit signs before its events are durable
    /// (and so before they may join the tree). It takes the complete
    /// subtrees along the right edge, adds the new leaves to them as a
    /// binary counter would, and folds them from the right, as the RFC's
    /// split does: O(log n + more) hashes.
    pub fn root_with(&self, more: &[Hash]) -> Hash {
        let size = self.size();
        let mut peaks: Vec<(usize, Hash)> = Vec::with_capacity(64);
        let mut start = 0u64;
        for h in (0..self.levels.len()).rev() {
            if size & (1 << h) != 0 {
                peaks.push((h, self.levels[h][(start >> h) as usize]));
                start += 1 << h;
            }
        }
        for leaf in more {
            let mut node = (0, *leaf);
            while let Some(&(h, left)) = peaks.last()
                && h == node.0
            {
                peaks.pop();
                node = (h + 1, node_hash(&left, &node.1));
            }
            peaks.push(node);
        }
        let mut from_right = peaks.into_iter().rev().map(|(_, hash)| hash);
        let Some(last) = from_right.next() else { return empty_root() };
        from_right.fold(last, |right, left| node_hash(&left, &right))
    }

    /// The audit path of entry `index` in the tree of size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<Hash>, ProofError> {
        self.check(size)?;
        if index >= size {
            return Err(ProofError::NotInTree { index, size });
        }
        let mut proof = Vec::new();
        self.path(index, 0, size, &mut proof);
        Ok(proof)
    }

    fn path(&self, m: u64, start: u64, n: u64, out: &mut Vec<Hash>) {
        if n <= 1 {
            return;
        }
        let k = split(n);
        if m < k {
            self.path(m, start, k, out);
            out.push(self.mth(start + k, n - k));
        } else {
            self.path(m - k, start + k, n - k, out);
            out.push(self.mth(start, k));
        }
    }

    /// The proof that the tree of size `from` is a prefix of the tree of size `to`.
    pub fn consistency_proof(&self, from: u64, to: u64) -> Result<Vec<Hash>, ProofError> {
        self.check(to)?;
        if from == 0 || from > to {
            return Err(ProofError::BadRange);
        }
        let mut proof = Vec::new();
        self.subproof(from, 0, to, true, &mut proof);
        Ok(proof)
    }

    fn subproof(&self, m: u64, start: u64, n: u64, whole: bool, out: &mut Vec<Hash>) {
        if m == n {
            if !whole {
                out.push(self.mth(start, n));
            }
            return;
        }
        let k = split(n);
        if m <= k {
            self.subproof(m, start, k, whole, out);
            out.push(self.mth(start + k, n - k));
        } else {
            self.subproof(m - k, start + k, n - k, false, out);
            out.push(self.mth(start, k));
        }
    }
}

/// RFC 9162 §2.1.3.2: does `proof` show `leaf` at `index` under `root`?
pub fn verify_inclusion(leaf: &Hash, index: u64, size: u64, proof: &[Hash], root: &Hash) -> bool {
    Inclusions::new(size, *root).verify(leaf, index, proof)
}

/// The state of the RFC's verification loop before one of its steps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Step {
    fnode: u64,
    snode: u64,
    node: Hash,
}

/// Inclusion proofs of many leaves under one root, each given the verdict
/// [`verify_inclusion`] gives it, without hashing again what a proof
/// already verified has hashed.
///
/// The RFC's loop is a function of its state (the node positions and the
/// hash so far) and the proof hashes still to come. So when, before some
/// step, a proof reaches the very state the last verified proof was in
/// there, and the rest of its hashes are the same, the rest of the loop is
/// the same computation, and it succeeded. Neighbouring leaves share most
/// of their path to the root, so a bundle's proofs mostly end that way.
#[derive(Debug, Clone)]
pub struct Inclusions {
    size: u64,
    root: Hash,
    /// The states before each step of the last proof that verified, and
    /// that proof.
    verified: Vec<Step>,
    proof: Vec<Hash>,
    /// The states of the proof being verified.
    steps: Vec<Step>,
}

impl Inclusions {
    /// Proofs of leaves in the tree of `size` leaves with `root`.
    pub fn new(size: u64, root: Hash) -> Self {
        Self { size, root, verified: Vec::new(), proof: Vec::new(), steps: Vec::new() }
    }

    /// Does `proof` show `leaf` at `index` under the root?
    pub fn verify(&mut self, leaf: &Hash, index: u64, proof: &[Hash]) -> bool {
        if index >= self.size {
            return false;
        }
        let (mut fnode, mut snode, mut r) = (index, self.size - 1, *leaf);
        self.steps.clear();
        for (k, p) in proof.iter().enumerate() {
            let step = Step { fnode, snode, node: r };
            if self.verified.get(k) == Some(&step) && self.proof.get(k..) == proof.get(k..) {
                // Only the steps so far differ from the verified proof's.
                self.verified[..k].copy_from_slice(&self.steps);
                self.proof[..k].copy_from_slice(&proof[..k]);
                return true;
            }
            self.steps.push(step);
            if snode == 0 {
                return false;
            }
            if fnode & 1 == 1 || fnode == snode {
                r = node_hash(p, &r);
                while fnode & 1 == 0 && fnode != 0 {
                    fnode >>= 1;
                    snode >>= 1;
                }
            } else {
                r = node_hash(&r, p);
            }
            fnode >>= 1;
            snode >>= 1;
        }
        let verified = snode == 0 && r == self.root;
        if verified {
            std::mem::swap(&mut self.verified, &mut self.steps);
            self.proof.clear();
            self.proof.extend_from_slice(proof);
        }
        verified
    }
}

/// RFC 9162 §2.1.4.2: does `proof` show the tree of size `from` (root
/// `from_root`) is a prefix of the tree of size `to` (root `to_root`)?
pub fn verify_consistency(from: u64, to: u64, from_root: &Hash, to_root: &Hash, proof: &[Hash]) -> bool {
    if from == 0 || from > to {
        return false;
    }
    if from == to {
        return proof.is_empty() && from_root == to_root;
    }
    let mut path: Vec<Hash> = Vec::with_capacity(proof.len() + 1);
    if from.is_power_of_two() {
        path.push(*from_root);
    }
    path.extend_from_slice(proof);
    let Some((first, rest)) = path.split_first() else { return false };
    let (mut fnode, mut snode) = (from - 1, to - 1);
    while fnode & 1 == 1 {
        fnode >>= 1;
        snode >>= 1;
    }
    let (mut fr, mut sr) = (*first, *first);
    for c in rest {
        if snode == 0 {
            return false;
        }
        if fnode & 1 == 1 || fnode == snode {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            while fnode & 1 == 0 && fnode != 0 {
                fnode >>= 1;
                snode >>= 1;
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fnode >>= 1;
        snode >>= 1;
    }
    fr == *from_root && sr == *to_root && snode == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn leaves(n: u64) -> Vec<Hash> {
        (0..n).map(|i| leaf_hash(format!("event {i}").as_bytes())).collect()
    }

    /// The RFC's definition, computed the slow way.
    fn naive(leaves: &[Hash]) -> Hash {
        match leaves.len() {
            0 => empty_root(),
            1 => leaves[0],
            n => {
                let k = split(n as u64) as usize;
                node_hash(&naive(&leaves[..k]), &naive(&leaves[k..]))
            }
        }
    }

    fn tree(n: u64) -> MerkleTree {
        let mut t = MerkleTree::default();
        for l in leaves(n) {
            t.push(l);
        }
        t
    }

    #[test]
    fn a_root_with_more_leaves_is_the_root_of_the_longer_tree() {
        let all = leaves(40);
        for size in 0..=24 {
            let t = tree(size);
            for more in 0..=16 {
                let end = (size + more) as usize;
                let expected = naive(&all[..end]);
                assert_eq!(t.root_with(&all[size as usize..end]), expected, "size {size} + {more}");
            }
        }
    }

    #[test]
    fn roots_match_the_rfc_definition_for_every_size() {
        let all = leaves(70);
        let t = tree(70);
        for n in 0..=70 {
            assert_eq!(t.root(n).unwrap(), naive(&all[..n as usize]), "size {n}");
        }
        assert_eq!(hex::encode(empty_root()), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert!(t.root(71).is_err());
    }

    #[test]
    fn every_inclusion_proof_verifies_and_tampering_fails() {
        let t = tree(40);
        for n in 1..=40 {
            let root = t.root(n).unwrap();
            for m in 0..n {
                let proof = t.inclusion_proof(m, n).unwrap();
                let leaf = t.leaf(m).unwrap();
                assert!(verify_inclusion(&leaf, m, n, &proof, &root), "{m} in {n}");
                assert!(!verify_inclusion(&leaf_hash(b"forged"), m, n, &proof, &root));
                if n > 1 {
                    assert!(
                        !verify_inclusion(&leaf, (m + 1) % n, n, &proof, &root) || t.leaf((m + 1) % n) == Some(leaf)
                    );
                    let mut bad = proof.clone();
                    bad[0][0] ^= 1;
                    assert!(!verify_inclusion(&leaf, m, n, &bad, &root));
                }
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn remembering_verified_proofs_changes_no_verdict(
            size in 1u64..200,
            checks in proptest::collection::vec((0u64..220, 0u8..4, 0usize..20), 1..60),
        ) {
            let t = tree(size);
            let root = t.root(size).unwrap();
            let mut remembering = Inclusions::new(size, root);
            for (index, tamper, at) in checks {
                let index = index % (size + 1);
                let mut leaf = t.leaf(index).unwrap_or(root);
                let mut proof = t.inclusion_proof(index.min(size - 1), size).unwrap();
                match tamper {
                    0 => {}
                    1 if !proof.is_empty() => {
                        let at = at % proof.len();
                        proof[at][0] ^= 1;
                    }
                    2 => proof.truncate(at % (proof.len() + 1)),
                    _ => leaf[31] ^= 1,
                }
                let alone = Inclusions::new(size, root).verify(&leaf, index, &proof);
                proptest::prop_assert_eq!(remembering.verify(&leaf, index, &proof), alone);
            }
        }
    }

    #[test]
    fn a_bundles_worth_of_proofs_verifies_in_order_and_a_wrong_one_among_them_fails() {
        let t = tree(100);
        let root = t.root(100).unwrap();
        let mut inclusions = Inclusions::new(100, root);
        for m in 0..100 {
            let mut proof = t.inclusion_proof(m, 100).unwrap();
            assert!(inclusions.verify(&t.leaf(m).unwrap(), m, &proof), "{m}");
            // A wrong hash high in the path, where the last proof matched.
            let last = proof.len() - 1;
            proof[last][5] ^= 1;
            assert!(!inclusions.verify(&t.leaf(m).unwrap(), m, &proof), "{m}");
        }
    }

    #[test]
    fn every_consistency_proof_verifies_and_a_rewritten_history_fails() {
        let t = tree(40);
        let mut other_leaves = leaves(40);
        other_leaves[3] = leaf_hash(b"edited");
        let mut rewritten = MerkleTree::default();
        for l in other_leaves {
            rewritten.push(l);
        }
        for to in 1..=40 {
            for from in 1..=to {
                let proof = t.consistency_proof(from, to).unwrap();
                let (a, b) = (t.root(from).unwrap(), t.root(to).unwrap());
                assert!(verify_consistency(from, to, &a, &b, &proof), "{from} -> {to}");
                if from > 3 && from < to {
                    let forged = rewritten.consistency_proof(from, to).unwrap();
                    assert!(!verify_consistency(from, to, &a, &rewritten.root(to).unwrap(), &forged));
                }
            }
        }
    }
}
