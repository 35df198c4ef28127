//! The rules of custody, free of I/O.
//!
//! Everything here is plain data and pure functions: identifiers parsed once at
//! the edge, the account model, which party may hold which half, the four-eyes
//! checks, the password policy and the account's lifecycle (onboarding, DDI
//! moves, consent to assignment, closure). Nothing in this module touches the network,
//! the database or the clock's side effects, so every rule can be tested
//! exhaustively and reused by whichever transport or store calls it.

pub mod account;
pub mod breakglass;
pub mod closure;
pub mod consent;
pub mod custody;
pub mod ids;
pub mod links;
pub mod moves;
pub mod notices;
pub mod onboarding;
pub mod orgs;
pub mod password_policy;
pub mod reverse;
pub mod root_signin;
pub mod session;
#[cfg(test)]
mod test_calendar;
pub mod wall;
#[cfg(test)]
mod wall_properties;
