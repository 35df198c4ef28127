//! Dev-mode issuers: one local Ed25519 key per org.
//!
//! In dev mode every org gets an issuer whose private key lives in the data
//! directory, so `rootvault token` can mint tokens for any demo person. A
//! production server never uses these: its issuers come from configuration.

use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use rand::rngs::OsRng;
use serde::Serialize;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::jwt::TrustedIssuer;
use crate::domain::ids::{OrgName, Role, Subject};

/// The folder of dev issuer keys inside a data directory; its presence is
/// what marks a data directory as a dev one.
pub const DEV_ISSUERS_DIR: &str = "dev-issuers";

#[derive(Debug, thiserror::Error)]
pub enum DevIssuerError {
    #[error("{0} is not a dev data directory (no dev issuer for org {1}); run `rootvault dev` first")]
    Missing(PathBuf, OrgName),
    #[error("cannot read or write the dev issuer key: {0}")]
    Io(#[from] std::io::Error),
    #[error("the dev issuer key for {0} is unreadable")]
    BadKey(OrgName),
    #[error("could not sign the token")]
    Sign,
}

/// A dev issuer for one org.
pub struct DevIssuer {
    org: OrgName,
    key: SigningKey,
}

impl std::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DevIssuer").field("org", &self.org).field("kid", &self.kid()).finish()
    }
}

#[derive(Serialize)]
struct DevClaims<'a> {
    iss: String,
    aud: &'a str,
    sub: &'a str,
    roles: Vec<&'static str>,
    iat: u64,
    exp: u64,
}

fn key_path(data_dir: &Path, org: &OrgName) -> PathBuf {
    data_dir.join(DEV_ISSUERS_DIR).join(format!("{org}.pk8"))
}

impl DevIssuer {
    /// The `iss` of an org's dev issuer. `.invalid` never resolves, so a dev
    /// issuer cannot be confused with a real identity provider.
    pub fn issuer_for(org: &OrgName) -> String {
        format!("https://dev.rootvault.invalid/{org}")
    }

    /// Load the org's dev key, creating it on first use.
    pub fn load_or_create(data_dir: &Path, org: &OrgName) -> Result<Self, DevIssuerError> {
        match Self::load(data_dir, org) {
            Err(DevIssuerError::Missing(..)) => {}
            other => return other,
        }
        let key = SigningKey::generate(&mut OsRng);
        let der = key.to_pkcs8_der().map_err(|_| DevIssuerError::BadKey(org.clone()))?;
        let path = key_path(data_dir, org);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir)?;
        }
        let mut file = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&path)?;
        file.write_all(STANDARD.encode(der.as_bytes()).as_bytes())?;
        file.sync_all()?;
        Ok(Self { org: org.clone(), key })
    }

    /// Load an existing dev key; fails outside a dev data directory.
    pub fn load(data_dir: &Path, org: &OrgName) -> Result<Self, DevIssuerError> {
        let path = key_path(data_dir, org);
        let text = match fs::read_to_string(&path) {
            Ok(text) => Zeroizing::new(text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(DevIssuerError::Missing(data_dir.to_path_buf(), org.clone()));
            }
            Err(e) => return Err(e.into()),
        };
        let der = Zeroizing::new(STANDARD.decode(text.trim()).map_err(|_| DevIssuerError::BadKey(org.clone()))?);
        let key = SigningKey::from_pkcs8_der(&der).map_err(|_| DevIssuerError::BadKey(org.clone()))?;
        Ok(Self { org: org.clone(), key })
    }

    /// The key id: the first 16 hex digits of SHA-256 of the public key.
    pub fn kid(&self) -> String {
        hex::encode(&Sha256::digest(self.key.verifying_key().as_bytes())[..8])
    }

    /// The issuer's public keys as a JWKS document.
    pub fn jwks(&self) -> serde_json::Value {
        serde_json::json!({
            "keys": [{
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": "EdDSA",
                "use": "sig",
                "kid": self.kid(),
                "x": URL_SAFE_NO_PAD.encode(self.key.verifying_key().as_bytes()),
            }]
        })
    }

    /// The verifier side of this issuer.
    pub fn trusted(&self) -> Result<TrustedIssuer, DevIssuerError> {
        TrustedIssuer::from_jwks(self.org.clone(), Self::issuer_for(&self.org), &self.jwks().to_string())
            .map_err(|_| DevIssuerError::BadKey(self.org.clone()))
    }

    /// Sign a token for `sub` with `roles`, valid for `ttl_seconds`.
    pub fn mint(
        &self,
        audience: &str,
        sub: &Subject,
        roles: &[Role],
        ttl_seconds: u64,
    ) -> Result<String, DevIssuerError> {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let claims = DevClaims {
            iss: Self::issuer_for(&self.org),
            aud: audience,
            sub: sub.as_str(),
            roles: roles.iter().map(|r| r.as_str()).collect(),
            iat: now,
            exp: now + ttl_seconds,
        };
        self.sign(&claims)
    }

    /// Sign any claims as a JWT (EdDSA, with this issuer's `kid`): tokens
    /// for `rootvault token` and the dev identity provider's ID tokens.
    pub fn sign(&self, claims: &impl Serialize) -> Result<String, DevIssuerError> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(self.kid());
        let der = Zeroizing::new(self.key.to_pkcs8_der().map_err(|_| DevIssuerError::Sign)?.as_bytes().to_vec());
        encode(&header, claims, &EncodingKey::from_ed_der(&der)).map_err(|_| DevIssuerError::Sign)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::issuer_keys::IssuerKeys;
    use crate::auth::jwt::Authenticator;

    #[tokio::test]
    async fn a_minted_token_verifies_as_a_principal_of_its_org() {
        let dir = tempfile::tempdir().unwrap();
        let org: OrgName = "globex".parse().unwrap();
        let issuer = DevIssuer::load_or_create(dir.path(), &org).unwrap();
        let again = DevIssuer::load_or_create(dir.path(), &org).unwrap();
        assert_eq!(issuer.kid(), again.kid());
        let auth = Authenticator::new("rootvault".into(), [IssuerKeys::fixed(issuer.trusted().unwrap())]);
        let token = issuer.mint("rootvault", &"gina".parse().unwrap(), &[Role::Admin], 60).unwrap();
        let caller = auth.verify(&token).await.unwrap();
        assert_eq!(caller.principal.to_string(), "globex/gina");
        assert!(caller.has_role(Role::Admin));
        let other_aud = issuer.mint("elsewhere", &"gina".parse().unwrap(), &[], 60).unwrap();
        assert_eq!(auth.verify(&other_aud).await.unwrap_err().reason, "wrong audience");
    }
}
