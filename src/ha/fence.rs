//! Fencing: every write transaction on PostgreSQL proves, inside itself,
//! that its node still holds the lease under the term it believes in, so
//! a paused (SIGSTOP) or cut-off former leader commits nothing once
//! another node has taken over (DESIGN §17).
//!
//! # The recipe for the writer
//!
//! The store's writer thread (`crate::store`) opens every group
//! transaction with [`check`], before any other statement; when it fails,
//! every write of the group is refused with `StoreError::NotActive`, which
//! clients see as 503 `no_active_node`:
//!
//! ```text
//! BEGIN
//! crate::ha::fence::check(&conn, &fence)?;
//! … the writes and their audit events, each in its savepoint …
//! COMMIT
//! ```
//!
//! `check` runs, in that transaction:
//!
//! 1. [`WRITER_TIMEOUT_SQL`]: `SET LOCAL idle_in_transaction_session_timeout`
//!    to 2 s. `LOCAL` makes it last for this transaction only, which is
//!    what works behind PgBouncer's transaction pooling (a session setting
//!    would stick to a server connection other clients then get).
//! 2. [`FENCE_SQL`]: the lease row, if this instance holds it under this
//!    term and it has not expired by the database's clock, `FOR KEY SHARE`.
//!    No row: the transaction must not go on ([`FenceError::LeaseLost`]).
//!
//! # Why this is safe
//!
//! - A takeover (`lease::TAKE_OVER`) locks the lease row `FOR UPDATE`, the
//!   one row lock that conflicts with `FOR KEY SHARE`, so it waits until
//!   every transaction that passed the fence has ended: whatever the old
//!   holder commits, it commits before the new term exists. A transaction
//!   whose fence comes after the takeover reads the new holder and stops;
//!   one whose fence waited behind the takeover re-reads the row once it
//!   is free (READ COMMITTED re-checks the condition on the newest version)
//!   and stops too.
//! - The holder's own renewal (`lease::RENEW`) updates no key column, so
//!   it takes `FOR NO KEY UPDATE`, which `FOR KEY SHARE` does not conflict
//!   with: a renewal never waits for its own node's writes (under constant
//!   load it otherwise could, until the holder gave up on it). This costs
//!   the fencing nothing. A renewal changes neither holder nor term, so a
//!   fence that read the row before it committed read the same facts. And
//!   PostgreSQL carries the key-share lockers of a row over to the version
//!   a non-key update makes (as it must for foreign keys), including a
//!   locker that came while the update was in flight, so a later takeover
//!   still waits for every transaction that passed the fence before or
//!   during any number of renewals.
//! - A holder that stops in the middle of a transaction (SIGSTOP, a long
//!   pause, a cut network) would make the takeover wait for ever. The
//!   server ends a session that sits idle in a transaction for 2 s, well
//!   under the 5 s expiry: its locks go, the takeover proceeds, and the old
//!   holder's `COMMIT`, if it ever sends one, finds its session gone and
//!   fails. Nothing it wrote survives.
//! - Expiry is judged by `clock_timestamp()` in the fence and in the lease
//!   statements alike: the nodes' clocks never decide who leads.
//! - The term, not only the holder, is checked: a process that lost the
//!   lease and took it back must not commit work it prepared before, from
//!   state another node has changed since. The lease loop tells this state
//!   its term; the gate arms it only once the promotion hook has reloaded
//!   what the node keeps in memory (the audit log's Merkle tree), so no
//!   write commits under a new term from old state.
//!
//! What this asks of the writer: no slow work (KMS calls, password hashing,
//! network) between two statements of a write transaction, since 2 s of
//! silence ends it. A statement waiting for a lock is not idle and is not
//! cut.

use std::sync::{Mutex, PoisonError};

use super::{InstanceId, Term};
use crate::store::StoreError;
use crate::store::sql::{Conn, params};

/// The first statement of every write transaction (see the module doc):
/// the server ends the writer's session once it sits idle inside the
/// transaction for 2 s, well under the lease's 5 s expiry.
pub const WRITER_TIMEOUT_SQL: &str = "SET LOCAL idle_in_transaction_session_timeout = '2s'";

/// The second: `?1` this instance, `?2` the term it writes under.
pub const FENCE_SQL: &str = "SELECT 1 FROM ha_lease \
     WHERE id = 1 AND holder = ?1 AND term = ?2 AND expires_at > clock_timestamp() \
     FOR KEY SHARE";

/// Why a write transaction may not go on.
#[derive(Debug, thiserror::Error)]
pub enum FenceError {
    /// This node does not lead (or has not finished becoming the leader).
    #[error("this node is not the active node")]
    NotActive,
    /// The database says another node leads now, or the lease expired.
    #[error("this node no longer holds the lease")]
    LeaseLost,
    #[error("the fencing check failed: {0}")]
    Database(#[from] StoreError),
}

/// What the writer fences with: this process's instance id and the term
/// it may write under, shared between the lease loop (which learns the
/// term), the gate (which arms it after promotion) and the writer thread.
#[derive(Debug)]
pub struct FenceState {
    instance: InstanceId,
    tenancy: Mutex<Tenancy>,
}

#[derive(Debug, Default)]
struct Tenancy {
    /// The term the lease loop last held the lease under.
    leased: Option<Term>,
    /// The term writes may commit under: `leased`, once promoted.
    armed: Option<Term>,
}

impl FenceState {
    pub fn new(instance: InstanceId) -> Self {
        Self { instance, tenancy: Mutex::default() }
    }

    pub fn instance(&self) -> &InstanceId {
        &self.instance
    }

    fn tenancy(&self) -> std::sync::MutexGuard<'_, Tenancy> {
        // A panic elsewhere leaves two plain fields behind: still valid.
        self.tenancy.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The lease loop: this node holds the lease under `term`, or not at
    /// all. Any other term than the armed one disarms at once.
    pub(crate) fn set_leased(&self, term: Option<Term>) {
        let mut t = self.tenancy();
        t.leased = term;
        if t.armed != term {
            t.armed = None;
        }
    }

    /// The gate, once promotion has reloaded this node's state: writes may
    /// commit under `term`. False, and nothing armed, when the lease has
    /// moved on meanwhile.
    pub fn arm(&self, term: Term) -> bool {
        let mut t = self.tenancy();
        if t.leased == Some(term) {
            t.armed = Some(term);
            true
        } else {
            false
        }
    }

    /// The term a write may claim, if this node may write at all.
    pub fn claim(&self) -> Option<Term> {
        self.tenancy().armed
    }
}

/// Open a write transaction's fence (see the module doc); the term it
/// writes under. Call it first in every write transaction.
pub fn check(conn: &Conn, state: &FenceState) -> Result<Term, FenceError> {
    let term = state.claim().ok_or(FenceError::NotActive)?;
    conn.execute_batch(WRITER_TIMEOUT_SQL)?;
    match conn.query_opt(FENCE_SQL, params![state.instance().as_str(), term.get()])? {
        Some(_) => Ok(term),
        None => Err(FenceError::LeaseLost),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_may_claim_a_term_only_once_the_gate_armed_the_one_the_lease_holds() {
        let state = FenceState::new(InstanceId::random());
        assert_eq!(state.claim(), None);
        assert!(!state.arm(Term::new(1)), "no lease, nothing to arm");
        state.set_leased(Some(Term::new(1)));
        assert_eq!(state.claim(), None, "held but not yet promoted");
        assert!(state.arm(Term::new(1)));
        assert_eq!(state.claim(), Some(Term::new(1)));
        state.set_leased(Some(Term::new(1)));
        assert_eq!(state.claim(), Some(Term::new(1)), "a renewal keeps the armed term");
    }

    #[test]
    fn losing_the_lease_or_changing_term_disarms_at_once() {
        let state = FenceState::new(InstanceId::random());
        state.set_leased(Some(Term::new(1)));
        state.arm(Term::new(1));
        state.set_leased(None);
        assert_eq!(state.claim(), None);
        assert!(!state.arm(Term::new(1)), "a promotion that finishes after the loss arms nothing");

        state.set_leased(Some(Term::new(3)));
        assert!(!state.arm(Term::new(1)), "an older term is never armed");
        assert!(state.arm(Term::new(3)));
        state.set_leased(Some(Term::new(4)));
        assert_eq!(state.claim(), None, "a new term waits for its own promotion");
    }
}
