//! What a new half version brings with it (invariant 2): its keyed
//! fingerprint, and the exposures it carries from earlier versions whose
//! secret it repeats.
//!
//! The wall compares version numbers, so a secret that comes back under a
//! new number (the same MFA seed re-enrolled, through a deposit or a collect
//! link) would otherwise shed everything known about who has seen it. Every
//! path that makes a version current runs [`admit_version`] in its write.

use std::sync::Arc;

use zeroize::Zeroizing;

use super::{CustodyRecords, Vault};
use crate::audit::EventDraft;
use crate::audit::log::LogKeys;
use crate::crypto::totp::MfaSeed;
use crate::domain::ids::{AccountId, Half, Principal};
use crate::domain::orgs::OrgDirectory;
use crate::domain::wall::carried_exposures;
use crate::error::Error;
use crate::store::{self, Conn, exposures::ExposureKind};

/// The keyed fingerprint of a half's stored plaintext. For the MFA half only
/// the seed's secret counts: the same secret with other digits or period
/// still lets whoever knows it derive the codes.
fn fingerprint(keys: &LogKeys, id: &AccountId, half: Half, payload: &[u8]) -> Result<[u8; 32], Error> {
    let keyed = |secret: &[u8]| keys.fingerprint(id.as_str(), half.as_str(), secret);
    Ok(match half {
        Half::Password => keyed(payload),
        Half::Mfa => keyed(MfaSeed::from_payload(payload)?.secret_bytes()),
    })
}

/// A version about to become current, and who will know its secret
/// directly: its depositor, or the maker of the collect link that brought it.
pub(super) struct Admission<'a> {
    pub(super) id: &'a AccountId,
    pub(super) half: Half,
    pub(super) version: u32,
    /// Absent only for a rotation candidate stored before fingerprints existed.
    pub(super) fingerprint: Option<&'a [u8; 32]>,
    pub(super) makers: &'a [&'a Principal],
}

/// Inside the write that makes a version current: carry the exposures of
/// every earlier version with the same secret to it, and refuse it if
/// anyone who will know it (those, and its makers) has seen the other
/// half's current version. Records the fingerprint and, for auditors, which
/// versions the secret repeats and whose exposure it carried.
pub(super) fn admit_version(
    tx: &Conn,
    orgs: &OrgDirectory,
    records: &CustodyRecords,
    new: Admission<'_>,
    draft: &mut EventDraft,
    now: &str,
) -> Result<(), Error> {
    let Admission { id, half, version, fingerprint, makers } = new;
    let same = match fingerprint {
        Some(fp) => store::fingerprints::matching(tx, id, half, fp)?,
        None => Vec::new(),
    };
    let carried = carried_exposures(&records.exposures, half, &same, version);
    let knowers = carried.iter().map(|e| &e.principal).chain(makers.iter().copied());
    records.state(orgs).check_new_version(half, knowers)?;
    if let Some(fp) = fingerprint {
        store::fingerprints::record(tx, id, half, version, fp)?;
    }
    for e in &carried {
        store::exposures::record(tx, id, &e.principal, half, version, ExposureKind::Carried, now)?;
    }
    if !same.is_empty() {
        draft.details.insert("same_secret_as".into(), same.into());
        let carried: Vec<String> = carried.iter().map(|e| e.principal.to_string()).collect();
        draft.details.insert("exposures_carried".into(), carried.into());
    }
    Ok(())
}

impl Vault {
    /// The keyed fingerprint of a payload about to become a version of `half`.
    pub(super) fn fingerprint(&self, id: &AccountId, half: Half, payload: &[u8]) -> Result<[u8; 32], Error> {
        let keys = self.store.log().keys().ok_or(Error::Sealed)?;
        fingerprint(&keys, id, half, payload)
    }

    /// Fingerprint the stored versions written before fingerprints existed,
    /// so that a secret deposited again later is still recognised. Runs once
    /// the log key is loaded; a version that cannot be read now is tried
    /// again at the next start. Returns how many were fingerprinted.
    pub(super) async fn fingerprint_stored_versions(&self) -> Result<usize, Error> {
        let missing = self.store.read(store::fingerprints::missing).await?;
        let mut done = 0;
        for (id, half, version) in missing {
            let plain: Option<Zeroizing<Vec<u8>>> = match self.decrypt_version(&id, half, version).await {
                Ok(plain) => plain.map(|(_, p)| p),
                Err(e) => {
                    tracing::warn!(account = %id, %half, version, code = e.code(), "a stored version could not be fingerprinted yet");
                    continue;
                }
            };
            let Some(plain) = plain else { continue };
            let fp = self.fingerprint(&id, half, &plain)?;
            let account = Arc::new(id);
            self.store.write(move |b| store::fingerprints::record(b.conn(), &account, half, version, &fp)).await?;
            done += 1;
        }
        Ok(done)
    }
}
