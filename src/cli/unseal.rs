//! `rootvault unseal`: submit one share to a running server.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde_json::json;
use zeroize::Zeroizing;

use super::client::{ServerArgs, post};

/// The share is read from a file or stdin, never from the command line,
/// where it would show in the process list and shell history.
pub fn run(server: &ServerArgs, share_file: Option<PathBuf>) -> anyhow::Result<()> {
    let share = Zeroizing::new(match share_file {
        Some(path) => std::fs::read_to_string(&path).with_context(|| format!("cannot read {}", path.display()))?,
        None => {
            let mut text = String::new();
            std::io::stdin().read_to_string(&mut text).context("cannot read the share from standard input")?;
            text
        }
    });
    let share = share.trim();
    if share.is_empty() {
        bail!("no share given: pipe it on standard input or pass --share-file");
    }
    let answer = post(server, "/v1/sys/unseal", None, &json!({ "share": share }))?;
    let sealed = answer["sealed"].as_bool().unwrap_or(true);
    if sealed {
        println!("sealed: {} of {} shares submitted", answer["progress"], answer["threshold"]);
    } else {
        println!("unsealed");
    }
    Ok(())
}
