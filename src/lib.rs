//! rootvault: custody of AWS account root credentials.
//!
//! The root password and the MFA seed of each account are stored as two
//! halves, each encrypted under its own key; four-eyes rules keep anyone from
//! holding both; every access, granted or refused, is recorded in an
//! append-only audit log first. See `DESIGN.md` for the vocabulary and the
//! invariants the modules below uphold.
//!
//! - [`domain`]: the rules, free of I/O.
//! - [`crypto`]: key providers, envelope encryption, TOTP, passwords.
//! - [`store`]: SQLite schema and aggregates.
//! - [`audit`]: audit events.
//! - [`auth`]: bearer-token verification and dev issuers.
//! - [`vault`]: the use cases, each one audited transaction.
//! - [`http`]: the JSON API.
//! - [`ha`]: high availability: the lease, fencing, forwarding, gating.
//! - [`metrics`]: Prometheus metrics.
//! - [`watch`]: the root sign-in watch's queue consumer.
//! - [`cli`]: the command line.

#![forbid(unsafe_code)]

pub mod app;
pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod dev;
pub mod domain;
pub mod error;
pub mod ha;
pub mod http;
pub mod metrics;
pub mod notify;
pub mod store;
pub mod vault;
pub mod watch;
