//! People signing in through their org's identity provider (DESIGN §13,
//! docs/signin.md): starting and finishing the browser flow, console
//! sessions, `rootvault login`'s one-time codes and service tokens, and
//! signing out.
//!
//! A session is created in the same write as its `auth.signin` event, and
//! ended in the same write as its `auth.signout` event; a refused sign-in
//! is recorded and creates nothing.

use std::sync::Arc;
use std::time::Duration;

use crate::store::Conn;
use subtle::ConstantTimeEq;

use super::Vault;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::auth::oidc::{AuthorizeRequest, Redemption, RelyingParty};
use crate::auth::secret::{Secret, hash_text, pkce_matches};
use crate::auth::service_token::{Grant, KEY_NAME, ServiceTokenKey};
use crate::crypto::{EncryptionContext, WrappedKey};
use crate::domain::ids::{OrgName, Role};
use crate::domain::session::{CliStartError, SessionState, check_cli_start, cli_callback, safe_return_to};
use crate::error::Error;
use crate::store::sessions::{self, CliCode, CliContinuation, Identity, PendingSignin, SessionKind};
use crate::store::{StoreError, people};

/// A CLI code works for this long after the browser is sent back.
const CLI_CODE_TTL_SECONDS: i64 = 60;
/// A session's last use is written at most this often.
const TOUCH_INTERVAL_SECONDS: i64 = 60;

/// What `rootvault login` starts with (`GET /v1/auth/cli/start`).
#[derive(Debug)]
pub struct CliStart<'a> {
    pub org: &'a str,
    pub port: u32,
    pub code_challenge: &'a str,
    pub state: &'a str,
    pub redirect_uri: Option<&'a str>,
}

/// What the browser does after the provider sent it back.
pub enum SigninDone {
    /// A console session was opened: set its cookie, go to `return_to`.
    Console { session: Secret, return_to: String },
    /// `rootvault login` is waiting: send the browser to its listener.
    Cli { redirect: String },
}

impl std::fmt::Debug for SigninDone {
    /// The CLI redirect carries a one-time code: never printed.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SigninDone::Console { return_to, .. } => f.debug_struct("Console").field("return_to", return_to).finish(),
            SigninDone::Cli { .. } => f.write_str("Cli(…)"),
        }
    }
}

/// A signed-in console visitor.
#[derive(Debug, Clone)]
pub struct ConsoleSession {
    pub caller: Caller,
    pub display: Option<String>,
    pub secret: Secret,
}

impl ConsoleSession {
    /// The token every state-changing form of this session carries.
    pub fn csrf_token(&self) -> String {
        self.secret.csrf_token()
    }
}

/// What `POST /v1/auth/cli/token` answers.
#[derive(Debug)]
pub struct CliToken {
    pub token: secrecy::SecretString,
    pub identity: Identity,
    pub expires_at: i64,
}

/// The sign-in start's answer: where to send the browser, and the secret
/// that binds the pending sign-in to it (the `rv_login` cookie).
#[derive(Debug)]
pub struct SigninStart {
    pub provider_url: String,
    pub browser: Secret,
}

fn signin_draft(http: &HttpInfo, org: Option<&str>, method: &str) -> EventDraft {
    let draft = EventDraft::new(None, Action::AuthSignin, Target::default(), http).detail("method", method);
    match org {
        Some(org) => draft.detail("org", org),
        None => draft,
    }
}

fn refused(message: impl Into<String>) -> Error {
    Error::malformed("signin_refused", message)
}

impl Vault {
    /// Turn on people's sign-in with these providers and limits.
    pub fn with_signin(mut self, rp: RelyingParty, settings: crate::config::AuthSettings, audience: String) -> Self {
        self.signin = Some(Arc::new(rp));
        self.auth_settings = settings;
        self.audience = audience;
        self
    }

    /// The orgs people can sign in to.
    pub fn signin_orgs(&self) -> Vec<OrgName> {
        self.signin.as_ref().map(|rp| rp.orgs()).unwrap_or_default()
    }

    pub fn auth_settings(&self) -> crate::config::AuthSettings {
        self.auth_settings
    }

    fn relying_party(&self) -> Result<&RelyingParty, Error> {
        self.signin.as_deref().ok_or(Error::NotFound("identity provider"))
    }

    /// The clock of sessions and step-up: the calendar clock, which tests
    /// move.
    pub(super) fn now_unix(&self) -> i64 {
        self.calendar_now().unix_timestamp()
    }

    /// Start a sign-in for `org`: remember it (bound to a new browser
    /// secret) and return the provider's URL. `max_age` asks the provider
    /// for a sign-in at most that old (step-up).
    pub async fn begin_signin(
        &self,
        org: &str,
        return_to: Option<&str>,
        max_age: Option<Duration>,
        cli: Option<CliContinuation>,
    ) -> Result<SigninStart, Error> {
        self.ensure_unsealed()?;
        let rp = self.relying_party()?;
        let org: OrgName = org.parse().map_err(|_| Error::NotFound("identity provider"))?;
        let (state, nonce, browser) = (Secret::random(), Secret::random(), Secret::random());
        let public_url = self.public_url();
        let verifier = browser.pkce_verifier(state.expose());
        let provider_url = rp
            .authorize_url(AuthorizeRequest {
                org: &org,
                public_url: &public_url,
                state: state.expose(),
                nonce: nonce.expose(),
                pkce_verifier: &verifier,
                max_age,
            })
            .await
            .map_err(|e| match e {
                crate::auth::oidc::SigninError::UnknownOrg(_) => Error::NotFound("identity provider"),
                other => Error::Unavailable(other.to_string()),
            })?;
        let pending = PendingSignin {
            browser_hash: browser.hash(),
            org: org.to_string(),
            nonce: nonce.expose().to_owned(),
            return_to: safe_return_to(return_to),
            max_age: max_age.map(|m| m.as_secs() as i64),
            cli,
            created_at: self.now_unix(),
        };
        let state_hash = state.hash();
        self.store.write(move |b| sessions::insert_pending(b.conn(), &state_hash, &pending)).await?;
        Ok(SigninStart { provider_url, browser })
    }

    /// Start a sign-in for `rootvault login`: check what it asks for (its
    /// callback can only be its own loopback listener), then as
    /// [`Vault::begin_signin`]. A refusal is an `auth.signin` event.
    pub async fn begin_cli_signin(&self, http: &HttpInfo, start: CliStart<'_>) -> Result<SigninStart, Error> {
        let draft = signin_draft(http, Some(start.org), "cli");
        let checked = check_cli_start(start.port, start.code_challenge, start.state, start.redirect_uri);
        let port = match checked {
            Ok(port) => port,
            Err(e) => {
                let code = if e == CliStartError::Callback { "invalid_callback" } else { "invalid_request" };
                return Err(self
                    .refuse(draft.detail("problem", e.to_string()), Error::malformed(code, e.to_string()))
                    .await);
            }
        };
        let cli =
            CliContinuation { port, state: start.state.to_owned(), code_challenge: start.code_challenge.to_owned() };
        self.begin_signin(start.org, None, None, Some(cli)).await
    }

    /// Finish a sign-in when the provider sends the browser back. Every
    /// refusal is an `auth.signin` event with its reason, and creates
    /// nothing.
    pub async fn finish_signin(
        &self,
        http: &HttpInfo,
        state: Option<&str>,
        code: Option<&str>,
        provider_error: Option<&str>,
        browser: Option<Secret>,
        previous: Option<Secret>,
    ) -> Result<SigninDone, Error> {
        let unknown = "This sign-in link is not valid (anymore): start again from the sign-in page.";
        let draft = signin_draft(http, None, "oidc");
        let Some(state) = state.filter(|s| !s.is_empty() && s.len() <= 128) else {
            return Err(self.refuse(draft.detail("problem", "no state"), refused(unknown)).await);
        };
        let state_hash = hash_text(state);
        let pending = self.store.write(move |b| sessions::take_pending(b.conn(), &state_hash)).await?;
        let Some(pending) = pending else {
            return Err(self.refuse(draft.detail("problem", "unknown or already used state"), refused(unknown)).await);
        };
        let method = if pending.cli.is_some() { "cli" } else { "oidc" };
        let draft = signin_draft(http, Some(&pending.org), method);
        let now = self.now_unix();
        if now - pending.created_at > sessions::PENDING_TTL_SECONDS {
            return Err(self.refuse(draft.detail("problem", "the sign-in took too long"), refused(unknown)).await);
        }
        let same_browser =
            browser.as_ref().is_some_and(|b| bool::from(b.hash().as_bytes().ct_eq(pending.browser_hash.as_bytes())));
        let Some(browser) = browser.filter(|_| same_browser) else {
            let message = "This sign-in was started in another browser (or its cookie is gone): start again here.";
            return Err(self
                .refuse(draft.detail("problem", "the sign-in cookie does not match"), refused(message))
                .await);
        };
        if let Some(error) = provider_error {
            let error = crate::auth::oidc::error_code(error);
            let message = format!("Your identity provider did not sign you in ({error}).");
            return Err(self
                .refuse(draft.detail("problem", format!("provider error {error}")), refused(message))
                .await);
        }
        let Some(code) = code.filter(|c| !c.is_empty()) else {
            return Err(self.refuse(draft.detail("problem", "no code"), refused(unknown)).await);
        };
        let org: OrgName =
            pending.org.parse().map_err(|_| Error::Internal("a pending sign-in names a bad org".into()))?;
        let public_url = self.public_url();
        let verifier = browser.pkce_verifier(state);
        let redeemed = self
            .relying_party()?
            .redeem(Redemption {
                org: &org,
                public_url: &public_url,
                code,
                pkce_verifier: &verifier,
                nonce: &pending.nonce,
                max_age: pending.max_age.map(|s| Duration::from_secs(s.max(0) as u64)),
                now,
            })
            .await;
        let (identity, email) = match redeemed {
            Ok(signed_in) => (signed_in.identity, signed_in.email),
            Err(e) => {
                let message = format!("The sign-in was refused: {e}.");
                return Err(self.refuse(draft.detail("problem", e.to_string()), refused(message)).await);
            }
        };
        if let Some(email) = email {
            // Best effort: without it the person only misses e-mail about
            // their own requests until their next sign-in.
            let who = identity.principal.clone();
            if let Err(e) = self.store.write(move |b| people::remember(b.conn(), &who, &email, now)).await {
                tracing::warn!(error = %e, "could not remember a person's e-mail address");
            }
        }
        match pending.cli {
            Some(cli) => self.issue_cli_code(draft, identity, cli).await,
            None => self.open_console_session(draft, identity, pending.return_to, previous).await,
        }
    }

    async fn open_console_session(
        &self,
        draft: EventDraft,
        identity: Identity,
        return_to: String,
        previous: Option<Secret>,
    ) -> Result<SigninDone, Error> {
        let session = Secret::random();
        // A sign-in from a browser that had a session (step-up, or another
        // person at the same browser) replaces it.
        let previous = previous.map(|p| p.hash());
        let (hash, now) = (session.hash(), self.now_unix());
        let expires_at = now + self.auth_settings.session_absolute_timeout.as_secs() as i64;
        let mut draft = draft.detail("session", session.log_hash()).detail("roles", roles_value(&identity.roles));
        draft.actor = Some(identity.principal.clone());
        self.audited(draft, move |tx, _, _| {
            if let Some(previous) = previous {
                sessions::end(tx, &previous, now, "replaced by a new sign-in")?;
            }
            sessions::insert_session(tx, &hash, SessionKind::Console, &identity, now, expires_at)?;
            Ok(())
        })
        .await?;
        Ok(SigninDone::Console { session, return_to })
    }

    async fn issue_cli_code(
        &self,
        draft: EventDraft,
        identity: Identity,
        cli: CliContinuation,
    ) -> Result<SigninDone, Error> {
        let code = Secret::random();
        let stored = CliCode {
            identity,
            code_challenge: cli.code_challenge.clone(),
            expires_at: self.now_unix() + CLI_CODE_TTL_SECONDS,
        };
        let (hash, now) = (code.hash(), self.now_unix());
        let written = self.store.write(move |b| sessions::insert_code(b.conn(), &hash, &stored, now)).await;
        if let Err(e) = written {
            return Err(self.refuse(draft, Error::from(e)).await);
        }
        let mut redirect = url::Url::parse(&cli_callback(cli.port))
            .map_err(|_| Error::Internal("the CLI callback is not a URL".into()))?;
        redirect.query_pairs_mut().append_pair("code", code.expose()).append_pair("state", &cli.state);
        Ok(SigninDone::Cli { redirect: redirect.to_string() })
    }

    /// Exchange a CLI code and its PKCE verifier for a service token.
    pub async fn cli_token(&self, http: &HttpInfo, code: &str, verifier: &str) -> Result<CliToken, Error> {
        let draft = signin_draft(http, None, "cli");
        let invalid =
            || Error::malformed("invalid_grant", "the code is unknown, used, expired or not for this verifier");
        let key = match self.token_key() {
            Ok(key) => key,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let code_hash = hash_text(code);
        let taken = self.store.write(move |b| sessions::take_code(b.conn(), &code_hash)).await?;
        let now = self.now_unix();
        let Some(taken) = taken.filter(|c| c.expires_at > now) else {
            return Err(self.refuse(draft.detail("problem", "unknown, used or expired code"), invalid()).await);
        };
        let draft = signin_draft(http, Some(taken.identity.principal.org.as_str()), "cli");
        if !pkce_matches(verifier, &taken.code_challenge) {
            return Err(self.refuse(draft.detail("problem", "the PKCE verifier does not match"), invalid()).await);
        }
        let identity = taken.identity;
        let sid = Secret::random();
        let expires_at = now + self.auth_settings.session_absolute_timeout.as_secs() as i64;
        let (issuer, principal) = (self.public_url(), identity.principal.to_string());
        let token = key
            .mint(&Grant {
                issuer: &issuer,
                audience: &self.audience,
                principal: &principal,
                sid: &sid,
                auth_time: identity.auth_time,
                now,
                expires_at,
            })
            .map_err(Error::Internal)?;
        let mut draft = draft.detail("session", sid.log_hash()).detail("roles", roles_value(&identity.roles));
        draft.actor = Some(identity.principal.clone());
        let (hash, stored) = (sid.hash(), identity.clone());
        self.audited(draft, move |tx, _, _| {
            sessions::insert_session(tx, &hash, SessionKind::Cli, &stored, now, expires_at)?;
            Ok(())
        })
        .await?;
        Ok(CliToken { token: token.into(), identity, expires_at })
    }

    /// The console session a cookie names, if it is active. A cookie that
    /// names no session (tampered, forged, or from before a sign-out) is
    /// refused with the reason for the audit log.
    pub async fn console_session(&self, cookie: &str) -> Result<ConsoleSession, &'static str> {
        let secret = Secret::parse(cookie).ok_or("malformed session cookie")?;
        let idle = self.auth_settings.session_idle_timeout.as_secs() as i64;
        let caller = self.session_caller(&secret, SessionKind::Console, Some(idle)).await?;
        let display = caller.1;
        Ok(ConsoleSession { caller: caller.0, display, secret })
    }

    /// The caller a service token speaks for, if its session is active.
    pub async fn service_token_caller(&self, token: &str) -> Result<Caller, &'static str> {
        let key = self.token_key().map_err(|_| "the service's token key is not loaded (sealed)")?;
        let verified = key.verify(token, &self.public_url(), &self.audience)?;
        Ok(self.session_caller(&verified.sid, SessionKind::Cli, None).await?.0)
    }

    /// Whether `token` was issued by this service (its `iss` is ours).
    pub fn is_service_token(&self, token: &str) -> bool {
        crate::auth::jwt::claimed_issuer(token).is_some_and(|iss| iss == self.public_url())
    }

    async fn session_caller(
        &self,
        secret: &Secret,
        kind: SessionKind,
        idle: Option<i64>,
    ) -> Result<(Caller, Option<String>), &'static str> {
        let hash = secret.hash();
        let lookup = hash.clone();
        let stored = self
            .store
            .read(move |c| sessions::session(c, &lookup))
            .await
            .map_err(|_: StoreError| "the session store is unavailable")?
            .filter(|s| s.kind == kind)
            .ok_or("unknown session")?;
        let now = self.now_unix();
        match stored.times.state(idle, now) {
            SessionState::Active => {}
            SessionState::Ended => return Err("session ended"),
            state => {
                let reason = state.reason();
                let _ = self.store.write(move |b| sessions::end(b.conn(), &hash, now, reason)).await;
                return Err(reason);
            }
        }
        if idle.is_some() && now - stored.times.last_seen_at >= TOUCH_INTERVAL_SECONDS {
            // Best effort: a failed touch only brings the idle end closer.
            let _ = self.store.write(move |b| sessions::touch(b.conn(), &hash, now)).await;
        }
        let who = stored.identity;
        let caller =
            Caller { principal: who.principal, roles: who.roles.into_iter().collect(), auth_time: Some(who.auth_time) };
        Ok((caller, who.display))
    }

    /// End the session `secret` names (sign-out), with its event.
    pub async fn sign_out(&self, caller: &Caller, http: &HttpInfo, secret: &Secret, method: &str) -> Result<(), Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::AuthSignout, Target::default(), http)
            .detail("org", caller.principal.org.to_string())
            .detail("method", method)
            .detail("session", secret.log_hash());
        let (hash, now) = (secret.hash(), self.now_unix());
        self.audited(draft, move |tx, _, _| end_session(tx, &hash, now)).await
    }

    /// Sign out the session of a service token.
    pub async fn sign_out_token(&self, caller: &Caller, http: &HttpInfo, token: &str) -> Result<(), Error> {
        let key = self.token_key()?;
        let verified = key.verify(token, &self.public_url(), &self.audience).map_err(|_| Error::Unauthenticated)?;
        self.sign_out(caller, http, &verified.sid, "cli").await
    }

    /// Refuse a release unless the caller signed in recently enough.
    pub(super) fn require_recent_signin(&self, caller: &Caller) -> Result<(), Error> {
        let max_age = self.auth_settings.release_max_auth_age.as_secs() as i64;
        if crate::domain::session::recent_enough(caller.auth_time, max_age, self.now_unix()) {
            Ok(())
        } else {
            Err(Error::ReauthenticationRequired)
        }
    }

    fn token_key(&self) -> Result<Arc<ServiceTokenKey>, Error> {
        self.token_key.read().unwrap_or_else(std::sync::PoisonError::into_inner).clone().ok_or(Error::Sealed)
    }

    /// Load (creating on first use) the key service tokens are signed
    /// with. Called once the key provider is unsealed.
    pub(super) async fn load_token_key(&self) -> Result<(), Error> {
        let read = |c: &Conn| sessions::service_key(c, KEY_NAME);
        let store =
            |c: &Conn, w: &WrappedKey, now: &str| sessions::store_service_key(c, KEY_NAME, &w.blob, &w.key_id, now);
        let (seed, _) =
            self.service_data_key(&EncryptionContext::service_key(KEY_NAME), "service token key", read, store).await?;
        let key = ServiceTokenKey::from_seed(seed.expose()).map_err(Error::Internal)?;
        *self.token_key.write().unwrap_or_else(std::sync::PoisonError::into_inner) = Some(Arc::new(key));
        Ok(())
    }
}

fn end_session(tx: &Conn, hash: &str, now: i64) -> Result<(), Error> {
    if sessions::end(tx, hash, now, "signed out")? {
        Ok(())
    } else {
        Err(Error::conflict("session_ended", "this session has already ended"))
    }
}

fn roles_value(roles: &[Role]) -> serde_json::Value {
    roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().into()
}
