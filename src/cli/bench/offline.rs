//! The audit log's offline work, in memory: inclusion proofs in a large
//! tree, and verifying an export bundle as an auditor does.

use std::time::Instant;

use zeroize::Zeroizing;

use super::appends::draft;
use crate::audit::Outcome;
use crate::audit::bundle::verify;
use crate::audit::log::LogKeys;
use crate::audit::merkle::{MerkleTree, leaf_hash};
use crate::audit::sample::whole_log;
use crate::vault::now_rfc3339;

/// A realistic event's leaf bytes.
fn leaf(seq: u64) -> String {
    let mut event = draft(seq).seal(seq, &now_rfc3339(), Outcome::Ok, None);
    event.target.account_id = Some("123456789012".into());
    event.scope.insert("bench".into(), seq + 1);
    event.leaf_json().unwrap_or_default()
}

/// Print how long an inclusion proof takes in a log of `log_size` events.
pub fn proofs(log_size: u64) -> anyhow::Result<()> {
    let started = Instant::now();
    let mut tree = MerkleTree::default();
    for seq in 0..log_size {
        tree.push(leaf_hash(&seq.to_be_bytes()));
    }
    let build = started.elapsed();
    let size = tree.size();
    let probes = 10_000u64;
    let started = Instant::now();
    let mut total = 0usize;
    for i in 0..probes {
        total += tree.inclusion_proof((i * 7919) % size, size)?.len();
    }
    let per_proof = started.elapsed().as_secs_f64() / probes as f64;
    println!(
        "inclusion proof at {size} events:     {:>10.1} µs each ({} hashes; tree built in {:.2} s)",
        per_proof * 1e6,
        total as u64 / probes,
        build.as_secs_f64()
    );
    Ok(())
}

/// Print how fast a bundle of `n` events verifies offline.
pub fn bundle_verification(n: u64) -> anyhow::Result<()> {
    let keys = LogKeys::from_seed("rootvault/bench", &Zeroizing::new([7; 32]));
    let bundle = whole_log(keys.signer(), "bench", (0..n).map(leaf).collect())?;
    let started = Instant::now();
    verify(&bundle, Some(&keys.signer().vkey()), None)?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("offline bundle verification:      {rate:>10.0} events/s ({n} events)");
    Ok(())
}
