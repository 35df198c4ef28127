//! One-time links: create, read the receipt, revoke, open, submit (DESIGN §8).

use std::sync::Arc;

use aes_gcm::aead::{Aead, KeyInit, OsRng, Payload};
use aes_gcm::{AeadCore, Aes256Gcm, Key};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use rand::RngCore;
use secrecy::{ExposeSecret, SecretString};
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::halves::hash_new_password;
use super::versions::{Admission, admit_version};
use super::{CustodyRecords, Vault, ensure_no_handoff_pending, notify, now_rfc3339, rfc3339, unix_now};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::crypto::passwords;
use crate::crypto::totp::MfaSeed;
use crate::domain::account::Email;
use crate::domain::ids::{AccountId, Half, Principal, Role};
use crate::domain::links::{
    LinkError, LinkState, MAX_PASSPHRASE_ATTEMPTS, Purpose, check_new, check_still_current, check_usable,
    effective_state,
};
use crate::domain::password_policy::check_supplied;
use crate::error::Error;
use crate::notify::Event;
use crate::store::exposures::ExposureKind;
use crate::store::halves::{NewVersion, Source};
use crate::store::links::StoredLink;
use crate::store::{self, Conn};

/// What a caller asks for in `POST /v1/links`.
#[derive(Debug)]
pub struct NewLink {
    pub purpose: Purpose,
    pub account_id: AccountId,
    pub half: Half,
    pub recipient_name: String,
    pub recipient_email: Email,
    pub ttl_minutes: Option<u32>,
    pub passphrase: Option<SecretString>,
    pub request_id: Option<String>,
}

/// A created link. `url` carries the decryption key in its fragment for
/// deliver links; it is shown once, to the creator, and never in `Debug`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct CreatedLink {
    pub id: String,
    pub url: String,
    pub expires_at: String,
}

impl std::fmt::Debug for CreatedLink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedLink")
            .field("id_hash", &log_hash(&self.id))
            .field("expires_at", &self.expires_at)
            .finish()
    }
}

/// Whom a link is for.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RecipientView {
    pub name: String,
    pub email: String,
}

/// The read receipt of a link; never its secret or key.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LinkView {
    pub purpose: Purpose,
    pub account_id: AccountId,
    pub half: Half,
    pub state: LinkState,
    pub recipient: RecipientView,
    pub created_by: String,
    pub created_at: String,
    pub expires_at: String,
    pub used_at: Option<String>,
    pub revoked_at: Option<String>,
    pub passphrase: bool,
}

impl LinkView {
    fn of(link: &StoredLink, now: i64) -> Self {
        Self {
            purpose: link.purpose,
            account_id: link.account_id.clone(),
            half: link.half,
            state: effective_state(link.state, link.expires_at, now),
            recipient: RecipientView { name: link.recipient_name.clone(), email: link.recipient_email.clone() },
            created_by: link.created_by.clone(),
            created_at: link.created_at.clone(),
            expires_at: rfc3339(link.expires_at),
            used_at: link.used_at.clone(),
            revoked_at: link.revoked_at.clone(),
            passphrase: link.passphrase_hash.is_some(),
        }
    }
}

/// How a creator's list names one of their links: the SHA-256 of its id,
/// under which the store keeps it. It opens nothing (the public endpoints
/// take the id itself), so it may sit in the console's URLs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LinkRef(String);

impl LinkRef {
    /// A reference as the list shows it: 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<Self> {
        (text.len() == 64 && text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .then(|| Self(text.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// One of the caller's links in their list: how to name it, and its receipt.
#[derive(Debug, Clone)]
pub struct MyLink {
    pub reference: LinkRef,
    pub view: LinkView,
}

/// Most links the creator's list shows.
pub const MY_LINKS_LIMIT: u32 = 200;

/// What the public page may show about a link (no secret, no creator detail
/// beyond the org).
#[derive(Debug, Clone, Serialize)]
pub struct PageInfo {
    pub purpose: Purpose,
    pub half: Half,
    pub state: LinkState,
    pub from_org: String,
    pub account_name: String,
    pub recipient_name: String,
    pub expires_at: String,
    pub passphrase: bool,
}

/// The hash under which a link id is stored.
pub fn id_hash(id: &str) -> String {
    hex::encode(Sha256::digest(id.as_bytes()))
}

/// The truncated hash that stands for a link in audit events and logs.
pub fn log_hash(id: &str) -> String {
    id_hash(id)[..16].to_owned()
}

fn link_target(account: Option<&AccountId>, half: Option<Half>, id: &str) -> Target {
    Target {
        account_id: account.map(ToString::to_string),
        half: half.map(|h| h.to_string()),
        link_id_hash: Some(log_hash(id)),
        ..Target::default()
    }
}

/// A link id for 128 random bits: their 22-character base64url form, except
/// that an id never begins with `-`, which command lines take for an option.
/// 16 bytes use only 2 of the last character's 6 bits, so when the first
/// character would be `-` it becomes `A` and the lowest spare bit of the last
/// character records the swap: the mapping stays one-to-one, every id keeps
/// all 128 bits. The service never decodes ids (it looks them up by hash),
/// so this form needs no decoder.
fn encode_id(raw: [u8; 16]) -> String {
    let mut id = B64URL.encode(raw).into_bytes();
    if id.first() == Some(&b'-') {
        id[0] = b'A';
        if let Some(last) = id.last_mut() {
            // The last character of 16 encoded bytes is one of A, Q, g, w
            // (low four bits zero); its successor in the alphabet is B, R,
            // h or x, so the flag cannot carry into another value.
            *last += 1;
        }
    }
    id.into_iter().map(char::from).collect()
}

/// A fresh link id: 128 bits from the operating system's generator.
pub(super) fn new_link_id() -> String {
    let mut raw = [0u8; 16];
    OsRng.fill_bytes(&mut raw);
    encode_id(raw)
}

/// Link ids are 22 base64url characters (128 bits); anything else is unknown.
/// Ids issued before they stopped beginning with `-` stay valid.
fn valid_id(id: &str) -> bool {
    id.len() == 22 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Encrypt a deliver payload under a fresh key K; returns (K, nonce ‖ ciphertext).
/// The link id is the associated data, so a ciphertext cannot be moved to
/// another link. The browser decrypts with WebCrypto using K from the URL fragment.
pub fn seal_for_link(id: &str, payload: &[u8]) -> Result<(Zeroizing<[u8; 32]>, Vec<u8>), Error> {
    let mut key = Zeroizing::new([0u8; 32]);
    OsRng.fill_bytes(&mut *key);
    let cipher = Aes256Gcm::new(Key::<Aes256Gcm>::from_slice(&*key));
    let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
    let ct = cipher
        .encrypt(&nonce, Payload { msg: payload, aad: id.as_bytes() })
        .map_err(|_| Error::Internal("link encryption failed".into()))?;
    let mut out = nonce.to_vec();
    out.extend_from_slice(&ct);
    Ok((key, out))
}

fn link_error(e: LinkError) -> Error {
    let message = e.to_string();
    match e {
        LinkError::Ttl
        | LinkError::RecipientName
        | LinkError::Passphrase
        | LinkError::DeliverMfa
        | LinkError::DeliverNeedsRequest => Error::invalid("invalid_link", message),
        LinkError::Used => Error::gone("link_used", message),
        LinkError::Expired => Error::gone("link_expired", message),
        LinkError::Revoked => Error::gone("link_revoked", message),
        LinkError::Burned => Error::gone("link_burned", message),
        LinkError::WrongPassphrase(_) => Error::forbidden("wrong_passphrase", message),
        LinkError::WrongPurpose(_) => Error::conflict("wrong_link_purpose", message),
        LinkError::HalfChanged => Error::conflict("half_changed", message),
        LinkError::Void => Error::conflict("link_void", message),
    }
}

impl Vault {
    pub fn set_public_url(&self, url: String) {
        *self.public_url.write().unwrap_or_else(std::sync::PoisonError::into_inner) =
            url.trim_end_matches('/').to_owned();
    }

    /// The base URL the service is reached at, without a trailing slash
    /// (empty until the listener is bound).
    pub fn public_url(&self) -> String {
        self.public_url.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone()
    }

    pub(super) fn link_url(&self, id: &str, key: Option<&[u8; 32]>) -> String {
        let base = self.public_url();
        match key {
            Some(k) => format!("{base}/l/{id}#{}", B64URL.encode(k)),
            None => format!("{base}/l/{id}"),
        }
    }

    /// Create a link. A deliver link is a release: it needs an approved
    /// break-glass request naming the caller as `password_to`, and counts as
    /// one of its views. A collect link needs a custodian of the half or an
    /// admin of the org that holds it.
    pub async fn create_link(&self, caller: &Caller, http: &HttpInfo, new: NewLink) -> Result<CreatedLink, Error> {
        let id = new_link_id();
        let target = link_target(Some(&new.account_id), Some(new.half), &id);
        let draft = EventDraft::new(Some(&caller.principal), Action::LinkCreate, target, http)
            .detail("purpose", new.purpose.as_str());
        let checked = self.ensure_unsealed().and_then(|()| {
            let ttl =
                check_new(new.ttl_minutes, &new.recipient_name, new.passphrase.as_ref().map(|p| p.expose_secret()))
                    .map_err(link_error)?;
            if new.purpose == Purpose::Deliver && new.half == Half::Mfa {
                return Err(link_error(LinkError::DeliverMfa));
            }
            Ok(ttl)
        });
        let ttl = match checked {
            Ok(ttl) => ttl,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let passphrase_hash = match &new.passphrase {
            Some(p) => match hash_new_password(p, Vec::new()).await {
                Ok(h) => Some(h),
                Err(e) => return Err(self.refuse(draft, e).await),
            },
            None => None,
        };
        let now = unix_now();
        let mut link = StoredLink {
            id_hash: id_hash(&id),
            purpose: new.purpose,
            account_id: new.account_id.clone(),
            half: new.half,
            created_by: caller.principal.to_string(),
            created_at: now_rfc3339(),
            expires_at: now + i64::from(ttl) * 60,
            recipient_name: new.recipient_name.trim().to_owned(),
            recipient_email: new.recipient_email.to_string(),
            request_id: new.request_id.clone(),
            handoff: false,
            ciphertext: None,
            passphrase_hash,
            attempts: 0,
            state: LinkState::Pending,
            used_at: None,
            revoked_at: None,
            base_version: None,
            made_as_admin: caller.has_role(Role::Admin),
        };
        let expires_at = rfc3339(link.expires_at);
        match new.purpose {
            Purpose::Deliver => {
                let Some(request_id) = new.request_id.clone() else {
                    return Err(self.refuse(draft, link_error(LinkError::DeliverNeedsRequest)).await);
                };
                let prepared = async {
                    let (account, stored) = self.release_read(caller, &request_id, Half::Password).await.checked?;
                    if account != new.account_id {
                        return Err(Error::invalid("invalid_link", "the request is for another account"));
                    }
                    let (version, plain) = self.open_stored(&account, Half::Password, stored).await?;
                    let password = Zeroizing::new(
                        String::from_utf8(plain.to_vec())
                            .map_err(|_| Error::Internal("stored password is not UTF-8".into()))?,
                    );
                    let root_email = self
                        .store
                        .read({
                            let a = account.clone();
                            move |c| store::accounts::get(c, &a)
                        })
                        .await?
                        .map(|a| a.root_email.to_string())
                        .unwrap_or_default();
                    let payload = Zeroizing::new(
                        serde_json::json!({"root_email": root_email, "password": password.as_str()}).to_string(),
                    );
                    let (key, ciphertext) = seal_for_link(&id, payload.as_bytes())?;
                    Ok::<_, Error>((version, key, ciphertext))
                }
                .await;
                let (version, key, ciphertext) = match prepared {
                    Ok(p) => p,
                    Err(e) => return Err(self.refuse(draft, e).await),
                };
                link.ciphertext = Some(ciphertext);
                // Creating a deliver link is the release itself: one event,
                // `half.release` with the link's hash, like any other view.
                let release = EventDraft::new(Some(&caller.principal), Action::HalfRelease, draft.target.clone(), http)
                    .detail("form", "link");
                self.commit_release(caller, release, request_id, Half::Password, version, move |tx, _, _| {
                    store::links::insert(tx, &link)?;
                    Ok(())
                })
                .await?;
                Ok(CreatedLink { url: self.link_url(&id, Some(&key)), id, expires_at })
            }
            Purpose::Collect => {
                let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
                self.audited(draft, move |tx, draft, _| {
                    let records = CustodyRecords::load(&orgs, tx, &caller, &link.account_id)?;
                    records.state(&orgs).check_collect_link(&caller.principal, link.made_as_admin, link.half)?;
                    ensure_no_handoff_pending(tx, &link.account_id)?;
                    // The link collects the next version of the half as it is
                    // now; once the half moves on, the link is void.
                    link.base_version = records.current.of(link.half);
                    draft.details.insert("base_version".into(), link.base_version.into());
                    store::links::insert(tx, &link)?;
                    Ok(())
                })
                .await?;
                Ok(CreatedLink { url: self.link_url(&id, None), id, expires_at })
            }
        }
    }

    /// Load a link its caller created; anyone else gets 404.
    fn own_link(conn: &Conn, caller: &Caller, id: &str) -> Result<StoredLink, Error> {
        match valid_id(id).then(|| id_hash(id)) {
            Some(hash) => Self::own_stored(conn, caller, &hash),
            None => Err(Error::NotFound("link")),
        }
    }

    /// Load, by the hash of its id, a link its caller created.
    fn own_stored(conn: &Conn, caller: &Caller, hash: &str) -> Result<StoredLink, Error> {
        match store::links::load(conn, hash)? {
            Some(link) if link.created_by == caller.principal.to_string() => Ok(link),
            _ => Err(Error::NotFound("link")),
        }
    }

    /// The read receipt (creator only).
    pub async fn link(&self, caller: &Caller, http: &HttpInfo, id: String) -> Result<LinkView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::LinkRead, link_target(None, None, &id), http);
        let caller = caller.clone();
        self.audited(draft, move |tx, draft, _| {
            let link = Self::own_link(tx, &caller, &id)?;
            draft.target.account_id = Some(link.account_id.to_string());
            Ok(LinkView::of(&link, unix_now()))
        })
        .await
    }

    /// The caller's links, newest first (at most [`MY_LINKS_LIMIT`]):
    /// receipts and references, never ids or keys.
    pub async fn my_links(&self, caller: &Caller, http: &HttpInfo) -> Result<Vec<MyLink>, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::LinkRead, Target::default(), http)
            .detail("what", "my links");
        let creator = caller.principal.to_string();
        self.audited(draft, move |tx, _, _| {
            let now = unix_now();
            let links = store::links::by_creator(tx, &creator, MY_LINKS_LIMIT)?;
            Ok(links
                .iter()
                .map(|l| MyLink { reference: LinkRef(l.id_hash.clone()), view: LinkView::of(l, now) })
                .collect())
        })
        .await
    }

    /// Revoke a pending link (creator only).
    pub async fn revoke_link(&self, caller: &Caller, http: &HttpInfo, id: String) -> Result<LinkView, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::LinkRevoke, link_target(None, None, &id), http);
        let hash = valid_id(&id).then(|| id_hash(&id));
        self.revoke_stored(caller, draft, hash).await
    }

    /// Revoke a pending link named by its reference in the creator's list.
    pub async fn revoke_my_link(&self, caller: &Caller, http: &HttpInfo, link: &LinkRef) -> Result<LinkView, Error> {
        let target = Target { link_id_hash: Some(link.0[..16].to_owned()), ..Target::default() };
        let draft = EventDraft::new(Some(&caller.principal), Action::LinkRevoke, target, http);
        self.revoke_stored(caller, draft, Some(link.0.clone())).await
    }

    async fn revoke_stored(&self, caller: &Caller, draft: EventDraft, hash: Option<String>) -> Result<LinkView, Error> {
        let caller = caller.clone();
        self.audited(draft, move |tx, draft, now| {
            let link = Self::own_stored(tx, &caller, hash.as_deref().ok_or(Error::NotFound("link"))?)?;
            draft.target.account_id = Some(link.account_id.to_string());
            check_usable(effective_state(link.state, link.expires_at, unix_now())).map_err(link_error)?;
            store::links::revoke(tx, &link.id_hash, now)?;
            let link = store::links::load(tx, &link.id_hash)?.ok_or(Error::NotFound("link"))?;
            Ok(LinkView::of(&link, unix_now()))
        })
        .await
    }

    /// What the public page shows; never consumes the link.
    pub async fn link_page(&self, id: String) -> Result<PageInfo, Error> {
        if !valid_id(&id) {
            return Err(Error::NotFound("link"));
        }
        let orgs = Arc::clone(&self.orgs);
        self.store
            .read(move |c| {
                let link = store::links::load(c, &id_hash(&id))?.ok_or(Error::NotFound("link"))?;
                let account = store::accounts::get(c, &link.account_id)?.ok_or(Error::NotFound("link"))?;
                let from_org = if link.handoff {
                    orgs.provider().to_string()
                } else {
                    link.created_by.split('/').next().unwrap_or("").to_owned()
                };
                Ok(PageInfo {
                    purpose: link.purpose,
                    half: link.half,
                    state: effective_state(link.state, link.expires_at, unix_now()),
                    from_org,
                    account_name: account.name,
                    recipient_name: link.recipient_name,
                    expires_at: rfc3339(link.expires_at),
                    passphrase: link.passphrase_hash.is_some(),
                })
            })
            .await
    }

    /// Record a refused public use of a link, under its account when the
    /// link exists, so the account's auditors see the failed attempts.
    async fn refuse_for_link(&self, mut draft: EventDraft, id: &str, err: Error) -> Error {
        if valid_id(id) {
            let hash = id_hash(id);
            if let Ok(Some(link)) = self.store.read(move |c| store::links::load(c, &hash)).await {
                draft.target.account_id = Some(link.account_id.to_string());
                draft.target.half = Some(link.half.to_string());
            }
        }
        self.refuse(draft, err).await
    }

    /// A closed account releases nothing, through its links either: say so
    /// (409 `account_closed`) before looking at the link itself, which the
    /// closure revoked. Unknown links are left to [`Self::unlock`].
    async fn ensure_link_account_open(&self, id: &str) -> Result<(), Error> {
        if !valid_id(id) {
            return Ok(());
        }
        let hash = id_hash(id);
        self.store
            .read(move |c| {
                let Some(link) = store::links::load(c, &hash)? else { return Ok(()) };
                match store::accounts::status(c, &link.account_id)?.as_deref() {
                    Some("closed" | "closed_permanently") => super::ensure_active(c, &link.account_id),
                    _ => Ok(()),
                }
            })
            .await
    }

    /// Check a link's state and passphrase before using it. A wrong
    /// passphrase is counted (and burns the link at the limit).
    async fn unlock(&self, id: &str, purpose: Purpose, passphrase: Option<SecretString>) -> Result<StoredLink, Error> {
        if !valid_id(id) {
            return Err(Error::NotFound("link"));
        }
        let hash = id_hash(id);
        let link = self
            .store
            .read({
                let hash = hash.clone();
                move |c| store::links::load(c, &hash)
            })
            .await?
            .ok_or(Error::NotFound("link"))?;
        check_usable(effective_state(link.state, link.expires_at, unix_now())).map_err(link_error)?;
        if link.purpose != purpose {
            return Err(link_error(LinkError::WrongPurpose(link.purpose.as_str())));
        }
        if let Some(stored) = link.passphrase_hash.clone() {
            // The attempt is counted before argon2 runs: concurrent guesses
            // each take a slot, and none is checked past the limit. A right
            // passphrase keeps its slot (the link is consumed right after).
            let claim = hash.clone();
            let Some(attempts) = self
                .store
                .write(move |b| store::links::count_passphrase_attempt(b.conn(), &claim, MAX_PASSPHRASE_ATTEMPTS))
                .await?
            else {
                return Err(link_error(LinkError::Burned));
            };
            let given = passphrase.map(|p| p.expose_secret().to_owned()).unwrap_or_default();
            let ok = tokio::task::spawn_blocking(move || passwords::matches(&given, &stored))
                .await
                .map_err(|_| Error::Internal("passphrase check failed".into()))?;
            if !ok {
                if attempts >= MAX_PASSPHRASE_ATTEMPTS {
                    self.store
                        .write(move |b| store::links::burn_if_spent(b.conn(), &hash, MAX_PASSPHRASE_ATTEMPTS))
                        .await?;
                    return Err(link_error(LinkError::Burned));
                }
                return Err(link_error(LinkError::WrongPassphrase(MAX_PASSPHRASE_ATTEMPTS - attempts)));
            }
        }
        Ok(link)
    }

    /// Open a deliver link: the ciphertext, exactly once (base64url of
    /// nonce ‖ AES-GCM ciphertext; the key is in the URL fragment).
    pub async fn open_link(
        &self,
        http: &HttpInfo,
        id: String,
        passphrase: Option<SecretString>,
    ) -> Result<String, Error> {
        let mut draft = EventDraft::new(None, Action::LinkOpen, link_target(None, None, &id), http);
        let unlocked = async {
            self.ensure_unsealed()?;
            self.ensure_link_account_open(&id).await?;
            self.unlock(&id, Purpose::Deliver, passphrase).await
        };
        let link = match unlocked.await {
            Ok(link) => link,
            Err(e) => return Err(self.refuse_for_link(draft, &id, e).await),
        };
        draft.target.account_id = Some(link.account_id.to_string());
        draft.target.half = Some(link.half.to_string());
        let (vault, handoff) = (self.clone(), link.handoff);
        let ciphertext = self
            .audited(draft, move |tx, draft, now| {
                let fresh = store::links::load(tx, &link.id_hash)?.ok_or(Error::NotFound("link"))?;
                check_usable(effective_state(fresh.state, fresh.expires_at, unix_now())).map_err(link_error)?;
                let ciphertext = fresh.ciphertext.clone().ok_or_else(|| link_error(LinkError::Used))?;
                if !store::links::mark_used(tx, &fresh.id_hash, now)? {
                    return Err(link_error(LinkError::Used));
                }
                if fresh.handoff {
                    vault.finish_handoff(tx, &fresh.account_id, draft, now)?;
                }
                Ok(B64URL.encode(ciphertext))
            })
            .await?;
        if handoff {
            self.forget_shredded().await;
        }
        Ok(ciphertext)
    }

    /// Use a collect link: the submitted password or otpauth URI becomes the
    /// new version of its half, checked like a deposit.
    pub async fn submit_link(
        &self,
        http: &HttpInfo,
        id: String,
        secret: LinkSecret,
        passphrase: Option<SecretString>,
    ) -> Result<u32, Error> {
        let mut draft = EventDraft::new(None, Action::LinkSubmit, link_target(None, None, &id), http);
        let prepared = async {
            self.ensure_unsealed()?;
            self.ensure_link_account_open(&id).await?;
            let link = self.unlock(&id, Purpose::Collect, passphrase).await?;
            let (bytes, hash) = match (&secret, link.half) {
                (LinkSecret::Password(pw), Half::Password) => {
                    check_supplied(pw.expose_secret())?;
                    let history = self
                        .store
                        .read({
                            let a = link.account_id.clone();
                            move |c| store::history::recent(c, &a)
                        })
                        .await?;
                    let hash = hash_new_password(pw, history).await?;
                    (Zeroizing::new(pw.expose_secret().as_bytes().to_vec()), Some(hash))
                }
                (LinkSecret::OtpauthUri(uri), Half::Mfa) => {
                    (MfaSeed::from_otpauth_uri(uri.expose_secret())?.to_payload(), None)
                }
                _ => return Err(Error::invalid("invalid_body", format!("this link collects the {} half", link.half))),
            };
            let account = link.account_id.clone();
            let fingerprint = self.fingerprint(&account, link.half, &bytes)?;
            let plan = self.plan_for_link(&account, link.half).await?;
            let sealed = self.encrypt(&account, link.half, &plan, &bytes).await?;
            Ok::<_, Error>((link, plan.version, sealed, hash, fingerprint))
        }
        .await;
        let (link, version, super::halves::Sealed { ciphertext, wrapped, sm_version_id }, hash, fingerprint) =
            match prepared {
                Ok(p) => p,
                Err(e) => return Err(self.refuse_for_link(draft, &id, e).await),
            };
        draft.target.account_id = Some(link.account_id.to_string());
        draft.target.half = Some(link.half.to_string());
        let by = format!("link:{}", &link.id_hash[..16]);
        let (vault, orgs, handoff) = (self.clone(), Arc::clone(&self.orgs), link.handoff);
        let version = self
            .audited(draft, move |tx, draft, now| {
                let fresh = store::links::load(tx, &link.id_hash)?.ok_or(Error::NotFound("link"))?;
                check_usable(effective_state(fresh.state, fresh.expires_at, unix_now())).map_err(link_error)?;
                let records = CustodyRecords::of_account(tx, &link.account_id)?;
                check_still_current(fresh.base_version, records.current.of(link.half)).map_err(link_error)?;
                if !fresh.handoff {
                    // The maker is exposed to what the link collects, so the
                    // custody and wall checks of its creation must still hold.
                    // Whoever holds the link learns nothing about why: the
                    // precise cause (which may name people) is for the auditors.
                    let maker: Principal = fresh
                        .created_by
                        .parse()
                        .map_err(|_| Error::Internal("links.created_by is not a principal".into()))?;
                    ensure_no_handoff_pending(tx, &link.account_id)?;
                    let checked = records
                        .state(&orgs)
                        .check_collect_link(&maker, fresh.made_as_admin, link.half)
                        .map_err(Error::from)
                        .and_then(|()| {
                            let makers = [&maker];
                            let new = Admission {
                                id: &link.account_id,
                                half: link.half,
                                version,
                                fingerprint: Some(&fingerprint),
                                makers: &makers,
                            };
                            admit_version(tx, &orgs, &records, new, draft, now)
                        });
                    if let Err(cause) = checked {
                        draft.details.insert("cause".into(), cause.to_string().into());
                        draft.details.insert("cause_code".into(), cause.code().into());
                        return Err(link_error(LinkError::Void));
                    }
                    store::exposures::record(
                        tx,
                        &link.account_id,
                        &maker,
                        link.half,
                        version,
                        ExposureKind::Collected,
                        now,
                    )?;
                    draft.details.insert("link_created_by".into(), maker.to_string().into());
                }
                let new = NewVersion {
                    account: &link.account_id,
                    half: link.half,
                    version,
                    ciphertext: &ciphertext,
                    wrapped: &wrapped,
                    source: Source::Link,
                    by: &by,
                    sm_version_id: sm_version_id.as_deref(),
                };
                if !store::halves::insert_current(tx, &new, now)? {
                    return Err(Error::conflict(
                        "concurrent_change",
                        "another version was deposited at the same time; retry",
                    ));
                }
                if let Some(hash) = &hash {
                    store::history::push(tx, &link.account_id, version, hash, now)?;
                }
                // A collect link to the signatory during onboarding (seed
                // 002) settles its half's item for the side of its maker.
                if let (false, Ok(maker)) = (fresh.handoff, fresh.created_by.parse::<Principal>()) {
                    let party = orgs.party_of(&records.account, &maker.org);
                    super::onboarding::tick(tx, &records.account, link.half, party, &by, version, draft, now)?;
                }
                if !store::links::mark_used(tx, &link.id_hash, now)? {
                    return Err(link_error(LinkError::Used));
                }
                draft.details.insert("version".into(), version.into());
                let data = serde_json::json!({"half": link.half.as_str(), "version": version, "source": "link"});
                notify(tx, &link.account_id, Event::HalfRotated, None, data, now)?;
                if fresh.handoff {
                    vault.finish_handoff(tx, &link.account_id, draft, now)?;
                }
                Ok(version)
            })
            .await?;
        if handoff {
            self.forget_shredded().await;
        }
        Ok(version)
    }
}

/// What a collect link receives.
#[derive(Debug)]
pub enum LinkSecret {
    Password(SecretString),
    OtpauthUri(SecretString),
}

#[cfg(test)]
mod id_tests {
    use std::collections::HashSet;

    use super::{encode_id, valid_id};

    #[test]
    fn link_ids_never_begin_with_a_dash_and_stay_distinct_for_every_first_byte() {
        let mut seen = HashSet::new();
        for first in 0..=255u8 {
            for last in [0x00, 0x01, 0x02, 0x03, 0x7f, 0xfc, 0xff] {
                let mut raw = [0x5a; 16];
                raw[0] = first;
                raw[15] = last;
                let id = encode_id(raw);
                assert!(!id.starts_with('-'), "{id} from first byte {first:#04x}");
                assert!(valid_id(&id), "{id}");
                assert!(seen.insert(id.clone()), "two byte strings gave {id}");
            }
        }
        assert_eq!(seen.len(), 256 * 7);
    }
}
