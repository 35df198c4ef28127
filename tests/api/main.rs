//! Integration tests: real servers on 127.0.0.1:0, real SQLite files in
//! temporary directories, the AWS SDK against a local KMS emulator.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on any unexpected error")]

mod accounts;
mod audit_export;
mod audit_log;
mod auth;
mod backup;
mod bad_input;
mod cli;
mod custodians;
mod encryption_context;
mod halves;
mod helpers;
mod kms;
mod links;
mod requests;
mod reverse;
mod rotation;
mod seal;
mod secrets;
mod wall;
mod webhooks;
mod witness;
