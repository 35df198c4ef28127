//! Webhook signatures: HMAC-SHA256 over `timestamp.body`.
//!
//! Receivers recompute the MAC with their secret and compare in constant
//! time; the timestamp inside the signed bytes lets them refuse replays.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Header carrying `sha256=<hex>`.
pub const SIGNATURE_HEADER: &str = "x-rootvault-signature";
/// Header carrying the Unix time the signature was made.
pub const TIMESTAMP_HEADER: &str = "x-rootvault-timestamp";
/// Header carrying the delivery id (also in the body) for de-duplication.
pub const DELIVERY_HEADER: &str = "x-rootvault-delivery";
/// Header carrying the event name.
pub const EVENT_HEADER: &str = "x-rootvault-event";

/// `sha256=<hex>` for `body` sent at `timestamp`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC accepts keys of any length, so `new_from_slice` cannot fail.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC takes keys of any length")
    };
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!("sha256={}", hex::encode(mac.finalize().into_bytes()))
}

/// Check a received signature in constant time (for receivers and tests).
pub fn verify(secret: &str, timestamp: i64, body: &str, received: &str) -> bool {
    use subtle::ConstantTimeEq;
    signature(secret, timestamp, body).as_bytes().ct_eq(received.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_bind_secret_time_and_body() {
        let sig = signature("whsec_a", 1700000000, r#"{"event":"request.created"}"#);
        assert!(sig.starts_with("sha256=") && sig.len() == 7 + 64);
        assert!(verify("whsec_a", 1700000000, r#"{"event":"request.created"}"#, &sig));
        assert!(!verify("whsec_b", 1700000000, r#"{"event":"request.created"}"#, &sig));
        assert!(!verify("whsec_a", 1700000001, r#"{"event":"request.created"}"#, &sig));
        assert!(!verify("whsec_a", 1700000000, r#"{"event":"request.denied"}"#, &sig));
    }
}
