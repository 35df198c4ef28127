//! The MFA half: a TOTP seed, parsed and validated with totp-rs.
//!
//! The seed is held in zeroizing memory and is only ever turned back into a
//! code (invariant 5); its `Debug` output is redacted. totp-rs's own error
//! values can carry the secret they failed on, so they are mapped to fixed
//! messages here and never displayed.

use std::fmt;

use serde::{Deserialize, Serialize};
use totp_rs::{Algorithm, Secret, TOTP, TotpUrlError};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

/// Why an MFA enrolment was refused. Never carries the seed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MfaError {
    #[error("not a valid otpauth://totp/ URI")]
    Uri,
    #[error("the secret is not valid base32")]
    Base32,
    #[error("the secret must be at least 128 bits")]
    SecretTooShort,
    #[error("digits must be 6, 7 or 8")]
    Digits,
    #[error("period must be between 15 and 300 seconds")]
    Period,
    #[error("algorithm must be SHA1, SHA256 or SHA512")]
    Algorithm,
    #[error("the stored MFA payload is unreadable")]
    Payload,
}

/// A TOTP seed with its parameters.
#[derive(Clone, Serialize, Deserialize, Zeroize, ZeroizeOnDrop)]
pub struct MfaSeed {
    secret: Vec<u8>,
    digits: u8,
    period: u64,
    algorithm: String,
}

impl fmt::Debug for MfaSeed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MfaSeed")
            .field("secret", &"<redacted>")
            .field("digits", &self.digits)
            .field("period", &self.period)
            .field("algorithm", &self.algorithm)
            .finish()
    }
}

fn parse_algorithm(name: &str) -> Result<Algorithm, MfaError> {
    match name.to_ascii_uppercase().as_str() {
        "SHA1" => Ok(Algorithm::SHA1),
        "SHA256" => Ok(Algorithm::SHA256),
        "SHA512" => Ok(Algorithm::SHA512),
        _ => Err(MfaError::Algorithm),
    }
}

fn algorithm_name(algorithm: Algorithm) -> &'static str {
    match algorithm {
        Algorithm::SHA1 => "SHA1",
        Algorithm::SHA256 => "SHA256",
        Algorithm::SHA512 => "SHA512",
    }
}

fn map_url_error(err: &TotpUrlError) -> MfaError {
    match err {
        TotpUrlError::Secret(_) => MfaError::Base32,
        TotpUrlError::SecretSize(_) => MfaError::SecretTooShort,
        TotpUrlError::Digits(_) | TotpUrlError::DigitsNumber(_) => MfaError::Digits,
        TotpUrlError::Step(_) => MfaError::Period,
        TotpUrlError::Algorithm(_) => MfaError::Algorithm,
        _ => MfaError::Uri,
    }
}

impl MfaSeed {
    /// Parse an `otpauth://totp/...` URI as an authenticator app would.
    pub fn from_otpauth_uri(uri: &str) -> Result<Self, MfaError> {
        let totp = TOTP::from_url(uri).map_err(|e| map_url_error(&e))?;
        Self::from_totp(&totp)
    }

    /// Build from a base32 secret and optional parameters (defaults: 6
    /// digits, 30 s, SHA1, as AWS virtual MFA devices use).
    pub fn from_base32(
        secret: &str,
        digits: Option<u8>,
        period: Option<u64>,
        algorithm: Option<&str>,
    ) -> Result<Self, MfaError> {
        let cleaned = Zeroizing::new(secret.trim().trim_end_matches('=').replace(' ', "").to_ascii_uppercase());
        let bytes = Zeroizing::new(Secret::Encoded(cleaned.to_string()).to_bytes().map_err(|_| MfaError::Base32)?);
        let algorithm = parse_algorithm(algorithm.unwrap_or("SHA1"))?;
        let totp = TOTP::new(
            algorithm,
            usize::from(digits.unwrap_or(6)),
            1,
            period.unwrap_or(30),
            bytes.to_vec(),
            None,
            String::new(),
        )
        .map_err(|e| map_url_error(&e))?;
        Self::from_totp(&totp)
    }

    fn from_totp(totp: &TOTP) -> Result<Self, MfaError> {
        let digits = u8::try_from(totp.digits).map_err(|_| MfaError::Digits)?;
        if !(6..=8).contains(&digits) {
            return Err(MfaError::Digits);
        }
        if !(15..=300).contains(&totp.step) {
            return Err(MfaError::Period);
        }
        if totp.secret.len() < 16 {
            return Err(MfaError::SecretTooShort);
        }
        Ok(Self {
            secret: totp.secret.clone(),
            digits,
            period: totp.step,
            algorithm: algorithm_name(totp.algorithm).to_owned(),
        })
    }

    /// The bytes stored (encrypted) for this half.
    pub fn to_payload(&self) -> Zeroizing<Vec<u8>> {
        // Serializing a struct of plain fields into a Vec cannot fail.
        Zeroizing::new(serde_json::to_vec(self).unwrap_or_default())
    }

    /// The seed's raw secret bytes, for keyed fingerprints only: two seeds
    /// with the same secret yield the same codes whatever their digits or
    /// period, so knowing one is knowing the other.
    pub fn secret_bytes(&self) -> &[u8] {
        &self.secret
    }

    /// Read back what [`MfaSeed::to_payload`] produced.
    pub fn from_payload(bytes: &[u8]) -> Result<Self, MfaError> {
        serde_json::from_slice(bytes).map_err(|_| MfaError::Payload)
    }

    /// The code valid at `unix_time` and the seconds it stays valid.
    pub fn code_at(&self, unix_time: u64) -> Result<(Zeroizing<String>, u64), MfaError> {
        let algorithm = parse_algorithm(&self.algorithm)?;
        let totp = TOTP::new_unchecked(
            algorithm,
            usize::from(self.digits),
            1,
            self.period,
            self.secret.clone(),
            None,
            String::new(),
        );
        let code = Zeroizing::new(totp.generate(unix_time));
        let valid_for = self.period - unix_time % self.period;
        Ok((code, valid_for))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 6238 test vector secret "12345678901234567890" in base32.
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn base32_seeds_reproduce_the_rfc_6238_vectors() {
        let seed = MfaSeed::from_base32(RFC_SECRET, Some(8), None, None).unwrap();
        let (code, valid_for) = seed.code_at(59).unwrap();
        assert_eq!(code.as_str(), "94287082");
        assert_eq!(valid_for, 1);
    }

    #[test]
    fn otpauth_uris_parse_with_their_parameters() {
        let uri = format!(
            "otpauth://totp/AWS:root@acme.example?secret={RFC_SECRET}&issuer=AWS&digits=8&period=30&algorithm=SHA1"
        );
        let seed = MfaSeed::from_otpauth_uri(&uri).unwrap();
        assert_eq!(seed.code_at(1111111109).unwrap().0.as_str(), "07081804");
        let back = MfaSeed::from_payload(&seed.to_payload()).unwrap();
        assert_eq!(back.code_at(59).unwrap().0.as_str(), "94287082");
    }

    #[test]
    fn bad_seeds_get_errors_that_do_not_echo_them() {
        assert_eq!(MfaSeed::from_base32("not base32 !!", None, None, None).unwrap_err(), MfaError::Base32);
        assert_eq!(MfaSeed::from_base32("GEZDGNBV", None, None, None).unwrap_err(), MfaError::SecretTooShort);
        assert_eq!(MfaSeed::from_base32(RFC_SECRET, Some(4), None, None).unwrap_err(), MfaError::Digits);
        assert_eq!(MfaSeed::from_base32(RFC_SECRET, None, Some(1), None).unwrap_err(), MfaError::Period);
        assert_eq!(MfaSeed::from_base32(RFC_SECRET, None, None, Some("MD5")).unwrap_err(), MfaError::Algorithm);
        assert!(MfaSeed::from_otpauth_uri("https://example.com").is_err());
        let debug = format!("{:?}", MfaSeed::from_base32(RFC_SECRET, None, None, None).unwrap());
        assert!(!debug.contains("12345") && debug.contains("redacted"));
    }
}
