//! `rootvault backup` and `rootvault restore`.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::client::{ServerArgs, token};
use crate::audit::checkpoint::VerifierKey;
use crate::audit::manifest::Manifest;
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::config::{Config, ProcessEnv, StorageConfig};
use crate::store::postgres::RESTORE_GUIDANCE;
use crate::store::{DB_FILE, Store};
use crate::vault::now_rfc3339;

fn manifest_path(file: &Path) -> PathBuf {
    let mut name = file.as_os_str().to_owned();
    name.push(".manifest");
    PathBuf::from(name)
}

/// Fetch an online backup from a running server.
pub fn backup(server: &ServerArgs, to: &Path) -> anyhow::Result<()> {
    let token = token(server)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let (bytes, manifest) = runtime.block_on(async {
        let url = format!("{}/v1/sys/backup", server.addr.trim_end_matches('/'));
        let response = reqwest::Client::new()
            .get(&url)
            .bearer_auth(&*token)
            .send()
            .await
            .with_context(|| format!("cannot reach {}", server.addr))?;
        if !response.status().is_success() {
            let status = response.status();
            let body: serde_json::Value = response.json().await.unwrap_or_default();
            bail!("{} ({})", body["error"]["message"].as_str().unwrap_or("the backup failed"), status.as_u16());
        }
        let manifest = response
            .headers()
            .get(crate::http::sys::MANIFEST_HEADER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok())
            .context("the server sent no manifest")?;
        Ok((response.bytes().await?, String::from_utf8(manifest).context("the manifest is not text")?))
    })?;
    std::fs::write(to, &bytes).with_context(|| format!("cannot write {}", to.display()))?;
    std::fs::write(manifest_path(to), &manifest).context("cannot write the manifest")?;
    let size = manifest.lines().nth(2).unwrap_or("?");
    println!("backup of {size} audit events written to {} (manifest {})", to.display(), manifest_path(to).display());
    Ok(())
}

/// The data directory a restore writes into: `--data-dir`, or the one the
/// configuration names. A PostgreSQL configuration is refused: the
/// database's own tools restore it.
pub fn restore_target(config: Option<PathBuf>, data_dir: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    match (config, data_dir) {
        (Some(path), _) => {
            let config = Config::load(&path, &ProcessEnv)?;
            if let StorageConfig::Postgres(_) = config.storage {
                bail!(RESTORE_GUIDANCE);
            }
            Ok(config.data_dir)
        }
        (None, Some(dir)) => Ok(dir),
        (None, None) => bail!("give --config or --data-dir"),
    }
}

/// What `restore` is told.
#[derive(Debug)]
pub struct RestoreArgs {
    pub from: PathBuf,
    pub data_dir: PathBuf,
    pub public_key: String,
    pub trusted_checkpoint: Option<PathBuf>,
    pub danger_force_rollback: bool,
}

/// Restore a backup into a data directory (the service must be stopped).
/// Refuses a backup whose manifest is not signed by the log's key, whose
/// file or audit root does not match its manifest, or whose log would roll
/// back past a pinned checkpoint (unless forced; the forcing is audited).
pub fn restore(args: &RestoreArgs) -> anyhow::Result<()> {
    let key_text = match Path::new(&args.public_key) {
        p if p.is_file() => std::fs::read_to_string(p)?,
        _ => args.public_key.clone(),
    };
    let key = VerifierKey::parse(&key_text).context("--public-key is not a verifier key")?;
    let note = std::fs::read_to_string(manifest_path(&args.from))
        .context("cannot read the backup's manifest (FILE.manifest)")?;
    let body = key.verify_text(&note).context("the manifest is not signed by this log's key")?;
    let manifest = Manifest::parse(&body)?;
    let bytes = std::fs::read(&args.from).with_context(|| format!("cannot read {}", args.from.display()))?;
    if <[u8; 32]>::from(Sha256::digest(&bytes)) != manifest.sha256 {
        bail!("the backup file does not match its manifest (its hash differs)");
    }
    let (rows, tree) = crate::store::backup::read_copy(&args.from, |c| {
        Ok((crate::store::audit::rows(c)?, crate::store::audit::rebuild_tree(c)?))
    })?;
    if let Some((i, row)) = rows.iter().enumerate().find(|(i, r)| r.seq != *i as u64) {
        bail!("the backup's audit log is missing entry {i} (found seq {})", row.seq);
    }
    if tree.size() != manifest.size || tree.root(manifest.size)? != manifest.root {
        bail!("the backup's audit log does not match its manifest (size {} or root differs)", tree.size());
    }
    let mut forced = false;
    if let Some(path) = &args.trusted_checkpoint {
        let trusted = key
            .verify(&std::fs::read_to_string(path)?)
            .context("the pinned checkpoint is not signed by this log's key")?;
        if manifest.size < trusted.size {
            if !args.danger_force_rollback {
                bail!(
                    "the backup holds {} audit events, fewer than the pinned checkpoint's {}: restoring would roll the log back (use --danger-force-rollback to do it anyway; it is recorded)",
                    manifest.size,
                    trusted.size
                );
            }
            forced = true;
        } else if tree.root(trusted.size)? != trusted.root {
            bail!("the backup's audit log is not an extension of the pinned checkpoint: its history differs");
        }
    }
    // Keep whatever was there: nothing is ever deleted by a restore.
    let db = args.data_dir.join(DB_FILE);
    std::fs::create_dir_all(&args.data_dir)?;
    if db.exists() {
        let kept = args
            .data_dir
            .join(format!("{DB_FILE}.before-restore-{}", time::OffsetDateTime::now_utc().unix_timestamp()));
        std::fs::rename(&db, &kept)?;
        for suffix in ["-wal", "-shm"] {
            let side = args.data_dir.join(format!("{DB_FILE}{suffix}"));
            if side.exists() {
                std::fs::rename(&side, args.data_dir.join(format!("{}{suffix}", kept.display())))?;
            }
        }
        println!("the previous database was kept as {}", kept.display());
    }
    std::fs::write(&db, &bytes)?;
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let store = Store::open(&args.data_dir)?;
        // The log's origin names the provider, whose scope every event is in.
        let provider = manifest.origin.strip_prefix("rootvault/").context("the manifest names no rootvault log")?;
        store.log().set_provider(provider);
        let draft = EventDraft::new(None, Action::SysRestore, Target::default(), &HttpInfo::default())
            .detail("backup_size", manifest.size)
            .detail("backup_created_at", manifest.created_at.clone())
            .detail("forced", forced);
        let outcome = if forced { Outcome::Denied } else { Outcome::Ok };
        let reason = forced.then(|| "restored past a pinned checkpoint with --danger-force-rollback".to_owned());
        store
            .write(move |b| crate::store::audit::append(b, draft, &now_rfc3339(), outcome, reason).map(|_| ()))
            .await
            .map_err(anyhow::Error::from)
    })?;
    println!(
        "restored {} audit events (backup of {}){} into {}",
        manifest.size,
        manifest.created_at,
        if forced { ", rolling back past the pinned checkpoint as forced" } else { "" },
        args.data_dir.display()
    );
    Ok(())
}
