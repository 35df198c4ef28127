//! `rootvault audit …`: fetch checkpoints and bundles, verify them offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Subcommand;

use super::client::{ServerArgs, get, token};
use crate::audit::bundle::{Bundle, Complete, verify};
use crate::audit::checkpoint::VerifierKey;
use crate::audit::witness::{S3WitnessSettings, Witness, newest_verified};

#[derive(Subcommand, Debug)]
pub enum AuditCommand {
    /// Save the log's latest signed checkpoint, to pin and verify later exports against.
    Checkpoint {
        #[command(flatten)]
        server: ServerArgs,
        /// Write the checkpoint note here (its public key goes to stdout).
        #[arg(long)]
        out: PathBuf,
    },
    /// Fetch a verifiable bundle of your events from a running server.
    Export {
        #[command(flatten)]
        server: ServerArgs,
        /// Where to write the bundle.
        #[arg(long)]
        out: PathBuf,
        /// Ask for a consistency proof from this checkpoint (a file saved by
        /// `audit checkpoint`, or an earlier size).
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        #[arg(long)]
        account_id: Option<String>,
        #[arg(long)]
        since: Option<String>,
        #[arg(long)]
        until: Option<String>,
    },
    /// Verify a bundle offline: every event's inclusion, the checkpoint's
    /// signature and, with a trusted checkpoint, that the log only grew.
    Verify {
        bundle: PathBuf,
        /// The log's verifier key (or a file holding it); without it the
        /// bundle's own key is used, which proves integrity but not origin.
        #[arg(long)]
        public_key: Option<String>,
        /// A checkpoint note kept from earlier.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// A checkpoint witness (a witness file, or s3://bucket/prefix): the
        /// bundle must not be older than the newest checkpoint it holds.
        #[arg(long)]
        witness: Option<String>,
    },
}

fn read(path: &Path) -> anyhow::Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// The size a checkpoint note declares (its second line).
fn note_size(note: &str) -> anyhow::Result<u64> {
    note.lines().nth(1).and_then(|l| l.parse().ok()).context("the trusted checkpoint is not a checkpoint note")
}

fn query(pairs: &[(&str, Option<String>)]) -> String {
    let parts: Vec<String> = pairs
        .iter()
        .filter_map(|(k, v)| {
            v.as_ref()
                .map(|v| format!("{k}={}", url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>()))
        })
        .collect();
    if parts.is_empty() { String::new() } else { format!("?{}", parts.join("&")) }
}

/// What the bundle proves about the org's events being all there. A page
/// cut short by `limit` proves completeness only up to its last entry,
/// which the line says, so that a bundle cut back to an earlier statement
/// cannot pass for the whole log.
fn completeness_line(complete: &Complete, checkpoint_size: u64) -> String {
    match complete {
        Complete::Proved { org, first, last, from_size, size } => {
            let range = if first > last {
                format!("complete: org {org} has no events between tree sizes {from_size} and {size}")
            } else {
                format!(
                    "complete: org {org}'s events #{first} to #{last} (tree sizes {from_size} to {size}), none missing"
                )
            };
            if *size < checkpoint_size {
                format!(
                    "{range}; ONLY up to tree size {size} of {checkpoint_size}: export again with after_seq={} for the rest",
                    size.saturating_sub(1)
                )
            } else {
                range
            }
        }
        Complete::NotProved { org, filters } => {
            format!("completeness NOT proved: the export of org {org}'s events was filtered by {}", filters.join(", "))
        }
    }
}

pub fn run(command: AuditCommand) -> anyhow::Result<()> {
    match command {
        AuditCommand::Checkpoint { server, out } => {
            let answer = get(&server, "/v1/audit/checkpoint", &token(&server)?)?;
            let note = answer["checkpoint"].as_str().context("the server sent no checkpoint")?;
            std::fs::write(&out, note).with_context(|| format!("cannot write {}", out.display()))?;
            println!("{}", answer["public_key"].as_str().unwrap_or_default());
            eprintln!("checkpoint of size {} saved to {}", answer["size"], out.display());
            Ok(())
        }
        AuditCommand::Export { server, out, trusted_checkpoint, account_id, since, until } => {
            let trusted = trusted_checkpoint.map(|p| read(&p).and_then(|n| note_size(&n))).transpose()?;
            let path = format!(
                "/v1/audit/export{}",
                query(&[
                    ("trusted_size", trusted.map(|s| s.to_string())),
                    ("account_id", account_id),
                    ("since", since),
                    ("until", until)
                ])
            );
            let bundle = get(&server, &path, &token(&server)?)?;
            std::fs::write(&out, serde_json::to_string_pretty(&bundle)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let events = bundle["entries"].as_array().map_or(0, Vec::len);
            println!("{events} events exported to {} (checkpoint size {})", out.display(), bundle["tree_size"]);
            Ok(())
        }
        AuditCommand::Verify { bundle, public_key, trusted_checkpoint, witness } => {
            let parsed: Bundle = serde_json::from_str(&read(&bundle)?).context("the bundle is not valid JSON")?;
            let key = match public_key {
                Some(k) if Path::new(&k).is_file() => Some(read(Path::new(&k))?.trim().to_owned()),
                other => other,
            };
            let trusted = trusted_checkpoint.map(|p| read(&p)).transpose()?;
            match verify(&parsed, key.as_deref(), trusted.as_deref()) {
                Ok(v) => {
                    if let Some(witness) = witness {
                        let vkey = key.as_deref().unwrap_or(&parsed.public_key);
                        println!("{}", against_witness(&parsed, v.checkpoint.size, vkey, &witness)?);
                    }
                    let root = base64::engine::general_purpose::STANDARD.encode(v.checkpoint.root);
                    let pinned = if v.key_pinned { "pinned key" } else { "the bundle's own key (not pinned)" };
                    let consistent =
                        v.consistent_from.map(|s| format!(", consistent with trusted size {s}")).unwrap_or_default();
                    println!(
                        "OK: {} events verified against checkpoint {} size {} (root {root}) signed by {pinned}{consistent}",
                        v.events, v.checkpoint.origin, v.checkpoint.size
                    );
                    println!("{}", completeness_line(&v.complete, v.checkpoint.size));
                    Ok(())
                }
                Err(e) => bail!("verification failed: {e}"),
            }
        }
    }
}

/// The witness `spec` names: `s3://bucket/prefix` (region from
/// `AWS_REGION`, endpoint from `ROOTVAULT_WITNESS_S3_ENDPOINT_URL`), or a
/// witness file.
async fn open_witness(spec: &str) -> Witness {
    match spec.strip_prefix("s3://") {
        Some(rest) => {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            Witness::s3(S3WitnessSettings {
                bucket: bucket.to_owned(),
                prefix: prefix.to_owned(),
                retention_days: 1,
                region: std::env::var("AWS_REGION").unwrap_or_else(|_| "us-east-1".into()),
                endpoint_url: std::env::var("ROOTVAULT_WITNESS_S3_ENDPOINT_URL").ok(),
            })
            .await
        }
        None => Witness::File(PathBuf::from(spec)),
    }
}

/// Check a verified bundle against the newest checkpoint `spec` holds: the
/// bundle must not be shorter, an equal size must have the same root, and a
/// consistency proof from the witnessed size (if the bundle has one) must
/// hold. Returns what was checked.
fn against_witness(bundle: &Bundle, bundle_size: u64, vkey: &str, spec: &str) -> anyhow::Result<String> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let notes = runtime.block_on(async { open_witness(spec).await.newest_candidates().await })?;
    let key = VerifierKey::parse(vkey).context("the verifier key does not parse")?;
    let Some(witnessed) = newest_verified(&notes, &key) else {
        bail!("the witness {spec} holds no checkpoint signed by this log's key");
    };
    if witnessed.size > bundle_size {
        bail!(
            "verification failed: the bundle's checkpoint has size {bundle_size} but the witness {spec} holds a checkpoint of size {}: the log was cut short (or the bundle is older than the witness)",
            witnessed.size
        );
    }
    let note = note_of(bundle, bundle_size, &key, witnessed.size, &notes);
    match verify(bundle, Some(vkey), note.as_deref()) {
        Ok(_) if witnessed.size == bundle_size || note.is_some() => {
            Ok(format!("OK: consistent with the checkpoint of size {} witnessed in {spec}", witnessed.size))
        }
        Ok(_) => Ok(format!(
            "OK: not older than the checkpoint of size {} witnessed in {spec} (export with that trusted size to prove consistency)",
            witnessed.size
        )),
        Err(e) => bail!("verification against the witness {spec} failed: {e}"),
    }
}

/// The witnessed note of `size`, when the bundle can be checked against it
/// (the same size, or a consistency proof from it).
fn note_of(bundle: &Bundle, bundle_size: u64, key: &VerifierKey, size: u64, notes: &[String]) -> Option<String> {
    let provable = size == bundle_size || bundle.consistency.as_ref().is_some_and(|c| c.from == size);
    provable.then(|| notes.iter().find(|n| key.verify(n).is_ok_and(|cp| cp.size == size)).cloned()).flatten()
}
