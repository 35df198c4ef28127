//! The proof a standby attaches to a request it forwards, so that the
//! active node believes the client address (and request id) it names.
//!
//! Rate limits, the budget of failed authentications and the audit log's
//! `http.ip` all key on the client's address, which a forwarded request
//! would otherwise show as the standby's. Any client can send a header, so
//! the claim is believed only with an HMAC-SHA-256 under `[ha]
//! cluster_secret`, bound to the request's method and target, the claimed
//! address, the request id and the time it was made. A copied proof is
//! good for nothing else, and for nothing after `MAX_SKEW_SECS` (the nodes'
//! clocks must agree to within that; NTP does). The header looks like
//! `v1;ts=1767225600;client=203.0.113.7:51234;rid=<uuid>;mac=<hex>`.

use std::net::SocketAddr;

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The header a forwarded request carries. A standby never forwards a
/// request that already has it.
pub const HEADER: &str = "x-rootvault-forwarded";

const VERSION: &str = "v1";

/// How far the proof's time may be from the receiver's clock, seconds.
pub const MAX_SKEW_SECS: i64 = 30;

/// What the sending node vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    /// The address the client connected to the standby from.
    pub client: SocketAddr,
    /// The standby's id for this request, kept by the active node so both
    /// nodes' logs and the audit event name the same request.
    pub request_id: String,
    /// When the standby made the proof, Unix seconds.
    pub issued_at: i64,
}

/// Why a proof was not believed (logged, never answered in detail).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProofError {
    Malformed,
    Stale,
    BadMac,
}

impl ProofError {
    pub fn as_str(self) -> &'static str {
        match self {
            ProofError::Malformed => "malformed",
            ProofError::Stale => "outside the clock window",
            ProofError::BadMac => "wrong MAC",
        }
    }
}

fn mac(secret: &[u8], method: &str, target: &str, claim: &Claim) -> Hmac<Sha256> {
    // An HMAC takes a key of any length: this cannot fail.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(secret).unwrap_or_else(|_| unreachable!());
    // No field can hold a newline (a request target cannot), so the
    // joined message is unambiguous.
    let message = format!(
        "rootvault-forward-{VERSION}\n{method}\n{target}\n{}\n{}\n{}",
        claim.issued_at, claim.client, claim.request_id
    );
    mac.update(message.as_bytes());
    mac
}

/// The header value vouching for `claim` on a request `method target`
/// (`target` is the path with its query).
pub fn sign(secret: &[u8], method: &str, target: &str, claim: &Claim) -> String {
    let tag = hex::encode(mac(secret, method, target, claim).finalize().into_bytes());
    format!("{VERSION};ts={};client={};rid={};mac={tag}", claim.issued_at, claim.client, claim.request_id)
}

/// Check a header value at `now` (Unix seconds); the claim it proves.
pub fn verify(secret: &[u8], method: &str, target: &str, header: &str, now: i64) -> Result<Claim, ProofError> {
    let mut fields = header.split(';');
    if fields.next() != Some(VERSION) {
        return Err(ProofError::Malformed);
    }
    let mut field = |name: &str| {
        fields.next().and_then(|f| f.strip_prefix(name)).and_then(|f| f.strip_prefix('=')).ok_or(ProofError::Malformed)
    };
    let issued_at: i64 = field("ts")?.parse().map_err(|_| ProofError::Malformed)?;
    let client: SocketAddr = field("client")?.parse().map_err(|_| ProofError::Malformed)?;
    let request_id = uuid::Uuid::parse_str(field("rid")?).map_err(|_| ProofError::Malformed)?.to_string();
    let tag = hex::decode(field("mac")?).map_err(|_| ProofError::Malformed)?;
    if fields.next().is_some() {
        return Err(ProofError::Malformed);
    }
    let claim = Claim { client, request_id, issued_at };
    // Constant-time comparison.
    mac(secret, method, target, &claim).verify_slice(&tag).map_err(|_| ProofError::BadMac)?;
    if (now - issued_at).abs() > MAX_SKEW_SECS {
        return Err(ProofError::Stale);
    }
    Ok(claim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"a cluster secret of at least thirty-two bytes";
    const NOW: i64 = 1_767_225_600;

    fn claim() -> Claim {
        Claim {
            client: "203.0.113.7:51234".parse().unwrap(),
            request_id: "0b7e6f5c-3f7d-4b1e-9a51-6f2d8c0e4a11".into(),
            issued_at: NOW,
        }
    }

    #[test]
    fn a_proof_vouches_for_its_claim_on_the_request_it_was_made_for() {
        let header = sign(SECRET, "POST", "/v1/requests?x=1", &claim());
        assert!(header.starts_with("v1;ts=1767225600;client=203.0.113.7:51234;rid=0b7e6f5c-"));
        assert_eq!(verify(SECRET, "POST", "/v1/requests?x=1", &header, NOW + 5), Ok(claim()));
        let v6 = Claim { client: "[2001:db8::7]:443".parse().unwrap(), ..claim() };
        let header = sign(SECRET, "GET", "/", &v6);
        assert_eq!(verify(SECRET, "GET", "/", &header, NOW), Ok(v6));
    }

    #[test]
    fn a_proof_is_refused_for_another_request_another_secret_another_time_or_an_altered_claim() {
        let header = sign(SECRET, "POST", "/v1/requests", &claim());
        assert_eq!(verify(SECRET, "GET", "/v1/requests", &header, NOW), Err(ProofError::BadMac));
        assert_eq!(verify(SECRET, "POST", "/v1/accounts", &header, NOW), Err(ProofError::BadMac));
        assert_eq!(verify(b"another secret", "POST", "/v1/requests", &header, NOW), Err(ProofError::BadMac));
        assert_eq!(verify(SECRET, "POST", "/v1/requests", &header, NOW + 31), Err(ProofError::Stale));
        assert_eq!(verify(SECRET, "POST", "/v1/requests", &header, NOW - 31), Err(ProofError::Stale));
        let spoofed = header.replace("203.0.113.7", "198.51.100.9");
        assert_eq!(verify(SECRET, "POST", "/v1/requests", &spoofed, NOW), Err(ProofError::BadMac));
    }

    #[test]
    fn malformed_headers_are_refused() {
        let good = sign(SECRET, "GET", "/", &claim());
        for bad in [
            String::new(),
            "v1".into(),
            good.replace("v1;", "v2;"),
            good.replace("client=203.0.113.7:51234", "client=somewhere"),
            good.replace("rid=0b7e6f5c", "rid=zzzzzzzz"),
            good.replace(";mac=", ";tag="),
            format!("{good};extra=1"),
            good.replace("ts=1767225600", "ts=soon"),
        ] {
            assert_eq!(verify(SECRET, "GET", "/", &bad, NOW), Err(ProofError::Malformed), "{bad}");
        }
    }
}
