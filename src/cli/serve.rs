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
            "configuration OK: {} orgs, {} keys, data in {}",
            config.orgs.len(),
            config.keys.kind(),
            config.data_dir.display()
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
        println!("listening on http://{addr}");
        let _background = app.start_background(config.notify);
        crate::http::serve(listener, app, shutdown_signal()).await?;
        Ok(())
    })
}

pub fn run_dev(data_dir: PathBuf, listen: SocketAddr) -> anyhow::Result<()> {
    init_logging(false);
    runtime()?.block_on(async {
        let dev = dev::open(data_dir, listen).await?;
        let listener = TcpListener::bind(listen).await.with_context(|| format!("cannot listen on {listen}"))?;
        let addr = listener.local_addr()?;
        print_banner(&dev.config, addr)?;
        let _background = dev.app.start_background(dev.config.notify);
        crate::http::serve(listener, dev.app, shutdown_signal()).await?;
        Ok(())
    })
}

const BANNER_TTL_SECONDS: u64 = 12 * 3600;

fn print_banner(config: &Config, addr: SocketAddr) -> anyhow::Result<()> {
    let base = format!("http://{addr}");
    println!("rootvault dev: data in {} (local keys, auto-unsealed; NOT for production)", config.data_dir.display());
    println!("listening on {base}");
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
    println!();
    println!("Walkthrough (paste after the exports above):");
    println!("  export RV={base}");
    println!("  # every account acme (the provider) holds, with custodians; globex sees only its own:");
    println!("  curl -s $RV/v1/accounts -H \"Authorization: Bearer $ADA\"");
    println!("  curl -s $RV/v1/accounts -H \"Authorization: Bearer $GINA\"");
    println!("  # versions and rotation state of the halves, never the secrets:");
    println!("  curl -s $RV/v1/accounts/100000000001/halves -H \"Authorization: Bearer $GINA\"");
    println!("  # four-eyes: alice holds the password half, so she cannot also hold the MFA half (409):");
    println!("  curl -s -X PUT $RV/v1/accounts/100000000002/custodians/mfa -H \"Authorization: Bearer $ADA\" \\");
    println!("       -H 'Content-Type: application/json' -d '{{\"principals\": [\"acme/alice\", \"acme/bob\"]}}'");
    println!("  # a custodian deposits a new password (policy: 12+ chars, four classes, none of the last 24):");
    println!("  curl -s -X PUT $RV/v1/accounts/100000000002/halves/password -H \"Authorization: Bearer $ALICE\" \\");
    println!("       -H 'Content-Type: application/json' -d '{{\"generate\": true}}'");
    println!("  # an admin cannot deposit or read (403): admins do not read");
    println!("  curl -s -X PUT $RV/v1/accounts/100000000002/halves/password -H \"Authorization: Bearer $ADA\" \\");
    println!("       -H 'Content-Type: application/json' -d '{{\"generate\": true}}'");
    println!("  # the seal:");
    println!("  curl -s $RV/v1/sys/seal-status");
    Ok(())
}
