//! Who may hold which half, and the four-eyes checks on custodian changes.

use std::collections::BTreeSet;

use super::account::{Account, CustodyMode};
use super::ids::{Half, Principal};
use super::orgs::{OrgDirectory, Party};
use super::wall::{CurrentVersions, Exposure, blocking_exposure, knower_holding_other_half};

/// The most principals one half's custodian set may hold.
pub const MAX_CUSTODIANS: usize = 50;

/// The custodian sets of one account.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CustodianSets {
    pub password: BTreeSet<Principal>,
    pub mfa: BTreeSet<Principal>,
}

impl CustodianSets {
    pub fn of(&self, half: Half) -> &BTreeSet<Principal> {
        match half {
            Half::Password => &self.password,
            Half::Mfa => &self.mfa,
        }
    }

    pub fn is_custodian(&self, who: &Principal, half: Half) -> bool {
        self.of(half).contains(who)
    }
}

/// The parties whose custodians may hold `half` under `mode` (DESIGN §2).
pub fn holding_parties(mode: CustodyMode, half: Half) -> &'static [Party] {
    match (mode, half) {
        (CustodyMode::ProviderSplit, _) => &[Party::Provider],
        (CustodyMode::CoOwned, _) => &[Party::Provider, Party::Customer],
        (CustodyMode::SharedPayer, Half::Password) => &[Party::Provider],
        (CustodyMode::SharedPayer, Half::Mfa) => &[Party::Customer],
        (CustodyMode::CustomerOwned, _) => &[],
    }
}

/// Why a custody change or deposit was refused. Each names the rule it broke;
/// principals are not secrets and may be named.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CustodyError {
    #[error("{0} accounts store no halves")]
    NothingStored(CustodyMode),
    #[error("under {mode} custody the {half} half is not held by your organisation")]
    NotHoldingParty { mode: CustodyMode, half: Half },
    #[error("{principal} is not a member of your organisation; each organisation names only its own custodians")]
    ForeignPrincipal { principal: Principal },
    #[error("an admin may not make themselves a custodian (admins do not read)")]
    SelfAssignment,
    #[error("at most {MAX_CUSTODIANS} custodians may hold one half")]
    TooMany,
    #[error("{principal} is a custodian of the {other} half of this account; no one may hold both halves")]
    BothHalves { principal: Principal, other: Half },
    #[error(
        "{principal} has seen version {version} of the {half} half, which is still current; no one may hold both halves"
    )]
    Walled { principal: Principal, half: Half, version: u32 },
    #[error("you are not a custodian of the {0} half of this account")]
    NotCustodian(Half),
    #[error("collect links for the {0} half are made by its custodians or an admin of the organisation that holds it")]
    NotCollector(Half),
    #[error(
        "this secret is already known to {principal}, who has seen version {version} of the {half} half, \
         which is still current; no one may hold both halves"
    )]
    KnownToOtherHalf { principal: Principal, half: Half, version: u32 },
}

/// What the custody rules need to know about one account.
#[derive(Debug, Clone, Copy)]
pub struct CustodyState<'a> {
    pub account: &'a Account,
    pub orgs: &'a OrgDirectory,
    pub sets: &'a CustodianSets,
    pub exposures: &'a [Exposure],
    pub current: CurrentVersions,
}

impl CustodyState<'_> {
    /// The custodian set of `half` after `admin` names `principals` as their
    /// organisation's custodians of it.
    ///
    /// Each organisation manages only its own members: the caller's entries
    /// are replaced and the other party's entries (under `co_owned`) are kept.
    /// The result is refused when anyone in it sits in the other half's set
    /// (invariant 1) or has seen the other half's current version (invariant 2).
    pub fn assign(
        &self,
        admin: &Principal,
        half: Half,
        principals: &[Principal],
    ) -> Result<BTreeSet<Principal>, CustodyError> {
        self.check_holding_party(&admin.org, half)?;
        if let Some(foreign) = principals.iter().find(|p| p.org != admin.org) {
            return Err(CustodyError::ForeignPrincipal { principal: foreign.clone() });
        }
        if principals.contains(admin) {
            return Err(CustodyError::SelfAssignment);
        }
        let mut next: BTreeSet<Principal> = self.sets.of(half).iter().filter(|p| p.org != admin.org).cloned().collect();
        next.extend(principals.iter().cloned());
        if next.len() > MAX_CUSTODIANS {
            return Err(CustodyError::TooMany);
        }
        let other = half.other();
        if let Some(p) = next.iter().find(|p| self.sets.is_custodian(p, other)) {
            return Err(CustodyError::BothHalves { principal: p.clone(), other });
        }
        for p in &next {
            self.check_wall(p, half)?;
        }
        Ok(next)
    }

    /// Whether `who` may deposit a new version of `half`: a custodian of it
    /// who has not seen the other half's current version.
    pub fn check_deposit(&self, who: &Principal, half: Half) -> Result<(), CustodyError> {
        if !self.account.custody.stores_halves() {
            return Err(CustodyError::NothingStored(self.account.custody));
        }
        if !self.sets.is_custodian(who, half) {
            return Err(CustodyError::NotCustodian(half));
        }
        self.check_wall(who, half)
    }

    /// Whether `who` may make a collect link for `half`, and still stands
    /// behind it when it is used: a custodian of the half, or an admin of an
    /// organisation that holds it. The maker is exposed to whatever the link
    /// collects (they could learn it from the recipient, or submit it
    /// themselves), so they are walled off like a depositor.
    pub fn check_collect_link(&self, who: &Principal, is_admin: bool, half: Half) -> Result<(), CustodyError> {
        let mode = self.account.custody;
        if !mode.stores_halves() {
            return Err(CustodyError::NothingStored(mode));
        }
        let custodian = self.sets.is_custodian(who, half);
        let holding_admin = is_admin && self.check_holding_party(&who.org, half).is_ok();
        if !custodian && !holding_admin {
            return Err(CustodyError::NotCollector(half));
        }
        self.check_wall(who, half)
    }

    /// Whether a new version of `half` may become current when `knowers`
    /// will know its secret (whoever it carries exposures to, and its maker):
    /// none of them may have seen the other half's current version.
    pub fn check_new_version<'p>(
        &self,
        half: Half,
        knowers: impl Iterator<Item = &'p Principal>,
    ) -> Result<(), CustodyError> {
        match knower_holding_other_half(self.exposures, self.current, half, knowers) {
            Some((who, e)) => {
                Err(CustodyError::KnownToOtherHalf { principal: who.clone(), half: e.half, version: e.version })
            }
            None => Ok(()),
        }
    }

    fn check_holding_party(&self, org: &super::ids::OrgName, half: Half) -> Result<(), CustodyError> {
        let mode = self.account.custody;
        if !mode.stores_halves() {
            return Err(CustodyError::NothingStored(mode));
        }
        let holds =
            self.orgs.party_of(self.account, org).is_some_and(|party| holding_parties(mode, half).contains(&party));
        if holds { Ok(()) } else { Err(CustodyError::NotHoldingParty { mode, half }) }
    }

    fn check_wall(&self, who: &Principal, half: Half) -> Result<(), CustodyError> {
        match blocking_exposure(self.exposures, self.current, who, half) {
            Some(e) => Err(CustodyError::Walled { principal: who.clone(), half: e.half, version: e.version }),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountKind, AccountModel, Contacts, KeyOverrides};

    fn p(s: &str) -> Principal {
        s.parse().unwrap()
    }

    fn orgs() -> OrgDirectory {
        OrgDirectory::new("acme".parse().unwrap(), ["globex".parse().unwrap(), "initech".parse().unwrap()])
    }

    fn account(custody: CustodyMode) -> Account {
        Account {
            account_id: "123456789012".parse().unwrap(),
            name: "Globex payer".into(),
            kind: AccountKind::Payer,
            model: AccountModel::Spam,
            dedicated_payer: false,
            custody,
            customer_org: Some("globex".parse().unwrap()),
            root_email: "root@acme.example".parse().unwrap(),
            contacts: Contacts::default(),
            kms_keys: KeyOverrides::default(),
            assignment: Default::default(),
        }
    }

    fn state<'a>(a: &'a Account, o: &'a OrgDirectory, s: &'a CustodianSets, e: &'a [Exposure]) -> CustodyState<'a> {
        CustodyState { account: a, orgs: o, sets: s, exposures: e, current: CurrentVersions::default() }
    }

    #[test]
    fn a_principal_in_the_other_set_is_a_four_eyes_violation() {
        let (a, o) = (account(CustodyMode::ProviderSplit), orgs());
        let sets = CustodianSets { password: [p("acme/alice")].into(), mfa: BTreeSet::new() };
        let err = state(&a, &o, &sets, &[]).assign(&p("acme/ada"), Half::Mfa, &[p("acme/alice")]).unwrap_err();
        assert_eq!(err, CustodyError::BothHalves { principal: p("acme/alice"), other: Half::Password });
    }

    #[test]
    fn shared_payer_halves_belong_to_opposite_parties() {
        let (a, o, sets) = (account(CustodyMode::SharedPayer), orgs(), CustodianSets::default());
        let s = state(&a, &o, &sets, &[]);
        assert!(s.assign(&p("acme/ada"), Half::Password, &[p("acme/alice")]).is_ok());
        assert!(matches!(
            s.assign(&p("acme/ada"), Half::Mfa, &[p("acme/bob")]),
            Err(CustodyError::NotHoldingParty { .. })
        ));
        assert!(s.assign(&p("globex/gina"), Half::Mfa, &[p("globex/gus")]).is_ok());
        assert!(matches!(
            s.assign(&p("globex/gina"), Half::Password, &[p("globex/gus")]),
            Err(CustodyError::NotHoldingParty { .. })
        ));
    }

    #[test]
    fn an_admin_names_only_members_of_their_own_org() {
        let (a, o, sets) = (account(CustodyMode::SharedPayer), orgs(), CustodianSets::default());
        let err = state(&a, &o, &sets, &[]).assign(&p("globex/gina"), Half::Mfa, &[p("acme/bob")]).unwrap_err();
        assert_eq!(err, CustodyError::ForeignPrincipal { principal: p("acme/bob") });
    }

    #[test]
    fn co_owned_sets_keep_the_other_partys_members() {
        let (a, o) = (account(CustodyMode::CoOwned), orgs());
        let sets = CustodianSets { password: [p("acme/alice"), p("globex/gus")].into(), mfa: BTreeSet::new() };
        let next = state(&a, &o, &sets, &[]).assign(&p("acme/ada"), Half::Password, &[p("acme/carl")]).unwrap();
        assert_eq!(next, [p("acme/carl"), p("globex/gus")].into());
    }

    #[test]
    fn unrelated_orgs_and_customer_owned_accounts_hold_nothing() {
        let o = orgs();
        let sets = CustodianSets::default();
        let a = account(CustodyMode::CoOwned);
        assert!(matches!(
            state(&a, &o, &sets, &[]).assign(&p("initech/ian"), Half::Mfa, &[]),
            Err(CustodyError::NotHoldingParty { .. })
        ));
        let a = account(CustodyMode::CustomerOwned);
        assert_eq!(
            state(&a, &o, &sets, &[]).assign(&p("globex/gina"), Half::Mfa, &[]),
            Err(CustodyError::NothingStored(CustodyMode::CustomerOwned))
        );
    }

    #[test]
    fn admins_cannot_appoint_themselves() {
        let (a, o, sets) = (account(CustodyMode::ProviderSplit), orgs(), CustodianSets::default());
        let err = state(&a, &o, &sets, &[]).assign(&p("acme/ada"), Half::Password, &[p("acme/ada")]).unwrap_err();
        assert_eq!(err, CustodyError::SelfAssignment);
    }

    #[test]
    fn someone_who_saw_the_current_password_cannot_become_an_mfa_custodian() {
        let (a, o, sets) = (account(CustodyMode::ProviderSplit), orgs(), CustodianSets::default());
        let seen = [Exposure { principal: p("acme/alice"), half: Half::Password, version: 2 }];
        let mut s = state(&a, &o, &sets, &seen);
        s.current = CurrentVersions { password: Some(2), mfa: None };
        assert!(matches!(
            s.assign(&p("acme/ada"), Half::Mfa, &[p("acme/alice")]),
            Err(CustodyError::Walled { version: 2, .. })
        ));
        s.current.password = Some(3);
        assert!(s.assign(&p("acme/ada"), Half::Mfa, &[p("acme/alice")]).is_ok());
    }

    #[test]
    fn only_custodians_deposit() {
        let (a, o) = (account(CustodyMode::ProviderSplit), orgs());
        let sets = CustodianSets { password: [p("acme/alice")].into(), mfa: [p("acme/bob")].into() };
        let s = state(&a, &o, &sets, &[]);
        assert!(s.check_deposit(&p("acme/alice"), Half::Password).is_ok());
        assert_eq!(s.check_deposit(&p("acme/alice"), Half::Mfa), Err(CustodyError::NotCustodian(Half::Mfa)));
        assert_eq!(s.check_deposit(&p("acme/ada"), Half::Password), Err(CustodyError::NotCustodian(Half::Password)));
    }
}
