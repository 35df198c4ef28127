//! AWS accounts held in custody and the rules for registering one.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ids::{AccountId, OrgName};
use super::orgs::OrgDirectory;

/// `payer` (management account) or `member` (linked account).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountKind {
    Payer,
    Member,
}

impl AccountKind {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::Payer => "payer",
            AccountKind::Member => "member",
        }
    }
}

/// Who owns root of the account under the reseller agreement: `spam` (the
/// provider) or `ecam` (the customer, for member accounts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AccountModel {
    Spam,
    Ecam,
}

impl AccountModel {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountModel::Spam => "spam",
            AccountModel::Ecam => "ecam",
        }
    }
}

/// How the two halves of an account's root credential are held (DESIGN §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CustodyMode {
    /// Both halves with the provider, each with different custodians.
    ProviderSplit,
    /// Either half may be held by provider and/or customer custodians.
    CoOwned,
    /// Password with the provider, MFA with the customer.
    SharedPayer,
    /// Nothing stored: the customer owns root (ECAM member account).
    CustomerOwned,
}

impl CustodyMode {
    pub fn as_str(self) -> &'static str {
        match self {
            CustodyMode::ProviderSplit => "provider_split",
            CustodyMode::CoOwned => "co_owned",
            CustodyMode::SharedPayer => "shared_payer",
            CustodyMode::CustomerOwned => "customer_owned",
        }
    }

    /// Whether the service stores any half for accounts in this mode.
    pub fn stores_halves(self) -> bool {
        self != CustodyMode::CustomerOwned
    }

    /// Whether break-glass approvals must come from both sides (invariant 3).
    pub fn is_shared_with_customer(self) -> bool {
        matches!(self, CustodyMode::CoOwned | CustodyMode::SharedPayer)
    }
}

impl fmt::Display for CustodyMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CustodyMode {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, AccountError> {
        match s {
            "provider_split" => Ok(CustodyMode::ProviderSplit),
            "co_owned" => Ok(CustodyMode::CoOwned),
            "shared_payer" => Ok(CustodyMode::SharedPayer),
            "customer_owned" => Ok(CustodyMode::CustomerOwned),
            _ => Err(AccountError::UnknownCustody),
        }
    }
}

/// A syntactically plausible e-mail address. Deliverability is the identity
/// provider's and AWS's business; this only keeps garbage out of the records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Email {
    type Err = AccountError;
    fn from_str(s: &str) -> Result<Self, AccountError> {
        let valid = s.len() <= 254
            && !s.chars().any(|c| c.is_whitespace() || c.is_control())
            && matches!(s.split_once('@'), Some((local, domain))
                if !local.is_empty() && domain.contains('.') && !domain.contains('@')
                    && !domain.starts_with('.') && !domain.ends_with('.'));
        if valid { Ok(Self(s.to_owned())) } else { Err(AccountError::Email) }
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Email {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Email {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// The account's alternate contacts; in a shared-payer structure billing is
/// the provider's and operations and security are the customer's (seed 004).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contacts {
    #[serde(default)]
    pub billing: Option<Email>,
    #[serde(default)]
    pub operations: Option<Email>,
    #[serde(default)]
    pub security: Option<Email>,
}

/// Per-account KMS key overrides, e.g. a customer-held key protecting the
/// MFA half of a shared-payer account (DESIGN §2).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mfa: Option<String>,
}

impl KeyOverrides {
    pub fn is_empty(&self) -> bool {
        self.password.is_none() && self.mfa.is_none()
    }

    pub fn for_half(&self, half: super::ids::Half) -> Option<&str> {
        match half {
            super::ids::Half::Password => self.password.as_deref(),
            super::ids::Half::Mfa => self.mfa.as_deref(),
        }
    }
}

/// Whether the account is public sector or run by AWS India: either way a
/// hand-back needs a consent to assignment signed by both sides (seed 000).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignmentTerms {
    pub public_sector: bool,
    pub aws_india: bool,
}

impl AssignmentTerms {
    /// Whether a hand-back needs the consent to assignment.
    pub fn needs_consent(self) -> bool {
        self.public_sector || self.aws_india
    }
}

/// Why an account could not be registered. Each names the rule it broke.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error("name must be 1-200 characters without control characters")]
    Name,
    #[error("custody must be one of provider_split, co_owned, shared_payer, customer_owned")]
    UnknownCustody,
    #[error("not a valid e-mail address")]
    Email,
    #[error("customer_org is required for {0} accounts")]
    CustomerRequired(CustodyMode),
    #[error("customer_org must name a known customer organisation")]
    UnknownCustomer,
    #[error("only payer accounts can be dedicated payers")]
    DedicatedMember,
    #[error("ECAM member accounts are owned by the customer: custody must be customer_owned")]
    EcamMemberMustBeCustomerOwned,
    #[error("customer_owned custody is only for ECAM member accounts")]
    CustomerOwnedNeedsEcamMember,
    #[error("a KMS key id must be 1-2048 printable characters")]
    KeyId,
    #[error("customer_owned accounts store no halves, so they take no KMS keys")]
    KeysWithoutCustody,
}

/// An account as the service keeps it. Metadata only: no secret lives here.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Account {
    pub account_id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    pub model: AccountModel,
    pub dedicated_payer: bool,
    pub custody: CustodyMode,
    pub customer_org: Option<OrgName>,
    pub root_email: Email,
    pub contacts: Contacts,
    #[serde(skip_serializing_if = "KeyOverrides::is_empty")]
    pub kms_keys: KeyOverrides,
    #[serde(flatten)]
    pub assignment: AssignmentTerms,
}

/// The fields of a registration request, before the cross-field rules.
#[derive(Debug, Clone)]
pub struct NewAccount {
    pub account_id: AccountId,
    pub name: String,
    pub kind: AccountKind,
    pub model: AccountModel,
    pub dedicated_payer: bool,
    pub custody: CustodyMode,
    pub customer_org: Option<OrgName>,
    pub root_email: Email,
    pub contacts: Contacts,
    pub kms_keys: KeyOverrides,
    pub assignment: AssignmentTerms,
}

/// An account name trimmed, if it is 1-200 characters without control
/// characters.
pub fn clean_name(name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 200 || name.chars().any(char::is_control) {
        return Err(AccountError::Name);
    }
    Ok(name.to_owned())
}

impl NewAccount {
    /// Apply the cross-field rules and produce the account to store.
    pub fn validate(self, orgs: &OrgDirectory) -> Result<Account, AccountError> {
        let name = clean_name(&self.name)?;
        if self.dedicated_payer && self.kind != AccountKind::Payer {
            return Err(AccountError::DedicatedMember);
        }
        let ecam_member = self.model == AccountModel::Ecam && self.kind == AccountKind::Member;
        match (ecam_member, self.custody) {
            (true, mode) if mode != CustodyMode::CustomerOwned => {
                return Err(AccountError::EcamMemberMustBeCustomerOwned);
            }
            (false, CustodyMode::CustomerOwned) => {
                return Err(AccountError::CustomerOwnedNeedsEcamMember);
            }
            _ => {}
        }
        match (&self.customer_org, self.custody) {
            (None, CustodyMode::ProviderSplit) => {}
            (None, mode) => return Err(AccountError::CustomerRequired(mode)),
            (Some(org), _) if !orgs.is_customer(org) => return Err(AccountError::UnknownCustomer),
            (Some(_), _) => {}
        }
        for key in [&self.kms_keys.password, &self.kms_keys.mfa].into_iter().flatten() {
            if key.is_empty() || key.len() > 2048 || key.chars().any(|c| c.is_control() || c.is_whitespace()) {
                return Err(AccountError::KeyId);
            }
        }
        if !self.custody.stores_halves() && !self.kms_keys.is_empty() {
            return Err(AccountError::KeysWithoutCustody);
        }
        Ok(Account {
            account_id: self.account_id,
            name,
            kind: self.kind,
            model: self.model,
            dedicated_payer: self.dedicated_payer,
            custody: self.custody,
            customer_org: self.customer_org,
            root_email: self.root_email,
            contacts: self.contacts,
            kms_keys: self.kms_keys,
            assignment: self.assignment,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn orgs() -> OrgDirectory {
        OrgDirectory::new("acme".parse().unwrap(), ["globex".parse().unwrap()])
    }

    fn new_account() -> NewAccount {
        NewAccount {
            account_id: "123456789012".parse().unwrap(),
            name: "Globex payer".into(),
            kind: AccountKind::Payer,
            model: AccountModel::Spam,
            dedicated_payer: true,
            custody: CustodyMode::SharedPayer,
            customer_org: Some("globex".parse().unwrap()),
            root_email: "aws-root+globex@acme.example".parse().unwrap(),
            contacts: Contacts::default(),
            kms_keys: KeyOverrides::default(),
            assignment: AssignmentTerms::default(),
        }
    }

    #[test]
    fn a_complete_shared_payer_account_is_accepted() {
        let account = new_account().validate(&orgs()).unwrap();
        assert_eq!(account.custody, CustodyMode::SharedPayer);
    }

    #[test]
    fn shared_custody_needs_a_known_customer() {
        let mut a = new_account();
        a.customer_org = None;
        assert_eq!(a.validate(&orgs()), Err(AccountError::CustomerRequired(CustodyMode::SharedPayer)));
        let mut a = new_account();
        a.customer_org = Some("initech".parse().unwrap());
        assert_eq!(a.validate(&orgs()), Err(AccountError::UnknownCustomer));
        let mut a = new_account();
        a.customer_org = Some("acme".parse().unwrap());
        assert_eq!(a.validate(&orgs()), Err(AccountError::UnknownCustomer));
    }

    #[test]
    fn provider_split_needs_no_customer() {
        let mut a = new_account();
        a.custody = CustodyMode::ProviderSplit;
        a.customer_org = None;
        assert!(a.validate(&orgs()).is_ok());
    }

    #[test]
    fn ecam_members_and_customer_owned_custody_go_together() {
        let mut a = new_account();
        a.kind = AccountKind::Member;
        a.dedicated_payer = false;
        a.model = AccountModel::Ecam;
        assert_eq!(a.clone().validate(&orgs()), Err(AccountError::EcamMemberMustBeCustomerOwned));
        a.custody = CustodyMode::CustomerOwned;
        assert!(a.validate(&orgs()).is_ok());
        let mut b = new_account();
        b.custody = CustodyMode::CustomerOwned;
        assert_eq!(b.validate(&orgs()), Err(AccountError::CustomerOwnedNeedsEcamMember));
    }

    #[test]
    fn members_cannot_be_dedicated_payers_and_names_are_required() {
        let mut a = new_account();
        a.kind = AccountKind::Member;
        assert_eq!(a.validate(&orgs()), Err(AccountError::DedicatedMember));
        let mut a = new_account();
        a.name = "  ".into();
        assert_eq!(a.validate(&orgs()), Err(AccountError::Name));
    }

    #[test]
    fn emails_need_a_local_part_and_a_dotted_domain() {
        assert!("root@acme.example".parse::<Email>().is_ok());
        for bad in ["root", "@acme.example", "root@acme", "root@.example", "ro ot@acme.example", "a@b@c.d"] {
            assert!(bad.parse::<Email>().is_err(), "{bad:?}");
        }
    }
}
