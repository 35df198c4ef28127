//! Invariant 4 on every path: once the log is found altered, no route and no
//! background worker changes state or lets a secret out; auditors still read
//! and export, and operators can still take a backup for the investigation.

use std::collections::BTreeSet;

use base64::Engine;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SEED, STAFF, TestApp, spawn_app};

const ACCOUNT: &str = "123456789012";
/// A well-formed move id (none is stored: the guard answers first).
const MOVE: &str = "mov_0123456789abcdef0123456789abcdef";

/// Every route of the router, as `(method, path template)`, read from its
/// source so that a route added there without a line in `calls` below fails
/// this test.
fn routes_of_the_router() -> BTreeSet<(String, String)> {
    let source = include_str!("../../src/http/mod.rs");
    let mut routes = BTreeSet::new();
    for line in source.lines().map(str::trim).filter(|l| l.starts_with(".route(\"")) {
        let path = line[".route(\"".len()..].split('"').next().unwrap().to_owned();
        for method in ["get", "post", "put", "patch", "delete"] {
            if line.contains(&format!(" {method}(")) || line.contains(&format!(".{method}(")) {
                routes.insert((method.to_uppercase(), path.clone()));
            }
        }
    }
    routes
}

/// One call: the route it exercises, what it sends, and whether it may
/// still succeed on a tampered log.
struct Call {
    method: Method,
    template: &'static str,
    path: String,
    token: Option<String>,
    body: Option<Value>,
    allowed: bool,
}

/// Every table but the audit log's own: what must not change.
fn state(app: &TestApp) -> String {
    let db = app.db();
    let mut out = String::new();
    for table in [
        "accounts",
        "custodians",
        "halves",
        "half_versions",
        "password_history",
        "exposures",
        "secret_fingerprints",
        "requests",
        "pending_rotations",
        "subscribers",
        "links",
        "reverse_assumptions",
        "onboardings",
        "moves",
        "root_signins",
        "keyring",
        "audit_key",
    ] {
        for row in db.dump(&format!("SELECT * FROM {table} ORDER BY 1, 2")) {
            out.push_str(&format!("{table}: {row}\n"));
        }
    }
    out
}

#[tokio::test]
async fn on_a_tampered_log_no_route_and_no_worker_changes_anything_or_releases_a_secret() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    let approved = app.approved_request(ACCOUNT).await;
    let pending =
        app.ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "later", "password_to": "acme/alice"})).await.body
            ["id"]
            .as_str()
            .unwrap()
            .to_owned();
    let (alice, bob) = (app.token("acme/alice", STAFF), app.token("acme/bob", STAFF));
    let recipient = json!({"name": "Jane Doe", "email": "jane@globex.example"});
    let (deliver, collect) = app.alices_links(ACCOUNT, &approved).await;
    let ada = app.token("acme/ada", &["admin"]);
    let gina = app.token("globex/gina", &["admin"]);
    let audrey = app.token("acme/audrey", &["auditor"]);
    let sam = app.token("acme/sam", STAFF);
    let carol = app.token("acme/carol", &["approver"]);

    // A closed account, which the closure sweep must leave alone.
    assert_eq!(app.register("333333333333", "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let closed = app.post("/v1/accounts/333333333333/close", &ada, json!({})).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.body);

    app.app.vault.store().log().flag("rows were edited (flagged by the test)".into());
    // The pending request is now overdue: the sweeper must not expire it.
    app.set_request_field(&pending, "pending_until", 1);
    let before = state(&app);
    let sealed: Vec<u8> =
        app.db().query_row("SELECT ciphertext FROM links WHERE ciphertext IS NOT NULL", [], |r| r.get(0)).unwrap();
    let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed);
    let checkpoints =
        |app: &TestApp| -> i64 { app.db().query_row("SELECT COUNT(*) FROM checkpoints", [], |r| r.get(0)).unwrap() };
    let checkpoints_before = checkpoints(&app);

    let a = format!("/v1/accounts/{ACCOUNT}");
    let call = |method: Method, template: &'static str, path: String, token: &str, body: Option<Value>| Call {
        method,
        template,
        path,
        token: Some(token.to_owned()),
        body,
        allowed: false,
    };
    let anyone = |method: Method, template: &'static str, path: String, body: Option<Value>, allowed: bool| Call {
        method,
        template,
        path,
        token: None,
        body,
        allowed,
    };
    let reverse_body = json!({"new_root_email": "root@globex.example", "signatory": {"name": "Gina", "email": "gina@globex.example"}, "requested_date": "2030-01-16"});
    let mut calls = vec![
        anyone(Method::GET, "/healthz", "/healthz".into(), None, true),
        anyone(Method::GET, "/readyz", "/readyz".into(), None, true),
        anyone(Method::GET, "/v1/sys/seal-status", "/v1/sys/seal-status".into(), None, true),
        anyone(
            Method::POST,
            "/v1/sys/unseal",
            "/v1/sys/unseal".into(),
            Some(json!({"share": "bm90IGEgc2hhcmU="})),
            true,
        ),
        anyone(Method::GET, "/l/{id}", format!("/l/{deliver}"), None, true),
        // Signing in stays possible: auditors investigate a tampered log.
        anyone(
            Method::GET,
            "/v1/auth/cli/start",
            "/v1/auth/cli/start?org=acme&port=49152&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&state=0123456789abcdef".into(),
            None,
            true,
        ),
        anyone(
            Method::POST,
            "/v1/auth/cli/token",
            "/v1/auth/cli/token".into(),
            Some(json!({"code": "unknown", "code_verifier": "unknown"})),
            true,
        ),
        Call { allowed: true, ..call(Method::GET, "/v1/auth/whoami", "/v1/auth/whoami".into(), &ada, None) },
        Call { allowed: true, ..call(Method::POST, "/v1/auth/logout", "/v1/auth/logout".into(), &ada, Some(json!({}))) },
        anyone(
            Method::POST,
            "/v1/public/links/{id}/open",
            format!("/v1/public/links/{deliver}/open"),
            Some(json!({})),
            false,
        ),
        anyone(
            Method::POST,
            "/v1/public/links/{id}/submit",
            format!("/v1/public/links/{collect}/submit"),
            Some(json!({"password": "Submitted-Later-9!"})),
            false,
        ),
        Call { allowed: true, ..call(Method::GET, "/v1/sys/backup", "/v1/sys/backup".into(), &ada, None) },
        call(Method::GET, "/v1/sys/notifications", "/v1/sys/notifications".into(), &ada, None),
        // The cluster's status reads no account and writes nothing.
        Call { allowed: true, ..call(Method::GET, "/v1/sys/ha-status", "/v1/sys/ha-status".into(), &ada, None) },
        call(
            Method::POST,
            "/v1/accounts",
            "/v1/accounts".into(),
            &ada,
            Some(crate::helpers::account_body("210987654321", "provider_split", None)),
        ),
        call(Method::GET, "/v1/accounts", "/v1/accounts".into(), &ada, None),
        call(Method::GET, "/v1/accounts/{account_id}", a.clone(), &ada, None),
        call(Method::PATCH, "/v1/accounts/{account_id}", a.clone(), &ada, Some(json!({"public_sector": true}))),
        call(
            Method::PUT,
            "/v1/accounts/{account_id}/custodians/{half}",
            format!("{a}/custodians/password"),
            &ada,
            Some(json!({"principals": ["acme/carl"]})),
        ),
        call(Method::GET, "/v1/accounts/{account_id}/halves", format!("{a}/halves"), &ada, None),
        call(
            Method::PUT,
            "/v1/accounts/{account_id}/halves/password",
            format!("{a}/halves/password"),
            &alice,
            Some(json!({"password": "A-Newer-Passw0rd!"})),
        ),
        call(
            Method::PUT,
            "/v1/accounts/{account_id}/halves/mfa",
            format!("{a}/halves/mfa"),
            &bob,
            Some(json!({"secret_base32": "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/halves/password/rotate",
            format!("{a}/halves/password/rotate"),
            &alice,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/halves/password/rotate/confirm",
            format!("{a}/halves/password/rotate/confirm"),
            &alice,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/subscribers",
            format!("{a}/subscribers"),
            &ada,
            Some(json!({"url": "https://hooks.acme.example/x"})),
        ),
        call(Method::GET, "/v1/accounts/{account_id}/subscribers", format!("{a}/subscribers"), &ada, None),
        call(
            Method::DELETE,
            "/v1/accounts/{account_id}/subscribers/{subscriber_id}",
            format!("{a}/subscribers/sub_00000000000000000000000000000000"),
            &ada,
            None,
        ),
        call(
            Method::POST,
            "/v1/links",
            "/v1/links".into(),
            &alice,
            Some(json!({"purpose": "collect", "account_id": ACCOUNT, "half": "password", "recipient": recipient})),
        ),
        call(Method::GET, "/v1/links/{id}", format!("/v1/links/{deliver}"), &alice, None),
        call(Method::DELETE, "/v1/links/{id}", format!("/v1/links/{collect}"), &alice, None),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption",
            format!("{a}/reverse-assumption"),
            &gina,
            Some(reverse_body),
        ),
        call(
            Method::GET,
            "/v1/accounts/{account_id}/reverse-assumption",
            format!("{a}/reverse-assumption"),
            &gina,
            None,
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/schedule",
            format!("{a}/reverse-assumption/schedule"),
            &ada,
            Some(json!({"date": "2030-01-16"})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/confirm-balance",
            format!("{a}/reverse-assumption/confirm-balance"),
            &ada,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/checklist/{item}",
            format!("{a}/reverse-assumption/checklist/update_contacts"),
            &ada,
            Some(json!({"status": "done"})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/handoff",
            format!("{a}/reverse-assumption/handoff"),
            &ada,
            Some(json!({"kind": "deliver"})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/cancel",
            format!("{a}/reverse-assumption/cancel"),
            &gina,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/reverse-assumption/consent",
            format!("{a}/reverse-assumption/consent"),
            &gina,
            Some(json!({})),
        ),
        call(Method::POST, "/v1/accounts/{account_id}/close", format!("{a}/close"), &ada, Some(json!({}))),
        call(Method::POST, "/v1/accounts/{account_id}/reopen", format!("{a}/reopen"), &ada, Some(json!({}))),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/onboarding",
            format!("{a}/onboarding"),
            &ada,
            Some(json!({"signatory": {"name": "Gina", "email": "gina@globex.example"}, "legal_name": "Globex", "legal_address": "1 Globex Way"})),
        ),
        call(Method::GET, "/v1/accounts/{account_id}/onboarding", format!("{a}/onboarding"), &ada, None),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/onboarding/checklist/{item}",
            format!("{a}/onboarding/checklist/set_root_email"),
            &ada,
            Some(json!({"status": "done"})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/onboarding/complete",
            format!("{a}/onboarding/complete"),
            &ada,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/moves",
            format!("{a}/moves"),
            &gina,
            Some(json!({"to_customer_org": "initech", "move_date": "2030-03-15"})),
        ),
        call(Method::GET, "/v1/accounts/{account_id}/moves", format!("{a}/moves"), &gina, None),
        call(Method::GET, "/v1/accounts/{account_id}/moves/{move_id}", format!("{a}/moves/{MOVE}"), &gina, None),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/moves/{move_id}/confirm",
            format!("{a}/moves/{MOVE}/confirm"),
            &ada,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/moves/{move_id}/complete",
            format!("{a}/moves/{MOVE}/complete"),
            &ada,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/accounts/{account_id}/moves/{move_id}/cancel",
            format!("{a}/moves/{MOVE}/cancel"),
            &gina,
            Some(json!({})),
        ),
        call(Method::GET, "/v1/accounts/{account_id}/root-signins", format!("{a}/root-signins"), &gina, None),
        Call {
            allowed: true,
            ..call(Method::GET, "/v1/audit/checkpoint", "/v1/audit/checkpoint".into(), &audrey, None)
        },
        Call {
            allowed: true,
            ..call(
                Method::GET,
                "/v1/audit/proofs/inclusion",
                "/v1/audit/proofs/inclusion?seq=0&size=1".into(),
                &audrey,
                None,
            )
        },
        Call {
            allowed: true,
            ..call(
                Method::GET,
                "/v1/audit/proofs/consistency",
                "/v1/audit/proofs/consistency?from=1&to=2".into(),
                &audrey,
                None,
            )
        },
        Call { allowed: true, ..call(Method::GET, "/v1/audit/events", "/v1/audit/events".into(), &audrey, None) },
        Call { allowed: true, ..call(Method::GET, "/v1/audit/export", "/v1/audit/export".into(), &audrey, None) },
        call(
            Method::POST,
            "/v1/requests",
            "/v1/requests".into(),
            &sam,
            Some(json!({"account_id": ACCOUNT, "reason": "again", "password_to": "acme/alice"})),
        ),
        call(Method::GET, "/v1/requests", "/v1/requests".into(), &sam, None),
        call(Method::GET, "/v1/requests/{id}", format!("/v1/requests/{approved}"), &sam, None),
        call(
            Method::POST,
            "/v1/requests/{id}/approve",
            format!("/v1/requests/{pending}/approve"),
            &carol,
            Some(json!({})),
        ),
        call(Method::POST, "/v1/requests/{id}/deny", format!("/v1/requests/{pending}/deny"), &carol, Some(json!({}))),
        call(Method::POST, "/v1/requests/{id}/cancel", format!("/v1/requests/{pending}/cancel"), &sam, Some(json!({}))),
        call(
            Method::POST,
            "/v1/requests/{id}/password",
            format!("/v1/requests/{approved}/password"),
            &alice,
            Some(json!({})),
        ),
        call(
            Method::POST,
            "/v1/requests/{id}/mfa-code",
            format!("/v1/requests/{approved}/mfa-code"),
            &bob,
            Some(json!({})),
        ),
    ];
    // Every route of the router is called here.
    let called: BTreeSet<(String, String)> =
        calls.iter().map(|c| (c.method.to_string(), c.template.to_owned())).collect();
    let missing: Vec<_> = routes_of_the_router().difference(&called).cloned().collect();
    assert!(missing.is_empty(), "routes not covered on a tampered log: {missing:?}");

    for c in calls.drain(..) {
        let mut request = app.client.request(c.method.clone(), format!("{}{}", app.base, c.path));
        if let Some(token) = &c.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = &c.body {
            request = request.json(body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let text = response.text().await.unwrap();
        for secret in [PASSWORD, SEED] {
            assert!(!text.contains(secret), "{} {} let a secret out", c.method, c.path);
        }
        assert!(!text.contains(&sealed), "{} {} let a link's ciphertext out", c.method, c.path);
        if !c.allowed {
            let code = serde_json::from_str::<Value>(&text).map(|b| b["error"]["code"].clone()).unwrap_or_default();
            assert_eq!(
                (status, code.as_str()),
                (StatusCode::SERVICE_UNAVAILABLE, Some("audit_log_tampered")),
                "{} {}: {text}",
                c.method,
                c.path
            );
        }
    }

    // The workers: the expiry sweep, the closure sweep, the root sign-in
    // watch (which leaves its message in the queue) and the checkpoint signer.
    assert_eq!(app.app.vault.expire_due().await.unwrap(), 0);
    app.app.vault.danger_shift_clock(91 * 86_400);
    assert_eq!(app.app.vault.close_permanently_due().await.unwrap(), 0);
    assert!(!app.app.vault.accepts_watch_events());
    let sign_in = json!({"source": "aws.signin", "detail-type": "AWS Console Sign In via CloudTrail", "detail": {
        "userIdentity": {"type": "Root"}, "eventName": "ConsoleLogin", "eventID": "tampered-1",
        "eventTime": "2026-11-22T10:00:00Z", "recipientAccountId": ACCOUNT}});
    for body in [sign_in.to_string(), "not json".to_owned()] {
        let refused = app.app.vault.record_watch_message(&body, "m-1").await.unwrap_err();
        assert_eq!(refused.code(), "audit_log_tampered");
    }
    app.app.vault.checkpoint().await.unwrap();
    assert_eq!(checkpoints(&app), checkpoints_before, "no checkpoint is signed over a tampered log");
    assert_eq!(state(&app), before, "nothing changed");
    let refused = app.last_event("half.release");
    assert_eq!(
        (refused["outcome"].as_str(), refused["details"]["code"].as_str()),
        (Some("denied"), Some("audit_log_tampered"))
    );
}
