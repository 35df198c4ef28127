//! Where `rootvault login` keeps its tokens: one per server address in
//! `$XDG_CONFIG_HOME/rootvault/credentials` (default
//! `~/.config/rootvault/credentials`), a JSON file only its owner can read
//! (0600, in a 0700 directory), replaced atomically.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::PathBuf;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// One server's sign-in.
#[derive(Serialize, Deserialize, Clone)]
pub struct Stored {
    pub token: String,
    pub principal: String,
    pub expires_at: String,
}

impl std::fmt::Debug for Stored {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Stored").field("principal", &self.principal).field("expires_at", &self.expires_at).finish()
    }
}

#[derive(Serialize, Deserialize, Default, Debug)]
struct File {
    servers: BTreeMap<String, Stored>,
}

/// The file's path.
pub fn path() -> anyhow::Result<PathBuf> {
    let base = match std::env::var_os("XDG_CONFIG_HOME").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => match std::env::var_os("HOME").filter(|v| !v.is_empty()) {
            Some(home) => PathBuf::from(home).join(".config"),
            None => bail!("neither XDG_CONFIG_HOME nor HOME is set: nowhere to keep the sign-in"),
        },
    };
    Ok(base.join("rootvault").join("credentials"))
}

/// Server addresses are compared without a trailing slash.
pub fn key(addr: &str) -> String {
    addr.trim_end_matches('/').to_owned()
}

fn load() -> anyhow::Result<File> {
    let path = path()?;
    match fs::read_to_string(&path) {
        Ok(text) => {
            let text = Zeroizing::new(text);
            serde_json::from_str(&text)
                .with_context(|| format!("{} is not a rootvault credentials file", path.display()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(File::default()),
        Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
    }
}

fn save(file: &File) -> anyhow::Result<()> {
    let path = path()?;
    let dir = path.parent().context("the credentials path has no directory")?;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create {}", dir.display()))?;
    let text = Zeroizing::new(serde_json::to_string_pretty(file)?);
    let temporary = dir.join(".credentials.tmp");
    let _ = fs::remove_file(&temporary);
    let mut out = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&temporary)
        .with_context(|| format!("cannot write {}", temporary.display()))?;
    out.write_all(text.as_bytes())?;
    out.sync_all()?;
    fs::rename(&temporary, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    Ok(())
}

/// The stored sign-in for `addr`.
pub fn stored(addr: &str) -> anyhow::Result<Option<Stored>> {
    Ok(load()?.servers.get(&key(addr)).cloned())
}

pub fn store(addr: &str, entry: Stored) -> anyhow::Result<()> {
    let mut file = load()?;
    file.servers.insert(key(addr), entry);
    save(&file)
}

/// Forget the sign-in for `addr`; false if there was none.
pub fn forget(addr: &str) -> anyhow::Result<bool> {
    let mut file = load()?;
    let removed = file.servers.remove(&key(addr)).is_some();
    if removed {
        save(&file)?;
    }
    Ok(removed)
}
