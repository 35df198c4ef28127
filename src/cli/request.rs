//! `rootvault request …`: break-glass requests from the command line.

use anyhow::Context;
use clap::Subcommand;
use serde_json::{Value, json};

use super::client::{ServerArgs, get, post, token};

#[derive(Subcommand, Debug)]
pub enum RequestCommand {
    /// Ask for break-glass access to an account (staff).
    Create {
        /// The 12-digit AWS account id.
        account_id: String,
        /// Why root is needed; recorded in the audit log.
        #[arg(long)]
        reason: String,
        #[arg(long)]
        ticket: Option<String>,
        /// Who receives the password (org/sub).
        #[arg(long)]
        password_to: Option<String>,
        /// Who receives MFA codes (org/sub).
        #[arg(long)]
        mfa_to: Option<String>,
        /// How long releases stay possible once approved (default 60, at most 720).
        #[arg(long)]
        window_minutes: Option<u32>,
    },
    /// List requests you can see.
    List {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        account_id: Option<String>,
    },
    /// Show one request.
    Show { id: String },
    /// Approve a pending request (approvers).
    Approve {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Deny a pending request (approvers); one denial ends it.
    Deny {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
    /// Withdraw your own request.
    Cancel {
        id: String,
        #[arg(long)]
        comment: Option<String>,
    },
}

fn text(v: &Value) -> String {
    v.as_str().map_or_else(|| "-".to_owned(), str::to_owned)
}

/// One line per request, for `list`.
fn line(r: &Value) -> String {
    format!(
        "{}  {}  {:<9}  by {}  password→{}  mfa→{}  {}",
        text(&r["id"]),
        text(&r["account_id"]),
        text(&r["state"]),
        text(&r["requester"]),
        text(&r["password_to"]),
        text(&r["mfa_to"]),
        text(&r["reason"])
    )
}

/// The full picture, for `show` and after each step.
fn details(r: &Value) -> String {
    let approvals = r["approvals"].as_array().map_or(0, Vec::len);
    let mut out = vec![
        format!("request   {}", text(&r["id"])),
        format!("account   {}", text(&r["account_id"])),
        format!("state     {} ({approvals}/{} approvals)", text(&r["state"]), r["approvals_required"]),
        format!("requester {}", text(&r["requester"])),
        format!("reason    {}", text(&r["reason"])),
        format!("ticket    {}", text(&r["ticket"])),
        format!("password  → {} ({} views left)", text(&r["password_to"]), r["password_views_left"]),
        format!("mfa       → {}", text(&r["mfa_to"])),
        format!("created   {}  (pending until {})", text(&r["created_at"]), text(&r["pending_until"])),
    ];
    if !r["window_ends"].is_null() {
        out.push(format!("window    {} → {}", text(&r["approved_at"]), text(&r["window_ends"])));
    }
    for a in r["approvals"].as_array().into_iter().flatten() {
        out.push(format!(
            "approved  by {} ({}) at {}  {}",
            text(&a["approver"]),
            text(&a["party"]),
            text(&a["at"]),
            text(&a["comment"])
        ));
    }
    if let Some(d) = r["denial"].as_object() {
        out.push(format!("denied    by {} at {}  {}", text(&d["approver"]), text(&d["at"]), text(&d["comment"])));
    }
    out.join("\n")
}

fn print(value: &Value, as_json: bool, readable: impl FnOnce(&Value) -> String) -> anyhow::Result<()> {
    if as_json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", readable(value));
    }
    Ok(())
}

pub fn run(server: &ServerArgs, command: RequestCommand, as_json: bool) -> anyhow::Result<()> {
    let token = token(server)?;
    let step = |id: &str, verb: &str, comment: Option<String>| {
        post(server, &format!("/v1/requests/{id}/{verb}"), Some(&token), &json!({ "comment": comment }))
    };
    match command {
        RequestCommand::Create { account_id, reason, ticket, password_to, mfa_to, window_minutes } => {
            let body = json!({
                "account_id": account_id, "reason": reason, "ticket": ticket,
                "password_to": password_to, "mfa_to": mfa_to, "window_minutes": window_minutes,
            });
            let body = Value::Object(
                body.as_object()
                    .context("request body")?
                    .iter()
                    .filter(|(_, v)| !v.is_null())
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect(),
            );
            let created = post(server, "/v1/requests", Some(&token), &body)?;
            print(&created, as_json, |r| {
                format!(
                    "created {} (pending: needs {} approvals)\n\n{}",
                    text(&r["id"]),
                    r["approvals_required"],
                    details(r)
                )
            })
        }
        RequestCommand::List { state, account_id } => {
            let mut query = Vec::new();
            if let Some(s) = state {
                query.push(format!("state={s}"));
            }
            if let Some(a) = account_id {
                query.push(format!("account_id={a}"));
            }
            let path =
                if query.is_empty() { "/v1/requests".to_owned() } else { format!("/v1/requests?{}", query.join("&")) };
            let listed = get(server, &path, &token)?;
            print(&listed, as_json, |v| {
                let rows: Vec<String> = v["requests"].as_array().into_iter().flatten().map(line).collect();
                if rows.is_empty() { "no requests".to_owned() } else { rows.join("\n") }
            })
        }
        RequestCommand::Show { id } => print(&get(server, &format!("/v1/requests/{id}"), &token)?, as_json, details),
        RequestCommand::Approve { id, comment } => print(&step(&id, "approve", comment)?, as_json, details),
        RequestCommand::Deny { id, comment } => print(&step(&id, "deny", comment)?, as_json, details),
        RequestCommand::Cancel { id, comment } => print(&step(&id, "cancel", comment)?, as_json, details),
    }
}
