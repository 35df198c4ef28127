//! The command line: server commands, set-up commands and client verbs.
//!
//! Exit codes: 0 success, 1 failure, 2 usage error (clap's own). Failures
//! print one sentence to stderr.

mod audit;
mod backup;
mod bench;
mod client;
mod credentials;
mod init;
mod link;
mod login;
mod migrate;
mod report;
mod request;
mod reveal;
mod serve;
mod token;
mod unseal;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use crate::config::DEFAULT_LISTEN;
use crate::dev::DEFAULT_DATA_DIR;

#[derive(Parser, Debug)]
#[command(
    name = "rootvault",
    version,
    about = "Custody of AWS account root credentials, split in two halves under four-eyes rules."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the embedded default: local keys, dev issuers, demo data, auto-unsealed.
    Dev {
        /// Where the SQLite file, keys and dev issuers live.
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        /// Address to listen on; port 0 picks a free one.
        #[arg(long, default_value = DEFAULT_LISTEN)]
        listen: SocketAddr,
        /// Send notification e-mail to an SMTP server on this machine, e.g.
        /// 127.0.0.1:1025 (`python3 -m aiosmtpd -n -l 127.0.0.1:1025` prints
        /// every message it gets).
        #[arg(long, value_name = "ADDR")]
        smtp: Option<SocketAddr>,
    },
    /// Run the production server from a configuration file.
    Serve {
        #[arg(long, env = "ROOTVAULT_CONFIG")]
        config: PathBuf,
        /// Only validate the configuration, then exit.
        #[arg(long)]
        check_config: bool,
    },
    /// Initialise a data directory for the local key provider and print the unseal shares once.
    Init {
        /// Configuration file naming the data directory.
        #[arg(long, conflicts_with = "data_dir", required_unless_present = "data_dir")]
        config: Option<PathBuf>,
        /// The data directory to initialise.
        #[arg(long)]
        data_dir: Option<PathBuf>,
        /// How many shares to split the sealing key into.
        #[arg(long, default_value_t = 5, value_parser = clap::value_parser!(u8).range(1..=255))]
        shares: u8,
        /// How many shares unseal.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u8).range(1..=255))]
        threshold: u8,
    },
    /// Submit an unseal share to a running server (read from stdin or a file).
    Unseal {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Read the share from this file instead of standard input.
        #[arg(long)]
        share_file: Option<PathBuf>,
    },
    /// Break-glass requests: create, list, show, approve, deny, cancel.
    Request {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Print the server's JSON instead of readable text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: request::RequestCommand,
    },
    /// One-time links: create, status (read receipt), revoke.
    Link {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Print the server's JSON instead of readable text.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: link::LinkCommand,
    },
    /// Receive a released half: the password, or a current MFA code.
    Reveal {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Print the server's JSON instead of the bare secret.
        #[arg(long, global = true)]
        json: bool,
        #[command(subcommand)]
        command: reveal::RevealCommand,
    },
    /// The audit log: save checkpoints, export bundles, verify them offline.
    Audit {
        #[command(subcommand)]
        command: audit::AuditCommand,
    },
    /// Take an online backup from a running server (provider admins), with a signed manifest.
    Backup {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Where to write the database copy; the manifest goes beside it as FILE.manifest.
        #[arg(long)]
        to: PathBuf,
    },
    /// Restore a backup into a data directory (stop the service first).
    Restore {
        /// The backup file (its FILE.manifest must be beside it).
        #[arg(long)]
        from: PathBuf,
        /// The data directory to restore into.
        #[arg(long, conflicts_with = "config", required_unless_present = "config")]
        data_dir: Option<PathBuf>,
        /// Configuration file naming the data directory (PostgreSQL is
        /// restored with its own tools instead).
        #[arg(long)]
        config: Option<PathBuf>,
        /// The log's verifier key (or a file holding it) that signed the manifest.
        #[arg(long)]
        public_key: String,
        /// A pinned checkpoint the restored log must not fall behind.
        #[arg(long)]
        trusted_checkpoint: Option<PathBuf>,
        /// Restore even if the log would roll back past the pinned checkpoint (recorded).
        #[arg(long)]
        danger_force_rollback: bool,
    },
    /// Bring a PostgreSQL schema up to this build's version, as its owner (SQLite migrates itself).
    Migrate {
        #[arg(long, env = "ROOTVAULT_CONFIG")]
        config: PathBuf,
    },
    /// Measure the audit log: durable appends, proof generation, offline verification.
    /// Sign the command line in through your org's identity provider; the
    /// token is stored per server address and used by every client verb
    /// when ROOTVAULT_TOKEN is unset.
    Login {
        #[command(flatten)]
        server: client::ServerArgs,
        /// Your org (without it, the browser asks).
        #[arg(long)]
        org: Option<String>,
        /// Print the URL instead of opening a browser.
        #[arg(long)]
        no_browser: bool,
    },
    /// Show who the stored (or ROOTVAULT_TOKEN) token speaks for.
    Whoami {
        #[command(flatten)]
        server: client::ServerArgs,
        #[arg(long)]
        json: bool,
    },
    /// End the stored sign-in on the server and forget its token.
    Logout {
        #[command(flatten)]
        server: client::ServerArgs,
    },
    Bench(bench::BenchArgs),
    /// Print a token signed by an org's dev issuer (dev data directories only).
    Token {
        #[arg(long, default_value = DEFAULT_DATA_DIR)]
        data_dir: PathBuf,
        #[arg(long)]
        org: String,
        #[arg(long)]
        sub: String,
        /// Comma-separated roles: admin, staff, approver, auditor.
        #[arg(long, value_delimiter = ',')]
        roles: Vec<String>,
        /// Lifetime such as 90s, 30m, 1h or 2d (at most 7d).
        #[arg(long, default_value = "1h")]
        ttl: String,
    },
}

/// Parse the command line, run the command and turn its result into an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Dev { data_dir, listen, smtp } => serve::run_dev(data_dir, listen, smtp),
        Command::Serve { config, check_config } => serve::run_serve(&config, check_config),
        Command::Init { config, data_dir, shares, threshold } => init::run(config, data_dir, shares, threshold),
        Command::Unseal { server, share_file } => unseal::run(&server, share_file),
        Command::Token { data_dir, org, sub, roles, ttl } => token::run(&data_dir, &org, &sub, &roles, &ttl),
        Command::Request { server, json, command } => request::run(&server, command, json),
        Command::Audit { command } => audit::run(command),
        Command::Link { server, json, command } => link::run(&server, command, json),
        Command::Bench(args) => bench::run(&args),
        Command::Login { server, org, no_browser } => login::login(&server, org.as_deref(), no_browser),
        Command::Whoami { server, json } => login::whoami(&server, json),
        Command::Logout { server } => login::logout(&server),
        Command::Backup { server, to } => backup::backup(&server, &to),
        Command::Restore { from, data_dir, config, public_key, trusted_checkpoint, danger_force_rollback } => {
            backup::restore_target(config, data_dir).and_then(|data_dir| {
                backup::restore(&backup::RestoreArgs {
                    from,
                    data_dir,
                    public_key,
                    trusted_checkpoint,
                    danger_force_rollback,
                })
            })
        }
        Command::Migrate { config } => migrate::run(&config),
        Command::Reveal { server, json, command } => reveal::run(&server, command, json),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("rootvault: {}", report::one_line(&e));
            ExitCode::FAILURE
        }
    }
}
