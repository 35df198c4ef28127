//! Who is calling: JWT verification per trusted issuer, keeping issuers'
//! keys fresh, and dev issuers.
//!
//! The org of a principal comes from the issuer whose key verified the
//! token, never from a claim (DESIGN §5).

pub mod dev;
pub mod dev_idp;
pub mod issuer_keys;
pub mod jwt;
pub mod key_source;
pub mod oidc;
pub mod refresh;
pub mod secret;
pub mod service_token;
pub mod verified;

use std::collections::BTreeSet;

use crate::domain::ids::{Principal, Role};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub roles: BTreeSet<Role>,
    /// When the person behind this caller last proved who they are (Unix
    /// seconds): the ID token's `auth_time` at sign-in, else the token's
    /// `iat`. Releases need a recent one (step-up, DESIGN §13); `None`
    /// means unknown, which no release accepts.
    pub auth_time: Option<i64>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
