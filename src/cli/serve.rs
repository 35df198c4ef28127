//! `rootvault serve` and `rootvault dev`: run the server.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use tokio::net::TcpListener;

use crate::config::{Config, ProcessEnv};
use crate::dev::{self, PEOPLE};

/// Log to stderr, as JSON for production and as text in dev; the level comes
/// from `RUST_LOG` (default `info`).
fn init_logging(json: bool) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json { builder.json().try_init() } else { builder.compact().try_init() };
}

/// How long readiness reports 503 before the listener stops taking new
/// connections, so load balancers move traffic away first.
const DRAIN_GRACE: std::time::Duration = std::time::Duration::from_millis(1500);

/// On Ctrl-C or SIGTERM: report not-ready, wait the grace period, then let
/// the server finish the requests in flight (their audit writes commit
/// before they answer, so nothing acknowledged is lost).
async fn drain(draining: std::sync::Arc<std::sync::atomic::AtomicBool>) {
    shutdown_signal().await;
    draining.store(true, std::sync::atomic::Ordering::Relaxed);
    tokio::time::sleep(DRAIN_GRACE).await;
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! { () = ctrl_c => {}, () = term => {} }
    tracing::info!("shutting down: finishing requests in flight");
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("cannot start the async runtime")
}

pub fn run_serve(path: &Path, check_only: bool) -> anyhow::Result<()> {
    let config = Config::load(path, &ProcessEnv)?;
    if check_only {
        println!(
            "configuration OK: {} orgs, {} keys, {}",
            config.orgs.len(),
            config.keys.kind(),
            config.storage.describe(&config.data_dir)
        );
        return Ok(());
    }
    init_logging(true);
    runtime()?.block_on(async {
        let app = crate::app::build(&config).await?;
        let listener =
            TcpListener::bind(config.listen).await.with_context(|| format!("cannot listen on {}", config.listen))?;
        let addr = listener.local_addr()?;
        let status = app.vault.keys().seal_status();
        tracing::info!(%addr, keys = app.vault.keys().kind(), sealed = status.sealed, "rootvault serving");
        app.vault.set_public_url(config.public_url.clone().unwrap_or_else(|| format!("http://{addr}")));
        println!("listening on http://{addr}");
        let _background = app.start_background(&config)?;
        let _metrics = serve_metrics(&config, &app).await?;
        let draining = std::sync::Arc::clone(&app.draining);
        let (vault, ha) = (app.vault.clone(), app.ha.clone());
        crate::http::serve(listener, app, drain(draining)).await?;
        anchor_at_shutdown(&vault, &ha).await;
        // Last: a standby takes over at once instead of after the expiry.
        ha.step_down().await;
        tracing::info!("stopped: requests finished, audit log flushed");
        Ok(())
    })
}

pub fn run_dev(data_dir: PathBuf, listen: SocketAddr, smtp: Option<SocketAddr>) -> anyhow::Result<()> {
    init_logging(false);
    if smtp.is_some_and(|relay| !relay.ip().is_loopback()) {
        anyhow::bail!("--smtp: dev mode sends mail only to a server on this machine (127.0.0.1 or ::1)");
    }
    runtime()?.block_on(async {
        let dev = dev::open(data_dir, listen, smtp).await?;
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        dev.app.vault.set_public_url(format!("http://{addr}"));
        let log_key = dev.app.vault.store().log().keys().map(|k| k.signer().vkey()).unwrap_or_default();
        print_banner(&dev.config, addr, &log_key)?;
        let _background = dev.app.start_background(&dev.config)?;
        let _metrics = serve_metrics(&dev.config, &dev.app).await?;
        let draining = std::sync::Arc::clone(&dev.app.draining);
        let (vault, ha) = (dev.app.vault.clone(), dev.app.ha.clone());
        crate::http::serve(listener, dev.app, drain(draining)).await?;
        anchor_at_shutdown(&vault, &ha).await;
        Ok(())
    })
}

/// The metrics listener's task, stopped when dropped.
struct MetricsListener(tokio::task::JoinHandle<()>);

impl Drop for MetricsListener {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Start the separate metrics listener when `[metrics] listen` names one.
async fn serve_metrics(config: &Config, app: &crate::app::App) -> anyhow::Result<Option<MetricsListener>> {
    let Some(addr) = config.metrics.listen else { return Ok(None) };
    let listener =
        TcpListener::bind(addr).await.with_context(|| format!("cannot listen on {addr} (metrics.listen)"))?;
    let addr = listener.local_addr()?;
    tracing::info!(%addr, "serving metrics without authentication");
    println!("metrics on http://{addr}/metrics");
    let task = tokio::spawn(crate::http::serve_metrics(listener, app.clone(), std::future::pending()));
    Ok(Some(MetricsListener(task)))
}

/// Sign and anchor a last checkpoint once requests have drained, so the
/// witnesses hold the log's final size: the active node's work (a standby
/// writes nothing).
async fn anchor_at_shutdown(vault: &crate::vault::Vault, ha: &crate::ha::Ha) {
    if !ha.role().is_active() {
        return;
    }
    if let Err(e) = vault.anchor().await {
        tracing::error!(code = e.code(), "anchoring the final checkpoint failed");
    }
}

const BANNER_TTL_SECONDS: u64 = 12 * 3600;

fn print_banner(config: &Config, addr: SocketAddr, log_key: &str) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    println!("rootvault dev: data in {} (local keys, auto-unsealed; NOT for production)", config.data_dir.display());
    println!("listening on {base}");
    println!();
    println!("Open the console in a browser: {base}/");
    println!(
        "  choose an org (acme, globex, initech), then pick a person at its dev identity provider, e.g. acme -> sam."
    );
    println!("  The command line signs in the same way: rootvault login --addr {base} --org acme");
    println!();
    println!(
        "Demo people (tokens valid 12 h; `rootvault token --data-dir {} --org ORG --sub SUB --roles ROLES` mints more):",
        config.data_dir.display()
    );
    for person in PEOPLE {
        let var = person.sub.to_uppercase();
        let token = dev::token_for(config, person, BANNER_TTL_SECONDS)?;
        println!("  export {var}={token}");
        println!("    # {}/{}: {}", person.org, person.sub, person.about);
    }
    let exe = std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_else(|_| "rootvault".into());
    let walkthrough = format!(
        r#"
Walkthrough (paste after the exports above):
  export RV={base} ROOTVAULT_ADDR={base}
  alias rootvault={exe}
  # every account acme (the provider) holds, with custodians; globex sees only its own:
  curl -s $RV/v1/accounts -H "Authorization: Bearer $ADA"
  curl -s $RV/v1/accounts -H "Authorization: Bearer $GINA"
  # versions and rotation state of the halves, never the secrets:
  curl -s $RV/v1/accounts/100000000002/halves -H "Authorization: Bearer $GINA"
  # four-eyes: alice holds the password half, so she cannot also hold the MFA half (409):
  curl -s -X PUT $RV/v1/accounts/100000000002/custodians/mfa -H "Authorization: Bearer $ADA" \
       -H 'Content-Type: application/json' -d '{{"principals": ["acme/alice", "acme/bob"]}}'

# Break-glass at 3 a.m.:
  # 1. sam (on call) asks: the password to alice, MFA codes to bob
  REQ=$(ROOTVAULT_TOKEN=$SAM rootvault request create 100000000002 --reason "billing lockout" \
        --ticket INC-1 --password-to acme/alice --mfa-to acme/bob | awk '/^request / {{print $2; exit}}')
  # 2. two approvers, neither the requester nor a recipient (sam or alice would get 409):
  ROOTVAULT_TOKEN=$CAROL rootvault request approve $REQ
  ROOTVAULT_TOKEN=$DAVE rootvault request approve $REQ --comment "INC-1 checked"
  # 3. alice receives the password (once); bob a current TOTP code, never the seed:
  ROOTVAULT_TOKEN=$ALICE rootvault reveal password $REQ
  ROOTVAULT_TOKEN=$BOB rootvault reveal mfa-code $REQ
  # 4. alice cannot have the MFA half too (403), and the request shows who did what:
  ROOTVAULT_TOKEN=$ALICE rootvault reveal mfa-code $REQ
  ROOTVAULT_TOKEN=$SAM rootvault request show $REQ
  # 5. the released password is due for rotation: alice gets a candidate, sets it in AWS, confirms:
  curl -s -X POST $RV/v1/accounts/100000000002/halves/password/rotate -H "Authorization: Bearer $ALICE"
  curl -s -X POST $RV/v1/accounts/100000000002/halves/password/rotate/confirm -H "Authorization: Bearer $ALICE"

# One-time links: alice asks the customer for a password through a collect link
  # (open the URL in a browser to see the page), reads its receipt, and revokes it:
  URL=$(ROOTVAULT_TOKEN=$ALICE rootvault link create --purpose collect --account-id 100000000002 \
        --recipient-name "Jane Doe" --recipient-email jane@globex.example); echo "$URL"
  ROOTVAULT_TOKEN=$ALICE rootvault link status ${{URL##*/}}
  ROOTVAULT_TOKEN=$ALICE rootvault link revoke ${{URL##*/}}

# Auditing: audrey audits for acme. The log's key, to pin: {log_key}
  # keep a checkpoint, export later, verify offline against the pinned key and checkpoint:
  ROOTVAULT_TOKEN=$AUDREY rootvault audit checkpoint --out trusted-checkpoint.txt
  curl -s "$RV/v1/audit/events?format=csv&limit=5" -H "Authorization: Bearer $AUDREY"
  ROOTVAULT_TOKEN=$AUDREY rootvault audit export --out bundle.json --trusted-checkpoint trusted-checkpoint.txt
  rootvault audit verify bundle.json --public-key '{log_key}' --trusted-checkpoint trusted-checkpoint.txt

# Notifications: every webhook, e-mail and chat delivery, as ada (provider admin) sees them.
  # Start with --smtp 127.0.0.1:1025 beside `python3 -m aiosmtpd -n -l 127.0.0.1:1025` to see the e-mails.
  curl -s $RV/v1/sys/notifications -H "Authorization: Bearer $ADA"

# The seal (dev unseals itself):
  curl -s $RV/v1/sys/seal-status"#
    );
    println!("{walkthrough}");
    Ok(())
}
