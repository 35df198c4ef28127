//! Background work that writes runs on the active node only (DESIGN §17).
//!
//! [`supervise`] follows the node's role: when the node becomes active it
//! first runs the promotion hook (the node reloads what it keeps in memory
//! from the database, such as the audit log's Merkle tree, which other
//! nodes have grown meanwhile), then arms the fence for the new term, then
//! starts the workers; when it becomes a standby it stops them at once. A
//! new term restarts them after a new promotion. On a single node the role
//! is always active, so the workers start once and run for good.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;

use super::fence::FenceState;
use super::{Role, Term};

/// Reload this node's in-memory state before it acts as the active node
/// under a term (`None` on a single node). An error is logged and the
/// promotion tried again; until it succeeds the node writes nothing.
pub type Promotion = Arc<dyn Fn(Option<Term>) -> BoxFuture<'static, Result<(), String>> + Send + Sync>;

/// The promotion of a node with nothing to reload.
pub fn no_promotion() -> Promotion {
    Arc::new(|_| Box::pin(async { Ok(()) }))
}

/// How long a failed promotion waits before it is tried again (sooner
/// when the role changes).
const PROMOTION_RETRY: Duration = Duration::from_secs(1);

/// Tasks that are aborted when this is dropped.
#[derive(Debug, Default)]
pub struct Workers(Vec<JoinHandle<()>>);

impl From<Vec<JoinHandle<()>>> for Workers {
    fn from(tasks: Vec<JoinHandle<()>>) -> Self {
        Self(tasks)
    }
}

impl Workers {
    /// Abort the tasks and wait until they are gone.
    pub async fn stop(mut self) {
        let tasks = std::mem::take(&mut self.0);
        for task in &tasks {
            task.abort();
        }
        for task in tasks {
            // A task ends cancelled here; one that panicked said so already.
            let _ = task.await;
        }
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        for task in &self.0 {
            task.abort();
        }
    }
}

/// Run `start`'s workers while `roles` says active (see the module doc).
/// The returned task holds them: aborting it stops them too.
pub fn supervise(
    mut roles: watch::Receiver<Role>,
    fence: Option<Arc<FenceState>>,
    promotion: Promotion,
    start: impl Fn() -> Workers + Send + 'static,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        // The workers and the term they were started under.
        let mut running: Option<(Option<Term>, Workers)> = None;
        loop {
            let role = roles.borrow_and_update().clone();
            match role {
                Role::Active { term } if running.as_ref().is_some_and(|(t, _)| *t == term) => {
                    // The same term: a renewal, or a brief local step-down
                    // the channel folded away, which disarmed the fence.
                    // Nobody else held the lease meanwhile (the term would
                    // have moved), so the promoted state is still current.
                    arm(fence.as_deref(), term);
                }
                Role::Active { term } => {
                    // Old workers are gone before a new term's start.
                    if let Some((_, workers)) = running.take() {
                        workers.stop().await;
                    }
                    if let Err(e) = promotion(term).await {
                        tracing::error!(error = %e, "reloading state for the new term failed; trying again");
                        tokio::select! {
                            changed = roles.changed() => if changed.is_err() { return },
                            () = tokio::time::sleep(PROMOTION_RETRY) => {}
                        }
                        continue;
                    }
                    // False when the lease moved on during the promotion:
                    // the role change that follows wakes this loop.
                    if arm(fence.as_deref(), term) {
                        running = Some((term, start()));
                    }
                }
                Role::Standby { .. } => {
                    if let Some((_, workers)) = running.take() {
                        workers.stop().await;
                        tracing::info!("background work stopped: this node is a standby");
                    }
                }
            }
            if roles.changed().await.is_err() {
                return;
            }
        }
    })
}

/// Let writes commit under `term`; false when the lease moved on (a single
/// node has no fence and always may).
fn arm(fence: Option<&FenceState>, term: Option<Term>) -> bool {
    match (fence, term) {
        (Some(fence), Some(term)) => fence.arm(term),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use tokio::sync::mpsc;

    use super::*;
    use crate::ha::InstanceId;

    /// What the supervised side did, in order.
    #[derive(Debug, PartialEq, Eq)]
    enum Seen {
        Promoted(Option<i64>),
        Started,
        Stopped,
    }

    /// Sends `Stopped` when the worker holding it is aborted.
    struct OnDrop(mpsc::UnboundedSender<Seen>);
    impl Drop for OnDrop {
        fn drop(&mut self) {
            let _ = self.0.send(Seen::Stopped);
        }
    }

    fn rig(
        fence: Option<Arc<FenceState>>,
        fail_first_promotion: bool,
    ) -> (watch::Sender<Role>, mpsc::UnboundedReceiver<Seen>, JoinHandle<()>) {
        let (roles_tx, roles) = watch::channel(Role::Standby { active: None });
        let (seen_tx, seen) = mpsc::unbounded_channel();
        let failed_once = Arc::new(AtomicBool::new(!fail_first_promotion));
        let tx = seen_tx.clone();
        let promotion: Promotion = Arc::new(move |term| {
            let (tx, failed_once) = (tx.clone(), Arc::clone(&failed_once));
            Box::pin(async move {
                if !failed_once.swap(true, Ordering::SeqCst) {
                    return Err("the database is away".to_owned());
                }
                let _ = tx.send(Seen::Promoted(term.map(Term::get)));
                Ok(())
            })
        });
        let start = move || {
            let _ = seen_tx.send(Seen::Started);
            let guard = OnDrop(seen_tx.clone());
            Workers::from(vec![tokio::spawn(async move {
                let _guard = guard;
                std::future::pending::<()>().await;
            })])
        };
        let task = supervise(roles, fence, promotion, start);
        (roles_tx, seen, task)
    }

    async fn next(seen: &mut mpsc::UnboundedReceiver<Seen>) -> Seen {
        tokio::time::timeout(Duration::from_secs(10), seen.recv()).await.unwrap().unwrap()
    }

    /// The next two things seen are a promotion under `term` and a start.
    async fn promoted_and_started(seen: &mut mpsc::UnboundedReceiver<Seen>, term: Option<i64>) {
        assert_eq!(next(seen).await, Seen::Promoted(term));
        assert_eq!(next(seen).await, Seen::Started);
    }

    fn active(term: i64) -> Role {
        Role::Active { term: Some(Term::new(term)) }
    }

    #[tokio::test]
    async fn workers_start_after_promotion_stop_on_standby_and_start_again_on_a_new_term() {
        let fence = Arc::new(FenceState::new(InstanceId::random()));
        let (roles, mut seen, _task) = rig(Some(Arc::clone(&fence)), false);
        fence.set_leased(Some(Term::new(1)));
        roles.send_replace(active(1));
        promoted_and_started(&mut seen, Some(1)).await;
        assert_eq!(fence.claim(), Some(Term::new(1)), "armed once promoted");

        fence.set_leased(None);
        roles.send_replace(Role::Standby { active: None });
        assert_eq!(next(&mut seen).await, Seen::Stopped);

        fence.set_leased(Some(Term::new(3)));
        roles.send_replace(active(3));
        promoted_and_started(&mut seen, Some(3)).await;
        assert_eq!(fence.claim(), Some(Term::new(3)));
    }

    #[tokio::test]
    async fn a_renewal_under_the_same_term_changes_nothing_but_a_new_term_restarts_the_workers() {
        let fence = Arc::new(FenceState::new(InstanceId::random()));
        let (roles, mut seen, _task) = rig(Some(Arc::clone(&fence)), false);
        fence.set_leased(Some(Term::new(1)));
        roles.send_replace(active(1));
        promoted_and_started(&mut seen, Some(1)).await;
        fence.set_leased(Some(Term::new(2)));
        roles.send_replace(active(2));
        assert_eq!(next(&mut seen).await, Seen::Stopped, "the old term's workers stop first");
        promoted_and_started(&mut seen, Some(2)).await;
        roles.send_replace(Role::Standby { active: None });
        assert_eq!(next(&mut seen).await, Seen::Stopped);
        assert!(seen.try_recv().is_err());
    }

    #[tokio::test]
    async fn a_brief_step_down_folded_away_by_the_channel_re_arms_the_same_term_without_a_promotion() {
        let fence = Arc::new(FenceState::new(InstanceId::random()));
        let (roles, mut seen, _task) = rig(Some(Arc::clone(&fence)), false);
        fence.set_leased(Some(Term::new(1)));
        roles.send_replace(active(1));
        promoted_and_started(&mut seen, Some(1)).await;
        // The lease loop stepped down and renewed before the supervisor
        // looked: it sees `active(1)` again, with the fence disarmed.
        fence.set_leased(None);
        fence.set_leased(Some(Term::new(1)));
        roles.send_modify(|_| {});
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while fence.claim().is_none() {
            assert!(tokio::time::Instant::now() < deadline, "the fence was never re-armed");
            tokio::task::yield_now().await;
        }
        assert!(seen.try_recv().is_err(), "no promotion, no restart");
    }

    #[tokio::test]
    async fn a_failed_promotion_starts_nothing_and_is_tried_again() {
        let fence = Arc::new(FenceState::new(InstanceId::random()));
        let (roles, mut seen, _task) = rig(Some(Arc::clone(&fence)), true);
        fence.set_leased(Some(Term::new(5)));
        roles.send_replace(active(5));
        promoted_and_started(&mut seen, Some(5)).await;
    }

    #[tokio::test]
    async fn a_single_node_without_a_fence_runs_its_workers_until_the_supervisor_is_aborted() {
        let (roles, mut seen, task) = rig(None, false);
        roles.send_replace(Role::Active { term: None });
        promoted_and_started(&mut seen, None).await;
        task.abort();
        assert_eq!(next(&mut seen).await, Seen::Stopped);
    }

    #[tokio::test]
    async fn workers_stop_when_the_role_source_goes_away() {
        let (roles, mut seen, _task) = rig(None, false);
        roles.send_replace(Role::Active { term: None });
        promoted_and_started(&mut seen, None).await;
        drop(roles);
        assert_eq!(next(&mut seen).await, Seen::Stopped);
    }
}
