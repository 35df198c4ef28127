//! A bundle of a whole in-memory log, signed by a given key: what
//! `rootvault bench` verifies, and what tests tamper with.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, Completeness};
use super::checkpoint::CheckpointSigner;
use super::merkle::{MerkleTree, ProofError, leaf_hash};
use super::scope::ScopeStatement;

/// The bundle of a log holding exactly `leaves`, each an event of `org`
/// (whose counters must run from 1): every entry with its inclusion proof,
/// the checkpoint over them all and the statement that the org has as many
/// events. The log's origin is the signer's.
pub fn whole_log(signer: &CheckpointSigner, org: &str, leaves: Vec<String>) -> Result<Bundle, ProofError> {
    let mut tree = MerkleTree::default();
    for leaf in &leaves {
        tree.push(leaf_hash(leaf.as_bytes()));
    }
    let n = tree.size();
    let root = tree.root(n)?;
    let entries = (0..n)
        .zip(leaves)
        .map(|(seq, leaf)| {
            let proof = tree.inclusion_proof(seq, n)?;
            Ok(BundleEntry { seq, leaf, proof: proof.iter().map(|h| B64.encode(h)).collect() })
        })
        .collect::<Result<Vec<_>, ProofError>>()?;
    let origin = signer.origin().to_owned();
    let statement = ScopeStatement { origin: origin.clone(), org: org.to_owned(), count: n, size: n, filters: vec![] };
    Ok(Bundle {
        format: BUNDLE_FORMAT.into(),
        public_key: signer.vkey(),
        checkpoint: signer.sign(n, &root),
        origin,
        tree_size: n,
        entries,
        consistency: None,
        completeness: Completeness { org: org.to_owned(), from: None, to: signer.sign_text(&statement.body()) },
    })
}
