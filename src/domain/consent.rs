//! Consent to assignment (seed 000): a public-sector account, or one run by
//! AWS India, goes back to its customer only once a consent to assignment is
//! signed by both the provider and the customer. rootvault does not hold the
//! document; it records that each side marked it signed, once.

use serde::{Deserialize, Serialize};

use super::ids::Principal;
use super::orgs::Party;

/// Who marked one side's signature, and when (Unix seconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConsentMark {
    pub by: Principal,
    pub at: i64,
}

/// Both sides' marks. Stored with the reverse assumption it belongs to;
/// defaulted, so hand-backs stored before consents existed still load.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    #[serde(default)]
    pub provider: Option<ConsentMark>,
    #[serde(default)]
    pub customer: Option<ConsentMark>,
}

/// Why a consent step was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConsentError {
    #[error("the {0} already marked the consent to assignment signed; each side marks it once")]
    AlreadyMarked(&'static str),
    #[error(
        "this account is public sector or AWS India: the hand-off needs the consent to assignment marked signed by \
         both sides, and the {} {} not",
        sides(.0), if .0.len() == 1 { "has" } else { "have" }
    )]
    Missing(Vec<&'static str>),
    #[error("this account needs no consent to assignment (it is neither public sector nor AWS India)")]
    NotRequired,
}

fn sides(missing: &[&str]) -> String {
    missing.join(" and the ")
}

/// How a side is named in messages and views.
pub fn side(party: Party) -> &'static str {
    match party {
        Party::Provider => "provider",
        Party::Customer => "customer",
    }
}

impl Consent {
    /// Record that `party` signed, through `by` at `at`. Each side marks once:
    /// a second mark would hide who really vouched for it.
    pub fn mark(&mut self, party: Party, by: Principal, at: i64) -> Result<(), ConsentError> {
        let slot = match party {
            Party::Provider => &mut self.provider,
            Party::Customer => &mut self.customer,
        };
        if slot.is_some() {
            return Err(ConsentError::AlreadyMarked(side(party)));
        }
        *slot = Some(ConsentMark { by, at });
        Ok(())
    }

    /// The sides that have not marked yet, provider first.
    pub fn missing(&self) -> Vec<&'static str> {
        [(Party::Provider, &self.provider), (Party::Customer, &self.customer)]
            .into_iter()
            .filter(|(_, mark)| mark.is_none())
            .map(|(party, _)| side(party))
            .collect()
    }

    /// Whether a hand-off may go ahead: always when no consent is `required`,
    /// else once both sides marked it.
    pub fn check_signed(&self, required: bool) -> Result<(), ConsentError> {
        let missing = self.missing();
        if required && !missing.is_empty() { Err(ConsentError::Missing(missing)) } else { Ok(()) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn who(s: &str) -> Principal {
        s.parse().unwrap()
    }

    #[test]
    fn each_side_marks_once_and_a_second_mark_changes_nothing() {
        let mut consent = Consent::default();
        consent.mark(Party::Customer, who("globex/gina"), 10).unwrap();
        let before = consent.clone();
        let again = consent.mark(Party::Customer, who("globex/gus"), 11).unwrap_err();
        assert_eq!(again, ConsentError::AlreadyMarked("customer"));
        assert_eq!(
            again.to_string(),
            "the customer already marked the consent to assignment signed; each side marks it once"
        );
        assert_eq!(consent, before);
        consent.mark(Party::Provider, who("acme/ada"), 12).unwrap();
        assert_eq!(consent.provider, Some(ConsentMark { by: who("acme/ada"), at: 12 }));
        assert_eq!(consent.mark(Party::Provider, who("acme/ada"), 13), Err(ConsentError::AlreadyMarked("provider")));
    }

    #[test]
    fn a_hand_off_that_needs_consent_waits_for_both_sides() {
        let mut consent = Consent::default();
        assert_eq!(consent.check_signed(false), Ok(()));
        assert_eq!(consent.check_signed(true), Err(ConsentError::Missing(vec!["provider", "customer"])));
        assert!(
            consent.check_signed(true).unwrap_err().to_string().ends_with("the provider and the customer have not")
        );
        consent.mark(Party::Provider, who("acme/ada"), 1).unwrap();
        assert_eq!(consent.check_signed(true), Err(ConsentError::Missing(vec!["customer"])));
        assert!(consent.check_signed(true).unwrap_err().to_string().ends_with("the customer has not"));
        consent.mark(Party::Customer, who("globex/gina"), 2).unwrap();
        assert_eq!(consent.check_signed(true), Ok(()));
        assert!(consent.missing().is_empty());
    }

    #[test]
    fn a_stored_hand_back_without_consent_loads_as_unsigned() {
        let consent: Consent = serde_json::from_str("{}").unwrap();
        assert_eq!(consent, Consent::default());
        let marked = serde_json::json!({"provider": {"by": "acme/ada", "at": 5}});
        let consent: Consent = serde_json::from_value(marked).unwrap();
        assert_eq!(consent.missing(), vec!["customer"]);
    }
}
