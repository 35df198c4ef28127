//! Anchoring signed checkpoints in the checkpoint witnesses, and checking
//! the local log against the newest anchored one.
//!
//! A checkpoint is anchored after every release and custody change (before
//! the caller gets the answer, so before a secret leaves), on the
//! checkpoint timer and at shutdown. The checkpoint a release waits for is
//! signed and stored by its own group commit (`store::sign_group`), so the
//! witness's write is all that remains before the answer; concurrent
//! releases share that write. At start and at unseal the newest
//! anchored checkpoint is read back: a local log shorter than it, or whose
//! tree differs from it, was cut or rewritten, even if the rows and the
//! checkpoints table were edited together.

use std::sync::atomic::{AtomicU64, Ordering};

use super::Vault;
use crate::audit::Action;
use crate::audit::checkpoint::VerifierKey;
use crate::audit::log::LogKeys;
use crate::audit::merkle::MerkleTree;
use crate::audit::witness::{OnUnavailable, Witness, WitnessConfig, WitnessError, newest_verified};
use crate::error::Error;

/// The configured witnesses and how far this process has anchored.
#[derive(Debug, Default)]
pub struct Witnesses {
    list: Vec<Witness>,
    on_unavailable: OnUnavailable,
    /// The largest tree size anchored by this process.
    anchored: AtomicU64,
    /// The largest tree size covered by a checkpoint this process stored
    /// and saw anchored in every witness: an event below it needs nothing
    /// more before its answer goes out.
    covered: AtomicU64,
    /// One anchor at a time: callers that wait for it find their event
    /// covered by the checkpoint it made, instead of each signing,
    /// storing and witnessing one of its own.
    turn: tokio::sync::Mutex<()>,
}

impl Witnesses {
    pub async fn connect(config: &WitnessConfig) -> Self {
        Self { list: Witness::all(config).await, on_unavailable: config.on_unavailable, ..Self::default() }
    }
}

/// The actions after which a checkpoint is anchored: every release (a
/// deliver link's creation is one, as are a link's open and submit) and
/// every custody change.
pub(super) fn anchors_after(action: Action) -> bool {
    matches!(
        action,
        Action::HalfRelease
            | Action::LinkCreate
            | Action::LinkOpen
            | Action::LinkSubmit
            | Action::CustodiansSet
            | Action::HalfDeposit
            | Action::HalfRotateConfirm
            | Action::ReverseHandoff
            | Action::AccountClose
            | Action::AccountReopen
            | Action::MoveComplete
    )
}

impl Vault {
    /// Anchor checkpoints in `witnesses` (set up from the configuration).
    pub fn with_witnesses(mut self, witnesses: Witnesses) -> Self {
        self.witnesses = std::sync::Arc::new(witnesses);
        self
    }

    /// Sign a checkpoint of the current log (if it grew) and write it to
    /// every witness. A witness failure is an error in `refuse` mode and a
    /// warning in `warn` mode; the change that asked for the anchor was
    /// committed and recorded either way.
    pub async fn anchor(&self) -> Result<(), Error> {
        let Some((size, note)) = self.checkpoint().await? else { return Ok(()) };
        self.anchor_note(size, &note).await
    }

    /// Write the stored checkpoint `note` of `size` entries to every witness.
    async fn anchor_note(&self, size: u64, note: &str) -> Result<(), Error> {
        let witnesses = &self.witnesses;
        if !witnesses.list.is_empty() && witnesses.anchored.load(Ordering::Acquire) < size {
            for witness in &witnesses.list {
                if let Err(e) = witness.anchor(size, note).await {
                    self.witness_unavailable(e)?;
                    return Ok(());
                }
            }
            witnesses.anchored.fetch_max(size, Ordering::AcqRel);
        }
        witnesses.covered.fetch_max(size, Ordering::AcqRel);
        Ok(())
    }

    /// Anchor a checkpoint that covers the event at `seq` (committed, so
    /// already in the tree) before its answer goes out. Concurrent releases
    /// share one checkpoint: whoever waits for the anchor under way finds
    /// its event covered by it and goes on without signing another.
    pub(super) async fn anchor_through(&self, seq: u64) -> Result<(), Error> {
        let covered = |w: &Witnesses| w.covered.load(Ordering::Acquire) > seq;
        if covered(&self.witnesses) {
            return Ok(());
        }
        let _turn = self.witnesses.turn.lock().await;
        if covered(&self.witnesses) {
            return Ok(());
        }
        // The event's group commit signed and stored a checkpoint covering
        // it (see `store::sign_group`); sign one apart only if it could not.
        match self.store.log().newest_signed() {
            Some((size, note)) if size > seq => self.anchor_note(size, &note).await,
            _ => self.anchor().await,
        }
    }

    fn witness_unavailable(&self, e: WitnessError) -> Result<(), Error> {
        self.metrics.witness_failed();
        match self.witnesses.on_unavailable {
            OnUnavailable::Refuse => {
                tracing::error!(error = %e, "a checkpoint witness is unavailable; refusing");
                Err(Error::Unavailable(e.to_string()))
            }
            OnUnavailable::Warn => {
                tracing::warn!(error = %e, "a checkpoint witness is unavailable; going on (on_witness_unavailable = warn)");
                Ok(())
            }
        }
    }

    /// Compare the local tree with the newest checkpoint each witness holds
    /// (signed by `keys`; notes with other signatures are ignored). Returns
    /// the problem when the local log is shorter or differs, or when the
    /// database lost the checkpoint the witness holds (`stored` sizes: every
    /// anchored checkpoint is stored before it is anchored).
    pub(super) async fn witnessed_problem(
        &self,
        keys: &LogKeys,
        tree: &MerkleTree,
        stored: &[u64],
    ) -> Result<Option<String>, Error> {
        let key = VerifierKey::parse(&keys.signer().vkey()).map_err(|e| Error::Internal(e.to_string()))?;
        for witness in &self.witnesses.list {
            let notes = match witness.newest_candidates().await {
                Ok(notes) => notes,
                Err(e) => {
                    self.witness_unavailable(e)?;
                    continue;
                }
            };
            let Some(anchored) = newest_verified(&notes, &key) else { continue };
            self.witnesses.anchored.fetch_max(anchored.size, Ordering::AcqRel);
            let local = tree.size();
            let problem = match tree.root(anchored.size) {
                Err(_) => Some(format!(
                    "the log holds {local} entries but witness {} anchored a checkpoint of size {}: it was cut short",
                    witness.name(),
                    anchored.size
                )),
                Ok(root) if root != anchored.root => Some(format!(
                    "the log of {local} entries does not extend the checkpoint of size {} anchored in witness {}",
                    anchored.size,
                    witness.name()
                )),
                Ok(_) if !stored.contains(&anchored.size) => Some(format!(
                    "the checkpoint of size {} anchored in witness {} is missing from the database",
                    anchored.size,
                    witness.name()
                )),
                Ok(_) => None,
            };
            if let Some(problem) = problem {
                tracing::error!(local_size = local, witnessed_size = anchored.size, witness = %witness.name(), "{problem}");
                return Ok(Some(problem));
            }
        }
        Ok(None)
    }
}
