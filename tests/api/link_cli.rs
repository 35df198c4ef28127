//! The link client verbs take the id or the whole link URL, and ids that
//! begin with `-` (issued before they stopped doing so) are not options.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{STAFF, spawn_app};

const BIN: &str = env!("CARGO_BIN_EXE_rootvault");

async fn rootvault(base: &str, token: &str, args: &[&str]) -> (String, String) {
    let out = tokio::process::Command::new(BIN)
        .args(args)
        .env("ROOTVAULT_ADDR", base)
        .env("ROOTVAULT_TOKEN", token)
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .unwrap();
    (String::from_utf8_lossy(&out.stdout).into_owned(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[tokio::test]
async fn link_status_and_revoke_accept_the_whole_url_and_never_print_its_key() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let alice = app.token("acme/alice", STAFF);
    let body = json!({"purpose": "collect", "account_id": "123456789012", "half": "password",
        "recipient": {"name": "Jane Doe", "email": "jane@globex.example"}});
    let created = app.post("/v1/links", &alice, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    let url = format!("{}#a2V5LXRoYXQtbXVzdC1uZXZlci1iZS1wcmludGVk", created.body["url"].as_str().unwrap());

    let (stdout, stderr) = rootvault(&app.base, &alice, &["link", "status", &url]).await;
    assert!(stdout.contains("collect link for the password half of 123456789012: pending"), "{stdout}\n{stderr}");
    let (stdout, stderr) = rootvault(&app.base, &alice, &["link", "revoke", &url]).await;
    assert!(stdout.contains(": revoked"), "{stdout}\n{stderr}");
    let (stdout, stderr) = rootvault(&app.base, &alice, &["link", "status", "-Y_bSMQqAbCdEfGhIjKlMn"]).await;
    assert!(!stderr.contains("unexpected argument"), "a leading '-' is taken for an option: {stderr}");
    assert!(stderr.contains("not found"), "{stdout}\n{stderr}");
    assert!(!format!("{stdout}{stderr}").contains("a2V5LXRoYXQtbXVzdC1uZXZlci1iZS1wcmludGVk"));
}
