//! The tamper-evident log as auditors use it: checkpoints, proofs, scoped
//! streams, bundles verified offline, and tampering caught.

use std::process::Command;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use reqwest::StatusCode;
use rootvault::audit::bundle::{Bundle, verify};
use rootvault::audit::checkpoint::VerifierKey;
use rootvault::audit::merkle::{Hash, verify_consistency, verify_inclusion};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app, spawn_app_at};

const AUDITOR: &[&str] = &["auditor"];

/// Some activity on two customers' accounts, refusals included.
async fn activity(app: &TestApp) {
    app.stocked_account("123456789012").await;
    app.register("210987654321", "co_owned", Some("initech")).await;
    let id = app.approved_request("123456789012").await;
    app.step(&id, "password", "acme/alice", &["staff"]).await;
    app.step(&id, "password", "acme/bob", &["staff"]).await;
    app.get("/v1/accounts/210987654321", &app.token("initech/ian", &["admin"])).await;
    app.send(reqwest::Method::GET, "/v1/accounts", Some("not-a-token"), None).await;
}

async fn checkpoint(app: &TestApp, who: &str) -> Value {
    let reply = app.get("/v1/audit/checkpoint", &app.token(who, AUDITOR)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn export(app: &TestApp, who: &str, query: &str) -> Bundle {
    let reply = app.get(&format!("/v1/audit/export{query}"), &app.token(who, AUDITOR)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_value(reply.body).unwrap()
}

fn hash(b64: &str) -> Hash {
    B64.decode(b64).unwrap().try_into().unwrap()
}

#[tokio::test]
async fn an_auditor_export_verifies_offline_against_a_pinned_checkpoint() {
    let app = spawn_app().await;
    activity(&app).await;
    let pinned = checkpoint(&app, "acme/audrey").await;
    let note = pinned["checkpoint"].as_str().unwrap();
    let vkey = pinned["public_key"].as_str().unwrap();
    app.register("333333333333", "provider_split", None).await;

    let size = pinned["size"].as_u64().unwrap();
    let bundle = export(&app, "acme/audrey", &format!("?trusted_size={size}")).await;
    let verified = verify(&bundle, Some(vkey), Some(note)).unwrap();
    assert!(verified.events > 10 && verified.checkpoint.size > size);
    assert_eq!(verified.consistent_from, Some(size));

    // The same, offline, with the command-line verifier.
    let dir = crate::helpers::DataDir::new();
    let (bundle_file, note_file) = (dir.path().join("bundle.json"), dir.path().join("trusted.txt"));
    std::fs::write(&bundle_file, serde_json::to_string(&bundle).unwrap()).unwrap();
    std::fs::write(&note_file, note).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .args([
            "audit",
            "verify",
            bundle_file.to_str().unwrap(),
            "--public-key",
            vkey,
            "--trusted-checkpoint",
            note_file.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout} {}", String::from_utf8_lossy(&out.stderr));
    assert!(
        stdout.starts_with(&format!("OK: {} events verified", verified.events)) && stdout.contains("pinned key"),
        "{stdout}"
    );

    // Each kind of edit to the bundle is caught and named.
    let mut edited = bundle.clone();
    edited.entries[3].leaf = edited.entries[3].leaf.replacen("\"ok\"", "\"denied\"", 1);
    assert_ne!(edited.entries[3].leaf, bundle.entries[3].leaf);
    assert!(verify(&edited, Some(vkey), Some(note)).unwrap_err().to_string().starts_with("entry 3 (seq"));
    let mut reordered = bundle.clone();
    reordered.entries.swap(1, 2);
    assert!(verify(&reordered, Some(vkey), Some(note)).unwrap_err().to_string().starts_with("entry 2"));
    let mut other_key = bundle.clone();
    other_key.public_key = "rootvault/acme+00000000+AQ==".into();
    assert!(verify(&other_key, Some(vkey), None).is_err());
    let mut no_consistency = bundle.clone();
    no_consistency.consistency = None;
    assert!(verify(&no_consistency, Some(vkey), Some(note)).unwrap_err().to_string().contains("no consistency proof"));
}

#[tokio::test]
async fn auditors_see_their_own_orgs_events_only() {
    let app = spawn_app().await;
    activity(&app).await;
    let non_auditor = app.get("/v1/audit/export", &app.token("globex/gina", &["admin", "approver"])).await;
    assert_eq!((non_auditor.status, non_auditor.code()), (StatusCode::FORBIDDEN, "forbidden"));

    let provider = export(&app, "acme/audrey", "").await;
    let globex = export(&app, "globex/gail", "").await;
    let initech = export(&app, "initech/iggy", "").await;
    let events =
        |b: &Bundle| b.entries.iter().map(|e| serde_json::from_str::<Value>(&e.leaf).unwrap()).collect::<Vec<_>>();
    let (provider, globex, initech) = (events(&provider), events(&globex), events(&initech));
    assert!(provider.iter().any(|e| e["target"]["account_id"] == "210987654321"));
    assert!(
        provider.iter().any(|e| e["action"] == "auth.fail"),
        "unattributed authentication failures go to the provider"
    );
    for e in &globex {
        let account = e["target"]["account_id"].as_str();
        let actor = e["actor"].as_str().unwrap_or("");
        assert!(account == Some("123456789012") || (account.is_none() && actor.starts_with("globex/")), "{e}");
    }
    assert!(globex.iter().any(|e| e["action"] == "half.release"), "globex sees the release on its account");
    assert!(initech.iter().all(|e| e["target"]["account_id"] != "123456789012"));
    assert!(initech.iter().any(|e| e["actor"] == "initech/ian"));
    // Proofs in a customer's bundle verify, and reveal other tenants' events only as hashes.
    let bundle = export(&app, "globex/gail", "").await;
    assert!(verify(&bundle, None, None).is_ok());
}

#[tokio::test]
async fn proofs_for_a_size_verify_against_the_checkpoint_of_that_size() {
    let app = spawn_app().await;
    activity(&app).await;
    let early = checkpoint(&app, "acme/audrey").await;
    app.register("333333333333", "provider_split", None).await;
    let late = checkpoint(&app, "acme/audrey").await;
    let key = VerifierKey::parse(late["public_key"].as_str().unwrap()).unwrap();
    let (a, b) = (
        key.verify(early["checkpoint"].as_str().unwrap()).unwrap(),
        key.verify(late["checkpoint"].as_str().unwrap()).unwrap(),
    );
    let audrey = app.token("acme/audrey", AUDITOR);

    let inclusion = app.get(&format!("/v1/audit/proofs/inclusion?seq=5&size={}", a.size), &audrey).await;
    assert_eq!(inclusion.status, StatusCode::OK, "{}", inclusion.body);
    let proof: Vec<Hash> =
        inclusion.body["proof"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
    assert!(verify_inclusion(&hash(inclusion.body["leaf_hash"].as_str().unwrap()), 5, a.size, &proof, &a.root));

    let consistency = app.get(&format!("/v1/audit/proofs/consistency?from={}&to={}", a.size, b.size), &audrey).await;
    let proof: Vec<Hash> =
        consistency.body["proof"].as_array().unwrap().iter().map(|h| hash(h.as_str().unwrap())).collect();
    assert!(verify_consistency(a.size, b.size, &a.root, &b.root, &proof));

    // Every checkpoint ever issued is served again by its size.
    let again = app.get(&format!("/v1/audit/checkpoint?size={}", a.size), &audrey).await;
    assert_eq!(again.body["checkpoint"], early["checkpoint"]);
    assert_eq!(app.get("/v1/audit/checkpoint?size=999999", &audrey).await.status, StatusCode::NOT_FOUND);
    let beyond = app.get(&format!("/v1/audit/proofs/inclusion?seq=1&size={}", b.size + 1000), &audrey).await;
    assert_eq!(beyond.status, StatusCode::UNPROCESSABLE_ENTITY);
    let malformed = app.get("/v1/audit/proofs/consistency?from=x", &audrey).await;
    assert_eq!((malformed.status, malformed.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    // A customer auditor gets no inclusion proof for another tenant's event.
    let other = app
        .get(&format!("/v1/audit/proofs/inclusion?seq=0&size={}", a.size), &app.token("initech/iggy", AUDITOR))
        .await;
    assert_eq!(other.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn events_stream_as_json_lines_or_csv_with_filters() {
    let app = spawn_app().await;
    activity(&app).await;
    let audrey = app.token("acme/audrey", AUDITOR);
    let get = |query: &str| {
        let request = app
            .client
            .get(format!("{}/v1/audit/events{query}", app.base))
            .bearer_auth(&audrey)
            .header("user-agent", "=HYPERLINK(\"x\")");
        async move {
            let r = request.send().await.unwrap();
            let content_type = r.headers()["content-type"].to_str().unwrap().to_owned();
            (r.status(), content_type, r.text().await.unwrap())
        }
    };
    let (status, content_type, body) = get("").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("application/x-ndjson"));
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(lines.len() > 10);
    assert!(lines.windows(2).all(|w| w[0]["seq"].as_u64() < w[1]["seq"].as_u64()));

    let (_, _, filtered) = get("?account_id=210987654321").await;
    assert!(filtered.lines().all(|l| l.contains("\"account_id\":\"210987654321\"")) && !filtered.is_empty());
    let (_, _, paged) = get("?after_seq=3&limit=2").await;
    let seqs: Vec<u64> =
        paged.lines().map(|l| serde_json::from_str::<Value>(l).unwrap()["seq"].as_u64().unwrap()).collect();
    assert_eq!(seqs, [4, 5]);
    let (_, _, none) = get("?since=2999-01-01T00:00:00Z").await;
    assert_eq!(none, "");
    let (_, _, all_until) = get("?until=2999-01-01T00:00:00%2B02:00").await;
    assert_eq!(all_until.lines().count(), lines.len() + 4, "the reads above were recorded too");

    let (status, content_type, csv) = get("?format=csv").await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/csv"));
    assert!(csv.starts_with("\u{feff}seq,time,actor,action,outcome,account_id"));
    assert!(csv.contains(",\"'=HYPERLINK(\"\"x\"\")\","), "cells are never formulas: {csv}");
    assert!(!csv.contains(",=HYPERLINK") && !csv.contains(",\"=HYPERLINK"));
    assert!(csv.lines().skip(1).all(|l| l.split(',').next().unwrap().parse::<u64>().is_ok()), "{csv}");
    let (bad, _, _) = get("?since=yesterday").await;
    assert_eq!(bad, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn exported_events_and_bundles_match_the_published_schemas() {
    let app = spawn_app().await;
    activity(&app).await;
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("audit-schema");
    let load = |name: &str| serde_json::from_str::<Value>(&std::fs::read_to_string(root.join(name)).unwrap()).unwrap();
    let event_schema = jsonschema::validator_for(&load("event.schema.json")).unwrap();
    let bundle_schema = jsonschema::validator_for(&load("bundle.schema.json")).unwrap();
    assert!(event_schema.is_valid(&load("examples/event.example.json")));

    let bundle = app.get("/v1/audit/export?trusted_size=3", &app.token("acme/audrey", AUDITOR)).await.body;
    assert!(
        bundle_schema.is_valid(&bundle),
        "{:?}",
        bundle_schema.iter_errors(&bundle).map(|e| e.to_string()).collect::<Vec<_>>()
    );
    let mut actions = std::collections::BTreeSet::new();
    for entry in bundle["entries"].as_array().unwrap() {
        let event: Value = serde_json::from_str(entry["leaf"].as_str().unwrap()).unwrap();
        let errors: Vec<String> = event_schema.iter_errors(&event).map(|e| e.to_string()).collect();
        assert!(errors.is_empty(), "{event}: {errors:?}");
        actions.insert(event["action"].as_str().unwrap().to_owned());
    }
    assert!(actions.len() >= 8, "a varied sample: {actions:?}");
    // The schema's closed list of actions is the service's.
    let listed: Vec<String> = load("event.schema.json")["properties"]["action"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a.as_str().unwrap().to_owned())
        .collect();
    let known: Vec<String> = rootvault::audit::Action::ALL.iter().map(|a| a.as_str().to_owned()).collect();
    assert_eq!(listed, known);
}

/// Pin a checkpoint, stop the service, tamper with the stored log the way
/// `tamper` says, restart: the service flags the log and refuses changes,
/// and a later export no longer verifies against the pinned checkpoint.
async fn tamper_is_caught(tamper: &str) {
    let dir = crate::helpers::DataDir::new();
    let (note, vkey) = {
        let app = spawn_app_at(dir.path()).await;
        activity(&app).await;
        let pinned = checkpoint(&app, "acme/audrey").await;
        app.register("333333333333", "provider_split", None).await;
        (pinned["checkpoint"].as_str().unwrap().to_owned(), pinned["public_key"].as_str().unwrap().to_owned())
    };
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let app = crate::helpers::restart_tampered(dir.path(), tamper).await;

    let size = VerifierKey::parse(&vkey).unwrap().verify(&note).unwrap().size;
    let later = export(&app, "acme/audrey", &format!("?trusted_size={size}")).await;
    let err = verify(&later, Some(&vkey), Some(&note)).expect_err(tamper);
    assert!(err.to_string().starts_with("entry "), "{tamper}: {err}");
}

#[tokio::test]
async fn an_edited_row_is_caught() {
    tamper_is_caught("UPDATE audit_events SET event_json = replace(event_json, '\"outcome\":\"denied\"', '\"outcome\":\"ok\"') WHERE seq = (SELECT MIN(seq) FROM audit_events WHERE outcome = 'denied' AND actor IS NOT NULL);").await;
}

#[tokio::test]
async fn a_deleted_row_is_caught() {
    tamper_is_caught("DELETE FROM audit_events WHERE seq = 7;").await;
}

#[tokio::test]
async fn reordered_rows_are_caught() {
    tamper_is_caught(
        "UPDATE audit_events SET seq = -1 WHERE seq = 5; UPDATE audit_events SET seq = 5 WHERE seq = 6; UPDATE audit_events SET seq = 6 WHERE seq = -1;",
    )
    .await;
}

#[tokio::test]
async fn an_appended_row_is_caught() {
    tamper_is_caught(
        "INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json)
         SELECT MAX(seq) + 1, '2026-01-01T00:00:00.000Z', 'acme/mallory', 'account.read', '123456789012', 'ok',
                '{\"action\":\"account.read\",\"actor\":\"acme/mallory\"}' FROM audit_events;",
    )
    .await;
}
