//! The root password policy (DESIGN §11, seed 000): what a supplied password
//! must look like and what a generated one is made of.

/// Length of a generated password.
pub const GENERATED_LENGTH: usize = 32;
/// Shortest password a person may supply.
pub const MIN_SUPPLIED_LENGTH: usize = 12;
/// Longest password AWS accepts for the root user.
pub const MAX_LENGTH: usize = 128;
/// How many earlier passwords a new one must differ from.
pub const HISTORY_DEPTH: usize = 24;

pub const UPPER: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
pub const LOWER: &[u8] = b"abcdefghijklmnopqrstuvwxyz";
pub const DIGITS: &[u8] = b"0123456789";
/// The symbols AWS's IAM password policy counts as non-alphanumeric.
pub const SYMBOLS: &[u8] = b"!@#$%^&*()_+-=[]{}|'";

/// Why a supplied password was refused. Never carries the password.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyViolation {
    #[error("a password needs at least {MIN_SUPPLIED_LENGTH} characters")]
    TooShort,
    #[error("a password may have at most {MAX_LENGTH} characters")]
    TooLong,
    #[error("a password needs upper-case letters, lower-case letters, digits and symbols")]
    MissingClass,
    #[error("a password may contain only printable ASCII characters")]
    Unprintable,
    #[error("the password was used before; it must differ from the last {HISTORY_DEPTH}")]
    Reused,
}

/// Check the shape of a supplied password (length, classes, alphabet).
/// Reuse against history is checked by the caller, which holds the hashes.
pub fn check_supplied(password: &str) -> Result<(), PolicyViolation> {
    let len = password.chars().count();
    if len < MIN_SUPPLIED_LENGTH {
        return Err(PolicyViolation::TooShort);
    }
    if len > MAX_LENGTH {
        return Err(PolicyViolation::TooLong);
    }
    if !password.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(PolicyViolation::Unprintable);
    }
    if has_every_class(password.as_bytes()) { Ok(()) } else { Err(PolicyViolation::MissingClass) }
}

/// Whether `bytes` contain an upper, a lower, a digit and a symbol.
pub fn has_every_class(bytes: &[u8]) -> bool {
    let has = |class: &[u8]| bytes.iter().any(|b| class.contains(b));
    has(UPPER) && has(LOWER) && has(DIGITS) && bytes.iter().any(|b| b.is_ascii_punctuation())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_four_class_password_passes() {
        assert_eq!(check_supplied("Correct-Horse-9-Battery"), Ok(()));
    }

    #[test]
    fn each_missing_class_is_refused() {
        for pw in
            ["correct-horse-9-battery", "CORRECT-HORSE-9-BATTERY", "Correct-Horse-X-Battery", "CorrectHorse9Battery"]
        {
            assert_eq!(check_supplied(pw), Err(PolicyViolation::MissingClass), "{pw}");
        }
    }

    #[test]
    fn length_bounds_are_enforced_by_characters() {
        assert_eq!(check_supplied("Aa1!Aa1!Aa1"), Err(PolicyViolation::TooShort));
        assert_eq!(check_supplied("Aa1!Aa1!Aa1!"), Ok(()));
        let long = "Aa1!".repeat(33);
        assert_eq!(check_supplied(&long), Err(PolicyViolation::TooLong));
    }

    #[test]
    fn spaces_and_non_ascii_are_refused() {
        assert_eq!(check_supplied("Correct Horse 9 Battery!"), Err(PolicyViolation::Unprintable));
        assert_eq!(check_supplied("Corréct-Horse-9-Battery"), Err(PolicyViolation::Unprintable));
    }
}
