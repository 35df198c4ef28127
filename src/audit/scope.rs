//! Which orgs an event is scoped to, and the signed statement of how many
//! events an org has (DESIGN.md §7, completeness).
//!
//! An event's scope is decided once, when the log appends it, and stored in
//! the event itself with one dense counter per org (`{"acme": 96,
//! "globex": 41}`). A scoped export carries a [`ScopeStatement`] signed by
//! the log key ("org O has K events up to tree size N"), so a verifier can
//! tell that no event of the org between two statements was left out: the
//! counters must run 1, 2, … K without a gap.

use std::collections::BTreeSet;

/// The orgs an event is scoped to. The provider runs the service and sees
/// every event. An event about an account is also its customer org's. An
/// event about no account is its actor's org's. An event with neither an
/// account nor an actor (authentication failures, unseal attempts, the
/// service's own records) is the provider's only: an unauthenticated caller
/// proves nothing about its org, so naming a customer's issuer in a forged
/// token must not put events into that customer's log. (One event is also
/// its account's former customer's: the DDI move that takes the account
/// away, see [`crate::audit::EventDraft::former_customer`].)
pub fn orgs_of(provider: &str, account: Option<Option<&str>>, actor_org: Option<&str>) -> BTreeSet<String> {
    let mut orgs = BTreeSet::from([provider.to_owned()]);
    match account {
        Some(customer) => orgs.extend(customer.map(str::to_owned)),
        None => orgs.extend(actor_org.map(str::to_owned)),
    }
    orgs
}

/// "Org `org` has `count` events among the first `size` events of the log
/// `origin`", optionally for an export narrowed by `filters` (which then
/// proves nothing about completeness, and says so under the signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopeStatement {
    pub origin: String,
    pub org: String,
    pub count: u64,
    pub size: u64,
    pub filters: Vec<String>,
}

/// A note that is not a scope statement.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not a rootvault scope statement")]
pub struct StatementError;

impl ScopeStatement {
    /// The text to sign. The first line (`<origin> scope`) is never an
    /// origin of a checkpoint, and the body has four or five lines where a
    /// checkpoint has three, so neither can pass for the other.
    pub fn body(&self) -> String {
        let mut body = format!("{} scope\norg {}\ncount {}\nsize {}\n", self.origin, self.org, self.count, self.size);
        if !self.filters.is_empty() {
            body.push_str(&format!("filtered {}\n", self.filters.join(",")));
        }
        body
    }

    /// Parse a verified note body.
    pub fn parse(body: &str) -> Result<Self, StatementError> {
        let lines: Vec<&str> = body.lines().collect();
        let (head, rest) = lines.split_first().ok_or(StatementError)?;
        let origin = head.strip_suffix(" scope").filter(|o| !o.is_empty()).ok_or(StatementError)?;
        let field = |i: usize, name: &str| {
            rest.get(i).and_then(|l| l.strip_prefix(name)).and_then(|v| v.strip_prefix(' ')).ok_or(StatementError)
        };
        let org = field(0, "org")?;
        let count = field(1, "count")?.parse().map_err(|_| StatementError)?;
        let size = field(2, "size")?.parse().map_err(|_| StatementError)?;
        let filters = match rest.len() {
            3 => Vec::new(),
            4 => field(3, "filtered")?.split(',').map(str::to_owned).collect(),
            _ => return Err(StatementError),
        };
        if org.is_empty() || filters.iter().any(String::is_empty) {
            return Err(StatementError);
        }
        Ok(Self { origin: origin.to_owned(), org: org.to_owned(), count, size, filters })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_provider_sees_everything_and_customers_their_accounts_and_their_own_actions() {
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert_eq!(orgs_of("acme", Some(Some("globex")), Some("acme")), set(&["acme", "globex"]));
        assert_eq!(orgs_of("acme", Some(None), Some("globex")), set(&["acme"]));
        assert_eq!(orgs_of("acme", None, Some("globex")), set(&["acme", "globex"]));
        assert_eq!(orgs_of("acme", None, None), set(&["acme"]));
    }

    #[test]
    fn a_statement_round_trips_and_a_checkpoint_body_is_not_one() {
        let s = ScopeStatement {
            origin: "rootvault/acme".into(),
            org: "globex".into(),
            count: 41,
            size: 1234,
            filters: vec![],
        };
        assert_eq!(s.body(), "rootvault/acme scope\norg globex\ncount 41\nsize 1234\n");
        assert_eq!(ScopeStatement::parse(&s.body()), Ok(s.clone()));
        let filtered = ScopeStatement { filters: vec!["account_id".into(), "since".into()], ..s };
        assert_eq!(ScopeStatement::parse(&filtered.body()), Ok(filtered));
        assert!(ScopeStatement::parse("rootvault/acme\n1234\nAAAA\n").is_err());
    }
}
