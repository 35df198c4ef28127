//! Onboarding (DESIGN §16): the provider starts it, marks its checklist,
//! deposits of the right side settle `reset_password` and `enable_mfa`, and
//! completion needs every item (seeds 000, 001, 002, 004).

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Reply, SEED, TestApp, spawn_app};

const ACCOUNT: &str = "123456789012";
const BASE: &str = "/v1/accounts/123456789012/onboarding";
/// The items the provider marks by hand.
const MANUAL: [&str; 5] = [
    "set_root_email",
    "delete_root_access_keys",
    "set_alternate_contacts",
    "create_provider_role",
    "enable_root_signin_watch",
];

fn start_body() -> Value {
    json!({
        "signatory": {"name": "Gina Globex", "email": "gina@globex.example"},
        "legal_name": "Globex Corporation",
        "legal_address": "1 Globex Way\nCypress Creek"
    })
}

async fn start(app: &TestApp) -> Reply {
    app.post(BASE, &app.token("acme/ada", &["admin"]), start_body()).await
}

async fn mark(app: &TestApp, item: &str, status: &str) -> Reply {
    app.post(&format!("{BASE}/checklist/{item}"), &app.token("acme/ada", &["admin"]), json!({"status": status})).await
}

async fn complete(app: &TestApp) -> Reply {
    app.post(&format!("{BASE}/complete"), &app.token("acme/ada", &["admin"]), json!({})).await
}

async fn view(app: &TestApp) -> Value {
    let reply = app.get(BASE, &app.token("acme/ada", &["admin"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

async fn account_status(app: &TestApp) -> String {
    let account = app.get(&format!("/v1/accounts/{ACCOUNT}"), &app.token("acme/ada", &["admin"])).await;
    account.body["status"].as_str().unwrap().to_owned()
}

/// The events people were told about, in the order the notifier takes them.
fn announced(app: &TestApp) -> Vec<String> {
    let db = app.db();
    let mut stmt = db.prepare("SELECT event FROM announcements ORDER BY created_at, id").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

/// The webhook events queued for subscribers, in order.
fn webhooks(app: &TestApp) -> Vec<String> {
    let db = app.db();
    let mut stmt = db.prepare("SELECT event FROM outbox WHERE channel = 'webhook' ORDER BY seq").unwrap();
    stmt.query_map([], |r| r.get(0)).unwrap().map(Result::unwrap).collect()
}

async fn subscribe(app: &TestApp, admin: &str) {
    let reply = app
        .post(
            &format!("/v1/accounts/{ACCOUNT}/subscribers"),
            &app.token(admin, &["admin"]),
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

#[tokio::test]
async fn a_provider_split_account_is_onboarded_item_by_item_and_its_deposits_settle_the_service_items() {
    let app = spawn_app().await;
    app.provider_split_account(ACCOUNT).await;
    subscribe(&app, "acme/ada").await;
    assert_eq!(account_status(&app).await, "onboarding", "a new account shows onboarding");
    let before = view(&app).await;
    assert_eq!(before["state"], "not_started");
    assert_eq!(before["missing_items"].as_array().unwrap().len(), 7);
    assert_eq!(before["depositors"], json!({"password": ["provider"], "mfa": ["provider"]}));

    // A deposit before the start settles nothing.
    assert_eq!(app.deposit_password(ACCOUNT, "acme/alice", PASSWORD).await.status, StatusCode::OK);
    let started = start(&app).await;
    assert_eq!(started.status, StatusCode::CREATED, "{}", started.body);
    assert_eq!(started.body["state"], "in_progress");
    assert_eq!(started.body["legal_name"], "Globex Corporation");
    assert_eq!(started.body["signatory"]["name"], "Gina Globex");
    assert!(started.body["checklist"].as_object().unwrap().is_empty());

    for (n, item) in MANUAL.iter().enumerate() {
        let status = if n == 3 { "not_applicable" } else { "done" };
        let reply = mark(&app, item, status).await;
        assert_eq!(reply.status, StatusCode::OK, "{item}: {}", reply.body);
        assert_eq!(reply.body["checklist"][item]["status"], status);
        assert_eq!(reply.body["checklist"][item]["by"], "acme/ada");
    }
    let early = complete(&app).await;
    assert_eq!((early.status, early.code()), (StatusCode::CONFLICT, "onboarding_rule"));
    assert!(early.body["error"]["message"].as_str().unwrap().contains("reset_password, enable_mfa"), "{}", early.body);

    // A generated password and an enrolled seed, after the start.
    let alice = app.token("acme/alice", &["staff"]);
    let generated =
        app.put(&format!("/v1/accounts/{ACCOUNT}/halves/password"), &alice, json!({"generate": true})).await;
    assert_eq!(generated.status, StatusCode::OK, "{}", generated.body);
    assert_eq!(app.last_event("half.deposit")["details"]["onboarding_item"], "reset_password");
    assert_eq!(app.deposit_seed(ACCOUNT, "acme/bob", SEED).await.status, StatusCode::OK);
    assert_eq!(app.last_event("half.deposit")["details"]["onboarding_item"], "enable_mfa");
    let ticked = view(&app).await;
    assert_eq!(ticked["checklist"]["reset_password"]["version"], 2, "the version deposited after the start");
    assert_eq!(ticked["checklist"]["reset_password"]["by"], "acme/alice");
    assert_eq!(ticked["checklist"]["enable_mfa"]["by"], "acme/bob");
    assert_eq!(ticked["missing_items"], json!([]));
    assert_eq!(account_status(&app).await, "onboarding", "until completed");

    let done = complete(&app).await;
    assert_eq!(done.status, StatusCode::OK, "{}", done.body);
    assert_eq!(
        (done.body["state"].as_str(), done.body["completed_by"].as_str()),
        (Some("completed"), Some("acme/ada"))
    );
    assert_eq!(account_status(&app).await, "active");
    let again = complete(&app).await;
    assert_eq!((again.status, again.code()), (StatusCode::CONFLICT, "onboarding_rule"));

    let actions: Vec<String> = app.audit_events().iter().map(|e| e["action"].as_str().unwrap().to_owned()).collect();
    for action in ["onboarding.start", "onboarding.checklist", "onboarding.complete", "onboarding.read"] {
        assert!(actions.iter().any(|a| a == action), "{action}");
    }
    assert_eq!(app.last_event("onboarding.complete")["outcome"], "denied", "the second completion was refused");
    let told = announced(&app);
    assert!(
        told.contains(&"onboarding.started".to_owned()) && told.contains(&"onboarding.completed".to_owned()),
        "{told:?}"
    );
    let hooks = webhooks(&app);
    let progress = hooks.iter().filter(|e| *e == "onboarding.progress").count();
    assert_eq!(progress, MANUAL.len() + 2, "each settled item: {hooks:?}");
    assert!(hooks.contains(&"onboarding.started".to_owned()) && hooks.contains(&"onboarding.completed".to_owned()));
}

#[tokio::test]
async fn a_co_owned_onboarding_takes_the_signatorys_own_password_through_a_collect_link() {
    let app = spawn_app().await;
    assert_eq!(app.register(ACCOUNT, "co_owned", Some("globex")).await.status, StatusCode::CREATED);
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice"]).await;
    app.assign(ACCOUNT, "mfa", "globex/gina", &["globex/gus"]).await;
    assert_eq!(start(&app).await.status, StatusCode::CREATED);
    assert_eq!(
        view(&app).await["depositors"],
        json!({"password": ["provider", "customer"], "mfa": ["provider", "customer"]})
    );

    // Seed 002: the customer keeps its password and shares it through a one-time link.
    let link = app
        .post(
            "/v1/links",
            &app.token("acme/ada", &["admin"]),
            json!({"purpose": "collect", "account_id": ACCOUNT, "half": "password",
                   "recipient": {"name": "Gina Globex", "email": "gina@globex.example"}}),
        )
        .await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let id = link.body["id"].as_str().unwrap();
    let submitted = app
        .client
        .post(format!("{}/v1/public/links/{id}/submit", app.base))
        .json(&json!({"password": "Globex-Keeps-Its-Own-9!"}))
        .send()
        .await
        .unwrap();
    assert_eq!(submitted.status(), StatusCode::OK);
    let submit = app.last_event("link.submit");
    assert_eq!(submit["details"]["onboarding_item"], "reset_password");
    let checklist = view(&app).await["checklist"].clone();
    assert!(checklist["reset_password"]["by"].as_str().unwrap().starts_with("link:"), "{checklist}");
    assert_eq!(checklist["reset_password"]["version"], 1);

    // The customer's custodian enrols the MFA device: co-owned, so its deposit counts.
    assert_eq!(app.deposit_seed(ACCOUNT, "globex/gus", SEED).await.status, StatusCode::OK);
    for item in MANUAL {
        assert_eq!(mark(&app, item, "done").await.status, StatusCode::OK);
    }
    assert_eq!(complete(&app).await.body["state"], "completed");
    assert_eq!(view(&app).await["checklist"]["enable_mfa"]["by"], "globex/gus");
}

#[tokio::test]
async fn a_shared_payer_onboarding_has_the_customer_deposit_the_mfa_seed() {
    let app = spawn_app().await;
    assert_eq!(app.register(ACCOUNT, "shared_payer", Some("globex")).await.status, StatusCode::CREATED);
    app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice"]).await;
    app.assign(ACCOUNT, "mfa", "globex/gina", &["globex/gus"]).await;
    let started = start(&app).await;
    assert_eq!(started.body["depositors"], json!({"password": ["provider"], "mfa": ["customer"]}));
    assert_eq!(app.deposit_password(ACCOUNT, "acme/alice", PASSWORD).await.status, StatusCode::OK);
    let mfa = app.deposit_seed(ACCOUNT, "globex/gus", SEED).await;
    assert_eq!(mfa.status, StatusCode::OK, "{}", mfa.body);
    let checklist = view(&app).await["checklist"].clone();
    assert_eq!(checklist["enable_mfa"]["by"], "globex/gus", "seed 004: the customer holds the MFA device");
    assert_eq!(checklist["reset_password"]["by"], "acme/alice");
    // The customer's admin follows it, and sees its own legal details.
    let customer = app.get(BASE, &app.token("globex/gina", &["admin"])).await;
    assert_eq!(customer.status, StatusCode::OK);
    assert_eq!(customer.body["legal_name"], "Globex Corporation");
    for item in MANUAL {
        mark(&app, item, "done").await;
    }
    assert_eq!(complete(&app).await.status, StatusCode::OK);
}

#[tokio::test]
async fn onboarding_refuses_the_wrong_people_the_wrong_items_and_a_second_start() {
    let app = spawn_app().await;
    app.provider_split_account(ACCOUNT).await;
    let gina = app.token("globex/gina", &["admin"]);
    let by_customer = app.post(BASE, &gina, start_body()).await;
    assert_eq!((by_customer.status, by_customer.code()), (StatusCode::FORBIDDEN, "forbidden"));
    let by_staff = app.post(BASE, &app.token("acme/sam", &["staff"]), start_body()).await;
    assert_eq!(by_staff.status, StatusCode::FORBIDDEN);
    let foreign = app.get(BASE, &app.token("initech/ivan", &["admin"])).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let not_started = mark(&app, "set_root_email", "done").await;
    assert_eq!((not_started.status, not_started.code()), (StatusCode::CONFLICT, "onboarding_rule"));
    let mut bad = start_body();
    bad["legal_name"] = json!("  ");
    let blank = app.post(BASE, &app.token("acme/ada", &["admin"]), bad).await;
    assert_eq!((blank.status, blank.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_onboarding"));
    assert_eq!(view(&app).await["state"], "not_started", "nothing changed");

    assert_eq!(start(&app).await.status, StatusCode::CREATED);
    let second = start(&app).await;
    assert_eq!((second.status, second.code()), (StatusCode::CONFLICT, "onboarding_rule"));
    let by_hand = mark(&app, "reset_password", "done").await;
    assert_eq!((by_hand.status, by_hand.code()), (StatusCode::CONFLICT, "onboarding_rule"));
    assert!(by_hand.body["error"]["message"].as_str().unwrap().contains("done by the service"));
    let unknown = mark(&app, "feed_the_cat", "done").await;
    assert_eq!((unknown.status, unknown.code()), (StatusCode::UNPROCESSABLE_ENTITY, "invalid_checklist_item"));
    let bad_status = mark(&app, "set_root_email", "maybe").await;
    assert_eq!(bad_status.status, StatusCode::UNPROCESSABLE_ENTITY);
    let customer_marks = app.post(&format!("{BASE}/checklist/set_root_email"), &gina, json!({"status": "done"})).await;
    assert_eq!(customer_marks.status, StatusCode::FORBIDDEN);
    assert!(view(&app).await["checklist"].as_object().unwrap().is_empty(), "no refusal marked anything");
    assert_eq!(app.last_event("onboarding.checklist")["outcome"], "denied");
}

#[tokio::test]
async fn an_account_whose_root_the_customer_owns_needs_no_onboarding() {
    let app = spawn_app().await;
    assert_eq!(app.register(ACCOUNT, "customer_owned", Some("globex")).await.status, StatusCode::CREATED);
    assert_eq!(account_status(&app).await, "active");
    assert_eq!(view(&app).await["state"], "completed");
    let refused = start(&app).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "nothing_in_custody"));
}

#[tokio::test]
async fn accounts_onboarded_before_the_checklist_existed_show_as_active() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    // What the migration gives every account registered before it.
    app.db().execute("UPDATE accounts SET onboarding = 'completed'", []).unwrap();
    assert_eq!(account_status(&app).await, "active");
    let shown = view(&app).await;
    assert_eq!((shown["state"].as_str(), shown["missing_items"].clone()), (Some("completed"), json!([])));
    let refused = start(&app).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::CONFLICT, "onboarding_rule"));
}
