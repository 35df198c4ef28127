//! Who is calling: JWT verification per trusted issuer, and dev issuers.
//!
//! The org of a principal comes from the issuer whose key verified the
//! token, never from a claim (DESIGN §5).

pub mod dev;
pub mod jwt;

use std::collections::BTreeSet;

use crate::domain::ids::{Principal, Role};

/// An authenticated caller.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    pub principal: Principal,
    pub roles: BTreeSet<Role>,
}

impl Caller {
    pub fn has_role(&self, role: Role) -> bool {
        self.roles.contains(&role)
    }
}
