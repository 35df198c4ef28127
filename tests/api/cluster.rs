//! A cluster of real `rootvault serve` processes sharing one PostgreSQL
//! database, with KMS keys (DESIGN §17): one node leads, the others
//! forward; when the leader dies a standby takes over and no acknowledged
//! event is lost; a leader stopped in the middle of its writes commits
//! nothing once another has taken over.
//!
//! These run on the PostgreSQL pass of `scripts/test` only (they need its
//! server and the KMS emulator). Every wait polls what it waits for under a
//! deadline, and every load loop is bounded.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use rootvault::audit::checkpoint::VerifierKey;
use rootvault::audit::merkle::{Hash, verify_consistency};
use rootvault::auth::dev::DevIssuer;
use rootvault::domain::ids::Role;
use serde_json::{Value, json};

use crate::cli::{Server, spawn_logged, wait_for_listening, write_config};
use crate::helpers::{DataDir, account_body, create_kms_key, kms_client, kms_endpoint, postgres_backend};

/// How long any wait may take before the test fails.
const PATIENCE: Duration = Duration::from_secs(60);

const CLUSTER_SECRET: &str = "a cluster secret for the failover tests, 32 bytes or more";

/// The account and its MFA seed the load releases codes of.
const ACCOUNT: &str = "987654321098";
const SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// One `rootvault serve` process of the cluster.
struct Node {
    name: String,
    base: String,
    server: Option<Server>,
    stdout: PathBuf,
    stderr: PathBuf,
}

impl Node {
    fn pid(&self) -> u32 {
        self.server.as_ref().map(|s| s.0.id()).unwrap_or_default()
    }

    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill").args([signal, &self.pid().to_string()]).status().unwrap();
        assert!(status.success(), "kill {signal} {}", self.name);
    }

    /// Stop it (SIGSTOP) and wait until every one of its threads has
    /// stopped. `kill` returns once the signal is sent, not once it has
    /// acted: on a busy machine a thread of the process may still answer
    /// a request or two before the stop reaches it.
    fn stop(&self) {
        self.signal("-STOP");
        let tasks = PathBuf::from(format!("/proc/{}/task", self.pid()));
        let stopped = || {
            std::fs::read_dir(&tasks).unwrap().all(|task| {
                let stat = std::fs::read_to_string(task.unwrap().path().join("stat")).unwrap_or_default();
                // The state follows the command name, which is in parentheses.
                stat.rsplit_once(')').is_some_and(|(_, rest)| rest.trim_start().starts_with('T'))
            })
        };
        let deadline = Instant::now() + PATIENCE;
        while !stopped() {
            assert!(Instant::now() < deadline, "{} did not stop", self.name);
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// Crash it: SIGKILL, nothing runs after.
    fn kill(&mut self) {
        if let Some(mut server) = self.server.take() {
            server.0.kill().unwrap();
            server.0.wait().unwrap();
        }
    }

    fn logs(&self) -> String {
        let read = |p: &Path| std::fs::read_to_string(p).unwrap_or_default();
        format!("--- {} stdout\n{}\n--- {} stderr\n{}", self.name, read(&self.stdout), self.name, read(&self.stderr))
    }
}

/// A free loopback port: bound, read, released. The node binds it again a
/// moment later (its `api_addr` must be known before it starts).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// The cluster, its database and the tokens of the people using it.
struct Cluster {
    dir: DataDir,
    admin_url: String,
    database: String,
    nodes: Vec<Node>,
    client: reqwest::Client,
    probe: reqwest::Client,
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            if let Some(server) = &node.server {
                // A stopped process must run again to die of SIGKILL's
                // cleanup in the test's process group; it dies either way.
                let _ = std::process::Command::new("kill").args(["-CONT", &server.0.id().to_string()]).status();
            }
            node.kill();
        }
        let (admin, database) = (self.admin_url.clone(), self.database.clone());
        std::thread::spawn(move || {
            if let Ok(mut client) = postgres::Client::connect(&admin, postgres::NoTls) {
                let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {database} WITH (FORCE)"));
            }
        })
        .join()
        .unwrap();
    }
}

impl Cluster {
    /// Start `size` nodes on a fresh, migrated database, with two fresh KMS
    /// keys, and wait until one of them leads.
    async fn start(size: usize) -> Cluster {
        let admin_url = std::env::var("ROOTVAULT_TEST_PG_URL").unwrap();
        let database = format!("rv_cluster_{}", uuid::Uuid::new_v4().simple());
        let mut url = url::Url::parse(&admin_url).unwrap();
        url.set_path(&database);
        url.set_query(Some("sslmode=disable"));
        let (admin, db_url, name) = (admin_url.clone(), url.to_string(), database.clone());
        std::thread::spawn(move || {
            let mut server = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            server.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            let mut db = postgres::Client::connect(&db_url, postgres::NoTls).unwrap();
            rootvault::store::postgres::migrations::apply(&mut db).unwrap();
        })
        .join()
        .unwrap();

        let kms = kms_client().await;
        let password_key = create_kms_key(&kms, "rootvault cluster test: password halves").await;
        let mfa_key = create_kms_key(&kms, "rootvault cluster test: MFA halves").await;
        let dir = DataDir::new();
        let template = std::fs::read_to_string(write_config(dir.path(), &dir.path().join("data"))).unwrap();
        let template = template.replace(
            "[keys]\nprovider = \"local\"\n",
            &format!(
                "[keys]\nprovider = \"aws-kms\"\n\n[keys.aws_kms]\nregion = \"us-east-1\"\nendpoint_url = \"{}\"\n\
                 password_key_id = \"{password_key}\"\nmfa_key_id = \"{mfa_key}\"\n",
                kms_endpoint()
            ),
        );
        let timeout = |secs| reqwest::Client::builder().timeout(Duration::from_secs(secs)).build().unwrap();
        // A stopped node never answers: probes give up soon.
        let (client, probe) = (timeout(30), timeout(2));
        let mut cluster = Cluster { dir, admin_url, database, nodes: Vec::new(), client, probe };
        for i in 1..=size {
            let node = cluster.spawn_node(&template, &format!("rv-{i}"), url.as_str());
            cluster.nodes.push(node);
        }
        cluster.leader().await;
        cluster
    }

    fn spawn_node(&self, template: &str, name: &str, database_url: &str) -> Node {
        let port = free_port();
        let home = self.dir.path().join(name);
        std::fs::create_dir_all(&home).unwrap();
        let text = template.replace("listen = \"127.0.0.1:0\"", &format!("listen = \"127.0.0.1:{port}\"")).replace(
            &format!("data_dir = \"{}\"", self.dir.path().join("data").display()),
            &format!("data_dir = \"{}\"", home.join("data").display()),
        );
        let text = format!(
            "{text}\n[storage]\nbackend = \"postgres\"\nurl = \"{database_url}\"\npool_size = 4\n\n\
             [ha]\nnode = \"{name}\"\napi_addr = \"http://127.0.0.1:{port}\"\n"
        );
        let config = home.join("rootvault.toml");
        std::fs::write(&config, text).unwrap();
        let (server, stdout, stderr) = spawn_logged(
            &home,
            &["serve", "--config", config.to_str().unwrap()],
            &[("ROOTVAULT_HA_CLUSTER_SECRET", CLUSTER_SECRET), ("RUST_LOG", "info")],
        );
        let base = wait_for_listening(&stdout);
        Node { name: name.to_owned(), base, server: Some(server), stdout, stderr }
    }

    fn token(&self, who: &str, roles: &[Role]) -> String {
        let (org, sub) = who.split_once('/').unwrap();
        DevIssuer::load(&self.dir.path().join("idp"), &org.parse().unwrap())
            .unwrap()
            .mint("rootvault", &sub.parse().unwrap(), roles, 3600)
            .unwrap()
    }

    /// The node holding the lease, as the database says, once a live node
    /// holds it and reports itself active.
    async fn leader(&self) -> usize {
        let admin = self.token("acme/ada", &[Role::Admin]);
        let deadline = Instant::now() + PATIENCE;
        loop {
            for (i, node) in self.nodes.iter().enumerate() {
                if node.server.is_none() {
                    continue;
                }
                let status = self.probe.get(format!("{}/v1/sys/ha-status", node.base)).bearer_auth(&admin).send().await;
                if let Ok(response) = status
                    && let Ok(body) = response.json::<Value>().await
                    && body["node"]["role"] == "active"
                {
                    return i;
                }
            }
            assert!(Instant::now() < deadline, "no node became active:\n{}", self.all_logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    fn all_logs(&self) -> String {
        self.nodes.iter().map(Node::logs).collect::<Vec<_>>().join("\n")
    }

    /// Run `sql` on the cluster's database as the test server's superuser.
    fn query(&self, sql: &str) -> Vec<postgres::Row> {
        let mut url = url::Url::parse(&self.admin_url).unwrap();
        url.set_path(&self.database);
        let (url, sql) = (url.to_string(), sql.to_owned());
        std::thread::spawn(move || postgres::Client::connect(&url, postgres::NoTls).unwrap().query(&sql, &[]).unwrap())
            .join()
            .unwrap()
    }

    /// The lease's term and holder's node name.
    fn lease(&self) -> (i64, String) {
        let rows = self.query("SELECT term, node FROM ha_lease");
        (rows[0].get(0), rows[0].get(1))
    }

    /// Every request id the audit log records.
    fn logged_request_ids(&self) -> HashSet<String> {
        self.query("SELECT event_json FROM audit_events")
            .iter()
            .filter_map(|row| {
                let event: Value = serde_json::from_str(&row.get::<_, String>(0)).ok()?;
                event["http"]["request_id"].as_str().map(str::to_owned)
            })
            .collect()
    }

    async fn call(
        &self,
        node: usize,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: Value,
    ) -> (StatusCode, Value) {
        let response = self
            .client
            .request(method, format!("{}{path}", self.nodes[node].base))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// An account with an MFA half and an approved request naming acme/bob
    /// for MFA codes, made through node `via`; returns the request's id.
    async fn approved_request(&self, via: usize) -> String {
        use reqwest::Method;
        let admin = self.token("acme/ada", &[Role::Admin]);
        let bob = self.token("acme/bob", &[Role::Staff]);
        let sam = self.token("acme/sam", &[Role::Staff]);
        let steps = [
            (Method::POST, "/v1/accounts".to_owned(), admin.clone(), account_body(ACCOUNT, "provider_split", None)),
            (
                Method::PUT,
                format!("/v1/accounts/{ACCOUNT}/custodians/mfa"),
                admin.clone(),
                json!({"principals": ["acme/bob"]}),
            ),
            (Method::PUT, format!("/v1/accounts/{ACCOUNT}/halves/mfa"), bob, json!({"secret_base32": SEED})),
        ];
        for (method, path, token, body) in steps {
            let (status, reply) = self.call(via, method, &path, &token, body).await;
            assert!(status.is_success(), "{path}: {status} {reply}");
        }
        let (status, created) = self.call(via, Method::POST, "/v1/requests", &sam, self.request_body()).await;
        assert!(status.is_success(), "{status} {created}");
        let id = created["id"].as_str().unwrap().to_owned();
        for approver in ["acme/carol", "acme/dave"] {
            let token = self.token(approver, &[Role::Approver]);
            let (status, reply) =
                self.call(via, Method::POST, &format!("/v1/requests/{id}/approve"), &token, json!({})).await;
            assert!(status.is_success(), "{status} {reply}");
        }
        id
    }

    fn request_body(&self) -> Value {
        json!({"account_id": ACCOUNT, "reason": "failover test", "mfa_to": "acme/bob", "window_minutes": 60})
    }

    /// The newest checkpoint's size, as the database has it.
    fn newest_checkpoint(&self) -> i64 {
        self.query("SELECT COALESCE(max(size), 0) FROM checkpoints")[0].get(0)
    }

    /// Wait until a checkpoint larger than `size` is stored; its size.
    async fn checkpoint_after(&self, size: i64) -> i64 {
        let deadline = Instant::now() + PATIENCE;
        loop {
            let rows = self.query(&format!("SELECT min(size) FROM checkpoints WHERE size > {size}"));
            if let Some(next) = rows[0].get::<_, Option<i64>>(0) {
                return next;
            }
            assert!(Instant::now() < deadline, "no checkpoint after {size}:\n{}", self.all_logs());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Verify, through node `via` as an auditor, that the log of checkpoint
    /// `to` extends the log of checkpoint `from`.
    async fn assert_consistent(&self, via: usize, from: i64, to: i64) {
        let audrey = self.token("acme/audrey", &[Role::Auditor]);
        let checkpoint = |size: i64| {
            let audrey = audrey.clone();
            async move {
                let (status, body) = self
                    .call(via, reqwest::Method::GET, &format!("/v1/audit/checkpoint?size={size}"), &audrey, Value::Null)
                    .await;
                assert_eq!(status, StatusCode::OK, "{body}");
                let key = VerifierKey::parse(body["public_key"].as_str().unwrap()).unwrap();
                key.verify(body["checkpoint"].as_str().unwrap()).unwrap()
            }
        };
        let (a, b) = (checkpoint(from).await, checkpoint(to).await);
        let path = format!("/v1/audit/proofs/consistency?from={from}&to={to}");
        let (status, body) = self.call(via, reqwest::Method::GET, &path, &audrey, Value::Null).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let proof: Vec<Hash> = body["proof"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| B64.decode(h.as_str().unwrap()).unwrap().try_into().unwrap())
            .collect();
        assert!(verify_consistency(a.size, b.size, &a.root, &b.root, &proof), "{from} -> {to}");
    }
}

/// What the load saw: the request ids of writes answered with their
/// outcome (done, or refused and recorded as refused: both are audit events
/// the client was told of), and the number that failed (5xx: no node led
/// for a moment, or the write could not be committed).
#[derive(Default)]
struct Outcomes {
    acknowledged: Vec<String>,
    failed: usize,
}

/// Concurrent writers, each going round the nodes: MFA-code releases and
/// new requests (audit appends), until told to stop or `MAX_CALLS` each.
struct Load {
    stop: Arc<AtomicBool>,
    outcomes: Arc<Mutex<Outcomes>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

const WRITERS: usize = 8;
const MAX_CALLS: usize = 5000;

impl Load {
    fn start(cluster: &Cluster, request: &str, targets: &[usize]) -> Load {
        let stop = Arc::new(AtomicBool::new(false));
        let outcomes = Arc::new(Mutex::new(Outcomes::default()));
        let bob = cluster.token("acme/bob", &[Role::Staff]);
        let sam = cluster.token("acme/sam", &[Role::Staff]);
        let bases: Vec<String> = targets.iter().map(|&i| cluster.nodes[i].base.clone()).collect();
        let tasks = (0..WRITERS)
            .map(|w| {
                let (stop, outcomes, bases) = (Arc::clone(&stop), Arc::clone(&outcomes), bases.clone());
                let release = (format!("/v1/requests/{request}/mfa-code"), bob.clone(), json!({}));
                let append = ("/v1/requests".to_owned(), sam.clone(), cluster.request_body());
                let client = reqwest::Client::builder().timeout(Duration::from_secs(30)).build().unwrap();
                tokio::spawn(async move {
                    for call in 0..MAX_CALLS {
                        if stop.load(Ordering::Relaxed) {
                            break;
                        }
                        let (path, token, body) = if (w + call) % 2 == 0 { &release } else { &append };
                        let base = &bases[(w + call) % bases.len()];
                        let sent = client.post(format!("{base}{path}")).bearer_auth(token).json(body).send().await;
                        let Ok(response) = sent else { continue };
                        let id = response
                            .headers()
                            .get("x-request-id")
                            .and_then(|v| v.to_str().ok())
                            .map(str::to_owned)
                            .unwrap_or_default();
                        let failed = response.status().is_server_error();
                        {
                            let mut seen = outcomes.lock().unwrap();
                            if failed {
                                seen.failed += 1;
                            } else {
                                seen.acknowledged.push(id);
                            }
                        }
                        if failed {
                            // No active node for a moment: do not spin.
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        }
                    }
                })
            })
            .collect();
        Load { stop, outcomes, tasks }
    }

    fn acknowledged(&self) -> usize {
        self.outcomes.lock().unwrap().acknowledged.len()
    }

    /// Wait until `more` writes beyond what was acknowledged when called
    /// have been acknowledged.
    async fn wait_for(&self, more: usize, cluster: &Cluster) {
        let target = self.acknowledged() + more;
        let deadline = Instant::now() + PATIENCE;
        while self.acknowledged() < target {
            assert!(Instant::now() < deadline, "the load stalled:\n{}", cluster.all_logs());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> Outcomes {
        self.stop.store(true, Ordering::Relaxed);
        for task in self.tasks {
            task.await.unwrap();
        }
        Arc::try_unwrap(self.outcomes).ok().unwrap().into_inner().unwrap()
    }
}

/// The database's clock now.
fn database_now(cluster: &Cluster) -> f64 {
    cluster.query("SELECT extract(epoch FROM clock_timestamp())::float8")[0].get(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn when_the_active_node_is_killed_under_load_a_standby_takes_over_within_ten_seconds_and_no_acknowledged_event_is_lost()
 {
    if !postgres_backend() {
        return;
    }
    let mut cluster = Cluster::start(3).await;
    let request = cluster.approved_request(0).await;
    let load = Load::start(&cluster, &request, &[0, 1, 2]);
    load.wait_for(100, &cluster).await;

    let leader = cluster.leader().await;
    let (term, holder) = cluster.lease();
    assert_eq!(holder, cluster.nodes[leader].name);
    cluster.nodes[leader].kill();
    let killed_at = database_now(&cluster);
    // Nobody leads for a few seconds after the kill (the lease outlives its
    // holder by up to five): every checkpoint stored now is the dead one's.
    let (before, still) = (cluster.newest_checkpoint(), cluster.query("SELECT term FROM ha_lease")[0].get::<_, i64>(0));
    assert_eq!(still, term, "the lease moved on within moments of the kill");

    let survivor = cluster.leader().await;
    assert_ne!(survivor, leader);
    let rows = cluster.query("SELECT term, node, extract(epoch FROM acquired_at)::float8 FROM ha_lease");
    let (new_term, new_holder, acquired_at): (i64, String, f64) = (rows[0].get(0), rows[0].get(1), rows[0].get(2));
    assert_eq!((new_term, new_holder.as_str()), (term + 1, cluster.nodes[survivor].name.as_str()));
    let takeover = acquired_at - killed_at;
    println!("takeover {takeover:.2} s after the kill, by the database's clock");
    assert!(takeover < 10.0, "a standby took over {takeover:.1} s after the kill");

    load.wait_for(100, &cluster).await;
    let outcomes = load.finish().await;
    let logged = cluster.logged_request_ids();
    let lost: Vec<&String> = outcomes.acknowledged.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(lost.is_empty(), "{} acknowledged writes are not in the log: {lost:?}", lost.len());
    println!("{} writes acknowledged, {} failed while no node led", outcomes.acknowledged.len(), outcomes.failed);

    let after = cluster.checkpoint_after(before).await;
    cluster.assert_consistent(survivor, before, after).await;
    let seqs = cluster.query("SELECT count(*), COALESCE(max(seq), -1) FROM audit_events");
    assert_eq!(seqs[0].get::<_, i64>(0), seqs[0].get::<_, i64>(1) + 1, "the log has no gap");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_leader_stopped_mid_write_commits_nothing_after_a_standby_took_over_and_the_log_stays_consistent() {
    if !postgres_backend() {
        return;
    }
    let cluster = Cluster::start(2).await;
    let leader = cluster.leader().await;
    let standby = 1 - leader;
    let request = cluster.approved_request(leader).await;
    let before = cluster.newest_checkpoint();
    let (term, _) = cluster.lease();

    // Writes go to the leader alone, so some are inside it when it stops:
    // each writer has one in flight.
    let load = Load::start(&cluster, &request, &[leader]);
    load.wait_for(50, &cluster).await;
    cluster.nodes[leader].stop();

    let survivor = cluster.leader().await;
    assert_eq!(survivor, standby);
    assert_eq!(cluster.lease().0, term + 1);
    let sam = cluster.token("acme/sam", &[Role::Staff]);
    // The new leader says it is active as soon as it holds the lease, and
    // writes once it has reloaded the log (503 `no_active_node` until then).
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, body) =
            cluster.call(standby, reqwest::Method::POST, "/v1/requests", &sam, cluster.request_body()).await;
        if status.is_success() {
            break;
        }
        let promoting = status == StatusCode::SERVICE_UNAVAILABLE && body["error"]["code"] == "no_active_node";
        assert!(
            promoting && Instant::now() < deadline,
            "the new leader writes on the log as it found it: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // Woken, the old leader's writes in flight fail (its session was ended
    // and its fence no longer holds) or, once it knows it is a standby, are
    // forwarded: none commits under its old term. Every write it answered
    // as done is in the log.
    cluster.nodes[leader].signal("-CONT");
    let outcomes = load.finish().await;
    let logged = cluster.logged_request_ids();
    let lost: Vec<&String> = outcomes.acknowledged.iter().filter(|id| !logged.contains(*id)).collect();
    assert!(lost.is_empty(), "acknowledged writes missing: {lost:?}");
    println!("{} writes acknowledged, {} failed around the stop", outcomes.acknowledged.len(), outcomes.failed);

    // The old leader knows it is a standby now and forwards to the new one.
    let deadline = Instant::now() + PATIENCE;
    loop {
        let (status, _) =
            cluster.call(leader, reqwest::Method::POST, "/v1/requests", &sam, cluster.request_body()).await;
        if status.is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "the old leader never forwarded:\n{}", cluster.all_logs());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let after = cluster.checkpoint_after(before).await;
    cluster.assert_consistent(standby, before, after).await;
    let seqs = cluster.query("SELECT count(*), COALESCE(max(seq), -1) FROM audit_events");
    assert_eq!(seqs[0].get::<_, i64>(0), seqs[0].get::<_, i64>(1) + 1, "the log has no gap");
}
