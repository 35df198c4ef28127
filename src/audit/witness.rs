//! Checkpoint witnesses: copies of signed checkpoints kept outside the
//! database, so a log cut short (or whose checkpoints were deleted) is
//! noticed at the next start.
//!
//! The database alone cannot prove its own length: whoever can write the
//! file can drop the newest rows and the newest checkpoints together. A
//! witness keeps a high-water mark out of that reach: an append-only file
//! outside the data directory, and/or an S3 bucket with Object Lock in
//! compliance mode (nobody, root included, can delete or overwrite an
//! object before its retention ends). A witness only stores notes; their
//! signatures are checked by the reader with the log's key, so a note
//! smuggled into a witness proves nothing.

use std::io::Write;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;

use super::checkpoint::{Checkpoint, VerifierKey};

/// What to do when a witness cannot be read or written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnUnavailable {
    /// Fail closed: refuse to start (or unseal) and refuse the change that
    /// needed the anchor.
    #[default]
    Refuse,
    /// Log a warning and go on (the dev default).
    Warn,
}

/// Where an S3 witness keeps its notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3WitnessSettings {
    pub bucket: String,
    pub prefix: String,
    /// Object Lock retention of each note, in days (compliance mode).
    pub retention_days: u32,
    pub region: String,
    /// Overrides the regional endpoint (a VPC endpoint, or an emulator).
    pub endpoint_url: Option<String>,
}

/// The `[audit.witness]` settings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WitnessConfig {
    pub file: Option<PathBuf>,
    pub s3: Option<S3WitnessSettings>,
    pub on_unavailable: OnUnavailable,
}

/// Why a witness failed.
#[derive(Debug, thiserror::Error)]
#[error("checkpoint witness {witness}: {message}")]
pub struct WitnessError {
    pub witness: String,
    pub message: String,
}

/// One place that keeps signed checkpoints.
#[derive(Debug, Clone)]
pub enum Witness {
    /// An append-only file: one base64-encoded signed note per line.
    File(PathBuf),
    /// An S3 bucket with Object Lock: one object per note.
    S3 { client: aws_sdk_s3::Client, settings: S3WitnessSettings },
}

/// The S3 key of the note for a tree of `size`: zero-padded so that the
/// newest sorts last.
pub fn s3_key(prefix: &str, size: u64) -> String {
    let prefix = prefix.trim_matches('/');
    if prefix.is_empty() { format!("{size:020}") } else { format!("{prefix}/{size:020}") }
}

/// Parse a witness file: every line that decodes to a note. A torn last
/// line (a crash mid-append) or garbage is skipped; the reader verifies
/// each note's signature anyway.
pub fn parse_file(text: &str) -> Vec<String> {
    text.lines()
        .filter_map(|line| B64.decode(line.trim()).ok())
        .filter_map(|bytes| String::from_utf8(bytes).ok())
        .collect()
}

/// The newest checkpoint among `notes` that `key` signed, ignoring the rest.
pub fn newest_verified(notes: &[String], key: &VerifierKey) -> Option<Checkpoint> {
    notes.iter().filter_map(|note| key.verify(note).ok()).max_by_key(|cp| cp.size)
}

impl Witness {
    /// Connect to every configured witness.
    pub async fn all(config: &WitnessConfig) -> Vec<Self> {
        let mut out = Vec::new();
        if let Some(path) = &config.file {
            out.push(Self::File(path.clone()));
        }
        if let Some(settings) = &config.s3 {
            out.push(Self::s3(settings.clone()).await);
        }
        out
    }

    /// An S3 witness (path-style addressing, which emulators and VPC
    /// endpoints need and AWS accepts).
    pub async fn s3(settings: S3WitnessSettings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let shared = loader.load().await;
        let config = aws_sdk_s3::config::Builder::from(&shared).force_path_style(true).build();
        Self::S3 { client: aws_sdk_s3::Client::from_conf(config), settings }
    }

    /// A name for logs and errors.
    pub fn name(&self) -> String {
        match self {
            Self::File(path) => path.display().to_string(),
            Self::S3 { settings, .. } => format!("s3://{}/{}", settings.bucket, settings.prefix.trim_matches('/')),
        }
    }

    fn fail(&self, message: impl std::fmt::Display) -> WitnessError {
        WitnessError { witness: self.name(), message: message.to_string() }
    }

    /// Keep the signed `note` of a tree of `size` entries.
    pub async fn anchor(&self, size: u64, note: &str) -> Result<(), WitnessError> {
        match self {
            Self::File(path) => {
                let path = path.clone();
                let line = format!("{}\n", B64.encode(note));
                tokio::task::spawn_blocking(move || append_line(&path, &line))
                    .await
                    .map_err(|e| self.fail(e))?
                    .map_err(|e| self.fail(e))
            }
            Self::S3 { client, settings } => {
                let until = time::OffsetDateTime::now_utc() + time::Duration::days(i64::from(settings.retention_days));
                client
                    .put_object()
                    .bucket(&settings.bucket)
                    .key(s3_key(&settings.prefix, size))
                    .body(note.as_bytes().to_vec().into())
                    .object_lock_mode(aws_sdk_s3::types::ObjectLockMode::Compliance)
                    .object_lock_retain_until_date(aws_sdk_s3::primitives::DateTime::from_secs(until.unix_timestamp()))
                    .send()
                    .await
                    .map_err(|e| self.fail(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                Ok(())
            }
        }
    }

    /// The notes this witness holds that may be the newest: every line of
    /// a file, the last object (by key) under the S3 prefix. Empty when the
    /// witness holds nothing yet.
    pub async fn newest_candidates(&self) -> Result<Vec<String>, WitnessError> {
        match self {
            Self::File(path) => match tokio::fs::read_to_string(path).await {
                Ok(text) => Ok(parse_file(&text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
                Err(e) => Err(self.fail(e)),
            },
            Self::S3 { client, settings } => {
                let prefix = s3_key(&settings.prefix, 0);
                let prefix = prefix.trim_end_matches('0');
                let mut last: Option<String> = None;
                let mut token = None;
                loop {
                    let page = client
                        .list_objects_v2()
                        .bucket(&settings.bucket)
                        .prefix(prefix)
                        .set_continuation_token(token.take())
                        .send()
                        .await
                        .map_err(|e| self.fail(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                    if let Some(key) = page.contents().iter().filter_map(|o| o.key()).max() {
                        last = Some(last.map_or(key.to_owned(), |l| l.max(key.to_owned())));
                    }
                    match page.next_continuation_token() {
                        Some(next) if page.is_truncated() == Some(true) => token = Some(next.to_owned()),
                        _ => break,
                    }
                }
                let Some(key) = last else { return Ok(Vec::new()) };
                let object = client
                    .get_object()
                    .bucket(&settings.bucket)
                    .key(&key)
                    .send()
                    .await
                    .map_err(|e| self.fail(aws_sdk_s3::error::DisplayErrorContext(e)))?;
                let bytes = object.body.collect().await.map_err(|e| self.fail(e))?.into_bytes();
                Ok(vec![String::from_utf8_lossy(&bytes).into_owned()])
            }
        }
    }
}

/// Append one line and make it durable before returning.
fn append_line(path: &Path, line: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    file.write_all(line.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::audit::checkpoint::CheckpointSigner;
    use zeroize::Zeroizing;

    #[test]
    fn s3_keys_sort_by_size() {
        assert_eq!(s3_key("/cp/", 42), "cp/00000000000000000042");
        assert!(s3_key("cp", 999) < s3_key("cp", 1000));
        assert_eq!(s3_key("", 1), "00000000000000000001");
    }

    #[test]
    fn a_witness_file_yields_its_newest_signed_note_and_skips_torn_or_foreign_lines() {
        let signer = CheckpointSigner::new("rootvault/acme", &Zeroizing::new([5u8; 32]));
        let foreign = CheckpointSigner::new("rootvault/acme", &Zeroizing::new([6u8; 32]));
        let key = VerifierKey::parse(&signer.vkey()).unwrap();
        let text = format!(
            "{}\n{}\n{}\nnot base64 at all\n{}",
            B64.encode(signer.sign(3, &[1; 32])),
            B64.encode(signer.sign(7, &[2; 32])),
            B64.encode(foreign.sign(99, &[3; 32])),
            &B64.encode(signer.sign(8, &[4; 32]))[..20],
        );
        let newest = newest_verified(&parse_file(&text), &key).unwrap();
        assert_eq!((newest.size, newest.root), (7, [2; 32]));
    }

    #[tokio::test]
    async fn a_file_witness_appends_and_reads_back() {
        let dir = tempfile::tempdir().unwrap();
        let witness = Witness::File(dir.path().join("w").join("checkpoints"));
        assert!(witness.newest_candidates().await.unwrap().is_empty());
        let signer = CheckpointSigner::new("rootvault/acme", &Zeroizing::new([5u8; 32]));
        witness.anchor(1, &signer.sign(1, &[1; 32])).await.unwrap();
        witness.anchor(2, &signer.sign(2, &[2; 32])).await.unwrap();
        let key = VerifierKey::parse(&signer.vkey()).unwrap();
        let notes = witness.newest_candidates().await.unwrap();
        assert_eq!(newest_verified(&notes, &key).unwrap().size, 2);
    }
}
