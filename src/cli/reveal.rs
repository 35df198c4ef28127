//! `rootvault reveal password|mfa-code`: receive a released half.
//!
//! The secret alone goes to stdout (so it can be piped to a password
//! manager or the clipboard); the explanation goes to stderr.

use clap::Subcommand;
use serde_json::json;

use super::client::{ServerArgs, post, token};

#[derive(Subcommand, Debug)]
pub enum RevealCommand {
    /// The root password of an approved request (its password_to only).
    Password { request_id: String },
    /// The current MFA code of an approved request (its mfa_to only).
    MfaCode { request_id: String },
}

pub fn run(server: &ServerArgs, command: RevealCommand, as_json: bool) -> anyhow::Result<()> {
    let token = token(server)?;
    let (path, field) = match &command {
        RevealCommand::Password { request_id } => (format!("/v1/requests/{request_id}/password"), "password"),
        RevealCommand::MfaCode { request_id } => (format!("/v1/requests/{request_id}/mfa-code"), "code"),
    };
    let answer = post(server, &path, Some(&token), &json!({}))?;
    if as_json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
        return Ok(());
    }
    println!("{}", answer[field].as_str().unwrap_or_default());
    match command {
        RevealCommand::Password { .. } => eprintln!(
            "password version {}, {} view(s) left; it is now due for rotation (`POST …/halves/password/rotate`)",
            answer["version"], answer["views_left"]
        ),
        RevealCommand::MfaCode { .. } => eprintln!("valid for {} more seconds", answer["valid_for_seconds"]),
    }
    Ok(())
}
