//! The organisations the service knows and which side of an account each is on.

use std::collections::BTreeSet;

use super::account::Account;
use super::ids::OrgName;

/// Which side of an account a principal stands on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Party {
    Provider,
    Customer,
}

/// The provider org that runs the service and the customer orgs it serves.
#[derive(Debug, Clone)]
pub struct OrgDirectory {
    provider: OrgName,
    customers: BTreeSet<OrgName>,
}

impl OrgDirectory {
    /// `customers` must not contain the provider; the configuration loader
    /// refuses such a file before it gets here, and this constructor drops it
    /// defensively so the provider can never also act as a customer.
    pub fn new(provider: OrgName, customers: impl IntoIterator<Item = OrgName>) -> Self {
        let customers = customers.into_iter().filter(|c| *c != provider).collect();
        Self { provider, customers }
    }

    pub fn provider(&self) -> &OrgName {
        &self.provider
    }

    pub fn is_provider(&self, org: &OrgName) -> bool {
        *org == self.provider
    }

    pub fn is_customer(&self, org: &OrgName) -> bool {
        self.customers.contains(org)
    }

    /// The side of `account` that `org` stands on, or `None` when the org is
    /// no party to it (and so must not even learn that it exists).
    pub fn party_of(&self, account: &Account, org: &OrgName) -> Option<Party> {
        if self.is_provider(org) {
            Some(Party::Provider)
        } else if account.customer_org.as_ref() == Some(org) {
            Some(Party::Customer)
        } else {
            None
        }
    }
}
