//! Scoped exports prove that no event is missing: per-org counters in the
//! events, signed scope statements in the bundle, and a verifier that also
//! checks each leaf is the canonical, schema-valid JSON of its event.

use std::collections::BTreeMap;
use std::process::Command;

use ed25519_dalek::pkcs8::EncodePrivateKey;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use reqwest::StatusCode;
use rootvault::audit::bundle::{Bundle, Complete, verify};
use rootvault::auth::dev::DevIssuer;
use serde_json::{Value, json};

use crate::helpers::{TestApp, spawn_app};

const AUDITOR: &[&str] = &["auditor"];

/// Globex's account with a password released to alice, plus other tenants'
/// activity and a refusal or two around it.
async fn activity(app: &TestApp) {
    app.stocked_account("123456789012").await;
    app.register("210987654321", "co_owned", Some("initech")).await;
    let id = app.approved_request("123456789012").await;
    let released = app.step(&id, "password", "acme/alice", &["staff"]).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    app.get("/v1/accounts/210987654321", &app.token("globex/gina", &["admin"])).await;
    app.get("/v1/accounts", &app.token("globex/gina", &["admin"])).await;
    app.register("333333333333", "provider_split", Some("globex")).await;
}

async fn export(app: &TestApp, who: &str, query: &str) -> Bundle {
    let reply = app.get(&format!("/v1/audit/export{query}"), &app.token(who, AUDITOR)).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_value(reply.body).unwrap()
}

fn event(bundle: &Bundle, index: usize) -> Value {
    serde_json::from_str(&bundle.entries[index].leaf).unwrap()
}

fn position(bundle: &Bundle, action: &str) -> usize {
    (0..bundle.entries.len()).find(|&i| event(bundle, i)["action"] == action).unwrap()
}

/// `rootvault audit verify` on `bundle`: (success, stdout, stderr).
fn cli_verify(bundle: &Bundle) -> (bool, String, String) {
    let dir = crate::helpers::DataDir::new();
    let file = dir.path().join("bundle.json");
    std::fs::write(&file, serde_json::to_string_pretty(bundle).unwrap()).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .args(["audit", "verify", file.to_str().unwrap()])
        .output()
        .unwrap();
    (out.status.success(), String::from_utf8_lossy(&out.stdout).into(), String::from_utf8_lossy(&out.stderr).into())
}

#[tokio::test]
async fn deleting_a_release_from_a_customer_auditors_bundle_is_caught_as_a_gap() {
    let app = spawn_app().await;
    activity(&app).await;
    let bundle = export(&app, "globex/gail", "").await;
    let verified = verify(&bundle, None, None).unwrap();
    let Complete::Proved { org, first, last, .. } = &verified.complete else { panic!("{:?}", verified.complete) };
    assert_eq!((org.as_str(), *first), ("globex", 1));
    assert_eq!(*last as usize, bundle.entries.len(), "every globex event is in its bundle");
    let (ok, stdout, _) = cli_verify(&bundle);
    assert!(ok && stdout.contains("complete: org globex's events #1 to #"), "{stdout}");

    let release = position(&bundle, "half.release");
    let counter = event(&bundle, release)["scope"]["globex"].as_u64().unwrap();
    let mut hidden = bundle.clone();
    hidden.entries.remove(release);
    let err = verify(&hidden, None, None).unwrap_err().to_string();
    assert!(err.contains(&format!("org globex's event #{counter} is missing")), "{err}");
    let (ok, _, stderr) = cli_verify(&hidden);
    assert!(!ok && stderr.contains(&format!("event #{counter} is missing")), "{stderr}");
}

#[tokio::test]
async fn cutting_entries_off_the_end_of_a_bundle_is_caught() {
    let app = spawn_app().await;
    activity(&app).await;
    let bundle = export(&app, "globex/gail", "").await;
    for cut in [1, 3] {
        let mut short = bundle.clone();
        short.entries.truncate(bundle.entries.len() - cut);
        let err = verify(&short, None, None).unwrap_err().to_string();
        assert!(err.contains("events were cut off"), "{err}");
    }
    // Nor can the statement that says how many there are be swapped or dropped.
    let mut unsigned = bundle.clone();
    unsigned.completeness.to = unsigned.completeness.to.replacen("count ", "count 1", 1);
    assert!(verify(&unsigned, None, None).unwrap_err().to_string().contains("scope statement does not verify"));
    let mut other_org = bundle.clone();
    other_org.completeness.org = "initech".into();
    assert!(verify(&other_org, None, None).is_err());
}

#[tokio::test]
async fn each_page_of_a_paged_export_proves_itself_complete() {
    let app = spawn_app().await;
    activity(&app).await;
    let whole = export(&app, "globex/gail", "").await;
    let first = export(&app, "globex/gail", "?limit=3").await;
    assert_eq!(first.entries.len(), 3);
    assert!(matches!(verify(&first, None, None).unwrap().complete, Complete::Proved { first: 1, last: 3, .. }));
    let (ok, stdout, _) = cli_verify(&first);
    assert!(ok && stdout.contains(&format!("ONLY up to tree size {}", first.entries[2].seq + 1)), "{stdout}");
    let after = first.entries[2].seq;
    let second = export(&app, "globex/gail", &format!("?after_seq={after}")).await;
    let Complete::Proved { first: from, last, .. } = verify(&second, None, None).unwrap().complete else { panic!() };
    assert_eq!((from, last as usize), (4, whole.entries.len() + 2), "the exports themselves are globex events too");

    // The page's first event cannot be dropped, nor its start statement.
    let mut headless = second.clone();
    headless.entries.remove(0);
    assert!(verify(&headless, None, None).unwrap_err().to_string().contains("org globex's event #4 is missing"));
    let beyond = app.get(&format!("/v1/audit/export?after_seq={}", u64::MAX), &app.token("globex/gail", AUDITOR)).await;
    assert_eq!((beyond.status, beyond.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    let mut unanchored = second.clone();
    unanchored.completeness.from = None;
    assert!(verify(&unanchored, None, None).is_err());
}

#[tokio::test]
async fn a_filtered_export_says_its_completeness_is_not_proved() {
    let app = spawn_app().await;
    activity(&app).await;
    let bundle = export(&app, "globex/gail", "?account_id=123456789012").await;
    let verified = verify(&bundle, None, None).unwrap();
    assert_eq!(verified.complete, Complete::NotProved { org: "globex".into(), filters: vec!["account_id".into()] });
    let (ok, stdout, _) = cli_verify(&bundle);
    assert!(ok && stdout.contains("completeness NOT proved") && stdout.contains("account_id"), "{stdout}");
    // The filter is under the signature: an unfiltered bundle cannot claim one.
    let unfiltered = export(&app, "globex/gail", "").await;
    let mut claimed = unfiltered.clone();
    claimed.completeness.to = claimed.completeness.to.replacen("\n\n", "\nfiltered account_id\n\n", 1);
    claimed.entries.remove(position(&unfiltered, "half.release"));
    assert!(verify(&claimed, None, None).is_err());
}

#[tokio::test]
async fn a_leaf_that_is_not_canonical_json_is_refused_with_the_reason() {
    let app = spawn_app().await;
    activity(&app).await;
    let bundle = export(&app, "globex/gail", "").await;
    let release = position(&bundle, "half.release");
    let leaf = bundle.entries[release].leaf.clone();
    let spaced = leaf.replacen("{", "{ ", 1);
    let reordered = {
        let fields: BTreeMap<String, Value> = serde_json::from_str(&leaf).unwrap();
        let mut parts: Vec<String> = fields.iter().map(|(k, v)| format!("{}:{v}", json!(k))).collect();
        parts.reverse();
        format!("{{{}}}", parts.join(","))
    };
    for edited in [spaced, reordered] {
        let mut bad = bundle.clone();
        bad.entries[release].leaf = edited;
        let err = verify(&bad, None, None).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("entry {release} (seq")) && err.contains("not the canonical JSON (RFC 8785)"),
            "{err}"
        );
    }
}

#[tokio::test]
async fn a_leaf_that_violates_the_event_schema_is_refused() {
    let app = spawn_app().await;
    activity(&app).await;
    let bundle = export(&app, "globex/gail", "").await;
    let release = position(&bundle, "half.release");
    let mut bad = bundle.clone();
    bad.entries[release].leaf = bad.entries[release].leaf.replacen("\"outcome\":\"ok\"", "\"outcome\":\"fine\"", 1);
    let err = verify(&bad, None, None).unwrap_err().to_string();
    assert!(err.contains("does not match event.schema.json") && err.contains("/outcome"), "{err}");
}

#[tokio::test]
async fn a_forged_token_naming_a_customers_issuer_puts_nothing_in_its_scope() {
    let app = spawn_app().await;
    activity(&app).await;
    let globex = "globex".parse().unwrap();
    let claims = json!({
        "iss": DevIssuer::issuer_for(&globex),
        "aud": app.config.audience,
        "sub": "gina",
        "roles": ["admin"],
        "iat": 1_800_000_000u64,
        "exp": 4_000_000_000u64,
    });
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(DevIssuer::load(&app.data_dir(), &globex).unwrap().kid());
    let stranger = ed25519_dalek::SigningKey::from_bytes(&[9; 32]).to_pkcs8_der().unwrap();
    let forged = encode(&header, &claims, &EncodingKey::from_ed_der(stranger.as_bytes())).unwrap();
    assert_eq!(app.get("/v1/accounts", &forged).await.status, StatusCode::UNAUTHORIZED);

    let probe = app.last_event("auth.fail");
    assert_eq!(probe["details"]["org"], "globex", "the provider still learns which issuer was named");
    let scope: Vec<&String> = probe["scope"].as_object().unwrap().keys().collect();
    assert_eq!(scope, ["acme"], "scoped to the provider only: {probe}");
    let seen = export(&app, "globex/gail", "").await;
    assert!((0..seen.entries.len()).all(|i| event(&seen, i)["action"] != "auth.fail"));
    assert!(verify(&seen, None, None).is_ok());
    let provider = export(&app, "acme/audrey", "").await;
    assert!((0..provider.entries.len()).any(|i| event(&provider, i)["seq"] == probe["seq"]));
    assert!(matches!(verify(&provider, None, None).unwrap().complete, Complete::Proved { .. }));
}

#[tokio::test]
async fn counters_stay_dense_per_org_when_concurrent_writes_are_refused_and_rolled_back() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let mut calls = Vec::new();
    for i in 0..24 {
        let app = &app;
        calls.push(async move {
            match i % 3 {
                // Refused inside the use case: its savepoint rolls back, then the refusal is recorded.
                0 => app.register("123456789012", "provider_split", Some("globex")).await,
                1 => app.get("/v1/accounts/123456789012", &app.token("globex/gina", &["admin"])).await,
                _ => app.register(&format!("4000000000{i:02}"), "provider_split", Some("globex")).await,
            }
        });
    }
    futures_util::future::join_all(calls).await;
    let mut by_org: BTreeMap<String, Vec<u64>> = BTreeMap::new();
    for e in app.audit_events() {
        for (org, n) in e["scope"].as_object().unwrap() {
            by_org.entry(org.clone()).or_default().push(n.as_u64().unwrap());
        }
    }
    assert_eq!(by_org.keys().collect::<Vec<_>>(), ["acme", "globex"]);
    for (org, counters) in by_org {
        assert_eq!(counters, (1..=counters.len() as u64).collect::<Vec<_>>(), "{org}");
    }
}

#[tokio::test]
async fn a_row_slipped_into_the_scope_index_shows_no_event_to_another_tenant() {
    let app = spawn_app().await;
    activity(&app).await;
    let release = app.last_event("half.release");
    let seq = release["seq"].as_i64().unwrap();
    app.db().execute("INSERT INTO audit_scope (org, n, seq) VALUES ('initech', 999, ?1)", [seq]).unwrap();
    let initech = export(&app, "initech/iggy", "").await;
    assert!((0..initech.entries.len()).all(|i| event(&initech, i)["seq"] != release["seq"]));
    // And the counters it disturbed give the tampering away.
    assert!(verify(&initech, None, None).unwrap_err().to_string().contains("is missing"));
}
