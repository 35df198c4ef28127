//! `rootvault bench`: how fast the audit log is on this machine.
//!
//! Measures durable appends per second (each one committed with
//! `synchronous=FULL`) with 1 and with many concurrent writers, offline
//! verification of an export bundle, and inclusion-proof generation in a
//! log of a million events. A benchmark, not a test: it asserts nothing.

use std::sync::Arc;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use zeroize::Zeroizing;

use crate::audit::bundle::{BUNDLE_FORMAT, Bundle, BundleEntry, Completeness, verify};
use crate::audit::log::LogKeys;
use crate::audit::merkle::{MerkleTree, leaf_hash};
use crate::audit::scope::ScopeStatement;
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::store::{Store, StoreError};
use crate::vault::now_rfc3339;

#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Events appended by the single writer.
    #[arg(long, default_value_t = 1000)]
    single: u64,
    /// Concurrent writers in the group-commit run.
    #[arg(long, default_value_t = 32)]
    writers: u64,
    /// Events each concurrent writer appends.
    #[arg(long, default_value_t = 500)]
    per_writer: u64,
    /// Size of the log for proof generation.
    #[arg(long, default_value_t = 1_000_000)]
    log_size: u64,
    /// Events in the bundle that is verified.
    #[arg(long, default_value_t = 100_000)]
    bundle_events: u64,
}

fn draft(n: u64) -> EventDraft {
    let http =
        HttpInfo { request_id: Some(uuid::Uuid::new_v4().to_string()), ip: Some("127.0.0.1".into()), user_agent: None };
    EventDraft::new(None, Action::AccountRead, Target::default(), &http).detail("n", n)
}

async fn appends(writers: u64, each: u64) -> anyhow::Result<f64> {
    let dir = tempfile_dir()?;
    let store = Store::open(&dir).context("cannot open a bench database")?;
    store.log().set_keys(Some(Arc::new(LogKeys::from_seed("rootvault/bench", &Zeroizing::new([7; 32])))));
    store.log().set_provider("bench");
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let d = draft(w * each + i);
                store
                    .write(move |b| crate::store::audit::append(b, d, &now_rfc3339(), Outcome::Ok, None).map(|_| ()))
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    let rate = (writers * each) as f64 / started.elapsed().as_secs_f64();
    let _ = std::fs::remove_dir_all(&dir);
    Ok(rate)
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("rootvault-bench-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// A realistic event's leaf bytes.
fn leaf(seq: u64) -> String {
    let mut event = draft(seq).seal(seq, &now_rfc3339(), Outcome::Ok, None);
    event.target.account_id = Some("123456789012".into());
    event.scope.insert("bench".into(), seq + 1);
    event.leaf_json().unwrap_or_default()
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let single = runtime.block_on(appends(1, args.single))?;
    println!("durable audit appends, 1 writer:   {single:>10.0} events/s");
    let many = runtime.block_on(appends(args.writers, args.per_writer))?;
    println!("durable audit appends, {} writers: {many:>10.0} events/s", args.writers);

    let started = Instant::now();
    let mut tree = MerkleTree::default();
    for seq in 0..args.log_size {
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

    let keys = LogKeys::from_seed("rootvault/bench", &Zeroizing::new([7; 32]));
    let n = args.bundle_events;
    let leaves: Vec<String> = (0..n).map(leaf).collect();
    let mut tree = MerkleTree::default();
    for l in &leaves {
        tree.push(leaf_hash(l.as_bytes()));
    }
    let root = tree.root(n)?;
    let entries = leaves
        .into_iter()
        .enumerate()
        .map(|(seq, leaf)| {
            let proof = tree.inclusion_proof(seq as u64, n)?;
            Ok(BundleEntry { seq: seq as u64, leaf, proof: proof.iter().map(|h| B64.encode(h)).collect() })
        })
        .collect::<Result<Vec<_>, crate::audit::merkle::ProofError>>()?;
    let bundle = Bundle {
        format: BUNDLE_FORMAT.into(),
        origin: "rootvault/bench".into(),
        public_key: keys.signer().vkey(),
        checkpoint: keys.signer().sign(n, &root),
        tree_size: n,
        entries,
        consistency: None,
        completeness: Completeness {
            org: "bench".into(),
            from: None,
            to: keys.signer().sign_text(
                &ScopeStatement {
                    origin: "rootvault/bench".into(),
                    org: "bench".into(),
                    count: n,
                    size: n,
                    filters: vec![],
                }
                .body(),
            ),
        },
    };
    let started = Instant::now();
    verify(&bundle, Some(&keys.signer().vkey()), None)?;
    let rate = n as f64 / started.elapsed().as_secs_f64();
    println!("offline bundle verification:      {rate:>10.0} events/s ({n} events)");
    Ok(())
}
