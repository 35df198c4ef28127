//! `rootvault link …`: one-time links from the command line.

use std::path::PathBuf;

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{ServerArgs, delete, get, post, token};

#[derive(Subcommand, Debug)]
pub enum LinkCommand {
    /// Create a deliver link (from an approved request) or a collect link.
    Create {
        /// `deliver` or `collect`.
        #[arg(long)]
        purpose: String,
        #[arg(long)]
        account_id: String,
        /// `password` or `mfa`.
        #[arg(long, default_value = "password")]
        half: String,
        #[arg(long)]
        recipient_name: String,
        #[arg(long)]
        recipient_email: String,
        /// The approved break-glass request a deliver link releases under.
        #[arg(long)]
        request_id: Option<String>,
        /// Expiry in minutes (default 24 h, at most 7 days).
        #[arg(long)]
        ttl_minutes: Option<u32>,
        /// Read a passphrase the recipient must type from this file.
        #[arg(long)]
        passphrase_file: Option<PathBuf>,
    },
    /// Show a link's read receipt (its creator only).
    Status {
        /// The link id, or the whole link URL (`https://host/l/{id}#key`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
    /// Revoke a pending link (its creator only).
    Revoke {
        /// The link id, or the whole link URL (`https://host/l/{id}#key`).
        #[arg(allow_hyphen_values = true)]
        id: String,
    },
}

/// The link id in what the user pasted: the id itself or the link URL.
/// The fragment (a deliver link's key) is dropped first, so it never
/// reaches a request path or an error message.
fn link_id(given: &str) -> &str {
    let without_key = given.split_once('#').map_or(given, |(before, _)| before);
    let without_query = without_key.split_once('?').map_or(without_key, |(before, _)| before);
    let trimmed = without_query.trim().trim_end_matches('/');
    trimmed.rsplit_once("/l/").map_or(trimmed, |(_, id)| id)
}

fn receipt(v: &Value) -> String {
    format!(
        "{} link for the {} half of {}: {} (expires {}, used {})",
        v["purpose"].as_str().unwrap_or("?"),
        v["half"].as_str().unwrap_or("?"),
        v["account_id"].as_str().unwrap_or("?"),
        v["state"].as_str().unwrap_or("?"),
        v["expires_at"].as_str().unwrap_or("-"),
        v["used_at"].as_str().unwrap_or("-"),
    )
}

pub fn run(server: &ServerArgs, command: LinkCommand, as_json: bool) -> anyhow::Result<()> {
    let token = token(server)?;
    let answer = match command {
        LinkCommand::Create {
            purpose,
            account_id,
            half,
            recipient_name,
            recipient_email,
            request_id,
            ttl_minutes,
            passphrase_file,
        } => {
            let passphrase = passphrase_file
                .map(|p| std::fs::read_to_string(&p).with_context(|| format!("cannot read {}", p.display())))
                .transpose()?
                .map(|p| p.trim().to_owned());
            let mut body = json!({
                "purpose": purpose, "account_id": account_id, "half": half,
                "recipient": {"name": recipient_name, "email": recipient_email},
            });
            for (key, value) in [
                ("request_id", request_id.map(Value::from)),
                ("ttl_minutes", ttl_minutes.map(Value::from)),
                ("passphrase", passphrase.map(Value::from)),
            ] {
                if let Some(value) = value {
                    body[key] = value;
                }
            }
            let created = post(server, "/v1/links", Some(&token), &body)?;
            if !as_json {
                println!("{}", created["url"].as_str().unwrap_or_default());
                eprintln!(
                    "link {} expires {}; send the URL to the recipient over a trusted channel",
                    created["id"].as_str().unwrap_or(""),
                    created["expires_at"].as_str().unwrap_or("")
                );
                return Ok(());
            }
            created
        }
        LinkCommand::Status { id } => get(server, &format!("/v1/links/{}", link_id(&id)), &token)?,
        LinkCommand::Revoke { id } => delete(server, &format!("/v1/links/{}", link_id(&id)), &token)?,
    };
    if as_json {
        println!("{}", serde_json::to_string_pretty(&answer)?);
    } else {
        println!("{}", receipt(&answer));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::link_id;

    #[test]
    fn a_link_verb_takes_the_id_or_the_whole_url_and_drops_the_key() {
        let id = "-Y_bSMQqAbCdEfGhIjKlMn";
        for given in [
            id.to_owned(),
            format!("https://vault.example/l/{id}"),
            format!("https://vault.example/l/{id}#a2V5LW5ldmVyLXByaW50ZWQ"),
            format!("http://127.0.0.1:8750/l/{id}/#k"),
            format!(" {id} "),
        ] {
            assert_eq!(link_id(&given), id, "{given}");
        }
    }
}
