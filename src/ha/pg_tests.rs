//! The lease and the fence against a real PostgreSQL: the server named by
//! `ROOTVAULT_TEST_PG_URL` (e.g. `postgresql://postgres@127.0.0.1:55432/postgres`),
//! in a scratch database of each test's own. Without the variable each
//! test says so and passes.
//!
//! Nothing sleeps and hopes: every wait polls what it waits for, under a
//! deadline.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::sync::watch;
use tokio_postgres::{Client, NoTls};

use super::fence::{self, FenceError, FenceState};
use super::lease::{self, Candidate, LeaseHandle, LeaseOptions};
use super::role::{Attempt, InstanceId, LeaseTimings, Role, Term};
use crate::store::PgConnection;
use crate::store::sql::{Conn, params};

/// How long any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(15);

/// Fast timings: renew every 100 ms, expire after 1 s, believe 700 ms.
const FAST: LeaseTimings = LeaseTimings {
    renew_every: Duration::from_millis(100),
    ttl: Duration::from_secs(1),
    margin: Duration::from_millis(300),
};

/// A database of the test's own, dropped when the test ends.
struct Scratch {
    /// The server's URL, as the environment gave it.
    url: String,
    config: tokio_postgres::Config,
    name: String,
}

impl Scratch {
    async fn new() -> Option<Scratch> {
        let Ok(url) = std::env::var("ROOTVAULT_TEST_PG_URL") else {
            println!("ROOTVAULT_TEST_PG_URL is not set: skipping a PostgreSQL test");
            return None;
        };
        let mut config = tokio_postgres::Config::from_str(&url).unwrap();
        let name = format!("rv_ha_{}", uuid::Uuid::new_v4().simple());
        let (client, connection) = config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client.batch_execute(&format!("CREATE DATABASE {name}")).await.unwrap();
        config.dbname(&name);
        let scratch = Scratch { url, config, name };
        scratch
            .client("setup")
            .await
            .batch_execute(include_str!("../store/postgres/sql/0014_ha_lease.sql"))
            .await
            .unwrap();
        Some(scratch)
    }

    async fn client(&self, application: &str) -> Client {
        let mut config = self.config.clone();
        config.application_name(application);
        let (client, connection) = config.connect(NoTls).await.unwrap();
        tokio::spawn(connection);
        client
    }

    /// Opens blocking connections, as the writer thread has, on whatever
    /// thread calls it (not one of the runtime's).
    fn writer(&self) -> impl Fn() -> postgres::Client + Send + 'static {
        let (url, name) = (self.url.clone(), self.name.clone());
        move || {
            let mut config = postgres::Config::from_str(&url).unwrap();
            config.dbname(&name).application_name("writer");
            config.connect(postgres::NoTls).unwrap()
        }
    }

    /// How the lease loop connects: with `application_name` set to the
    /// node's name, and only while `reachable`.
    fn connect(&self, node: &str, reachable: Arc<AtomicBool>) -> lease::Connect {
        let mut config = self.config.clone();
        config.application_name(node);
        Arc::new(move || {
            let (config, reachable) = (config.clone(), Arc::clone(&reachable));
            Box::pin(async move {
                if !reachable.load(Ordering::SeqCst) {
                    return Err("unreachable (the test cut it off)".to_owned());
                }
                let (client, connection) = config.connect(NoTls).await.map_err(|e| e.to_string())?;
                tokio::spawn(connection);
                Ok(client)
            })
        })
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Drop may run on a runtime thread: the blocking client gets a
        // thread of its own.
        let (url, name) = (self.url.clone(), self.name.clone());
        let dropped = std::thread::spawn(move || {
            let mut client = postgres::Client::connect(&url, postgres::NoTls)?;
            client.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        })
        .join();
        if !matches!(dropped, Ok(Ok(()))) {
            eprintln!("the scratch database {} was left behind", self.name);
        }
    }
}

fn candidate(node: &str) -> Candidate {
    Candidate { instance: InstanceId::random(), node: node.into(), api_addr: format!("http://127.0.0.1:1/{node}") }
}

/// A lease loop for `node`, with switches for reaching the database and
/// for being allowed to lead.
struct Node {
    me: Candidate,
    lease: LeaseHandle,
    fence: Arc<FenceState>,
    reachable: Arc<AtomicBool>,
    may_lead: Arc<AtomicBool>,
}

impl Node {
    fn start(scratch: &Scratch, node: &str) -> Node {
        let me = candidate(node);
        let (reachable, may_lead) = (Arc::new(AtomicBool::new(true)), Arc::new(AtomicBool::new(true)));
        let allowed = Arc::clone(&may_lead);
        let options = LeaseOptions {
            connect: scratch.connect(node, Arc::clone(&reachable)),
            may_lead: Arc::new(move || allowed.load(Ordering::SeqCst)),
            timings: FAST,
        };
        let fence = Arc::new(FenceState::new(me.instance.clone()));
        let lease = lease::spawn(me.clone(), options, Arc::clone(&fence));
        Node { me, lease, fence, reachable, may_lead }
    }

    /// Wait until the role satisfies `want`; the role.
    async fn becomes(&self, want: impl Fn(&Role) -> bool) -> Role {
        let mut roles: watch::Receiver<Role> = self.lease.roles();
        let reached = tokio::time::timeout(PATIENCE, roles.wait_for(|r| want(r))).await;
        let Ok(reached) = reached else {
            panic!("{} never reached the role wanted; it is {:?}", self.me.node, self.lease.roles().borrow())
        };
        reached.unwrap().clone()
    }

    async fn active(&self) -> Term {
        match self.becomes(Role::is_active).await {
            Role::Active { term: Some(term) } => term,
            other => panic!("{other:?}"),
        }
    }
}

fn standby_naming(node: &Node) -> impl Fn(&Role) -> bool + '_ {
    move |r| matches!(r, Role::Standby { active: Some(a) } if a.instance == node.me.instance)
}

/// Poll `check` every 20 ms until it holds.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, check: impl Fn() -> F) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while !check().await {
        assert!(tokio::time::Instant::now() < deadline, "never: {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn lease_expired(client: &Client) -> bool {
    let row = client.query_one("SELECT expires_at <= clock_timestamp() FROM ha_lease WHERE id = 1", &[]).await.unwrap();
    row.get(0)
}

/// The server process of `client`'s session.
async fn backend_pid(client: &Client) -> i32 {
    client.query_one("SELECT pg_backend_pid()", &[]).await.unwrap().get(0)
}

/// Whether the session of server process `pid` is waiting for a lock.
async fn waits_for_a_lock(observer: &Client, pid: i32) -> bool {
    let row = observer.query_opt("SELECT wait_event_type FROM pg_stat_activity WHERE pid = $1", &[&pid]).await;
    matches!(row, Ok(Some(r)) if r.get::<_, Option<String>>(0).as_deref() == Some("Lock"))
}

/// One lease attempt for `me` on `client`, which fails the test as soon as
/// `observer` sees its session wait for a lock.
async fn attempt_without_waiting(observer: &Client, client: &Client, me: &Candidate, ttl: Duration) -> Attempt {
    let pid = backend_pid(client).await;
    let attempt = lease::attempt(client, me, ttl);
    tokio::pin!(attempt);
    let deadline = tokio::time::Instant::now() + PATIENCE;
    loop {
        tokio::select! {
            done = &mut attempt => return done.unwrap(),
            () = tokio::time::sleep(Duration::from_millis(20)) => {
                assert!(!waits_for_a_lock(observer, pid).await, "{}'s lease attempt waits for a lock", me.node);
                assert!(tokio::time::Instant::now() < deadline, "{}'s lease attempt never ended", me.node);
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_first_node_takes_the_lease_and_the_second_stays_a_standby_that_names_it() {
    let Some(scratch) = Scratch::new().await else { return };
    let a = Node::start(&scratch, "rv-a");
    assert_eq!(a.active().await, Term::new(1));
    let b = Node::start(&scratch, "rv-b");
    let role = b.becomes(standby_naming(&a)).await;
    let Role::Standby { active: Some(active) } = role else { unreachable!() };
    assert_eq!(
        (active.node.as_str(), active.api_addr.as_str(), active.term),
        ("rv-a", a.me.api_addr.as_str(), Term::new(1))
    );
    assert_eq!(b.fence.claim(), None);

    // Both heartbeat; the node list names the holder.
    let mut nodes = b.lease.nodes();
    let seen = tokio::time::timeout(PATIENCE, nodes.wait_for(|n| n.len() == 2)).await.unwrap().unwrap().clone();
    let names: Vec<(&str, bool)> = seen.iter().map(|n| (n.node.as_str(), n.active)).collect();
    assert_eq!(names, [("rv-a", true), ("rv-b", false)]);
    // Renewals keep the term.
    let client = scratch.client("check").await;
    eventually("a renewal moved the expiry", || async {
        let row = client
            .query_one("SELECT term, expires_at > clock_timestamp() + interval '800 milliseconds' FROM ha_lease", &[])
            .await
            .unwrap();
        row.get::<_, i64>(0) == 1 && row.get::<_, bool>(1)
    })
    .await;
    assert_eq!(a.lease.roles().borrow().clone(), Role::Active { term: Some(Term::new(1)) });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_active_node_dies_a_standby_takes_over_under_the_next_term() {
    let Some(scratch) = Scratch::new().await else { return };
    let a = Node::start(&scratch, "rv-a");
    assert_eq!(a.active().await, Term::new(1));
    let b = Node::start(&scratch, "rv-b");
    b.becomes(standby_naming(&a)).await;
    a.lease.kill();
    assert_eq!(b.active().await, Term::new(2), "a takeover raises the term");
    assert_eq!(b.fence.claim(), None, "armed only by the gate, after promotion");

    // A graceful stop gives the lease up: the next node need not wait
    // for the expiry, and the term moves on again.
    let c = Node::start(&scratch, "rv-c");
    c.becomes(standby_naming(&b)).await;
    b.lease.step_down().await;
    let client = scratch.client("check").await;
    assert!(lease_expired(&client).await, "stepping down ends the lease at once");
    assert_eq!(c.active().await, Term::new(3));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_that_may_not_lead_gives_the_lease_up_and_does_not_take_it() {
    let Some(scratch) = Scratch::new().await else { return };
    let a = Node::start(&scratch, "rv-a");
    a.active().await;
    let b = Node::start(&scratch, "rv-b");
    b.may_lead.store(false, Ordering::SeqCst);
    b.becomes(standby_naming(&a)).await;

    // A is sealed (say): it gives the lease up, and B may not take it.
    a.may_lead.store(false, Ordering::SeqCst);
    a.becomes(|r| *r == Role::Standby { active: None }).await;
    assert_eq!(a.fence.claim(), None);
    let client = scratch.client("check").await;
    eventually("the lease was given up", || lease_expired(&client)).await;
    b.becomes(|r| *r == Role::Standby { active: None }).await;
    let term: i64 = client.query_one("SELECT term FROM ha_lease", &[]).await.unwrap().get(0);
    assert_eq!(term, 1, "nobody took it");

    // Unsealed again, B takes over.
    b.may_lead.store(true, Ordering::SeqCst);
    assert_eq!(b.active().await, Term::new(2));
    a.becomes(standby_naming(&b)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_the_database_steps_down_at_once() {
    let Some(scratch) = Scratch::new().await else { return };
    let a = Node::start(&scratch, "rv-a");
    let term = a.active().await;
    a.fence.arm(term);
    assert_eq!(a.fence.claim(), Some(term));
    a.reachable.store(false, Ordering::SeqCst);
    let admin = scratch.client("check").await;
    admin
        .execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rv-a'", &[])
        .await
        .unwrap();
    a.becomes(|r| *r == Role::Standby { active: None }).await;
    assert_eq!(a.fence.claim(), None, "the fence is disarmed with the step-down");

    a.reachable.store(true, Ordering::SeqCst);
    assert_eq!(a.active().await, term, "nobody else took it: renewed under the same term");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renewal_stuck_behind_a_lock_steps_down_on_the_nodes_own_clock() {
    let Some(scratch) = Scratch::new().await else { return };
    let a = Node::start(&scratch, "rv-a");
    let term = a.active().await;
    let mut locker = scratch.client("locker").await;
    let tx = locker.transaction().await.unwrap();
    tx.execute("SELECT 1 FROM ha_lease WHERE id = 1 FOR UPDATE", &[]).await.unwrap();
    a.becomes(|r| !r.is_active()).await;
    tx.rollback().await.unwrap();
    assert_eq!(a.active().await, term);
}

/// Take the lease for `me` directly (no loop), with a short lease.
async fn take(client: &Client, me: &Candidate, ttl: Duration) -> Term {
    match lease::attempt(client, me, ttl).await.unwrap() {
        Attempt::Held(term) => term,
        other => panic!("{other:?}"),
    }
}

/// A fence armed under `term` for `me`.
fn armed(me: &Candidate, term: Term) -> Arc<FenceState> {
    let fence = Arc::new(FenceState::new(me.instance.clone()));
    fence.set_leased(Some(term));
    assert!(fence.arm(term));
    fence
}

/// A writer thread inside a transaction that passed its fence and wrote a
/// note, waiting to be told to commit (until then its session sits idle in
/// the transaction, as a stopped process's would).
struct HeldWriter {
    /// The server process of its session.
    pid: i32,
    commit: std::sync::mpsc::Sender<()>,
    done: std::thread::JoinHandle<Result<(), String>>,
}

impl HeldWriter {
    /// Returns once the fence passed. With `lift_idle_timeout` the server
    /// lets the session sit idle for ever.
    async fn open(scratch: &Scratch, fence: &Arc<FenceState>, note: &'static str, lift_idle_timeout: bool) -> Self {
        let (fenced_tx, mut fenced) = tokio::sync::mpsc::channel(1);
        let (commit, go) = std::sync::mpsc::channel::<()>();
        let (connect, fence) = (scratch.writer(), Arc::clone(fence));
        let done = std::thread::spawn(move || {
            let mut conn = PgConnection::new(connect());
            let tx = Conn::postgres(&mut conn);
            let pid: i64 = tx.query_one("SELECT pg_backend_pid()::int8", params![]).unwrap().get(0).unwrap();
            tx.execute_batch("BEGIN").unwrap();
            let term = fence::check(&tx, &fence).map(Term::get);
            if lift_idle_timeout {
                tx.execute_batch("SET LOCAL idle_in_transaction_session_timeout = 0").unwrap();
            }
            tx.execute("INSERT INTO writes VALUES (?1)", params![note]).unwrap();
            fenced_tx.blocking_send((pid, term.map_err(|e| e.to_string()))).unwrap();
            go.recv().unwrap();
            tx.execute_batch("COMMIT").map_err(|e| e.to_string())
        });
        let (pid, term) = tokio::time::timeout(PATIENCE, fenced.recv()).await.unwrap().unwrap();
        assert_eq!(term.unwrap(), 1, "the writer passed its fence");
        HeldWriter { pid: i32::try_from(pid).unwrap(), commit, done }
    }

    fn commit(self) -> Result<(), String> {
        self.commit.send(()).unwrap();
        self.done.join().unwrap()
    }
}

/// The fence in a fresh transaction of its own.
fn fence_alone(scratch: &Scratch, fence: &Arc<FenceState>) -> Result<i64, FenceError> {
    let (connect, fence) = (scratch.writer(), Arc::clone(fence));
    std::thread::spawn(move || {
        let mut conn = PgConnection::new(connect());
        let tx = Conn::postgres(&mut conn);
        tx.execute_batch("BEGIN").unwrap();
        fence::check(&tx, &fence).map(Term::get)
    })
    .join()
    .unwrap()
}

/// A table to write notes in, and A holding a short lease (term 1) with an
/// armed fence; B ready to take over.
async fn a_holds_the_lease(scratch: &Scratch) -> (Client, Candidate, Arc<FenceState>, Candidate) {
    let setup = scratch.client("setup").await;
    setup.batch_execute("CREATE TABLE writes (note TEXT NOT NULL)").await.unwrap();
    let (a, b) = (candidate("rv-a"), candidate("rv-b"));
    let term = take(&setup, &a, Duration::from_millis(300)).await;
    let a_fence = armed(&a, term);
    (setup, a, a_fence, b)
}

async fn notes(client: &Client) -> Vec<String> {
    client.query("SELECT note FROM writes", &[]).await.unwrap().iter().map(|r| r.get(0)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_waits_for_a_transaction_that_passed_the_fence_and_then_the_old_holder_commits_nothing() {
    let Some(scratch) = Scratch::new().await else { return };
    let (setup, _a, a_fence, b) = a_holds_the_lease(&scratch).await;
    // The idle timeout is lifted here: this test is about the lock, the
    // next one about the timeout.
    let writer = HeldWriter::open(&scratch, &a_fence, "a, before the takeover", true).await;

    eventually("A's lease expired by the database's clock", || lease_expired(&setup)).await;
    b_takes_over_once_the_writers_commit(&scratch, &setup, &a_fence, &b, vec![writer]).await;
    assert_eq!(notes(&setup).await, ["a, before the takeover"]);
}

/// B's takeover of A's lapsed lease waits for each of A's fenced
/// `writers` in turn, which then commit, and goes through after the last
/// under term 2; A's fence fails from then on, B's passes.
async fn b_takes_over_once_the_writers_commit(
    scratch: &Scratch,
    setup: &Client,
    a_fence: &Arc<FenceState>,
    b: &Candidate,
    writers: Vec<HeldWriter>,
) {
    let b_client = scratch.client("rv-b").await;
    let b_pid = backend_pid(&b_client).await;
    let takeover = {
        let b = b.clone();
        tokio::spawn(async move { lease::attempt(&b_client, &b, Duration::from_secs(5)).await.unwrap() })
    };
    let mut open: Vec<i32> = writers.iter().map(|w| w.pid).collect();
    for writer in writers {
        // Whichever of the open writers it waits for now, it waits for
        // nothing else: after the last but one commits, for the last.
        eventually("B's takeover waits for A's open transactions", || async {
            let row = setup.query_one("SELECT pg_blocking_pids($1)", &[&b_pid]).await.unwrap();
            let blocking: Vec<i32> = row.get(0);
            !blocking.is_empty() && blocking.iter().all(|pid| open.contains(pid))
        })
        .await;
        assert!(!takeover.is_finished());
        open.retain(|pid| *pid != writer.pid);
        assert_eq!(writer.commit(), Ok(()), "A commits before the takeover does");
    }
    assert_eq!(takeover.await.unwrap(), Attempt::Held(Term::new(2)));

    // A transaction that starts after the takeover fails its fence, though
    // A still believes in its term; the new holder's passes.
    let late = fence_alone(scratch, a_fence);
    assert!(matches!(late, Err(FenceError::LeaseLost)), "{late:?}");
    assert_eq!(fence_alone(scratch, &armed(b, Term::new(2))).unwrap(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_holder_renews_and_a_standby_is_answered_without_waiting_for_the_holders_fenced_transaction() {
    let Some(scratch) = Scratch::new().await else { return };
    let (setup, a, a_fence, b) = a_holds_the_lease(&scratch).await;
    // Sits in its transaction, lock held, until told to commit: as the
    // writer does, group after group, under constant load.
    let writer = HeldWriter::open(&scratch, &a_fence, "a, while it renews", true).await;

    let a_client = scratch.client("rv-a").await;
    let renewed = attempt_without_waiting(&setup, &a_client, &a, Duration::from_secs(60)).await;
    assert_eq!(renewed, Attempt::Held(Term::new(1)));
    assert!(!lease_expired(&setup).await, "the renewal is in, the writer's transaction still open");
    let b_client = scratch.client("rv-b").await;
    match attempt_without_waiting(&setup, &b_client, &b, Duration::from_secs(60)).await {
        Attempt::Elsewhere(Some(active)) => assert_eq!((active.instance, active.term), (a.instance, Term::new(1))),
        other => panic!("{other:?}"),
    }

    assert_eq!(writer.commit(), Ok(()));
    assert_eq!(fence_alone(&scratch, &a_fence).unwrap(), 1);
    assert_eq!(notes(&setup).await, ["a, while it renews"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_takeover_waits_for_a_fenced_transaction_however_often_the_holder_renewed_during_it() {
    let Some(scratch) = Scratch::new().await else { return };
    let (setup, a, a_fence, b) = a_holds_the_lease(&scratch).await;
    let a_client = scratch.client("rv-a").await;
    assert_eq!(take(&a_client, &a, Duration::from_secs(60)).await, Term::new(1));

    // One writer passes its fence before a renewal, and another while a
    // renewal is in flight (its transaction open, not yet committed).
    let before = HeldWriter::open(&scratch, &a_fence, "a, before the renewal", true).await;
    let mut renewing = scratch.client("rv-a renewing").await;
    let renewal = renewing.transaction().await.unwrap();
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 4] =
        [&a.instance.as_str(), &a.node, &a.api_addr, &60.0_f64];
    let renewed = tokio::time::timeout(PATIENCE, renewal.execute(lease::RENEW, &params)).await;
    assert_eq!(renewed.expect("the renewal waited for A's writer").unwrap(), 1);
    let during = HeldWriter::open(&scratch, &a_fence, "a, during the renewal", true).await;
    renewal.commit().await.unwrap();
    assert_eq!(
        attempt_without_waiting(&setup, &a_client, &a, Duration::from_secs(60)).await,
        Attempt::Held(Term::new(1))
    );

    // A gives the lease up (as at shutdown), so it has lapsed at once.
    assert!(lease::release(&a_client, &a).await.unwrap());
    b_takes_over_once_the_writers_commit(&scratch, &setup, &a_fence, &b, vec![before, during]).await;
    let mut written = notes(&setup).await;
    written.sort();
    assert_eq!(written, ["a, before the renewal", "a, during the renewal"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_old_holder_stopped_inside_its_transaction_is_cut_off_by_the_server_and_its_commit_fails() {
    let Some(scratch) = Scratch::new().await else { return };
    let (setup, _a, a_fence, b) = a_holds_the_lease(&scratch).await;
    let writer = HeldWriter::open(&scratch, &a_fence, "a, stopped", false).await;

    // B's takeover goes through once the server ends A's idle session.
    eventually("A's lease expired by the database's clock", || lease_expired(&setup)).await;
    let b_client = scratch.client("rv-b").await;
    let taken = tokio::time::timeout(PATIENCE, lease::attempt(&b_client, &b, Duration::from_secs(5))).await;
    assert_eq!(taken.unwrap().unwrap(), Attempt::Held(Term::new(2)));

    assert!(writer.commit().is_err(), "the stopped holder's commit fails");
    assert!(notes(&setup).await.is_empty(), "nothing A wrote survives");
}
