//! DDI moves (DESIGN §16, seed 000): the customer asks at least 14 business
//! days ahead for a date in a move window, the provider confirms and
//! completes on the date; the old customer loses everything of the account
//! from then on, the new one names custodians and deposits.

use reqwest::StatusCode;
use rootvault::audit::bundle::{Bundle, Complete, verify};
use rootvault::domain::moves::{MoveWindows, NOTICE_BUSINESS_DAYS, add_business_days};
use serde_json::{Value, json};
use time::{Date, Duration, OffsetDateTime};

use crate::helpers::{APPROVER, PASSWORD, Reply, SEED, STAFF, TestApp, spawn_app};

const ACCOUNT: &str = "123456789012";
const MOVES: &str = "/v1/accounts/123456789012/moves";

fn today() -> Date {
    OffsetDateTime::now_utc().date()
}

/// The first date inside a move window that is far enough ahead of today.
fn next_window_day() -> Date {
    let windows = MoveWindows::default();
    let mut d = add_business_days(today(), NOTICE_BUSINESS_DAYS);
    while !windows.contains(d) {
        d += Duration::days(1);
    }
    d
}

/// A date far enough ahead but outside every window.
fn next_outside_day() -> Date {
    let windows = MoveWindows::default();
    let mut d = add_business_days(today(), NOTICE_BUSINESS_DAYS);
    while windows.contains(d) {
        d += Duration::days(1);
    }
    d
}

/// Move the service's calendar to `day`.
fn arrive(app: &TestApp, day: Date) {
    app.app.vault.danger_shift_clock((day - today()).whole_seconds());
}

/// A shared payer of globex, both halves deposited: alice (acme) holds the
/// password, gus (globex) the MFA seed.
async fn shared_payer(app: &TestApp) {
    assert_eq!(app.register(ACCOUNT, "shared_payer", Some("globex")).await.status, StatusCode::CREATED);
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice"]).await;
    app.assign(ACCOUNT, "mfa", "globex/gina", &["globex/gus"]).await;
    assert_eq!(app.deposit_password(ACCOUNT, "acme/alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.deposit_seed(ACCOUNT, "globex/gus", SEED).await.status, StatusCode::OK);
}

fn ask(to: &str, date: Date) -> Value {
    json!({"to_customer_org": to, "move_date": date.to_string()})
}

async fn request(app: &TestApp, body: Value) -> Reply {
    app.post(MOVES, &app.token("globex/gina", &["admin"]), body).await
}

async fn step(app: &TestApp, id: &str, what: &str, who: &str) -> Reply {
    app.post(&format!("{MOVES}/{id}/{what}"), &app.token(who, &["admin"]), json!({})).await
}

/// Ask, confirm and complete a move of the account to initech on the next
/// window day; returns the move id.
async fn move_to_initech(app: &TestApp) -> String {
    let day = next_window_day();
    let asked = request(app, ask("initech", day)).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let id = asked.body["id"].as_str().unwrap().to_owned();
    assert_eq!(step(app, &id, "confirm", "acme/ada").await.body["state"], "confirmed");
    arrive(app, day);
    let done = step(app, &id, "complete", "acme/ada").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    id
}

async fn export(app: &TestApp, who: &str) -> Bundle {
    let reply = app.get("/v1/audit/export", &app.token(who, &["auditor"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    serde_json::from_value(reply.body).unwrap()
}

fn seqs(bundle: &Bundle) -> Vec<u64> {
    bundle.entries.iter().map(|e| serde_json::from_str::<Value>(&e.leaf).unwrap()["seq"].as_u64().unwrap()).collect()
}

/// The bundle's events about the account, oldest first.
fn account_events(bundle: &Bundle) -> Vec<Value> {
    bundle
        .entries
        .iter()
        .map(|e| serde_json::from_str::<Value>(&e.leaf).unwrap())
        .filter(|e| e["target"]["account_id"] == ACCOUNT)
        .collect()
}

#[tokio::test]
async fn a_customer_moves_its_account_and_the_new_customer_names_custodians_and_deposits_before_releases_resume() {
    let app = spawn_app().await;
    shared_payer(&app).await;
    let day = next_window_day();
    // A request open at completion is cancelled with a reason.
    let open = app
        .ask(
            "acme/sam",
            json!({"account_id": ACCOUNT, "reason": "billing", "password_to": "acme/alice", "mfa_to": "globex/gus"}),
        )
        .await;
    let open = open.body["id"].as_str().unwrap().to_owned();

    let asked = request(&app, ask("initech", day)).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    assert_eq!(
        (asked.body["state"].as_str(), asked.body["from_customer_org"].as_str(), asked.body["in_window"].as_bool()),
        (Some("requested"), Some("globex"), Some(true))
    );
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let by_customer = step(&app, &id, "confirm", "globex/gina").await;
    assert_eq!(by_customer.status, StatusCode::FORBIDDEN, "the provider confirms");
    let early = step(&app, &id, "complete", "acme/ada").await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "move_rule"), "not confirmed yet");
    assert_eq!(step(&app, &id, "confirm", "acme/ada").await.body["state"], "confirmed");
    let not_yet = step(&app, &id, "complete", "acme/ada").await;
    assert_eq!((not_yet.status, not_yet.code()), (StatusCode::CONFLICT, "move_rule"));
    assert!(not_yet.body["error"]["message"].as_str().unwrap().contains("has not come yet"));

    arrive(&app, day);
    let done = step(&app, &id, "complete", "acme/ada").await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!((done.body["state"].as_str(), done.body["retired_halves"].clone()), (Some("completed"), json!(["mfa"])));

    let ada = app.token("acme/ada", &["admin"]);
    let account = app.get(&format!("/v1/accounts/{ACCOUNT}"), &ada).await.body;
    assert_eq!(account["customer_org"], "initech");
    assert_eq!(account["custodians"], json!({"password": ["acme/alice"], "mfa": []}));
    let halves = app.get(&format!("/v1/accounts/{ACCOUNT}/halves"), &ada).await.body;
    let mfa = halves["halves"].as_array().unwrap().iter().find(|h| h["half"] == "mfa").unwrap().clone();
    assert_eq!(mfa["current_version"], Value::Null, "the old customer's seed is destroyed");
    let keys: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM half_versions WHERE half = 'mfa' AND length(wrapped_key) > 0", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(keys, 0);
    let cancelled = app.get(&format!("/v1/requests/{open}"), &app.token("acme/sam", STAFF)).await.body;
    assert_eq!(
        (cancelled["state"].as_str(), cancelled["cancel_reason"].as_str()),
        (Some("cancelled"), Some("the account moved to another customer"))
    );
    let ivy = app.token("initech/ivy", &["admin"]);
    assert_eq!(
        app.get(&format!("/v1/requests/{open}"), &ivy).await.status,
        StatusCode::NOT_FOUND,
        "globex's request is not initech's"
    );
    assert_eq!(app.get("/v1/requests", &ivy).await.body["requests"], json!([]));
    let event = app.last_event("move.complete");
    assert_eq!(event["details"]["custodians_retired"], json!(["globex/gus"]));
    assert_eq!(event["details"]["cancelled_request_ids"], json!([open]));

    // The new customer names its custodian, who deposits; releases resume
    // (on today's clock, which step-up is judged on).
    app.app.vault.danger_shift_clock(0);
    app.assign(ACCOUNT, "mfa", "initech/ivy", &["initech/isaac"]).await;
    assert_eq!(app.deposit_seed(ACCOUNT, "initech/isaac", SEED).await.status, StatusCode::OK);
    let again =
        app.ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "billing", "mfa_to": "initech/isaac"})).await;
    assert_eq!(again.status, StatusCode::CREATED, "{}", again.body);
    let rid = again.body["id"].as_str().unwrap().to_owned();
    assert_eq!(app.step(&rid, "approve", "acme/carol", APPROVER).await.status, StatusCode::OK);
    assert_eq!(app.step(&rid, "approve", "initech/irene", APPROVER).await.body["state"], "approved");
    let code = app.step(&rid, "mfa-code", "initech/isaac", STAFF).await;
    assert_eq!(code.status, StatusCode::OK, "{}", code.body);
    let listed = app.get(MOVES, &app.token("initech/ivy", &["admin"])).await;
    assert_eq!(listed.body["moves"][0]["id"], id.as_str(), "the new customer sees the move that brought the account");
    let told: Vec<String> = {
        let db = app.db();
        let mut stmt = db.prepare("SELECT event FROM announcements").unwrap();
        stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
    };
    for event in ["move.requested", "move.confirmed", "move.completed"] {
        assert!(told.contains(&event.to_owned()), "{event}: {told:?}");
    }
}

#[tokio::test]
async fn after_a_move_the_old_customer_sees_nothing_new_while_its_exports_keep_the_history_up_to_the_move() {
    let app = spawn_app().await;
    shared_payer(&app).await;
    let sub = app
        .post(
            &format!("/v1/accounts/{ACCOUNT}/subscribers"),
            &app.token("globex/gina", &["admin"]),
            json!({"url": "http://127.0.0.1:9/globex-soc"}),
        )
        .await;
    let sub = sub.body["id"].as_str().unwrap().to_owned();
    let before = export(&app, "globex/gail").await;
    let id = move_to_initech(&app).await;
    let moved_at = app.last_event("move.complete")["seq"].as_u64().unwrap();

    // New activity on the account, by everyone.
    app.assign(ACCOUNT, "mfa", "initech/ivy", &["initech/isaac"]).await;
    assert_eq!(app.deposit_seed(ACCOUNT, "initech/isaac", SEED).await.status, StatusCode::OK);
    let (gina, gus) = (app.token("globex/gina", &["admin"]), app.token("globex/gus", &["staff"]));
    for path in [format!("/v1/accounts/{ACCOUNT}"), format!("/v1/accounts/{ACCOUNT}/halves"), MOVES.to_owned()] {
        assert_eq!(app.get(&path, &gina).await.status, StatusCode::NOT_FOUND, "{path}");
        assert_eq!(app.get(&path, &gus).await.status, StatusCode::NOT_FOUND, "{path}");
    }
    let deposit = app.deposit_seed(ACCOUNT, "globex/gus", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP").await;
    assert_eq!(deposit.status, StatusCode::NOT_FOUND, "the old custodian deposits nothing");
    let ask = app.ask("globex/gus", json!({"account_id": ACCOUNT, "reason": "x", "mfa_to": "globex/gus"})).await;
    assert_eq!(ask.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/requests", &gus).await.body["requests"], json!([]));
    assert_eq!(app.get("/v1/accounts", &gina).await.body["accounts"], json!([]));
    let live: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM subscribers WHERE id = ?1 AND deleted_at IS NULL", [&sub], |r| r.get(0))
        .unwrap();
    assert_eq!(live, 0, "the old customer's webhook subscriber was removed");
    let queued_after: i64 = app
        .db()
        .query_row("SELECT COUNT(*) FROM outbox WHERE subscriber_id = ?1 AND state = 'pending'", [&sub], |r| r.get(0))
        .unwrap();
    assert_eq!(queued_after, 0, "nothing more is sent to it");

    // globex's auditors keep everything up to and including the move, and nothing after.
    let after = export(&app, "globex/gail").await;
    let (old, new) = (seqs(&before), seqs(&after));
    assert!(new.starts_with(&old), "the history stays");
    let history = account_events(&after);
    assert!(history.len() > account_events(&before).len());
    let last = history.last().unwrap();
    assert_eq!(last["seq"].as_u64(), Some(moved_at), "the move is globex's last event of the account");
    assert_eq!(
        (last["action"].as_str(), last["details"]["move_id"].as_str()),
        (Some("move.complete"), Some(id.as_str()))
    );
    let verified = verify(&after, None, None).unwrap();
    assert!(matches!(verified.complete, Complete::Proved { .. }), "{:?}", verified.complete);
    let globex_after: Vec<Value> = app
        .audit_events()
        .into_iter()
        .filter(|e| e["seq"].as_u64().unwrap() > moved_at && e["scope"].get("globex").is_some())
        .filter(|e| e["target"]["account_id"] == ACCOUNT)
        .collect();
    assert_eq!(globex_after, Vec::<Value>::new(), "no later event of the account is globex's");

    // initech's auditors see the account from the move on, not globex's history.
    let initech = seqs(&export(&app, "initech/iris").await);
    assert!(initech.contains(&moved_at));
    assert!(initech.iter().all(|s| *s >= moved_at), "{initech:?}");
    assert!(initech.len() > 1, "and what followed");
}

#[tokio::test]
async fn moves_refuse_past_early_and_off_window_dates_the_same_customer_and_unknown_orgs_changing_nothing() {
    let app = spawn_app().await;
    shared_payer(&app).await;
    let day = next_window_day();
    let yesterday = today() - Duration::days(1);
    let refusals = [
        (ask("initech", yesterday), StatusCode::CONFLICT, "move_rule", "in the past"),
        (ask("initech", today() + Duration::days(3)), StatusCode::CONFLICT, "move_rule", "business days"),
        (ask("initech", next_outside_day()), StatusCode::CONFLICT, "move_rule", "fee_acknowledged"),
        (ask("globex", day), StatusCode::UNPROCESSABLE_ENTITY, "same_customer", "another customer"),
        (ask("umbrella", day), StatusCode::UNPROCESSABLE_ENTITY, "unknown_customer", "known customer"),
        (ask("acme", day), StatusCode::UNPROCESSABLE_ENTITY, "unknown_customer", "known customer"),
        (
            json!({"to_customer_org": "initech", "move_date": "next week"}),
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_body",
            "date",
        ),
    ];
    for (body, status, code, says) in refusals {
        let reply = request(&app, body.clone()).await;
        assert_eq!((reply.status, reply.code()), (status, code), "{body}: {}", reply.body);
        assert!(reply.body["error"]["message"].as_str().unwrap().contains(says), "{}", reply.body);
    }
    let by_provider = app.post(MOVES, &app.token("acme/ada", &["admin"]), ask("initech", day)).await;
    assert_eq!(by_provider.status, StatusCode::FORBIDDEN, "the current customer asks");
    let by_staff = app.post(MOVES, &app.token("globex/gus", &["staff"]), ask("initech", day)).await;
    assert_eq!(by_staff.status, StatusCode::FORBIDDEN);
    let foreign = app.post(MOVES, &app.token("initech/ivy", &["admin"]), ask("initech", day)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let moves: i64 = app.db().query_row("SELECT COUNT(*) FROM moves", [], |r| r.get(0)).unwrap();
    assert_eq!(moves, 0, "nothing was recorded");
    assert_eq!(app.last_event("move.request")["outcome"], "denied");

    // Outside the windows with the fee acknowledged; then no second move while it is open.
    let mut paid = ask("initech", next_outside_day());
    paid["fee_acknowledged"] = json!(true);
    let accepted = request(&app, paid).await;
    assert_eq!(accepted.status, StatusCode::CREATED, "{}", accepted.body);
    assert_eq!(
        (accepted.body["in_window"].as_bool(), accepted.body["fee_acknowledged"].as_bool()),
        (Some(false), Some(true))
    );
    let second = request(&app, ask("initech", day)).await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "move_exists"));
    let id = accepted.body["id"].as_str().unwrap();
    let cancelled = step(&app, id, "cancel", "globex/gina").await;
    assert_eq!(cancelled.body["state"], "cancelled", "{}", cancelled.body);
    let after = step(&app, id, "confirm", "acme/ada").await;
    assert_eq!((after.status, after.code()), (StatusCode::CONFLICT, "move_rule"));
    let unknown = step(&app, "mov_0123456789abcdef0123456789abcdef", "confirm", "acme/ada").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    let account = app.get(&format!("/v1/accounts/{ACCOUNT}"), &app.token("acme/ada", &["admin"])).await;
    assert_eq!(account.body["customer_org"], "globex", "the account never moved");
}

#[tokio::test]
async fn an_account_being_handed_back_cannot_move_and_a_moving_account_cannot_be_handed_back() {
    let app = spawn_app().await;
    crate::reverse::payer(&app).await;
    let gina = app.token("globex/gina", &["admin"]);
    let reverse = format!("/v1/accounts/{ACCOUNT}/reverse-assumption");
    let asked = app.post(&reverse, &gina, crate::reverse::request_body(crate::reverse::next_handback_day())).await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let refused = request(&app, ask("initech", next_window_day())).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "reverse_assumption_open"));
    assert_eq!(app.post(&format!("{reverse}/cancel"), &gina, json!({})).await.status, StatusCode::OK);

    let moving = request(&app, ask("initech", next_window_day())).await;
    assert_eq!(moving.status, StatusCode::CREATED, "{}", moving.body);
    let handback = app.post(&reverse, &gina, crate::reverse::request_body(crate::reverse::next_handback_day())).await;
    assert_eq!((handback.status, handback.code()), (StatusCode::CONFLICT, "move_pending"));
}

#[tokio::test]
async fn closing_an_account_cancels_its_open_move() {
    let app = spawn_app().await;
    shared_payer(&app).await;
    let asked = request(&app, ask("initech", next_window_day())).await;
    let id = asked.body["id"].as_str().unwrap().to_owned();
    let closed =
        app.post(&format!("/v1/accounts/{ACCOUNT}/close"), &app.token("acme/ada", &["admin"]), json!({})).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.body);
    let shown = app.get(&format!("{MOVES}/{id}"), &app.token("acme/ada", &["admin"])).await;
    assert_eq!(
        (shown.body["state"].as_str(), shown.body["cancelled_by"].as_str()),
        (Some("cancelled"), Some("acme/ada"))
    );
    assert_eq!(app.last_event("account.close")["details"]["move_cancelled"], id.as_str());
}
