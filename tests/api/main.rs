//! Integration tests: real servers on 127.0.0.1:0, real SQLite files in
//! temporary directories, the AWS SDK against a local KMS emulator.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly on any unexpected error")]

mod accounts;
mod audit_completeness;
mod audit_export;
mod audit_log;
mod auth;
mod backup;
mod bad_input;
mod browser;
mod chat_receiver;
mod cli;
mod cli_login;
mod closure;
mod consent;
mod console_accounts;
mod console_audit;
mod console_links;
mod console_requests;
mod console_security;
mod custodians;
mod dev_errors;
mod dev_idp;
mod encryption_context;
mod fake_idp;
mod ha;
mod halves;
mod helpers;
mod input_hardening;
mod issuer_keys;
mod kms;
mod link_cli;
mod links;
mod moves;
mod not_found;
mod notifications;
mod onboarding;
mod passphrase_race;
mod request_paging;
mod requests;
mod reverse;
mod rogue_idp;
mod rotation;
mod seal;
mod secrets;
mod signin;
mod slow_and_failing_clients;
mod smtp_sink;
mod tampered_guard;
mod wall;
mod wall_links;
mod watch;
mod webhook_targets;
mod webhooks;
mod witness;
