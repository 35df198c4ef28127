//! The OpenID Connect relying party: one client per org's provider.
//!
//! Discovery, the authorization URL (code flow, PKCE S256, `state`,
//! `nonce`, optional `max_age`), the code exchange and the ID token's
//! verification (signature, `iss`, `aud`, `exp`, `nonce`, `auth_time`) are
//! the `openidconnect` crate's; this module only chooses the provider,
//! caches its metadata and maps verified claims to a principal. A
//! provider's metadata and keys are fetched on first use, again when an
//! hour old, and again when an ID token names a key the cached set lacks
//! (at most once a minute, so a stream of bogus `kid`s cannot make the
//! service hammer the provider).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use openidconnect::core::{
    CoreAuthenticationFlow, CoreClient, CoreIdToken, CoreJsonWebKeySet, CoreJwsSigningAlgorithm, CoreProviderMetadata,
};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, CsrfToken, IssuerUrl, Nonce, PkceCodeChallenge,
    PkceCodeVerifier, RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde_json::Value;

use super::refresh::{REFRESH_INTERVAL, UNKNOWN_KID_MIN_INTERVAL};
use crate::config::{OidcIssuer, OidcSettings, OrgConfig};
use crate::domain::account::Email;
use crate::domain::ids::{OrgName, Principal, Subject};
use crate::store::sessions::Identity;

/// Calls to a provider give up after this long.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);
/// Asymmetric algorithms only: an HMAC ID token would be keyed by the
/// client secret, which is not a signature of the provider's.
const ALGORITHMS: [CoreJwsSigningAlgorithm; 6] = [
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha256,
    CoreJwsSigningAlgorithm::RsaSsaPssSha256,
    CoreJwsSigningAlgorithm::EcdsaP256Sha256,
    CoreJwsSigningAlgorithm::EcdsaP384Sha384,
    CoreJwsSigningAlgorithm::EdDsa,
    CoreJwsSigningAlgorithm::RsaSsaPkcs1V15Sha512,
];

/// Why a sign-in could not be completed. The text goes to the audit log
/// and, as a plain sentence, to the person; none carries a secret.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SigninError {
    #[error("org {0} has no identity provider configured")]
    UnknownOrg(String),
    #[error("the identity provider could not be reached or described itself wrongly: {0}")]
    Discovery(String),
    #[error("the identity provider did not accept the sign-in ({0})")]
    ProviderRefused(String),
    #[error("the identity provider sent no ID token")]
    NoIdToken,
    #[error("the ID token was refused: {0}")]
    IdToken(&'static str),
    #[error("the ID token has no usable `{0}` claim")]
    MissingClaim(String),
}

struct Cached {
    metadata: CoreProviderMetadata,
    fetched_at: Instant,
    keys_refetched_at: Option<Instant>,
}

struct Provider {
    settings: OidcSettings,
    cache: tokio::sync::Mutex<Option<Cached>>,
}

/// A client built from a provider's discovered metadata: its authorization
/// endpoint is known, its token and user-info endpoints are as discovered.
type ProviderClient = CoreClient<
    openidconnect::EndpointSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointNotSet,
    openidconnect::EndpointMaybeSet,
    openidconnect::EndpointMaybeSet,
>;

/// The relying party for every org that has a provider.
pub struct RelyingParty {
    providers: HashMap<OrgName, Provider>,
    http: openidconnect::reqwest::Client,
}

impl std::fmt::Debug for RelyingParty {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RelyingParty").field("orgs", &self.orgs()).finish()
    }
}

/// What to send the browser to the provider with.
#[derive(Debug)]
pub struct AuthorizeRequest<'a> {
    pub org: &'a OrgName,
    pub public_url: &'a str,
    pub state: &'a str,
    pub nonce: &'a str,
    pub pkce_verifier: &'a str,
    pub max_age: Option<Duration>,
}

/// The provider's answer to redeem.
#[derive(Debug)]
pub struct Redemption<'a> {
    pub org: &'a OrgName,
    pub public_url: &'a str,
    pub code: &'a str,
    pub pkce_verifier: &'a str,
    pub nonce: &'a str,
    pub max_age: Option<Duration>,
    /// The service's clock (Unix seconds), for `auth_time` with `max_age`.
    pub now: i64,
}

/// The one redirect URI the service registers with every provider.
pub fn redirect_uri(public_url: &str) -> String {
    format!("{}/auth/callback", public_url.trim_end_matches('/'))
}

/// The issuer of an org's dev identity provider.
pub fn dev_issuer(public_url: &str, org: &OrgName) -> String {
    format!("{}/dev/idp/{org}", public_url.trim_end_matches('/'))
}

impl RelyingParty {
    pub fn new(orgs: &[OrgConfig]) -> Result<Self, String> {
        let providers = orgs
            .iter()
            .filter_map(|o| o.oidc.clone().map(|settings| (o.name.clone(), settings)))
            .map(|(org, settings)| (org, Provider { settings, cache: tokio::sync::Mutex::new(None) }))
            .collect();
        // No redirects: a provider's endpoints answer directly, and following
        // redirects would let a hostile document send the service anywhere.
        let http = openidconnect::reqwest::Client::builder()
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("cannot build the HTTP client for identity providers: {e}"))?;
        Ok(Self { providers, http })
    }

    /// The orgs people can sign in to, in name order.
    pub fn orgs(&self) -> Vec<OrgName> {
        let mut orgs: Vec<OrgName> = self.providers.keys().cloned().collect();
        orgs.sort();
        orgs
    }

    fn provider(&self, org: &OrgName) -> Result<&Provider, SigninError> {
        self.providers.get(org).ok_or_else(|| SigninError::UnknownOrg(org.to_string()))
    }

    fn issuer(settings: &OidcSettings, public_url: &str, org: &OrgName) -> String {
        match &settings.issuer {
            OidcIssuer::Url(url) => url.clone(),
            OidcIssuer::DevIdp => dev_issuer(public_url, org),
        }
    }

    /// The provider's metadata, fetched when missing or an hour old.
    async fn metadata(
        &self,
        provider: &Provider,
        public_url: &str,
        org: &OrgName,
    ) -> Result<CoreProviderMetadata, SigninError> {
        let mut cache = provider.cache.lock().await;
        if let Some(cached) = cache.as_ref()
            && cached.fetched_at.elapsed() < REFRESH_INTERVAL
        {
            return Ok(cached.metadata.clone());
        }
        let issuer = IssuerUrl::new(Self::issuer(&provider.settings, public_url, org))
            .map_err(|_| SigninError::Discovery("the issuer is not a URL".into()))?;
        match CoreProviderMetadata::discover_async(issuer, &self.http).await {
            Ok(metadata) => {
                *cache =
                    Some(Cached { metadata: metadata.clone(), fetched_at: Instant::now(), keys_refetched_at: None });
                Ok(metadata)
            }
            // A provider briefly down keeps the service working on what it knew.
            Err(e) => match cache.as_ref() {
                Some(cached) => {
                    tracing::warn!(%org, error = %e, "identity provider metadata refresh failed; keeping the cached copy");
                    Ok(cached.metadata.clone())
                }
                None => Err(SigninError::Discovery(printable(&e.to_string()))),
            },
        }
    }

    /// Fetch the provider's keys again, unless that happened within the
    /// last minute; returns the metadata with the new keys if it did.
    async fn refetch_keys(&self, provider: &Provider, org: &OrgName) -> Option<CoreProviderMetadata> {
        let mut cache = provider.cache.lock().await;
        let cached = cache.as_mut()?;
        if cached.keys_refetched_at.is_some_and(|t| t.elapsed() < UNKNOWN_KID_MIN_INTERVAL) {
            return None;
        }
        cached.keys_refetched_at = Some(Instant::now());
        match CoreJsonWebKeySet::fetch_async(cached.metadata.jwks_uri(), &self.http).await {
            Ok(keys) => {
                cached.metadata = cached.metadata.clone().set_jwks(keys);
                Some(cached.metadata.clone())
            }
            Err(e) => {
                tracing::warn!(%org, error = %e, "identity provider keys could not be fetched again");
                None
            }
        }
    }

    fn client(
        metadata: CoreProviderMetadata,
        settings: &OidcSettings,
        public_url: &str,
    ) -> Result<ProviderClient, SigninError> {
        let redirect = RedirectUrl::new(redirect_uri(public_url))
            .map_err(|_| SigninError::Discovery("the service's public URL is not a URL".into()))?;
        let secret = openidconnect::ClientSecret::new(settings.client_secret.expose().to_owned());
        Ok(CoreClient::from_provider_metadata(metadata, ClientId::new(settings.client_id.clone()), Some(secret))
            .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for a new sign-in.
    pub async fn authorize_url(&self, request: AuthorizeRequest<'_>) -> Result<String, SigninError> {
        let provider = self.provider(request.org)?;
        let metadata = self.metadata(provider, request.public_url, request.org).await?;
        let client = Self::client(metadata, &provider.settings, request.public_url)?;
        let challenge =
            PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(request.pkce_verifier.to_owned()));
        let (state, nonce) = (request.state.to_owned(), request.nonce.to_owned());
        let mut auth = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .set_pkce_challenge(challenge);
        for scope in provider.settings.scopes.iter().filter(|s| *s != "openid") {
            auth = auth.add_scope(Scope::new(scope.clone()));
        }
        if let Some(max_age) = request.max_age {
            auth = auth.set_max_age(max_age);
        }
        let (url, _, _) = auth.url();
        Ok(url.to_string())
    }

    /// Redeem a code at the provider and verify the ID token it returns.
    pub async fn redeem(&self, r: Redemption<'_>) -> Result<SignedIn, SigninError> {
        let provider = self.provider(r.org)?;
        let metadata = self.metadata(provider, r.public_url, r.org).await?;
        let client = Self::client(metadata, &provider.settings, r.public_url)?;
        let response = client
            .exchange_code(AuthorizationCode::new(r.code.to_owned()))
            .map_err(|_| SigninError::Discovery("the provider names no token endpoint".into()))?
            .set_pkce_verifier(PkceCodeVerifier::new(r.pkce_verifier.to_owned()))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                RequestTokenError::ServerResponse(e) => SigninError::ProviderRefused(error_code(e.error().as_ref())),
                RequestTokenError::Request(_) => {
                    SigninError::ProviderRefused("its token endpoint is unreachable".into())
                }
                RequestTokenError::Parse(..) | RequestTokenError::Other(_) => {
                    SigninError::ProviderRefused("its token endpoint answered something unreadable".into())
                }
            })?;
        let id_token = response.id_token().ok_or(SigninError::NoIdToken)?.clone();
        let claims = match self.verify(&client, &id_token, &r) {
            Err(SigninError::IdToken(NO_MATCHING_KEY)) => match self.refetch_keys(provider, r.org).await {
                Some(fresh) => self.verify(&Self::client(fresh, &provider.settings, r.public_url)?, &id_token, &r)?,
                None => return Err(SigninError::IdToken(NO_MATCHING_KEY)),
            },
            other => other?,
        };
        Ok(SignedIn { identity: identity(r.org, &provider.settings, &claims)?, email: verified_email(&claims) })
    }

    /// Verify the ID token and return its (now trusted) claims as JSON.
    fn verify(
        &self,
        client: &ProviderClient,
        id_token: &CoreIdToken,
        r: &Redemption<'_>,
    ) -> Result<Value, SigninError> {
        let max_age = r.max_age;
        let now = r.now;
        let verifier = client.id_token_verifier().set_allowed_algs(ALGORITHMS).set_auth_time_verifier_fn(
            move |auth_time| match (max_age, auth_time) {
                (None, _) => Ok(()),
                (Some(_), None) => Err("the provider did not say when the person signed in".to_owned()),
                (Some(max), Some(t)) if now - t.timestamp() <= max.as_secs() as i64 + 60 => Ok(()),
                (Some(_), Some(_)) => Err("the sign-in at the provider is older than asked".to_owned()),
            },
        );
        id_token.claims(&verifier, &Nonce::new(r.nonce.to_owned())).map_err(|e| {
            SigninError::IdToken(match e {
                ClaimsVerificationError::Expired(_) => "it has expired",
                ClaimsVerificationError::InvalidAudience(_) => "it is meant for another client",
                ClaimsVerificationError::InvalidIssuer(_) => "it comes from another issuer",
                ClaimsVerificationError::InvalidNonce(_) => "its nonce does not match this sign-in",
                ClaimsVerificationError::InvalidAuthTime(_) => "the sign-in at the provider is not recent enough",
                ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey) => {
                    NO_MATCHING_KEY
                }
                ClaimsVerificationError::SignatureVerification(_) => "its signature does not verify",
                _ => "it is not valid",
            })
        })?;
        // The signature covers exactly these bytes, so reading the claims
        // the standard types drop (roles, groups) from them is safe.
        let jwt = id_token.to_string();
        let payload = jwt.split('.').nth(1).ok_or(SigninError::IdToken("it is not valid"))?;
        let bytes = URL_SAFE_NO_PAD.decode(payload).map_err(|_| SigninError::IdToken("it is not valid"))?;
        serde_json::from_slice(&bytes).map_err(|_| SigninError::IdToken("it is not valid"))
    }
}

const NO_MATCHING_KEY: &str = "it is signed by a key the provider does not publish";

/// A provider's `error` code as the page and the audit log may show it:
/// the standard codes are short and printable, but the provider chooses the
/// text, so it is kept bounded and printable whatever it sent.
pub fn error_code(raw: &str) -> String {
    raw.chars().filter(char::is_ascii_graphic).take(64).collect()
}

/// Text a provider may have chosen (an error from discovery), as the page
/// and the audit log may show it: one line, printable, bounded.
fn printable(raw: &str) -> String {
    raw.chars().map(|c| if c.is_control() { ' ' } else { c }).take(200).collect()
}

/// A claim as a list of strings (a single string counts as one).
fn strings(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect(),
        _ => Vec::new(),
    }
}

/// Who a verified ID token names, and the address it vouches for.
#[derive(Debug, Clone)]
pub struct SignedIn {
    pub identity: Identity,
    /// The `email` claim, unless the provider says it is not verified.
    pub email: Option<Email>,
}

/// The `email` claim, unless `email_verified` is `false`: notifications
/// about a person's own requests go there.
fn verified_email(claims: &Value) -> Option<Email> {
    if claims.get("email_verified").and_then(Value::as_bool) == Some(false) {
        return None;
    }
    claims.get("email").and_then(Value::as_str).and_then(|e| e.parse().ok())
}

/// Map verified claims to the person they name.
fn identity(org: &OrgName, settings: &OidcSettings, claims: &Value) -> Result<Identity, SigninError> {
    let missing = |name: &str| SigninError::MissingClaim(name.to_owned());
    let sub = claims
        .get(&settings.subject_claim)
        .and_then(Value::as_str)
        .and_then(|s| s.parse::<Subject>().ok())
        .ok_or_else(|| missing(&settings.subject_claim))?;
    let auth_time = claims
        .get("auth_time")
        .and_then(Value::as_i64)
        .or_else(|| claims.get("iat").and_then(Value::as_i64))
        .ok_or_else(|| missing("iat"))?;
    let display = claims.get(&settings.display_claim).and_then(Value::as_str).map(|d| {
        // Shown in pages and events: printable and bounded.
        d.chars().filter(|c| !c.is_control()).take(128).collect::<String>()
    });
    Ok(Identity {
        principal: Principal::new(org.clone(), sub),
        roles: settings.roles_of(&strings(claims.get(&settings.roles_claim))),
        display,
        auth_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientSecret;
    use crate::domain::ids::Role;
    use serde_json::json;

    #[test]
    fn claims_map_to_a_principal_of_the_providers_org() {
        let mut settings = OidcSettings::dev("c", ClientSecret::new("s".to_owned().into()));
        settings.roles_claim = "groups".into();
        settings.role_map = Some([("ops".to_owned(), Role::Staff), ("sec".to_owned(), Role::Auditor)].into());
        let org: OrgName = "globex".parse().unwrap();
        let claims = json!({"sub": "gus", "email": "gus@globex.example", "groups": ["ops", "other"], "iat": 100});
        let who = identity(&org, &settings, &claims).unwrap();
        assert_eq!(who.principal.to_string(), "globex/gus");
        assert_eq!(who.roles, [Role::Staff]);
        assert_eq!((who.display.as_deref(), who.auth_time), (Some("gus@globex.example"), 100));
        let one = identity(&org, &settings, &json!({"sub": "gus", "groups": "sec", "auth_time": 90, "iat": 100}));
        assert_eq!(one.unwrap().roles, [Role::Auditor]);
        settings.subject_claim = "preferred_username".into();
        assert_eq!(
            identity(&org, &settings, &claims).unwrap_err(),
            SigninError::MissingClaim("preferred_username".into())
        );
        settings.subject_claim = "sub".into();
        assert!(identity(&org, &settings, &json!({"sub": "a/b", "iat": 1})).is_err(), "a subject with / is refused");
    }
}
