//! Newtypes for the identifiers that cross the service's edge.
//!
//! Each is parsed once (parse, don't validate): holding an `AccountId` means the
//! string was twelve ASCII digits, holding a `Principal` means it was a known
//! shape of `org/sub`. Serde goes through the same parsers, so a JSON body
//! with a bad id fails to deserialize instead of reaching a handler.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Why an identifier was refused. The message never echoes the input beyond
/// what is safe to log, because ids may arrive in the same body as secrets.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    #[error("an AWS account id is exactly 12 digits")]
    AccountId,
    #[error("an org name is 1-63 lowercase letters, digits or '-', starting with a letter or digit")]
    OrgName,
    #[error("a subject is 1-128 printable characters without '/', spaces or invisible characters")]
    Subject,
    #[error("a principal is written org/sub")]
    Principal,
    #[error("a half is either \"password\" or \"mfa\"")]
    Half,
    #[error("a role is one of admin, staff, approver, auditor")]
    Role,
}

macro_rules! string_newtype_serde {
    ($ty:ident) => {
        impl Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.to_string())
            }
        }
        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let raw = String::deserialize(d)?;
                raw.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// A 12-digit AWS account id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountId(String);

impl AccountId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for AccountId {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        if s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit()) {
            Ok(Self(s.to_owned()))
        } else {
            Err(IdError::AccountId)
        }
    }
}

impl fmt::Display for AccountId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_newtype_serde!(AccountId);

/// The name of a provider or customer organisation, e.g. `acme`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrgName(String);

impl OrgName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for OrgName {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.len() <= 63
            && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !s.starts_with('-');
        if ok { Ok(Self(s.to_owned())) } else { Err(IdError::OrgName) }
    }
}

impl fmt::Display for OrgName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
string_newtype_serde!(OrgName);

/// The subject of a principal inside its org, as the org's identity provider
/// names it (`sub` claim).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Subject(String);

impl Subject {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Subject {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let ok = !s.is_empty()
            && s.chars().count() <= 128
            && s.chars().all(|c| !c.is_control() && !c.is_whitespace() && !is_invisible(c) && c != '/');
        if ok { Ok(Self(s.to_owned())) } else { Err(IdError::Subject) }
    }
}

/// Characters that render as nothing or reorder the text around them:
/// zero-width joiners and spaces, the byte-order mark, bidi embeddings,
/// overrides and isolates, soft hyphens and the other format (Cf)
/// characters. Allowed, they would let `acme/ali\u{200b}ce` stand beside
/// `acme/alice` as a second custodian that reads the same.
fn is_invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{FFF0}'..='\u{FFFB}' | '\u{E0000}'..='\u{E0FFF}'
        | '\u{0600}'..='\u{0605}' | '\u{06DD}' | '\u{070F}' | '\u{0890}' | '\u{0891}' | '\u{08E2}'
        | '\u{110BD}' | '\u{110CD}' | '\u{13430}'..='\u{1343F}' | '\u{1BCA0}'..='\u{1BCA3}'
        | '\u{1D173}'..='\u{1D17A}')
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An authenticated person, written `org/sub`. The org part always comes from
/// the issuer that vouched for the person, never from what they claim.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Principal {
    pub org: OrgName,
    pub sub: Subject,
}

impl Principal {
    pub fn new(org: OrgName, sub: Subject) -> Self {
        Self { org, sub }
    }
}

impl FromStr for Principal {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        let (org, sub) = s.split_once('/').ok_or(IdError::Principal)?;
        Ok(Self {
            org: org.parse().map_err(|_| IdError::Principal)?,
            sub: sub.parse().map_err(|_| IdError::Principal)?,
        })
    }
}

impl fmt::Display for Principal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.org, self.sub)
    }
}
string_newtype_serde!(Principal);

/// One of the two separately encrypted parts of a root credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Half {
    Password,
    Mfa,
}

impl Half {
    pub const BOTH: [Half; 2] = [Half::Password, Half::Mfa];

    pub fn as_str(self) -> &'static str {
        match self {
            Half::Password => "password",
            Half::Mfa => "mfa",
        }
    }

    /// The half a principal must not also hold.
    pub fn other(self) -> Half {
        match self {
            Half::Password => Half::Mfa,
            Half::Mfa => Half::Password,
        }
    }
}

impl FromStr for Half {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s {
            "password" => Ok(Half::Password),
            "mfa" => Ok(Half::Mfa),
            _ => Err(IdError::Half),
        }
    }
}

impl fmt::Display for Half {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
string_newtype_serde!(Half);

/// What a principal may do, as granted by its identity provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Manages accounts and custodians; confers no release (invariant 6).
    Admin,
    /// May ask for break-glass access.
    Staff,
    /// May approve or deny break-glass requests.
    Approver,
    /// May read and export the audit log.
    Auditor,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Staff => "staff",
            Role::Approver => "approver",
            Role::Auditor => "auditor",
        }
    }
}

impl FromStr for Role {
    type Err = IdError;
    fn from_str(s: &str) -> Result<Self, IdError> {
        match s {
            "admin" => Ok(Role::Admin),
            "staff" => Ok(Role::Staff),
            "approver" => Ok(Role::Approver),
            "auditor" => Ok(Role::Auditor),
            _ => Err(IdError::Role),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}
string_newtype_serde!(Role);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_ids_are_exactly_twelve_ascii_digits() {
        assert!("123456789012".parse::<AccountId>().is_ok());
        for bad in ["", "12345678901", "1234567890123", "12345678901a", "１２３４５６７８９０１２", " 23456789012"]
        {
            assert_eq!(bad.parse::<AccountId>(), Err(IdError::AccountId), "{bad:?}");
        }
    }

    #[test]
    fn principals_round_trip_and_reject_bad_shapes() {
        let p: Principal = "acme/alice".parse().unwrap();
        assert_eq!(p.org.as_str(), "acme");
        assert_eq!(p.to_string(), "acme/alice");
        for bad in ["acme", "/alice", "acme/", "Acme/alice", "acme/al ice", "acme/a/b", "-x/alice"] {
            assert!(bad.parse::<Principal>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn subjects_with_invisible_or_control_characters_are_refused() {
        for bad in [
            "ali\u{200b}ce",
            "ali\u{200c}ce",
            "ali\u{200d}ce",
            "ali\u{2060}ce",
            "\u{feff}alice",
            "alice\u{202e}",
            "ali\u{2066}ce\u{2069}",
            "ali\u{00ad}ce",
            "ali\u{e0041}ce",
            "ali\u{7}ce",
            "ali\u{85}ce",
        ] {
            assert_eq!(bad.parse::<Subject>(), Err(IdError::Subject), "{bad:?}");
            assert!(format!("acme/{bad}").parse::<Principal>().is_err(), "{bad:?}");
        }
        assert!("élise.o'brien@acme".parse::<Subject>().is_ok(), "visible non-ASCII stays allowed");
    }

    #[test]
    fn halves_know_their_counterpart() {
        assert_eq!(Half::Password.other(), Half::Mfa);
        assert_eq!(Half::Mfa.other(), Half::Password);
        assert_eq!("mfa".parse::<Half>(), Ok(Half::Mfa));
        assert!("seed".parse::<Half>().is_err());
    }
}
