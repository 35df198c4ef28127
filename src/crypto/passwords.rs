//! Password generation and the argon2id history of earlier passwords.

use argon2::Argon2;
use argon2::password_hash::rand_core::OsRng as HashRng;
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rand::Rng;
use rand::rngs::OsRng;
use rand::seq::SliceRandom;
use secrecy::SecretString;
use zeroize::Zeroizing;

use super::CryptoError;
use crate::domain::password_policy::{DIGITS, GENERATED_LENGTH, LOWER, SYMBOLS, UPPER};

/// A fresh password: `GENERATED_LENGTH` characters drawn uniformly from the
/// four classes, with at least one of each (one from each class, the rest
/// from all of them, then shuffled).
pub fn generate() -> SecretString {
    let all: Vec<u8> = [UPPER, LOWER, DIGITS, SYMBOLS].concat();
    let mut rng = OsRng;
    let mut chars = Zeroizing::new(Vec::with_capacity(GENERATED_LENGTH));
    for class in [UPPER, LOWER, DIGITS, SYMBOLS] {
        chars.push(class[rng.gen_range(0..class.len())]);
    }
    while chars.len() < GENERATED_LENGTH {
        chars.push(all[rng.gen_range(0..all.len())]);
    }
    chars.shuffle(&mut rng);
    // Every byte comes from the ASCII tables above, so this cannot fail; the
    // lossy conversion keeps the function total without a panic path.
    SecretString::from(String::from_utf8_lossy(&chars).into_owned())
}

/// An argon2id hash (PHC string) of a password, for the reuse history.
pub fn hash(password: &str) -> Result<String, CryptoError> {
    let salt = SaltString::generate(&mut HashRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|_| CryptoError::Provider("password hashing failed".into()))
}

/// Whether `password` matches a stored hash. argon2's verifier compares the
/// digests in constant time.
pub fn matches(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored).is_ok_and(|h| Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::password_policy::{check_supplied, has_every_class};
    use secrecy::ExposeSecret;

    #[test]
    fn generated_passwords_meet_the_policy() {
        for _ in 0..200 {
            let pw = generate();
            let pw = pw.expose_secret();
            assert_eq!(pw.len(), GENERATED_LENGTH);
            assert!(has_every_class(pw.as_bytes()));
            assert_eq!(check_supplied(pw), Ok(()));
        }
    }

    #[test]
    fn history_hashes_match_only_their_password() {
        let stored = hash("Correct-Horse-9-Battery").unwrap();
        assert!(stored.starts_with("$argon2id$"));
        assert!(matches("Correct-Horse-9-Battery", &stored));
        assert!(!matches("Correct-Horse-9-Battery!", &stored));
        assert!(!matches("Correct-Horse-9-Battery", "not a hash"));
    }
}
