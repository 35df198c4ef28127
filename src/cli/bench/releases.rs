//! Releases per second: `POST /v1/requests/{id}/mfa-code`, the whole path
//! (bearer token check, request and custody reads, decrypting the MFA half,
//! the release committed with its audit event before the code leaves),
//! through the real HTTP stack of a dev service in this process, served and
//! driven on 127.0.0.1 by concurrent clients for a while.
//!
//! The service is set up as an operator would over the API: a
//! provider-split account with an MFA custodian (acme/bob) whose half is
//! deposited, and a request naming him for MFA codes, approved twice.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};
use tokio::net::TcpListener;

use super::data_dir::DataDir;
use super::stats::percentile;
use crate::config::{Config, StorageConfig};
use crate::store::postgres::PostgresSettings;

/// The bench account's id.
const ACCOUNT: &str = "987654321098";
/// The MFA half deposited: the well-known example seed of TOTP documentation
/// (a scratch account's, guarding nothing).
const EXAMPLE_SEED: &str = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP";

/// What the clients saw.
#[derive(Debug, Clone, Copy)]
pub struct Releases {
    pub per_second: f64,
    pub p50: Duration,
    pub p99: Duration,
}

/// Serve a dev service (SQLite, or the PostgreSQL database of `postgres`
/// as a single node) and release MFA codes from `clients` concurrent
/// clients for `duration`.
pub async fn measure(postgres: Option<PostgresSettings>, clients: u64, duration: Duration) -> anyhow::Result<Releases> {
    let dir = DataDir::create()?;
    let mut config = Config::dev(dir.path().to_path_buf(), SocketAddr::from((Ipv4Addr::LOCALHOST, 0)));
    if let Some(settings) = postgres {
        config.storage = StorageConfig::Postgres(settings);
        // One node on its own database: no lease (a fenced node needs KMS
        // keys; the fence's cost shows in the fenced appends).
        config.ha.danger_single_node = true;
    }
    let dev = crate::dev::open_configured(config).await.context("cannot start the bench's dev service")?;
    let _background = dev.app.start_background(&dev.config)?;
    let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0))).await?;
    let base = format!("http://{}", listener.local_addr()?);
    dev.app.vault.set_public_url(base.clone());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(crate::http::serve(listener, dev.app.clone(), async {
        let _ = stopped.await;
    }));
    let measured = drive(&dev.config, &base, clients, duration).await;
    let _ = stop.send(());
    server.await??;
    measured
}

async fn drive(config: &Config, base: &str, clients: u64, duration: Duration) -> anyhow::Result<Releases> {
    let request = approved_request(config, base).await?;
    let url = format!("{base}/v1/requests/{request}/mfa-code");
    let token = token(config, "bob", duration)?;
    // One release before the clock starts: it fails fast if the setup is
    // wrong, and warms what the first request warms.
    release(&reqwest::Client::new(), &url, &token).await?;
    let started = Instant::now();
    let deadline = started + duration;
    // A set: should one client fail, the others stop with it.
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..clients {
        workers.spawn(client_loop(url.clone(), token.clone(), deadline));
    }
    let mut latencies = Vec::new();
    while let Some(worker) = workers.join_next().await {
        latencies.extend(worker??);
    }
    let elapsed = started.elapsed().as_secs_f64();
    let per_second = latencies.len() as f64 / elapsed;
    let p50 = percentile(&mut latencies, 50.0).context("no release completed in time")?;
    let p99 = percentile(&mut latencies, 99.0).context("no release completed in time")?;
    Ok(Releases { per_second, p50, p99 })
}

/// One client with a connection of its own, releasing until `deadline`;
/// the latency of each release.
async fn client_loop(url: String, token: String, deadline: Instant) -> anyhow::Result<Vec<Duration>> {
    let client = reqwest::Client::new();
    let mut latencies = Vec::new();
    while Instant::now() < deadline {
        let sent = Instant::now();
        release(&client, &url, &token).await?;
        latencies.push(sent.elapsed());
    }
    Ok(latencies)
}

async fn release(client: &reqwest::Client, url: &str, token: &str) -> anyhow::Result<()> {
    let response = client.post(url).bearer_auth(token).send().await?;
    // The body holds the code: read to the end, never shown.
    answer(response, "POST /v1/requests/{id}/mfa-code").await.map(drop)
}

/// The JSON of a successful answer, or an error naming the call, the status
/// and the service's error code (never the body, which may hold a secret).
async fn answer(response: reqwest::Response, call: &str) -> anyhow::Result<Value> {
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    if !status.is_success() {
        let code = body["error"]["code"].as_str().unwrap_or("no error code");
        anyhow::bail!("{call} answered {status} ({code})");
    }
    Ok(body)
}

/// A dev issuer's token for acme's demo person `sub`, valid for the run.
fn token(config: &Config, sub: &str, run: Duration) -> anyhow::Result<String> {
    let person = crate::dev::PEOPLE
        .iter()
        .find(|p| p.org == "acme" && p.sub == sub)
        .with_context(|| format!("acme/{sub} is not a demo person"))?;
    Ok(crate::dev::token_for(config, person, run.as_secs() + 600)?)
}

/// Set the account and its request up over the API; the request's id.
async fn approved_request(config: &Config, base: &str) -> anyhow::Result<String> {
    let client = reqwest::Client::new();
    let call = |method: Method, path: String, sub: &str, body: Value| {
        let token = token(config, sub, Duration::ZERO);
        let request = client.request(method.clone(), format!("{base}{path}")).json(&body);
        async move {
            let response = request.bearer_auth(token?).send().await?;
            answer(response, &format!("{method} {path}")).await
        }
    };
    let account = json!({
        "account_id": ACCOUNT, "name": "bench", "kind": "payer", "model": "spam", "dedicated_payer": false,
        "custody": "provider_split", "customer_org": "globex", "root_email": "bench@acme.example",
        "contacts": {"billing": "b@acme.example", "operations": "o@globex.example", "security": "s@globex.example"},
    });
    call(Method::POST, "/v1/accounts".into(), "ada", account).await?;
    let custodians = json!({"principals": ["acme/bob"]});
    call(Method::PUT, format!("/v1/accounts/{ACCOUNT}/custodians/mfa"), "ada", custodians).await?;
    let half = json!({"secret_base32": EXAMPLE_SEED});
    call(Method::PUT, format!("/v1/accounts/{ACCOUNT}/halves/mfa"), "bob", half).await?;
    let ask = json!({"account_id": ACCOUNT, "reason": "bench", "mfa_to": "acme/bob", "window_minutes": 60});
    let created = call(Method::POST, "/v1/requests".into(), "sam", ask).await?;
    let id = created["id"].as_str().context("the new request has no id")?.to_owned();
    for approver in ["carol", "dave"] {
        call(Method::POST, format!("/v1/requests/{id}/approve"), approver, json!({})).await?;
    }
    Ok(id)
}
