//! `rootvault audit …`: fetch checkpoints and bundles, verify them offline.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use clap::Subcommand;

use super::client::{ServerArgs, get, token};
use crate::audit::bundle::{Bundle, Complete, verify};

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
            let answer = get(&server, "/v1/audit/checkpoint", &token()?)?;
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
            let bundle = get(&server, &path, &token()?)?;
            std::fs::write(&out, serde_json::to_string_pretty(&bundle)?)
                .with_context(|| format!("cannot write {}", out.display()))?;
            let events = bundle["entries"].as_array().map_or(0, Vec::len);
            println!("{events} events exported to {} (checkpoint size {})", out.display(), bundle["tree_size"]);
            Ok(())
        }
        AuditCommand::Verify { bundle, public_key, trusted_checkpoint } => {
            let parsed: Bundle = serde_json::from_str(&read(&bundle)?).context("the bundle is not valid JSON")?;
            let key = match public_key {
                Some(k) if Path::new(&k).is_file() => Some(read(Path::new(&k))?.trim().to_owned()),
                other => other,
            };
            let trusted = trusted_checkpoint.map(|p| read(&p)).transpose()?;
            match verify(&parsed, key.as_deref(), trusted.as_deref()) {
                Ok(v) => {
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
