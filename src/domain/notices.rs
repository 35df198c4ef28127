//! Who is told what (DESIGN §15): the audiences of each notice to people.
//!
//! Approvers hear of new requests they may decide; the requester hears of
//! every decision; each recipient hears when their release is ready; both
//! parties' security teams hear of every release, hand-off and root
//! sign-in alert, and account teams of hand-offs and alerts. The account's
//! life (onboarding, DDI moves, closure and reopening) reaches both account
//! teams, and changes of custody (a completed move, a closure, a reopening)
//! both security teams too. Addresses and channels are the notifier's
//! business: this says only who.

use super::account::Account;
use super::ids::Principal;
use super::orgs::Party;

/// What happened, as far as people are concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Notice {
    /// A break-glass request waits for approvers.
    RequestCreated,
    /// The request has all its approvals: its releases may be taken.
    RequestApproved,
    RequestDenied,
    RequestCancelled,
    RequestExpired,
    /// A half (a password or an MFA code) left the service.
    RequestReleased,
    /// Custody ended: the account was handed back or closed.
    CustodyEnded,
    /// A root sign-in (or password or e-mail change) that no break-glass
    /// window explains, or that failed.
    RootSigninAlert,
    /// Onboarding of the account began: who deposits which half.
    OnboardingStarted,
    /// Every onboarding item is settled: the account is in custody.
    OnboardingCompleted,
    /// The customer asked to move the account to another customer.
    MoveRequested,
    /// The provider accepted the move and its date.
    MoveConfirmed,
    /// The account now belongs to another customer, who must name custodians.
    MoveCompleted,
    /// A move was withdrawn.
    MoveCancelled,
    /// The account was closed: its halves are kept but nothing is released.
    AccountClosed,
    /// A closed account was reopened: custody resumes.
    AccountReopened,
    /// A root sign-in that a break-glass window explains: security teams
    /// still hear of every root sign-in (seed 004).
    RootSigninExpected,
}

/// Who hears a notice.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// A party's approvers (`approvers_email`).
    Approvers(Party),
    /// A party's security team (`security_email`).
    Security(Party),
    /// A party's account team (`account_team_email`).
    AccountTeam(Party),
    /// The account's own `contacts.security`.
    AccountSecurityContact,
    /// A party's chat channels.
    Chat(Party),
    /// One person, hearing about their own request.
    Requester(Principal),
    /// One person whose release is ready.
    Recipient(Principal),
}

/// The people a request names, when the notice is about one.
#[derive(Debug, Clone, Copy)]
pub struct RequestPeople<'a> {
    pub requester: &'a Principal,
    pub password_to: Option<&'a Principal>,
    pub mfa_to: Option<&'a Principal>,
}

/// Everyone who hears `notice` about `account`, in the order they should be
/// served (a person named twice is told once, by the first entry).
pub fn audiences(notice: Notice, account: &Account, request: Option<RequestPeople<'_>>) -> Vec<Audience> {
    let parties: &[Party] =
        if account.customer_org.is_some() { &[Party::Provider, Party::Customer] } else { &[Party::Provider] };
    let both = |make: fn(Party) -> Audience| parties.iter().map(move |p| make(*p));
    match notice {
        Notice::RequestCreated => {
            // The customer decides only where it shares custody.
            let deciders: &[Party] = if account.custody.is_shared_with_customer() && account.customer_org.is_some() {
                &[Party::Provider, Party::Customer]
            } else {
                &[Party::Provider]
            };
            deciders.iter().flat_map(|p| [Audience::Approvers(*p), Audience::Chat(*p)]).collect()
        }
        Notice::RequestApproved => {
            let Some(people) = request else { return Vec::new() };
            let mut out: Vec<Audience> =
                [people.password_to, people.mfa_to].into_iter().flatten().cloned().map(Audience::Recipient).collect();
            out.dedup();
            if ![people.password_to, people.mfa_to].contains(&Some(people.requester)) {
                out.push(Audience::Requester(people.requester.clone()));
            }
            out
        }
        Notice::RequestDenied | Notice::RequestCancelled | Notice::RequestExpired => {
            request.map(|people| vec![Audience::Requester(people.requester.clone())]).unwrap_or_default()
        }
        Notice::RequestReleased => {
            both(Audience::Security).chain([Audience::AccountSecurityContact]).chain(both(Audience::Chat)).collect()
        }
        Notice::CustodyEnded
        | Notice::RootSigninAlert
        | Notice::RootSigninExpected
        | Notice::MoveCompleted
        | Notice::AccountClosed
        | Notice::AccountReopened => both(Audience::Security)
            .chain(both(Audience::AccountTeam))
            .chain([Audience::AccountSecurityContact])
            .chain(both(Audience::Chat))
            .collect(),
        // The provider decides on a move; the customer's team follows it.
        Notice::MoveRequested => [Audience::AccountTeam(Party::Provider), Audience::Chat(Party::Provider)]
            .into_iter()
            .chain(parties.iter().filter(|p| **p == Party::Customer).map(|p| Audience::AccountTeam(*p)))
            .collect(),
        Notice::OnboardingStarted | Notice::OnboardingCompleted | Notice::MoveConfirmed | Notice::MoveCancelled => {
            both(Audience::AccountTeam).chain(both(Audience::Chat)).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::account::{AccountKind, AccountModel, Contacts, CustodyMode, KeyOverrides};

    fn account(custody: CustodyMode, customer: bool) -> Account {
        Account {
            account_id: "111122223333".parse().unwrap(),
            name: "payer".into(),
            kind: AccountKind::Payer,
            model: AccountModel::Spam,
            dedicated_payer: true,
            custody,
            customer_org: customer.then(|| "globex".parse().unwrap()),
            root_email: "root@msp.example".parse().unwrap(),
            contacts: Contacts::default(),
            kms_keys: KeyOverrides::default(),
            assignment: Default::default(),
        }
    }

    fn who(s: &str) -> Principal {
        s.parse().unwrap()
    }

    #[test]
    fn only_the_provider_approves_a_provider_held_split() {
        let got = audiences(Notice::RequestCreated, &account(CustodyMode::ProviderSplit, true), None);
        assert_eq!(got, [Audience::Approvers(Party::Provider), Audience::Chat(Party::Provider)]);
    }

    #[test]
    fn both_parties_approve_where_custody_is_shared() {
        for mode in [CustodyMode::CoOwned, CustodyMode::SharedPayer] {
            let got = audiences(Notice::RequestCreated, &account(mode, true), None);
            assert_eq!(
                got,
                [
                    Audience::Approvers(Party::Provider),
                    Audience::Chat(Party::Provider),
                    Audience::Approvers(Party::Customer),
                    Audience::Chat(Party::Customer)
                ]
            );
        }
    }

    #[test]
    fn approval_tells_each_recipient_once_and_then_the_requester() {
        let (alice, bob) = (who("acme/alice"), who("acme/bob"));
        let people = RequestPeople { requester: &alice, password_to: Some(&bob), mfa_to: Some(&bob) };
        let got = audiences(Notice::RequestApproved, &account(CustodyMode::ProviderSplit, true), Some(people));
        assert_eq!(got, [Audience::Recipient(bob.clone()), Audience::Requester(alice.clone())]);

        let people = RequestPeople { requester: &alice, password_to: Some(&alice), mfa_to: Some(&bob) };
        let got = audiences(Notice::RequestApproved, &account(CustodyMode::ProviderSplit, true), Some(people));
        assert_eq!(got, [Audience::Recipient(alice), Audience::Recipient(bob)]);
    }

    #[test]
    fn other_decisions_tell_the_requester() {
        let alice = who("acme/alice");
        let people = RequestPeople { requester: &alice, password_to: None, mfa_to: None };
        for notice in [Notice::RequestDenied, Notice::RequestCancelled, Notice::RequestExpired] {
            let got = audiences(notice, &account(CustodyMode::ProviderSplit, true), Some(people));
            assert_eq!(got, [Audience::Requester(alice.clone())]);
        }
    }

    #[test]
    fn security_teams_of_both_parties_hear_of_releases_and_alerts() {
        let released = audiences(Notice::RequestReleased, &account(CustodyMode::SharedPayer, true), None);
        assert_eq!(
            released,
            [
                Audience::Security(Party::Provider),
                Audience::Security(Party::Customer),
                Audience::AccountSecurityContact,
                Audience::Chat(Party::Provider),
                Audience::Chat(Party::Customer)
            ]
        );
        for notice in [Notice::RootSigninAlert, Notice::RootSigninExpected, Notice::CustodyEnded] {
            let got = audiences(notice, &account(CustodyMode::ProviderSplit, true), None);
            assert!(got.contains(&Audience::Security(Party::Customer)), "{notice:?}");
            assert!(got.contains(&Audience::AccountTeam(Party::Provider)), "{notice:?}");
            assert!(got.contains(&Audience::AccountTeam(Party::Customer)), "{notice:?}");
        }
    }

    #[test]
    fn lifecycle_changes_reach_both_account_teams_and_custody_changes_both_security_teams() {
        let account = account(CustodyMode::SharedPayer, true);
        for notice in
            [Notice::OnboardingStarted, Notice::OnboardingCompleted, Notice::MoveConfirmed, Notice::MoveCancelled]
        {
            assert_eq!(
                audiences(notice, &account, None),
                [
                    Audience::AccountTeam(Party::Provider),
                    Audience::AccountTeam(Party::Customer),
                    Audience::Chat(Party::Provider),
                    Audience::Chat(Party::Customer)
                ],
                "{notice:?}"
            );
        }
        for notice in [Notice::MoveCompleted, Notice::AccountClosed, Notice::AccountReopened] {
            let got = audiences(notice, &account, None);
            assert!(got.contains(&Audience::Security(Party::Customer)), "{notice:?}");
            assert!(got.contains(&Audience::AccountTeam(Party::Customer)), "{notice:?}");
            assert!(got.contains(&Audience::AccountSecurityContact), "{notice:?}");
        }
        assert_eq!(
            audiences(Notice::MoveRequested, &account, None),
            [
                Audience::AccountTeam(Party::Provider),
                Audience::Chat(Party::Provider),
                Audience::AccountTeam(Party::Customer)
            ]
        );
    }

    #[test]
    fn an_account_without_a_customer_tells_the_provider_only() {
        let got = audiences(Notice::RootSigninAlert, &account(CustodyMode::ProviderSplit, false), None);
        assert!(got.iter().all(|a| !matches!(
            a,
            Audience::Security(Party::Customer)
                | Audience::AccountTeam(Party::Customer)
                | Audience::Chat(Party::Customer)
        )));
        assert!(got.contains(&Audience::Security(Party::Provider)));
    }
}
