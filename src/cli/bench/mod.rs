//! `rootvault bench`: how fast rootvault is on this machine.
//!
//! Measures durable audit appends per second with 1 and with many
//! concurrent writers (on SQLite beside a bare group commit of the same
//! events, the floor of an append), MFA-code releases per second through the HTTP stack
//! (with their median and 99th-percentile latency), inclusion-proof
//! generation in a log of a million events and offline verification of an
//! export bundle. Appends and releases run on SQLite and, given
//! `--postgres-url`, on PostgreSQL too (appends there both unfenced, as a
//! single node, and fenced, as a cluster's active node), each in a scratch
//! database created for it and dropped afterwards. A benchmark, not a
//! test: it asserts nothing.

mod appends;
mod data_dir;
mod offline;
mod raw_sqlite;
mod releases;
mod scratch;
mod stats;

use std::time::Duration;

use anyhow::Context;
use secrecy::SecretString;
use tokio::runtime::Runtime;

use self::appends::Appends;
use self::data_dir::DataDir;
use self::releases::Releases;
use crate::store::Store;

/// Measure the audit log and releases on this machine (SQLite, and
/// PostgreSQL with --postgres-url).
#[derive(clap::Args, Debug)]
pub struct BenchArgs {
    /// Events appended by the single writer.
    #[arg(long, default_value_t = 1000)]
    single: u64,
    /// Concurrent writers in the group-commit run.
    #[arg(long, default_value_t = 32)]
    writers: u64,
    /// Events each concurrent writer appends.
    #[arg(long, default_value_t = 500)]
    per_writer: u64,
    /// Seconds the release clients run on each backend.
    #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u64).range(1..=3600))]
    releases_seconds: u64,
    /// Concurrent HTTP clients releasing MFA codes.
    #[arg(long, default_value_t = 32, value_parser = clap::value_parser!(u64).range(1..=1024))]
    release_clients: u64,
    /// Also measure on PostgreSQL: a server URL whose role may CREATE
    /// DATABASE (a local server without TLS needs `?sslmode=disable`).
    /// Each measurement gets a scratch database, dropped afterwards.
    #[arg(long, value_name = "URL", env = "ROOTVAULT_BENCH_POSTGRES_URL", hide_env_values = true, value_parser = secret)]
    postgres_url: Option<SecretString>,
    /// Size of the log for proof generation.
    #[arg(long, default_value_t = 1_000_000)]
    log_size: u64,
    /// Events in the bundle that is verified.
    #[arg(long, default_value_t = 100_000)]
    bundle_events: u64,
    /// Measure only the audit log's offline work (inclusion proofs and
    /// bundle verification), not appends or releases.
    #[arg(long, conflicts_with = "postgres_url")]
    offline_only: bool,
}

/// Keep the URL (it may hold a password) out of clap's messages: accept
/// anything here, and validate it in `run` with errors that never quote it.
fn secret(raw: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(raw))
}

pub fn run(args: &BenchArgs) -> anyhow::Result<()> {
    if !args.offline_only {
        online(args)?;
    }
    offline::proofs(args.log_size)?;
    offline::bundle_verification(args.bundle_events)
}

/// Appends and releases, on SQLite and on PostgreSQL if given.
fn online(args: &BenchArgs) -> anyhow::Result<()> {
    // Check the URL, and that the server answers, before measuring SQLite.
    let server = args.postgres_url.as_ref().map(scratch::Server::new).transpose()?;
    let about = server.as_ref().map(scratch::Server::version_and_fsync).transpose()?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;

    println!("SQLite, in {} (synchronous=FULL):", std::env::temp_dir().display());
    let appended = sqlite_appends(&runtime, args)?;
    print_appends("", appended, args.writers);
    let raw = runtime.block_on(raw_sqlite::measure(args.writers, args.per_writer))?;
    println!(
        "{:<48}{:>10.0} events/s (groups of {:.1} on average; the store reached {:.2} of it)",
        format!("  raw SQLite group commit, {}:", counted(args.writers, "writer")),
        raw.per_second,
        raw.mean_group,
        appended.many / raw.per_second
    );
    print_releases(&runtime, None, args)?;

    if let (Some(server), Some((version, fsync))) = (&server, about) {
        println!("PostgreSQL {version}, {} (fsync={fsync}, synchronous_commit=on):", server.describe());
        if fsync != "on" {
            println!("  warning: fsync is off on this server: its commits are not durable, unlike SQLite's");
        }
        postgres(&runtime, server, args)?;
    }
    Ok(())
}

fn sqlite_appends(runtime: &Runtime, args: &BenchArgs) -> anyhow::Result<Appends> {
    let dir = DataDir::create()?;
    let store = Store::open(dir.path()).context("cannot open a bench database")?;
    runtime.block_on(appends::measure(&store, args.single, args.writers, args.per_writer))
}

/// The PostgreSQL runs, each in a scratch database of its own.
fn postgres(runtime: &Runtime, server: &scratch::Server, args: &BenchArgs) -> anyhow::Result<()> {
    for fenced in [false, true] {
        let db = server.create()?;
        let fence = if fenced { Some(db.hold_lease()?) } else { None };
        let store = Store::open_postgres(db.settings(), fence)?;
        let appended = runtime.block_on(appends::measure(&store, args.single, args.writers, args.per_writer))?;
        // The store's connections go before its database does.
        drop(store);
        print_appends(if fenced { "fenced, " } else { "unfenced, " }, appended, args.writers);
    }
    let db = server.create()?;
    print_releases(runtime, Some(db.settings().clone()), args)
}

fn print_appends(how: &str, appended: Appends, writers: u64) {
    let label = |n: u64| format!("  durable audit appends, {how}{}:", counted(n, "writer"));
    println!("{:<48}{:>10.0} events/s", label(1), appended.single);
    println!("{:<48}{:>10.0} events/s", label(writers), appended.many);
}

fn print_releases(
    runtime: &Runtime,
    postgres: Option<crate::store::postgres::PostgresSettings>,
    args: &BenchArgs,
) -> anyhow::Result<()> {
    let seconds = Duration::from_secs(args.releases_seconds);
    let Releases { per_second, p50, p99 } =
        runtime.block_on(releases::measure(postgres, args.release_clients, seconds))?;
    println!(
        "{:<48}{per_second:>10.0} releases/s (p50 {:.1} ms, p99 {:.1} ms)",
        format!("  MFA-code releases over HTTP, {}:", counted(args.release_clients, "client")),
        p50.as_secs_f64() * 1e3,
        p99.as_secs_f64() * 1e3
    );
    Ok(())
}

/// "1 writer", "32 writers".
fn counted(n: u64, what: &str) -> String {
    format!("{n} {what}{}", if n == 1 { "" } else { "s" })
}
