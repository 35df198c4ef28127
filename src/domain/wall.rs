//! The version-aware four-eyes wall (invariant 2).
//!
//! A principal who has seen version *v* of one half (by receiving it or by
//! depositing it) must not get the other half of the same account while *v*
//! is still current. Rotating the seen half makes *v* history and lifts the
//! wall. The rule is a pure function over the exposures on record, so every
//! path (custodian assignment, deposit, release) asks the same question.

use super::ids::{Half, Principal};

/// A record that `principal` has seen `version` of `half`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exposure {
    pub principal: Principal,
    pub half: Half,
    pub version: u32,
}

/// The current version of each half of one account, if any was deposited.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CurrentVersions {
    pub password: Option<u32>,
    pub mfa: Option<u32>,
}

impl CurrentVersions {
    pub fn of(&self, half: Half) -> Option<u32> {
        match half {
            Half::Password => self.password,
            Half::Mfa => self.mfa,
        }
    }
}

/// The exposure that forbids `who` from holding `wanted`, if there is one:
/// `who` has seen the other half at the version that is still current.
pub fn blocking_exposure<'a>(
    exposures: &'a [Exposure],
    current: CurrentVersions,
    who: &Principal,
    wanted: Half,
) -> Option<&'a Exposure> {
    let other = wanted.other();
    let current_other = current.of(other)?;
    exposures.iter().find(|e| e.principal == *who && e.half == other && e.version == current_other)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn alice() -> Principal {
        "acme/alice".parse().unwrap()
    }

    #[test]
    fn seeing_the_current_password_walls_off_the_mfa_half() {
        let seen = [Exposure { principal: alice(), half: Half::Password, version: 3 }];
        let current = CurrentVersions { password: Some(3), mfa: Some(1) };
        assert!(blocking_exposure(&seen, current, &alice(), Half::Mfa).is_some());
        assert!(blocking_exposure(&seen, current, &alice(), Half::Password).is_none());
    }

    #[test]
    fn rotating_the_seen_half_lifts_the_wall() {
        let seen = [Exposure { principal: alice(), half: Half::Password, version: 3 }];
        let current = CurrentVersions { password: Some(4), mfa: Some(1) };
        assert!(blocking_exposure(&seen, current, &alice(), Half::Mfa).is_none());
    }

    #[test]
    fn other_principals_are_not_walled() {
        let seen = [Exposure { principal: alice(), half: Half::Mfa, version: 1 }];
        let current = CurrentVersions { password: Some(1), mfa: Some(1) };
        let bob: Principal = "acme/bob".parse().unwrap();
        assert!(blocking_exposure(&seen, current, &bob, Half::Password).is_none());
        assert!(blocking_exposure(&seen, current, &alice(), Half::Password).is_some());
    }
}
