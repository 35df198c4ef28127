//! `spawn_app()` and friends: a fresh service per test.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use reqwest::StatusCode;
use rootvault::app::{self, App};
use rootvault::auth::dev::DevIssuer;
use rootvault::config::{Config, KeysConfig, StorageConfig};
use rootvault::crypto::kms::KmsSettings;
use rootvault::crypto::local::SealedKeyring;
use rootvault::domain::ids::{OrgName, Role, Subject};
use rootvault::store::keyring::{self, KeyringRecord};
use rootvault::store::postgres::{DatabaseUrl, PostgresSettings, migrations};
use rootvault::store::secrets_manager::SecretsManagerSettings;
use rootvault::store::{DB_FILE, Store};
use serde_json::{Value, json};

pub use crate::test_db::TestDb;
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// A running service on a free loopback port with its own data directory.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    pub app: App,
    pub config: Config,
    _background: rootvault::app::Background,
    _dir: Option<TempDir>,
    server: JoinHandle<()>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.server.abort();
        // The dev witness lives beside the temporary data directory; it goes
        // with it (callers that keep their directory keep its witness too),
        // and so does its database on the PostgreSQL pass.
        if self._dir.is_some() {
            if let Some(witness) = self.config.witness.file.as_ref().and_then(|f| f.parent()) {
                let _ = std::fs::remove_dir_all(witness);
            }
            if let StorageConfig::Postgres(pg) = &self.config.storage {
                drop_database(pg.url.config().get_dbname().unwrap_or_default());
            }
        }
    }
}

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

async fn start(app: App, mut config: Config, dir: Option<TempDir>) -> TestApp {
    // Retry webhooks quickly so outage tests finish in seconds.
    config.notify.poll_interval = std::time::Duration::from_millis(50);
    config.notify.retry_base = std::time::Duration::from_millis(100);
    config.notify.retry_max = std::time::Duration::from_millis(400);
    let background = app.start_background(&config).unwrap();
    let listener = TcpListener::bind(localhost()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    app.vault.set_public_url(base.clone());
    let served = app.clone();
    let server = tokio::spawn(async move {
        rootvault::http::serve(listener, served, std::future::pending()).await.unwrap();
    });
    TestApp { base, client: reqwest::Client::new(), app, config, _background: background, _dir: dir, server }
}

/// Whether the suite runs against the Secrets Manager backend
/// (`ROOTVAULT_TEST_BACKEND=secrets-manager`, set by the second pass of
/// `scripts/test`) or the default SQLite one.
pub fn secrets_manager_backend() -> bool {
    std::env::var("ROOTVAULT_TEST_BACKEND").is_ok_and(|b| b == "secrets-manager")
}

/// Whether the suite keeps every service's state in PostgreSQL
/// (`ROOTVAULT_TEST_BACKEND=postgres`, the third pass of `scripts/test`,
/// which also starts the server `ROOTVAULT_TEST_PG_URL` names).
pub fn postgres_backend() -> bool {
    std::env::var("ROOTVAULT_TEST_BACKEND").is_ok_and(|b| b == "postgres")
}

/// Run blocking PostgreSQL client calls on a thread of their own: the
/// synchronous client refuses to run inside the test's async runtime.
fn off_runtime<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| s.spawn(work).join().unwrap())
}

/// The file in a data directory that names its PostgreSQL database, so a
/// service restarted on the same directory finds its state again.
const DATABASE_NAME_FILE: &str = "test-postgres-database";

/// A migrated database of its own for the service of data directory `dir`:
/// created through the admin URL on first use (named after this process and
/// a counter), the same one after that.
fn postgres_storage(dir: &Path) -> StorageConfig {
    static NEXT: AtomicU32 = AtomicU32::new(0);
    let admin = std::env::var("ROOTVAULT_TEST_PG_URL")
        .expect("ROOTVAULT_TEST_PG_URL is not set: run the PostgreSQL pass with scripts/test, which starts the server");
    let known = std::fs::read_to_string(dir.join(DATABASE_NAME_FILE)).ok();
    let name = known
        .clone()
        .unwrap_or_else(|| format!("rv_api_{}_{}", std::process::id(), NEXT.fetch_add(1, Ordering::Relaxed)));
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    url.set_query(Some("sslmode=disable"));
    if known.is_none() {
        std::fs::create_dir_all(dir).unwrap();
        std::fs::write(dir.join(DATABASE_NAME_FILE), &name).unwrap();
        off_runtime(|| {
            let mut admin = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
            admin.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
            migrations::apply(&mut postgres::Client::connect(url.as_str(), postgres::NoTls).unwrap()).unwrap();
        });
    }
    let url = DatabaseUrl::parse(url.as_str(), dir, false).unwrap();
    StorageConfig::Postgres(PostgresSettings { url, migration_url: None, pool_size: 4 })
}

/// The URL of database `name` as the test server's superuser.
fn admin_url(name: &str) -> DatabaseUrl {
    let admin = std::env::var("ROOTVAULT_TEST_PG_URL").unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(name);
    url.set_query(Some("sslmode=disable"));
    DatabaseUrl::parse(url.as_str(), Path::new("/"), false).unwrap()
}

/// Drop a database `postgres_storage` made (with its connections).
fn drop_database(name: &str) {
    let admin = std::env::var("ROOTVAULT_TEST_PG_URL").unwrap_or_default();
    off_runtime(|| {
        if let Ok(mut admin) = postgres::Client::connect(&admin, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
        }
    });
}

/// The dev configuration of data directory `dir`, its state kept where this
/// pass of the suite keeps it.
fn dev_config(dir: &Path) -> Config {
    let mut config = Config::dev(dir.to_path_buf(), localhost());
    if postgres_backend() {
        config.storage = postgres_storage(dir);
        // One node per database, with the dev keys: the lease and a
        // cluster's KMS keys are tested on their own (tests/api/cluster.rs).
        config.ha.danger_single_node = true;
    }
    config
}

/// An unsealed service with dev issuers and no accounts: local keys and
/// SQLite (or PostgreSQL on that pass), or KMS keys and Secrets Manager on
/// the Secrets Manager pass.
pub async fn spawn_app() -> TestApp {
    if secrets_manager_backend() {
        return spawn_secrets_manager_app().await;
    }
    let dir = tempfile::tempdir().unwrap();
    start_configured(dev_config(dir.path()), Some(dir)).await
}

/// A dev service (local keys) whose configuration and state are adjusted
/// before it starts serving, for settings other than dev's.
pub async fn spawn_app_adjusted(adjust: impl FnOnce(&mut Config, &mut App)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut dev = rootvault::dev::open_configured(dev_config(dir.path())).await.unwrap();
    adjust(&mut dev.config, &mut dev.app);
    start(dev.app, dev.config, Some(dir)).await
}

/// A dev service (with the dev identity provider) on every backend pass.
pub async fn spawn_dev_app() -> TestApp {
    spawn_app_configured(|_| {}).await
}

/// The same, on a data directory the caller keeps (to restart on it).
pub async fn spawn_app_at(dir: &std::path::Path) -> TestApp {
    start_configured(dev_config(dir), None).await
}

/// The same, anchoring checkpoints in `witness` instead of the default file.
pub async fn spawn_app_witnessed(dir: &std::path::Path, witness: rootvault::audit::witness::WitnessConfig) -> TestApp {
    let mut config = dev_config(dir);
    config.witness = witness;
    start_configured(config, None).await
}

/// A dev service whose configuration is adjusted before the service is
/// built from it, for settings read while building (such as the orgs'
/// issuers and where their keys come from); `dev = false` gives a service
/// outside dev mode.
pub async fn spawn_app_configured(adjust: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = dev_config(dir.path());
    adjust(&mut config);
    start_configured(config, Some(dir)).await
}

async fn start_configured(config: Config, dir: Option<TempDir>) -> TestApp {
    let dev = rootvault::dev::open_configured(config).await.unwrap();
    start(dev.app, dev.config, dir).await
}

/// A sealed service with local keys split into `shares` shares, any
/// `threshold` of which unseal it. Returns the shares. (SQLite on every
/// pass: the shares are written straight into its file.)
pub async fn spawn_sealed_app(shares: u8, threshold: u8) -> (TestApp, Vec<String>) {
    let dir = tempfile::tempdir().unwrap();
    let config = Config::dev(dir.path().to_path_buf(), localhost());
    let store = Store::open(dir.path()).unwrap();
    let (ring, out) = SealedKeyring::create(shares, threshold).unwrap();
    let record = KeyringRecord { provider: "local".into(), sealed: Some(ring) };
    store.blocking(|c| keyring::save(c, &record, "2026-01-01T00:00:00Z")).unwrap();
    drop(store);
    let app = app::build(&config).await.unwrap();
    let shares = out.iter().map(|s| s.expose().to_owned()).collect();
    (start(app, config, Some(dir)).await, shares)
}

/// The KMS emulator's endpoint, started by `scripts/test`.
pub fn kms_endpoint() -> String {
    std::env::var("ROOTVAULT_TEST_KMS_ENDPOINT").expect(
        "ROOTVAULT_TEST_KMS_ENDPOINT is not set: run the suite with scripts/test, which starts the KMS emulator",
    )
}

/// The AWS SDK's configuration for the emulator, in us-east-1.
pub async fn emulator_config() -> aws_config::SdkConfig {
    aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(kms_endpoint())
        .load()
        .await
}

/// A KMS client for the emulator.
pub async fn kms_client() -> aws_sdk_kms::Client {
    aws_sdk_kms::Client::new(&emulator_config().await)
}

/// Create a fresh symmetric key in the emulator and return its ARN.
pub async fn create_kms_key(client: &aws_sdk_kms::Client, description: &str) -> String {
    let out = client.create_key().description(description).send().await.unwrap();
    out.key_metadata().unwrap().arn().unwrap().to_owned()
}

/// An unsealed service whose halves are protected by two fresh KMS keys.
pub async fn spawn_kms_app() -> TestApp {
    let client = kms_client().await;
    let password = create_kms_key(&client, "rootvault test: password halves").await;
    let mfa = create_kms_key(&client, "rootvault test: MFA halves").await;
    spawn_kms_app_with(password, mfa).await
}

/// An unsealed service using the given KMS keys for its two halves.
pub async fn spawn_kms_app_with(password_key_id: String, mfa_key_id: String) -> TestApp {
    spawn_kms_app_storing(password_key_id, mfa_key_id, None).await
}

/// KMS keys and the halves' ciphertexts in (emulated) Secrets Manager.
pub async fn spawn_secrets_manager_app() -> TestApp {
    let client = kms_client().await;
    let password = create_kms_key(&client, "rootvault test: password halves").await;
    let mfa = create_kms_key(&client, "rootvault test: MFA halves").await;
    let storage = StorageConfig::SecretsManager(SecretsManagerSettings {
        region: "us-east-1".into(),
        endpoint_url: Some(kms_endpoint()),
        prefix: format!("rootvault-test-{}", uuid::Uuid::new_v4().simple()),
    });
    spawn_kms_app_storing(password, mfa, Some(storage)).await
}

/// KMS keys, and the state kept in `storage` (where this pass keeps it when
/// `None`).
async fn spawn_kms_app_storing(password_key_id: String, mfa_key_id: String, storage: Option<StorageConfig>) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let settings =
        KmsSettings { region: "us-east-1".into(), endpoint_url: Some(kms_endpoint()), password_key_id, mfa_key_id };
    let mut config = dev_config(dir.path());
    config.keys = KeysConfig::AwsKms(settings);
    config.storage = storage.unwrap_or(config.storage);
    config.dev = false;
    let app = app::build(&config).await.unwrap();
    start(app, config, Some(dir)).await
}

/// A response's status and JSON body (or `null` when the body is empty).
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    /// The `error.code` of an error body.
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
}

impl TestApp {
    /// The key id recorded for password half versions.
    pub fn password_key_id(&self) -> String {
        match &self.config.keys {
            KeysConfig::Local => "local:password".into(),
            KeysConfig::AwsKms(kms) => kms.password_key_id.clone(),
        }
    }

    pub fn data_dir(&self) -> PathBuf {
        self.config.data_dir.clone()
    }

    /// A token for `org/sub` with `roles`, from the org's dev issuer.
    pub fn token(&self, who: &str, roles: &[&str]) -> String {
        let (org, sub) = who.split_once('/').unwrap();
        let org: OrgName = org.parse().unwrap();
        let sub: Subject = sub.parse().unwrap();
        let roles: Vec<Role> = roles.iter().map(|r| r.parse().unwrap()).collect();
        DevIssuer::load(&self.config.data_dir, &org).unwrap().mint(&self.config.audience, &sub, &roles, 600).unwrap()
    }

    pub async fn send(&self, method: reqwest::Method, path: &str, token: Option<&str>, body: Option<Value>) -> Reply {
        let mut request = self.client.request(method, format!("{}{path}", self.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        let body = if text.is_empty() { Value::Null } else { serde_json::from_str(&text).unwrap() };
        assert_times_are_rfc3339(&body, path);
        Reply { status, body }
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.send(reqwest::Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(reqwest::Method::POST, path, Some(token), Some(body)).await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Reply {
        self.send(reqwest::Method::PUT, path, Some(token), Some(body)).await
    }

    /// A second connection to the service's database, as an operator (or
    /// an attacker with access to it) would open one.
    pub fn db(&self) -> TestDb {
        match &self.config.storage {
            StorageConfig::Postgres(pg) => TestDb::Postgres(admin_url(pg.url.config().get_dbname().unwrap())),
            _ => TestDb::Sqlite(rusqlite::Connection::open(self.config.data_dir.join(DB_FILE)).unwrap()),
        }
    }

    /// Every audit event, oldest first, read straight from the database.
    pub fn audit_events(&self) -> Vec<Value> {
        const SQL: &str = "SELECT event_json FROM audit_events ORDER BY seq";
        let db = self.db();
        let rows: Vec<String> =
            db.prepare(SQL).unwrap().query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect();
        rows.iter().map(|j| serde_json::from_str(j).unwrap()).collect()
    }

    /// The newest audit event with `action`.
    pub fn last_event(&self, action: &str) -> Value {
        self.audit_events()
            .into_iter()
            .rev()
            .find(|e| e["action"] == action)
            .unwrap_or_else(|| panic!("no {action} event"))
    }

    /// Register an account as the provider admin `acme/ada`.
    pub async fn register(&self, id: &str, custody: &str, customer: Option<&str>) -> Reply {
        let ada = self.token("acme/ada", &["admin"]);
        self.post("/v1/accounts", &ada, account_body(id, custody, customer)).await
    }

    /// Name custodians of a half as `admin` and assert it worked.
    pub async fn assign(&self, id: &str, half: &str, admin: &str, principals: &[&str]) {
        let token = self.token(admin, &["admin"]);
        let reply =
            self.put(&format!("/v1/accounts/{id}/custodians/{half}"), &token, json!({"principals": principals})).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    }

    /// Deposit a password as `who` and return the reply.
    pub async fn deposit_password(&self, id: &str, who: &str, password: &str) -> Reply {
        let token = self.token(who, &["staff"]);
        self.put(&format!("/v1/accounts/{id}/halves/password"), &token, json!({"password": password})).await
    }

    /// Deposit an MFA seed as `who` and return the reply.
    pub async fn deposit_seed(&self, id: &str, who: &str, secret_base32: &str) -> Reply {
        let token = self.token(who, &["staff"]);
        self.put(&format!("/v1/accounts/{id}/halves/mfa"), &token, json!({"secret_base32": secret_base32})).await
    }

    /// A provider-split account with `acme/alice` on the password half and
    /// `acme/bob` on the MFA half.
    pub async fn provider_split_account(&self, id: &str) {
        assert_eq!(self.register(id, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
        self.assign(id, "password", "acme/ada", &["acme/alice"]).await;
        self.assign(id, "mfa", "acme/ada", &["acme/bob"]).await;
    }
}

/// A valid account registration body.
pub fn account_body(id: &str, custody: &str, customer: Option<&str>) -> Value {
    let (kind, model) = if custody == "customer_owned" { ("member", "ecam") } else { ("payer", "spam") };
    json!({
        "account_id": id,
        "name": format!("Account {id}"),
        "kind": kind,
        "model": model,
        "dedicated_payer": kind == "payer",
        "custody": custody,
        "customer_org": customer,
        "root_email": format!("aws-root+{id}@acme.example"),
        "contacts": {"billing": "billing@acme.example", "operations": "ops@globex.example", "security": "soc@globex.example"}
    })
}

/// RFC 6238's test secret in base32; any 160-bit seed would do.
pub const SEED: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";
/// A password that meets the policy.
pub const PASSWORD: &str = "Correct-Horse-9-Battery";

/// Everyone's roles in the break-glass tests: staff ask, approvers decide.
pub const STAFF: &[&str] = &["staff"];
pub const APPROVER: &[&str] = &["approver"];

impl TestApp {
    /// A provider-split account with both halves deposited:
    /// `acme/alice` holds the password, `acme/bob` the MFA seed.
    pub async fn stocked_account(&self, id: &str) {
        self.provider_split_account(id).await;
        assert_eq!(self.deposit_password(id, "acme/alice", PASSWORD).await.status, StatusCode::OK);
        assert_eq!(self.deposit_seed(id, "acme/bob", SEED).await.status, StatusCode::OK);
    }

    /// Open a request as `requester` (staff) and return the reply.
    pub async fn ask(&self, requester: &str, body: Value) -> Reply {
        self.post("/v1/requests", &self.token(requester, STAFF), body).await
    }

    /// `POST /v1/requests/{id}/{step}` as `who` with `roles`.
    pub async fn step(&self, id: &str, step: &str, who: &str, roles: &[&str]) -> Reply {
        self.post(&format!("/v1/requests/{id}/{step}"), &self.token(who, roles), json!({})).await
    }

    /// A request by `acme/sam` for alice (password) and bob (MFA), approved
    /// by `acme/carol` and `acme/dave`. Returns its id.
    pub async fn approved_request(&self, account: &str) -> String {
        let reply = self
            .ask("acme/sam", json!({"account_id": account, "reason": "billing lockout", "password_to": "acme/alice", "mfa_to": "acme/bob"}))
            .await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
        let id = reply.body["id"].as_str().unwrap().to_owned();
        assert_eq!(self.step(&id, "approve", "acme/carol", APPROVER).await.status, StatusCode::OK);
        let done = self.step(&id, "approve", "acme/dave", APPROVER).await;
        assert_eq!(done.body["state"], "approved", "{}", done.body);
        id
    }

    /// As `acme/alice`, the password recipient of the approved request
    /// `approved`: a deliver link from it and a collect link of the password
    /// half of `account`, both to Jane Doe. Returns their ids.
    pub async fn alices_links(&self, account: &str, approved: &str) -> (String, String) {
        let alice = self.token("acme/alice", STAFF);
        let recipient = json!({"name": "Jane Doe", "email": "jane@globex.example"});
        let mut ids = Vec::new();
        for (purpose, request) in [("deliver", Some(approved)), ("collect", None)] {
            let body = json!({"purpose": purpose, "account_id": account, "half": "password", "recipient": recipient, "request_id": request});
            let reply = self.post("/v1/links", &alice, body).await;
            assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
            ids.push(reply.body["id"].as_str().unwrap().to_owned());
        }
        (ids.remove(0), ids.remove(0))
    }

    /// Edit a stored request's JSON as if time had passed.
    pub fn set_request_field(&self, id: &str, field: &str, value: i64) {
        let db = self.db();
        let sql = if db.is_postgres() {
            format!(
                "UPDATE requests SET body = jsonb_set(body::jsonb, '{{{field}}}', to_jsonb(?2::bigint))::text WHERE id = ?1"
            )
        } else {
            format!("UPDATE requests SET body = json_set(body, '$.{field}', ?2) WHERE id = ?1")
        };
        let changed = db.execute(&sql, rusqlite::params![id, value]).unwrap();
        assert_eq!(changed, 1);
    }
}

/// Every time the API shows is RFC 3339 text: fail on an integer (a Unix
/// time leaking out of a stored form) under any key ending in `_at`. Every
/// JSON reply that goes through [`TestApp::send`] is checked, so the whole
/// suite walks the API's responses.
pub fn assert_times_are_rfc3339(value: &Value, path: &str) {
    match value {
        Value::Object(map) => {
            for (key, v) in map {
                if key.ends_with("_at") {
                    assert!(!v.is_number(), "{path}: `{key}` is a number ({v}); times are RFC 3339 text");
                    if let Some(text) = v.as_str() {
                        let parsed = time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339);
                        assert!(parsed.is_ok(), "{path}: `{key}` is not RFC 3339: {text}");
                    }
                }
                assert_times_are_rfc3339(v, path);
            }
        }
        Value::Array(items) => items.iter().for_each(|v| assert_times_are_rfc3339(v, path)),
        _ => {}
    }
}

/// A temporary data directory whose dev witness (beside it, where
/// `rootvault dev` and `spawn_app_at` keep it) is removed with it.
pub struct DataDir(tempfile::TempDir);

impl DataDir {
    pub fn new() -> Self {
        Self(tempfile::tempdir().unwrap())
    }

    pub fn path(&self) -> &std::path::Path {
        self.0.path()
    }

    pub fn witness_file(&self) -> std::path::PathBuf {
        rootvault::config::dev_witness_file(self.path())
    }
}

impl Drop for DataDir {
    fn drop(&mut self) {
        if let Some(dir) = self.witness_file().parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
        if let Ok(name) = std::fs::read_to_string(self.path().join(DATABASE_NAME_FILE)) {
            drop_database(&name);
        }
    }
}

/// The database of a stopped service's data directory, as `TestApp::db`.
pub fn db_at(dir: &std::path::Path) -> TestDb {
    match std::fs::read_to_string(dir.join(DATABASE_NAME_FILE)) {
        Ok(name) => TestDb::Postgres(admin_url(&name)),
        Err(_) => TestDb::Sqlite(rusqlite::Connection::open(dir.join(DB_FILE)).unwrap()),
    }
}

/// Run `tamper` on the stopped service's database with the append-only
/// triggers dropped, restart, and expect the log flagged as tampered.
pub async fn restart_tampered(dir: &std::path::Path, tamper: &str) -> TestApp {
    let db = db_at(dir);
    db.disable_append_only();
    db.execute_batch(tamper).unwrap();
    drop(db);
    let app = spawn_app_at(dir).await;
    let ready = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(
        (ready.status, ready.body["audit_log"].as_str()),
        (StatusCode::SERVICE_UNAVAILABLE, Some("tampered")),
        "{tamper}"
    );
    let refused = app.register("444444444444", "provider_split", None).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::SERVICE_UNAVAILABLE, "audit_log_tampered"));
    assert!(app.audit_events().iter().any(|e| e["action"] == "audit.tamper_detected"), "{tamper}");
    app
}
