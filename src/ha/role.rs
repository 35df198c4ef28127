//! The roles a node can have, and how each round of the lease loop moves
//! it between them. Pure: nothing here reads a clock or asks a database,
//! so every transition is tested with instants the tests choose.

use std::time::{Duration, Instant};

/// A lease term: one more each time the lease changes hands. A term
/// never repeats, so work prepared under one term cannot commit under
/// another (see `fence`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Term(i64);

impl Term {
    pub fn new(value: i64) -> Self {
        Self(value)
    }

    pub fn get(self) -> i64 {
        self.0
    }
}

impl std::fmt::Display for Term {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

/// One run of one process: a random UUID made at start. The lease names
/// its holder by instance, not by node name, so a restarted process never
/// inherits the term its previous run held.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InstanceId(String);

impl InstanceId {
    pub fn random() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// An instance id read back from the database.
    pub(crate) fn from_stored(value: String) -> Self {
        Self(value)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The node that holds the lease, as the database names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveNode {
    pub instance: InstanceId,
    /// Its `[ha] node` name.
    pub node: String,
    /// Where the other nodes reach it (`[ha] api_addr`).
    pub api_addr: String,
    pub term: Term,
}

/// What this node is right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Role {
    /// This node leads: it runs the background workers and writes. `term`
    /// is `None` on a single node (SQLite), where there is no lease.
    Active { term: Option<Term> },
    /// Another node leads (`active`, when the database names a live
    /// holder), or nobody does.
    Standby { active: Option<ActiveNode> },
}

impl Role {
    pub fn is_active(&self) -> bool {
        matches!(self, Role::Active { .. })
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Role::Active { .. } => "active",
            Role::Standby { .. } => "standby",
        }
    }
}

/// What one attempt at the lease found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// This node holds the lease (taken or renewed) under this term.
    Held(Term),
    /// Another node holds it (`Some`), or nobody does and this node may
    /// not take it (`None`).
    Elsewhere(Option<ActiveNode>),
    /// The database did not answer in time, or answered with an error.
    Failed,
}

/// How long a lease lasts and how often it is renewed. Not part of the
/// configuration file: the contract (DESIGN §17) fixes renewal every
/// second and expiry after five; tests shorten them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LeaseTimings {
    /// How often the holder renews, and a standby tries to take over.
    pub renew_every: Duration,
    /// How long after a renewal the lease expires, by the database's clock.
    pub ttl: Duration,
    /// How much sooner than `ttl` the holder stops believing it leads, on
    /// its own clock, covering clock rates and the time a reply travels.
    pub margin: Duration,
}

impl Default for LeaseTimings {
    fn default() -> Self {
        Self { renew_every: Duration::from_secs(1), ttl: Duration::from_secs(5), margin: Duration::from_secs(1) }
    }
}

impl LeaseTimings {
    /// How long after an attempt *started* the holder may believe it still
    /// leads. The database computed the expiry from its clock at some
    /// moment after the attempt started, so the lease lasts at least this
    /// long from the start, whatever the two clocks read.
    pub fn validity(&self) -> Duration {
        self.ttl.saturating_sub(self.margin)
    }

    /// Whether these timings can work at all: a holder must renew well
    /// before its belief runs out.
    pub fn is_sound(&self) -> bool {
        !self.renew_every.is_zero() && self.renew_every < self.validity()
    }
}

/// The lease as this node believes it holds it, on its own monotonic
/// clock: held under a term until an instant.
#[derive(Debug, Default)]
pub struct Tenure {
    held: Option<(Term, Instant)>,
}

impl Tenure {
    /// Account for an attempt that started at `started` and ended at
    /// `ended`; returns the role to publish. A failed attempt steps down at
    /// once: a node that cannot prove it leads does not lead.
    pub fn after(&mut self, attempt: Attempt, started: Instant, ended: Instant, timings: &LeaseTimings) -> Role {
        match attempt {
            Attempt::Held(term) => {
                let until = started + timings.validity();
                if ended >= until {
                    // The answer came too late to be believed.
                    self.held = None;
                    return Role::Standby { active: None };
                }
                self.held = Some((term, until));
                Role::Active { term: Some(term) }
            }
            Attempt::Elsewhere(active) => {
                self.held = None;
                Role::Standby { active }
            }
            Attempt::Failed => {
                self.held = None;
                Role::Standby { active: None }
            }
        }
    }

    /// When this node must stop believing it leads, if it does.
    pub fn deadline(&self) -> Option<Instant> {
        self.held.map(|(_, until)| until)
    }

    /// Step down if `now` is past the deadline: the role to publish when
    /// that changed anything. The database may be unreachable, or the
    /// renewal stuck; either way the lease may be someone else's by now.
    pub fn expire(&mut self, now: Instant) -> Option<Role> {
        match self.held {
            Some((_, until)) if now >= until => {
                self.held = None;
                Some(Role::Standby { active: None })
            }
            _ => None,
        }
    }

    pub fn term(&self) -> Option<Term> {
        self.held.map(|(term, _)| term)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timings() -> LeaseTimings {
        LeaseTimings::default()
    }

    fn other(term: i64) -> ActiveNode {
        ActiveNode {
            instance: InstanceId::from_stored("6f1c0d5e-0000-4000-8000-000000000002".into()),
            node: "rv-2".into(),
            api_addr: "https://rv-2.internal:8750".into(),
            term: Term::new(term),
        }
    }

    #[test]
    fn holding_the_lease_makes_a_node_active_until_the_ttl_less_the_margin_from_when_it_asked() {
        let mut tenure = Tenure::default();
        let t0 = Instant::now();
        let role = tenure.after(Attempt::Held(Term::new(3)), t0, t0 + Duration::from_millis(20), &timings());
        assert_eq!(role, Role::Active { term: Some(Term::new(3)) });
        assert_eq!(tenure.deadline(), Some(t0 + Duration::from_secs(4)));
        assert_eq!(tenure.expire(t0 + Duration::from_millis(3_999)), None);
        assert_eq!(tenure.term(), Some(Term::new(3)));
        assert_eq!(tenure.expire(t0 + Duration::from_secs(4)), Some(Role::Standby { active: None }));
        assert_eq!(tenure.term(), None);
        assert_eq!(tenure.expire(t0 + Duration::from_secs(5)), None, "stepping down happens once");
    }

    #[test]
    fn each_renewal_moves_the_deadline_from_the_renewals_start() {
        let mut tenure = Tenure::default();
        let t0 = Instant::now();
        tenure.after(Attempt::Held(Term::new(1)), t0, t0, &timings());
        let t1 = t0 + Duration::from_secs(1);
        tenure.after(Attempt::Held(Term::new(1)), t1, t1 + Duration::from_millis(900), &timings());
        assert_eq!(tenure.deadline(), Some(t1 + Duration::from_secs(4)));
    }

    #[test]
    fn a_failed_or_lost_renewal_steps_down_at_once() {
        let t0 = Instant::now();
        let mut tenure = Tenure::default();
        tenure.after(Attempt::Held(Term::new(1)), t0, t0, &timings());
        assert_eq!(tenure.after(Attempt::Failed, t0, t0, &timings()), Role::Standby { active: None });
        assert_eq!(tenure.deadline(), None);

        tenure.after(Attempt::Held(Term::new(1)), t0, t0, &timings());
        let role = tenure.after(Attempt::Elsewhere(Some(other(2))), t0, t0, &timings());
        assert_eq!(role, Role::Standby { active: Some(other(2)) });
        assert_eq!(tenure.term(), None);
    }

    #[test]
    fn an_answer_that_arrives_after_the_belief_would_have_run_out_is_not_believed() {
        let mut tenure = Tenure::default();
        let t0 = Instant::now();
        let role = tenure.after(Attempt::Held(Term::new(7)), t0, t0 + Duration::from_secs(4), &timings());
        assert_eq!(role, Role::Standby { active: None });
        assert_eq!(tenure.deadline(), None);
    }

    #[test]
    fn the_default_timings_are_those_of_the_contract_and_sound() {
        let t = LeaseTimings::default();
        assert_eq!((t.renew_every, t.ttl), (Duration::from_secs(1), Duration::from_secs(5)));
        assert!(t.is_sound());
        let unsound = LeaseTimings { renew_every: Duration::from_secs(4), ..t };
        assert!(!unsound.is_sound());
        assert!(!LeaseTimings { renew_every: Duration::ZERO, ..t }.is_sound());
    }

    #[test]
    fn roles_name_themselves() {
        assert!(Role::Active { term: None }.is_active());
        assert_eq!(Role::Standby { active: None }.as_str(), "standby");
        assert_eq!(Role::Active { term: Some(Term::new(1)) }.as_str(), "active");
    }
}
