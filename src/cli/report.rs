//! How a failed command reports its error: one line, each cause once.
//!
//! Error types here often quote their source in their own message (`"could
//! not set up the demo data: {0}"`) while also exposing it as the error's
//! source; printing the whole chain would then say the same sentence twice.
//! A cause the line already holds is not repeated.

/// The error and its causes, joined by `: `, each cause once.
pub fn one_line(error: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in error.chain() {
        let text = cause.to_string();
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("the audit log failed its integrity check")]
    struct Tampered;

    #[derive(Debug, thiserror::Error)]
    #[error("could not set up the demo data: {0}")]
    struct Quoting(#[from] Tampered);

    #[derive(Debug, thiserror::Error)]
    #[error("could not set up the demo data")]
    struct Wrapping(#[source] Tampered);

    #[test]
    fn a_cause_is_printed_once_whether_or_not_its_wrapper_quotes_it() {
        let expected = "could not set up the demo data: the audit log failed its integrity check";
        assert_eq!(one_line(&Quoting(Tampered).into()), expected);
        assert_eq!(one_line(&Wrapping(Tampered).into()), expected);
        let context = anyhow::Error::from(Quoting(Tampered)).context("rootvault dev failed");
        assert_eq!(one_line(&context), format!("rootvault dev failed: {expected}"));
    }
}
