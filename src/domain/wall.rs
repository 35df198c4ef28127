//! The version-aware four-eyes wall (invariant 2).
//!
//! A principal who has seen version *v* of one half (by receiving it, by
//! depositing it, or by making the collect link that produced it) must not
//! get the other half of the same account while *v* is still current.
//! Rotating the seen half makes *v* history and lifts the wall. The rule is a
//! pure function over the exposures on record, so every path (custodian
//! assignment, deposit, link, release) asks the same question.
//!
//! Version numbers alone would let a known secret come back under a new
//! number: whoever deposits the same seed again (directly or through a
//! collect link) produces a version nobody is recorded as having seen. So a
//! new version whose secret equals an earlier one (the service compares keyed
//! fingerprints, never the secrets) carries every exposure to that earlier
//! version forward.

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

/// The exposures a new `version` of `half` inherits: everyone who saw one of
/// the `same_secret` versions (earlier versions of that half whose secret
/// equals the new one) knows the new version as well.
pub fn carried_exposures(exposures: &[Exposure], half: Half, same_secret: &[u32], version: u32) -> Vec<Exposure> {
    let mut carried: Vec<Exposure> = Vec::new();
    for e in exposures.iter().filter(|e| e.half == half && same_secret.contains(&e.version)) {
        if !carried.iter().any(|c| c.principal == e.principal) {
            carried.push(Exposure { principal: e.principal.clone(), half, version });
        }
    }
    carried
}

/// Whether a new version of `half` may become current when `knowers` will
/// know it (its depositor or the maker of its collect link, and everyone it
/// carries exposures to): refused with the exposure of the first knower who
/// has seen the other half's current version, since they would then hold
/// both halves without receiving anything.
pub fn knower_holding_other_half<'a, 'p>(
    exposures: &'a [Exposure],
    current: CurrentVersions,
    half: Half,
    mut knowers: impl Iterator<Item = &'p Principal>,
) -> Option<(&'p Principal, &'a Exposure)> {
    knowers.find_map(|who| blocking_exposure(exposures, current, who, half).map(|e| (who, e)))
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
    fn a_version_with_a_secret_someone_saw_carries_their_exposure() {
        let bob: Principal = "acme/bob".parse().unwrap();
        let seen = [
            Exposure { principal: bob.clone(), half: Half::Mfa, version: 2 },
            Exposure { principal: alice(), half: Half::Mfa, version: 1 },
            Exposure { principal: alice(), half: Half::Password, version: 2 },
        ];
        // v3 has v2's seed: bob knows it; alice saw only v1 (another seed).
        assert_eq!(
            carried_exposures(&seen, Half::Mfa, &[2], 3),
            [Exposure { principal: bob.clone(), half: Half::Mfa, version: 3 }]
        );
        assert_eq!(carried_exposures(&seen, Half::Mfa, &[], 3), []);
        // Once carried, the wall sees bob as having seen the current MFA version.
        let mut all = seen.to_vec();
        all.extend(carried_exposures(&seen, Half::Mfa, &[2], 3));
        let current = CurrentVersions { password: Some(5), mfa: Some(3) };
        assert!(blocking_exposure(&all, current, &bob, Half::Password).is_some());
    }

    #[test]
    fn a_new_version_is_refused_when_someone_who_knows_it_holds_the_other_half() {
        let (alice, bob): (Principal, Principal) = (alice(), "acme/bob".parse().unwrap());
        let seen = [Exposure { principal: alice.clone(), half: Half::Password, version: 4 }];
        let current = CurrentVersions { password: Some(4), mfa: Some(1) };
        let found = knower_holding_other_half(&seen, current, Half::Mfa, [&bob, &alice].into_iter());
        assert_eq!(found.map(|(p, e)| (p.clone(), e.version)), Some((alice.clone(), 4)));
        assert!(knower_holding_other_half(&seen, current, Half::Mfa, [&bob].into_iter()).is_none());
        // Once the password rotates, alice may know the new MFA seed.
        let rotated = CurrentVersions { password: Some(5), mfa: Some(1) };
        assert!(knower_holding_other_half(&seen, rotated, Half::Mfa, [&alice].into_iter()).is_none());
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
