//! The console's audit page: an auditor's org's events only, filtered and
//! paged; the downloads; a bundle that verifies offline with the exact
//! command the page prints.

use std::process::Command;

use reqwest::StatusCode;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use rootvault::audit::bundle::{Bundle, verify};
use serde_json::Value;

use crate::browser::Browser;
use crate::helpers::{TestApp, spawn_dev_app};

/// globex's account, and one of initech's that globex must never see.
const GLOBEX: &str = "123456789012";
const INITECH: &str = "210987654321";

async fn activity(app: &TestApp) {
    app.stocked_account(GLOBEX).await;
    app.register(INITECH, "co_owned", Some("initech")).await;
    app.get(&format!("/v1/accounts/{INITECH}"), &app.token("initech/ian", &["admin"])).await;
}

/// The text of every cell of the table's body, row by row.
fn rows(html: &str) -> Vec<Vec<String>> {
    let Some(body) = html.split("<tbody>").nth(1).and_then(|b| b.split("</tbody>").next()) else { return vec![] };
    body.split("<tr>")
        .skip(1)
        .map(|row| {
            row.split("<td")
                .skip(1)
                .map(|cell| cell.split_once('>').unwrap().1.split("</td>").next().unwrap().to_owned())
                .collect()
        })
        .collect()
}

/// The value of the first `attr="…"` after `marker` in `html`.
fn attr_after(html: &str, marker: &str, attr: &str) -> String {
    let rest = html.split(marker).nth(1).unwrap_or_else(|| panic!("no {marker}"));
    rest.split(&format!("{attr}=\"")).nth(1).unwrap().split('"').next().unwrap().replace("&amp;", "&")
}

/// The text of the element carrying `data-field="name"`.
fn field(html: &str, name: &str) -> String {
    let rest = html.split(&format!("data-field=\"{name}\"")).nth(1).unwrap_or_else(|| panic!("no {name}"));
    rest.split_once('>').unwrap().1.split('<').next().unwrap().replace("&amp;", "&")
}

async fn page(browser: &Browser, path: &str) -> String {
    let r = browser.get(path).await;
    assert_eq!(r.status(), StatusCode::OK, "{path}");
    r.text().await.unwrap()
}

#[tokio::test]
async fn an_auditor_sees_only_their_orgs_events_filtered_and_paged() {
    let app = spawn_dev_app().await;
    activity(&app).await;
    let gloria = Browser::sign_in(&app, "globex", "gloria").await;

    let all = page(&gloria, "/audit").await;
    let seen = rows(&all);
    assert!(!seen.is_empty(), "{all}");
    assert!(seen.iter().any(|r| r[5].contains(GLOBEX)), "{all}");
    assert!(!all.contains(INITECH), "initech's account never shows on globex's page");
    assert!(all.contains("data-action=\"audit-download\""));

    let filtered = page(&gloria, &format!("/audit?account_id={GLOBEX}&action=half.deposit&outcome=ok&actor=")).await;
    let deposits = rows(&filtered);
    assert_eq!(deposits.len(), 2, "{filtered}");
    assert!(deposits.iter().all(|r| r[3].contains("half.deposit") && r[4] == "ok" && r[5].contains(GLOBEX)));
    let by_alice = rows(&page(&gloria, "/audit?actor=acme%2Falice&action=half.deposit").await);
    assert_eq!(by_alice.len(), 1);

    // More than a page of events: the next-page link carries on after the
    // last one shown, with the same filters.
    let gina = app.token("globex/gina", &["admin"]);
    for _ in 0..55 {
        app.get(&format!("/v1/accounts/{GLOBEX}"), &gina).await;
    }
    let first = page(&gloria, "/audit?action=account.read").await;
    let first_rows = rows(&first);
    assert_eq!(first_rows.len(), 50);
    let next = attr_after(&first, "<p><a class=\"button secondary\"", "href");
    assert!(next.starts_with("/audit?action=account.read&after_seq="), "{next}");
    let second_rows = rows(&page(&gloria, &next).await);
    assert!(second_rows.len() >= 5 && second_rows.iter().all(|r| r[3].contains("account.read")));
    let seq = |r: &Vec<String>| r[0].parse::<u64>().unwrap();
    assert!(seq(&second_rows[0]) > seq(first_rows.last().unwrap()));

    let refused = gloria.get("/audit?outcome=maybe").await;
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(field(&refused.text().await.unwrap(), "error").contains("outcome must be ok, denied or error"));
}

#[tokio::test]
async fn someone_who_is_not_an_auditor_is_refused_in_plain_words() {
    let app = spawn_dev_app().await;
    let gina = Browser::sign_in(&app, "globex", "gina").await;
    for path in ["/audit", "/audit/events.csv", "/audit/export.json", "/audit/checkpoint.txt"] {
        let r = gina.get(path).await;
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
        let html = r.text().await.unwrap();
        assert!(field(&html, "error").contains("needs the auditor role"), "{html}");
    }
    let (_, home) = gina.home().await;
    assert!(!home.contains("href=\"/audit\""), "the nav offers the audit page to auditors only");
}

#[tokio::test]
async fn the_downloads_have_their_types_and_the_bundle_verifies_with_the_printed_command() {
    let app = spawn_dev_app().await;
    activity(&app).await;
    let gloria = Browser::sign_in(&app, "globex", "gloria").await;

    let jsonl = gloria.get(&format!("/audit/events.jsonl?account_id={GLOBEX}")).await;
    assert_eq!(jsonl.headers()[CONTENT_TYPE], "application/x-ndjson; charset=utf-8");
    assert!(jsonl.headers()[CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
    let lines: Vec<Value> = jsonl.text().await.unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(!lines.is_empty() && lines.iter().all(|e| e["target"]["account_id"] == GLOBEX));

    let csv = gloria.get("/audit/events.csv?outcome=ok").await;
    assert_eq!(csv.headers()[CONTENT_TYPE], "text/csv; charset=utf-8");
    assert!(csv.headers()[CONTENT_DISPOSITION].to_str().unwrap().starts_with("attachment"));
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("\u{feff}seq,time,actor,action,outcome") && !csv.contains(INITECH));

    // The page's checkpoint, kept; then a bundle proving growth from it.
    let html = page(&gloria, "/audit").await;
    let key = field(&html, "public-key");
    let size = attr_after(&html, "id=\"trusted_size\"", "value");
    assert!(html.contains(&format!("href=\"/audit/checkpoint.txt?size={size}\"")), "{html}");
    let note = gloria.get(&format!("/audit/checkpoint.txt?size={size}")).await;
    assert_eq!(note.headers()[CONTENT_TYPE], "text/plain; charset=utf-8");
    assert!(note.headers()[CONTENT_DISPOSITION].to_str().unwrap().contains("trusted-checkpoint.txt"));
    let note = note.text().await.unwrap();
    assert!(html.contains(&note.lines().next().unwrap().to_owned()));
    activity_after_pin(&app).await;

    let exported = gloria.get(&format!("/audit/export.json?trusted_size={size}")).await;
    assert_eq!(exported.status(), StatusCode::OK);
    assert_eq!(exported.headers()[CONTENT_TYPE], "application/json");
    assert!(exported.headers()[CONTENT_DISPOSITION].to_str().unwrap().contains("bundle.json"));
    let text = exported.text().await.unwrap();
    let bundle: Bundle = serde_json::from_str(&text).unwrap();
    assert!(!text.contains(INITECH));
    let verified = verify(&bundle, Some(&key), Some(&note)).unwrap();
    assert_eq!(verified.consistent_from, Some(size.parse().unwrap()));
    assert_eq!(app.last_event("audit.export")["actor"], "globex/gloria");

    // The exact command the page prints, run in a directory holding both files.
    let command = field(&html, "verify-command");
    assert_eq!(
        command,
        format!("rootvault audit verify bundle.json --public-key '{key}' --trusted-checkpoint trusted-checkpoint.txt")
    );
    let dir = crate::helpers::DataDir::new();
    std::fs::write(dir.path().join("bundle.json"), &text).unwrap();
    std::fs::write(dir.path().join("trusted-checkpoint.txt"), &note).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .args([
            "audit",
            "verify",
            "bundle.json",
            "--public-key",
            &key,
            "--trusted-checkpoint",
            "trusted-checkpoint.txt",
        ])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.starts_with(&format!("OK: {} events verified", verified.events)), "{stdout}");
}

/// Events after the auditor kept a checkpoint.
async fn activity_after_pin(app: &TestApp) {
    app.get(&format!("/v1/accounts/{GLOBEX}"), &app.token("globex/gina", &["admin"])).await;
}
