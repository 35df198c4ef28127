//! Break-glass: asking, dual approval (invariant 3), release to the named
//! recipient only, the window, codes not seeds (invariant 5).

use reqwest::StatusCode;
use rootvault::crypto::totp::MfaSeed;
use serde_json::json;

use crate::helpers::{APPROVER, PASSWORD, SEED, STAFF, spawn_app};

#[tokio::test]
async fn a_request_needs_staff_a_reason_and_custodians_as_recipients() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    app.register("999999999999", "customer_owned", Some("initech")).await;
    let base = json!({"account_id": "123456789012", "reason": "billing lockout", "password_to": "acme/alice", "mfa_to": "acme/bob"});
    let with = |key: &str, value: serde_json::Value| {
        let mut b = base.clone();
        b[key] = value;
        b
    };
    let approver_only = app.post("/v1/requests", &app.token("acme/sam", APPROVER), base.clone()).await;
    assert_eq!((approver_only.status, approver_only.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let cases = [
        (with("reason", json!("   ")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (
            with("password_to", json!(null))
                .as_object()
                .map(|o| {
                    let mut o = o.clone();
                    o.remove("mfa_to");
                    o.remove("password_to");
                    json!(o)
                })
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_request",
        ),
        (with("mfa_to", json!("acme/alice")), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (with("window_minutes", json!(721)), StatusCode::UNPROCESSABLE_ENTITY, "invalid_request"),
        (with("mfa_to", json!("acme/carol")), StatusCode::UNPROCESSABLE_ENTITY, "recipient_not_custodian"),
        (with("account_id", json!("999999999999")), StatusCode::CONFLICT, "nothing_in_custody"),
        (with("reason", json!(7)), StatusCode::UNPROCESSABLE_ENTITY, "invalid_body"),
    ];
    for (body, status, code) in cases {
        let reply = app.ask("acme/sam", body.clone()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{body}");
    }
    let stranger = app.ask("initech/ian", base.clone()).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);

    let ok = app.ask("acme/sam", with("ticket", json!("INC-4711"))).await;
    assert_eq!(ok.status, StatusCode::CREATED, "{}", ok.body);
    assert_eq!(ok.body["state"], "pending");
    assert_eq!(ok.body["window_minutes"], 60);
    assert_eq!(ok.body["approvals_required"], 2);
    assert_eq!(ok.body["ticket"], "INC-4711");
    assert!(ok.body["id"].as_str().unwrap().starts_with("req_"));
}

#[tokio::test]
async fn nobody_approves_their_own_request_or_one_they_would_receive_from() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let reply = app
        .ask(
            "acme/sam",
            json!({"account_id": "123456789012", "reason": "x", "password_to": "acme/alice", "mfa_to": "acme/bob"}),
        )
        .await;
    let id = reply.body["id"].as_str().unwrap();
    let own = app.step(id, "approve", "acme/sam", &["staff", "approver"]).await;
    assert_eq!((own.status, own.code()), (StatusCode::CONFLICT, "self_approval"));
    for recipient in ["acme/alice", "acme/bob"] {
        let r = app.step(id, "approve", recipient, &["staff", "approver"]).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "recipient_approval"), "{recipient}");
    }
    let no_role = app.step(id, "approve", "acme/carol", STAFF).await;
    assert_eq!((no_role.status, no_role.code()), (StatusCode::FORBIDDEN, "forbidden"));
    assert_eq!(app.step(id, "approve", "acme/carol", APPROVER).await.body["state"], "pending");
    let twice = app.step(id, "approve", "acme/carol", APPROVER).await;
    assert_eq!((twice.status, twice.code()), (StatusCode::CONFLICT, "already_decided"));
    let stranger = app.step(id, "approve", "initech/ian", APPROVER).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    let customer = app.step(id, "approve", "globex/grace", APPROVER).await;
    assert_eq!((customer.status, customer.code()), (StatusCode::FORBIDDEN, "provider_approval_required"));
    let shown = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", STAFF)).await;
    assert_eq!(shown.body["approvals"].as_array().unwrap().len(), 1);
    assert_eq!(shown.body["approvals"][0]["approver"], "acme/carol");
}

#[tokio::test]
async fn a_shared_payer_request_needs_one_provider_and_one_customer_approval() {
    let app = spawn_app().await;
    app.register("123456789012", "shared_payer", Some("globex")).await;
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    app.assign("123456789012", "mfa", "globex/gina", &["globex/gus"]).await;
    app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    app.deposit_seed("123456789012", "globex/gus", SEED).await;
    let reply = app
        .ask(
            "acme/sam",
            json!({"account_id": "123456789012", "reason": "x", "password_to": "acme/alice", "mfa_to": "globex/gus"}),
        )
        .await;
    let id = reply.body["id"].as_str().unwrap();
    assert_eq!(app.step(id, "approve", "acme/carol", APPROVER).await.body["state"], "pending");
    let same_side = app.step(id, "approve", "acme/dave", APPROVER).await;
    assert_eq!((same_side.status, same_side.code()), (StatusCode::CONFLICT, "other_party_approval_required"));
    let done = app.step(id, "approve", "globex/grace", APPROVER).await;
    assert_eq!(done.body["state"], "approved", "{}", done.body);
    let parties: Vec<_> =
        done.body["approvals"].as_array().unwrap().iter().map(|a| a["party"].as_str().unwrap()).collect();
    assert_eq!(parties, ["provider", "customer"]);
    let code = app.post(&format!("/v1/requests/{id}/mfa-code"), &app.token("globex/gus", STAFF), json!({})).await;
    assert_eq!(code.status, StatusCode::OK);
}

#[tokio::test]
async fn the_password_goes_only_to_password_to_and_only_as_often_as_allowed() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let pending =
        app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "x", "password_to": "acme/alice"})).await;
    let pending_id = pending.body["id"].as_str().unwrap();
    let early = app.step(pending_id, "password", "acme/alice", STAFF).await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "request_not_approved"));

    let id = app.approved_request("123456789012").await;
    for (who, status, code) in [
        ("acme/bob", StatusCode::FORBIDDEN, "not_recipient"),
        ("acme/sam", StatusCode::FORBIDDEN, "not_recipient"),
        ("acme/carol", StatusCode::FORBIDDEN, "not_recipient"),
        ("acme/ada", StatusCode::FORBIDDEN, "not_recipient"),
        ("initech/ian", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let reply = app.step(&id, "password", who, &["admin", "staff", "approver", "auditor"]).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{who}");
    }
    let released = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    assert_eq!(released.body, json!({"password": PASSWORD, "version": 1, "views_left": 0}));
    let again = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!((again.status, again.code()), (StatusCode::GONE, "no_views_left"));
    let halves = app.get("/v1/accounts/123456789012/halves", &app.token("acme/ada", &["admin"])).await;
    assert_eq!(halves.body["halves"][0]["rotation_due"], true, "a released password must be rotated");
}

#[tokio::test]
async fn the_mfa_half_leaves_only_as_current_codes_to_mfa_to() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let wrong = app.step(&id, "mfa-code", "acme/alice", STAFF).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "not_recipient"));
    let seed = MfaSeed::from_base32(SEED, None, None, None).unwrap();
    for _ in 0..3 {
        let reply = app.step(&id, "mfa-code", "acme/bob", STAFF).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
        let code = reply.body["code"].as_str().unwrap();
        let valid_for = reply.body["valid_for_seconds"].as_u64().unwrap();
        assert_eq!(code.len(), 6);
        assert!((1..=30).contains(&valid_for));
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
        let candidates: Vec<String> =
            [now - 30, now, now + 30].iter().map(|t| seed.code_at(*t).unwrap().0.to_string()).collect();
        assert!(candidates.contains(&code.to_owned()), "the code is the TOTP of the stored seed");
        assert!(!reply.body.to_string().contains(SEED));
        assert_eq!(reply.body.as_object().unwrap().len(), 2, "only the code and its validity");
    }
}

#[tokio::test]
async fn one_denial_ends_a_request_and_nothing_is_released() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let reply = app
        .ask(
            "acme/sam",
            json!({"account_id": "123456789012", "reason": "x", "password_to": "acme/alice", "mfa_to": "acme/bob"}),
        )
        .await;
    let id = reply.body["id"].as_str().unwrap();
    app.step(id, "approve", "acme/carol", APPROVER).await;
    let denied = app
        .post(
            &format!("/v1/requests/{id}/deny"),
            &app.token("acme/dave", APPROVER),
            json!({"comment": "no incident ticket"}),
        )
        .await;
    assert_eq!(denied.body["state"], "denied");
    assert_eq!(denied.body["denial"]["comment"], "no incident ticket");
    let late = app.step(id, "approve", "acme/erin", APPROVER).await;
    assert_eq!((late.status, late.code()), (StatusCode::CONFLICT, "request_not_pending"));
    for (step, who) in [("password", "acme/alice"), ("mfa-code", "acme/bob")] {
        let r = app.step(id, step, who, STAFF).await;
        assert_eq!((r.status, r.code()), (StatusCode::CONFLICT, "request_not_approved"), "{step}");
    }
    let cancel = app.step(id, "cancel", "acme/sam", STAFF).await;
    assert_eq!(cancel.code(), "request_not_pending");
}

#[tokio::test]
async fn nothing_is_released_after_the_window_and_pending_requests_expire() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    app.set_request_field(&id, "window_ends", 1);
    for (step, who) in [("password", "acme/alice"), ("mfa-code", "acme/bob")] {
        let r = app.step(&id, step, who, STAFF).await;
        assert_eq!((r.status, r.code()), (StatusCode::GONE, "window_closed"), "{step}");
    }
    let sam = app.token("acme/sam", STAFF);
    assert_eq!(app.get(&format!("/v1/requests/{id}"), &sam).await.body["state"], "expired");

    let reply = app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "x", "mfa_to": "acme/bob"})).await;
    let pending = reply.body["id"].as_str().unwrap();
    app.set_request_field(pending, "pending_until", 1);
    let approve = app.step(pending, "approve", "acme/carol", APPROVER).await;
    assert_eq!((approve.status, approve.code()), (StatusCode::CONFLICT, "request_not_pending"));

    assert_eq!(app.app.vault.expire_due().await.unwrap(), 2);
    let expired: Vec<_> = app.audit_events().into_iter().filter(|e| e["action"] == "request.expire").collect();
    assert_eq!(expired.len(), 2);
    assert!(expired.iter().all(|e| e["actor"].is_null() && e["outcome"] == "ok"));
    let listed = app.get("/v1/requests?state=expired&account_id=123456789012", &sam).await;
    assert_eq!(listed.body["requests"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn requests_are_listed_to_the_parties_of_their_account_only() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    app.ask("acme/sam", json!({"account_id": "123456789012", "reason": "second", "mfa_to": "acme/bob"})).await;
    let gina = app.token("globex/gina", &["admin"]);
    let all = app.get("/v1/requests", &gina).await;
    assert_eq!(all.body["requests"].as_array().unwrap().len(), 2, "globex is the account's customer");
    let pending = app.get("/v1/requests?state=pending", &gina).await;
    assert_eq!(pending.body["requests"].as_array().unwrap().len(), 1);
    let ian = app.token("initech/ian", &["admin", "auditor"]);
    assert_eq!(app.get("/v1/requests", &ian).await.body["requests"], json!([]));
    assert_eq!(app.get(&format!("/v1/requests/{id}"), &ian).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/requests?state=bogus", &gina).await.code(), "invalid_query");
    assert_eq!(app.get("/v1/requests/req_nope", &gina).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn racing_approvals_approve_exactly_once() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let reply = app
        .ask(
            "acme/sam",
            json!({"account_id": "123456789012", "reason": "x", "password_to": "acme/alice", "mfa_to": "acme/bob"}),
        )
        .await;
    let id = reply.body["id"].as_str().unwrap().to_owned();
    let approvers: Vec<String> = (0..10).map(|n| format!("acme/approver{n}")).collect();
    let mut racers = Vec::new();
    for who in approvers.iter().chain([&approvers[0], &approvers[0]]) {
        let (token, url, client) =
            (app.token(who, APPROVER), format!("{}/v1/requests/{id}/approve", app.base), app.client.clone());
        racers.push(tokio::spawn(async move {
            let r = client.post(url).bearer_auth(token).json(&json!({})).send().await.unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap();
            (status, body["error"]["code"].as_str().unwrap_or("").to_owned())
        }));
    }
    let mut outcomes = Vec::new();
    for racer in racers {
        outcomes.push(racer.await.unwrap());
    }
    let ok = outcomes.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    assert_eq!(ok, 2, "exactly the two approvals the policy needs succeed: {outcomes:?}");
    assert!(
        outcomes
            .iter()
            .filter(|(s, _)| *s != StatusCode::OK)
            .all(|(s, c)| *s == StatusCode::CONFLICT && (c == "request_not_pending" || c == "already_decided"))
    );
    let shown = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", STAFF)).await;
    assert_eq!(shown.body["state"], "approved");
    assert_eq!(shown.body["approvals"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn the_requester_may_cancel_and_an_approved_request_closes() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let not_mine = app.step(&id, "cancel", "acme/alice", STAFF).await;
    assert_eq!((not_mine.status, not_mine.code()), (StatusCode::FORBIDDEN, "not_requester"));
    assert_eq!(app.step(&id, "cancel", "acme/sam", STAFF).await.body["state"], "closed");
    let after = app.step(&id, "mfa-code", "acme/bob", STAFF).await;
    assert_eq!(after.code(), "request_not_approved");
}
