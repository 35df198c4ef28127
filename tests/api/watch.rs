//! The root sign-in watch (docs/root-signin-watch.md) against the AWS
//! emulator: root events put on the watch stack's EventBridge bus reach its
//! SQS queue, and the service records, classifies, audits and alerts on
//! them, rejects what it cannot use, and drains the queue. Bad input, a
//! sealed vault and the read side (API, console) are covered too.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rootvault::watch::WatchSettings;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::helpers::{STAFF, TestApp, emulator_config, kms_endpoint, spawn_app, spawn_app_configured};

const ACCOUNT: &str = "123456789012";
const OTHER: &str = "210987654321";
pub(crate) const SIGN_IN: &str = "AWS Console Sign In via CloudTrail";
const SIGNIN: &str = "AWS Console Signin via CloudTrail";
const API_CALL: &str = "AWS API Call via CloudTrail";

// --- the emulator -------------------------------------------------------

pub(crate) async fn sqs() -> aws_sdk_sqs::Client {
    aws_sdk_sqs::Client::new(&emulator_config().await)
}

/// A queue of this test's own, so parallel tests never share one.
pub(crate) async fn new_queue(sqs: &aws_sdk_sqs::Client) -> String {
    let name = format!("rootvault-watch-test-{}", uuid::Uuid::new_v4().simple());
    sqs.create_queue().queue_name(name).send().await.unwrap().queue_url().unwrap().to_owned()
}

pub(crate) async fn send(sqs: &aws_sdk_sqs::Client, queue: &str, body: &str) {
    sqs.send_message().queue_url(queue).message_body(body).send().await.unwrap();
}

/// Put events on an EventBridge bus. The emulator takes the JSON call
/// unsigned; it only reads the service (`events`) from the credential scope
/// of the Authorization header, whose signature it does not check.
async fn put_events(bus: &str, events: &[(&str, Value)]) {
    let entries: Vec<Value> = events
        .iter()
        .map(|(detail_type, detail)| {
            json!({"Source": "aws.signin", "DetailType": detail_type, "Detail": detail.to_string(), "EventBusName": bus})
        })
        .collect();
    let reply: Value = reqwest::Client::new()
        .post(kms_endpoint())
        .header("X-Amz-Target", "AWSEvents.PutEvents")
        .header("Content-Type", "application/x-amz-json-1.1")
        .header("Authorization", "AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/events/aws4_request")
        .body(json!({"Entries": entries}).to_string())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(reply["FailedEntryCount"], 0, "{reply}");
}

/// Messages waiting in the queue and messages received but not deleted.
async fn depth(sqs: &aws_sdk_sqs::Client, queue: &str) -> (i64, i64) {
    use aws_sdk_sqs::types::QueueAttributeName as A;
    let out = sqs
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(A::ApproximateNumberOfMessages)
        .attribute_names(A::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    let attrs = out.attributes().unwrap();
    let n = |a: &A| attrs.get(a).and_then(|v| v.parse().ok()).unwrap_or(-1);
    (n(&A::ApproximateNumberOfMessages), n(&A::ApproximateNumberOfMessagesNotVisible))
}

/// A service whose watch reads `queue` in the emulator, long-polling 1 s.
async fn watched_app(queue: &str) -> TestApp {
    let queue = queue.to_owned();
    spawn_app_configured(move |config| {
        let mut watch = WatchSettings::new(queue);
        watch.endpoint_url = Some(kms_endpoint());
        watch.wait_time_seconds = 1;
        watch.visibility_timeout_seconds = 5;
        config.watch = Some(watch);
    })
    .await
}

// --- events ---------------------------------------------------------------

/// RFC 3339 text as Unix seconds.
fn unix(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).unwrap().unix_timestamp()
}

fn rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// A CloudTrail record of the root user of `account`.
pub(crate) fn root_event(account: &str, event_id: &str, name: &str, at: i64) -> Value {
    json!({
        "eventVersion": "1.08",
        "userIdentity": {"type": "Root", "principalId": account, "arn": format!("arn:aws:iam::{account}:root"), "accountId": account},
        "eventTime": rfc3339(at),
        "eventSource": "signin.amazonaws.com",
        "eventName": name,
        "awsRegion": "us-east-1",
        "sourceIPAddress": "203.0.113.7",
        "userAgent": "Mozilla/5.0",
        "responseElements": {name: "Success"},
        "additionalEventData": {"MobileVersion": "No", "MFAUsed": "Yes"},
        "eventID": event_id,
        "eventType": "AwsConsoleSignIn",
        "recipientAccountId": account,
    })
}

pub(crate) fn failed(mut event: Value) -> Value {
    let name = event["eventName"].as_str().unwrap().to_owned();
    event["responseElements"] = json!({name: "Failure"});
    event["errorMessage"] = json!("Failed authentication");
    event
}

/// The SQS body EventBridge would deliver for `detail`.
pub(crate) fn envelope(detail_type: &str, detail: Value) -> String {
    json!({
        "version": "0", "id": uuid::Uuid::new_v4().to_string(), "detail-type": detail_type, "source": "aws.signin",
        "account": detail["recipientAccountId"], "time": detail["eventTime"], "region": "us-east-1",
        "resources": [], "detail": detail,
    })
    .to_string()
}

pub(crate) fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

// --- waiting --------------------------------------------------------------

/// Poll (at most 30 s) until `done` holds; fail naming `what` otherwise.
async fn eventually<F: std::future::Future<Output = bool>>(what: &str, mut done: impl FnMut() -> F) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while !done().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn events(app: &TestApp, action: &str) -> Vec<Value> {
    app.audit_events().into_iter().filter(|e| e["action"] == action).collect()
}

fn recorded(app: &TestApp) -> i64 {
    app.db().query_row("SELECT COUNT(*) FROM root_signins", [], |r| r.get(0)).unwrap()
}

/// The `data` of every queued `root_signin.alert` delivery.
fn alerts(app: &TestApp) -> Vec<Value> {
    let db = app.db();
    let mut stmt =
        db.prepare("SELECT payload FROM outbox WHERE event = 'root_signin.alert' ORDER BY created_at").unwrap();
    stmt.query_map([], |r| r.get::<String>(0))
        .unwrap()
        .map(|p| serde_json::from_str::<Value>(&p.unwrap()).unwrap()["data"].clone())
        .collect()
}

/// Wait until the watch has recorded `signins` root events and `rejects`
/// rejections, and the queue holds nothing, visible or in flight.
async fn settle(app: &TestApp, sqs: &aws_sdk_sqs::Client, queue: &str, signins: usize, rejects: usize) {
    eventually(&format!("{signins} root sign-ins, {rejects} rejections and an empty queue"), || async move {
        events(app, "root.signin").len() == signins
            && events(app, "watch.reject").len() == rejects
            && depth(sqs, queue).await == (0, 0)
    })
    .await;
}

/// A webhook subscriber of `account` (it is never reached: the deliveries
/// stay queued in the outbox, where the test reads them).
async fn subscribe(app: &TestApp, account: &str) {
    let reply = app
        .post(
            &format!("/v1/accounts/{account}/subscribers"),
            &app.token("globex/gina", &["admin"]),
            json!({"url": "http://127.0.0.1:9/hook"}),
        )
        .await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.body);
}

/// An approved request on `ACCOUNT` whose password alice received; returns
/// the request id and the Unix time it was approved.
async fn released(app: &TestApp) -> (String, i64) {
    let id = app.approved_request(ACCOUNT).await;
    let release = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(release.status, StatusCode::OK, "{}", release.body);
    let view = app.get(&format!("/v1/requests/{id}"), &app.token("acme/sam", STAFF)).await;
    (id, unix(view.body["approved_at"].as_str().unwrap()))
}

async fn signins(app: &TestApp, account: &str, query: &str) -> Value {
    let reply =
        app.get(&format!("/v1/accounts/{account}/root-signins{query}"), &app.token("globex/gina", &["admin"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    reply.body
}

// --- through EventBridge --------------------------------------------------

/// The watch stack `scripts/test` deployed (deploy/tests/watch_in_moto.py).
fn stack() -> (String, String) {
    let var = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: run the suite with scripts/test, which deploys the watch stack")
        })
    };
    (var("ROOTVAULT_TEST_WATCH_BUS"), var("ROOTVAULT_TEST_WATCH_QUEUE_URL"))
}

#[tokio::test]
async fn root_sign_ins_put_through_the_rule_are_classified_audited_alerted_and_the_queue_drains() {
    let (bus, queue) = stack();
    let sqs = sqs().await;
    let app = watched_app(&queue).await;
    app.stocked_account(ACCOUNT).await;
    assert_eq!(app.register(OTHER, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    subscribe(&app, ACCOUNT).await;
    subscribe(&app, OTHER).await;
    let (request, approved_at) = released(&app).await;

    let (expected, unexplained, failure) = (new_id(), new_id(), new_id());
    put_events(
        &bus,
        &[
            (SIGN_IN, root_event(ACCOUNT, &expected, "ConsoleLogin", approved_at + 60)),
            (SIGNIN, root_event(OTHER, &unexplained, "ConsoleLogin", approved_at + 60)),
            (SIGNIN, failed(root_event(ACCOUNT, &failure, "ConsoleLogin", approved_at + 90))),
            (SIGN_IN, root_event(OTHER, &unexplained, "ConsoleLogin", approved_at + 60)),
            (SIGN_IN, root_event("555555555555", &new_id(), "ConsoleLogin", approved_at + 60)),
        ],
    )
    .await;
    // The rule lets no IAM user's sign-in through; the consumer ignores one
    // that reaches the queue anyway.
    let mut iam_user = root_event(ACCOUNT, &new_id(), "ConsoleLogin", approved_at + 60);
    iam_user["userIdentity"]["type"] = json!("IAMUser");
    send(&sqs, &queue, &envelope(SIGN_IN, iam_user)).await;
    settle(&app, &sqs, &queue, 3, 1).await;

    // Classification, through the API.
    let mine = signins(&app, ACCOUNT, "").await;
    let rows = mine["root_signins"].as_array().unwrap();
    assert_eq!(rows.len(), 2, "{mine}");
    let (newest, older) = (&rows[0], &rows[1]);
    assert_eq!(
        (newest["event_id"].as_str(), newest["classification"].as_str()),
        (Some(failure.as_str()), Some("failed"))
    );
    assert_eq!((newest["outcome"].as_str(), newest["request_id"].as_str()), (Some("failure"), None));
    assert_eq!(older["event_id"], expected.as_str());
    assert_eq!(older["classification"], "expected");
    assert_eq!(older["request_id"], request.as_str());
    assert_eq!((older["source_ip"].as_str(), older["mfa_used"].as_bool()), (Some("203.0.113.7"), Some(true)));
    assert_eq!((older["event_name"].as_str(), older["region"].as_str()), (Some("ConsoleLogin"), Some("us-east-1")));
    assert_eq!(unix(older["event_time"].as_str().unwrap()), approved_at + 60);
    let other = signins(&app, OTHER, "").await;
    assert_eq!(other["root_signins"].as_array().unwrap().len(), 1, "the duplicate is recorded once: {other}");
    assert_eq!(other["root_signins"][0]["classification"], "unexplained");
    assert_eq!(recorded(&app), 3);

    // Audit events: service-made, the request named when it explains one.
    let audited = events(&app, "root.signin");
    let by_id = |id: &str| audited.iter().find(|e| e["details"]["event_id"] == id).unwrap().clone();
    let ok = by_id(&expected);
    assert_eq!((ok["actor"].clone(), ok["outcome"].as_str()), (Value::Null, Some("ok")));
    assert_eq!(
        (ok["target"]["account_id"].as_str(), ok["target"]["request_id"].as_str()),
        (Some(ACCOUNT), Some(request.as_str()))
    );
    assert_eq!(ok["details"]["classification"], "expected");
    assert_eq!(ok["details"]["login_outcome"], "success");
    assert_eq!(ok["details"]["mfa_used"], true);
    assert_eq!(by_id(&failure)["details"]["login_outcome"], "failure");
    assert_eq!(by_id(&unexplained)["target"]["request_id"], Value::Null);
    let rejected = &events(&app, "watch.reject")[0];
    assert_eq!(rejected["details"]["reason"], "unknown_account");
    assert_eq!(rejected["details"]["aws_account_id"], "555555555555");
    assert_eq!((rejected["actor"].clone(), rejected["target"]["account_id"].clone()), (Value::Null, Value::Null));
    assert_eq!(rejected["scope"].as_object().unwrap().keys().collect::<Vec<_>>(), ["acme"], "the provider's only");

    // Alerts for the unexplained and the failed sign-in only.
    let mut alerted: Vec<(String, String)> = alerts(&app)
        .iter()
        .map(|d| (d["event_id"].as_str().unwrap().to_owned(), d["classification"].as_str().unwrap().to_owned()))
        .collect();
    alerted.sort();
    let mut want = vec![(failure.clone(), "failed".to_owned()), (unexplained.clone(), "unexplained".to_owned())];
    want.sort();
    assert_eq!(alerted, want);
    let data = alerts(&app).into_iter().find(|d| d["event_id"] == failure.as_str()).unwrap();
    for key in ["root_signin_id", "event_name", "event_time", "source_ip", "mfa_used", "region"] {
        assert!(data.get(key).is_some(), "{key} in {data}");
    }
}

// --- straight into a queue of the test's own --------------------------------

#[tokio::test]
async fn bad_input_is_rejected_or_ignored_deleted_and_the_watch_goes_on() {
    let sqs = sqs().await;
    let queue = new_queue(&sqs).await;
    let app = watched_app(&queue).await;
    app.stocked_account(ACCOUNT).await;
    assert_eq!(app.register(OTHER, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let closed = app.post(&format!("/v1/accounts/{OTHER}/close"), &app.token("acme/ada", &["admin"]), json!({})).await;
    assert_eq!(closed.status, StatusCode::NO_CONTENT, "{}", closed.body);
    subscribe(&app, ACCOUNT).await;
    let at = unix(app.last_event("account.close")["time"].as_str().unwrap());

    send(&sqs, &queue, "{\"detail\": not json").await;
    send(&sqs, &queue, &format!("{{\"padding\": \"{}\"}}", "x".repeat(70 * 1024))).await;
    let mut not_root = root_event(ACCOUNT, &new_id(), "ConsoleLogin", at);
    not_root["userIdentity"]["type"] = json!("AssumedRole");
    send(&sqs, &queue, &envelope(SIGN_IN, not_root)).await;
    send(&sqs, &queue, &envelope(SIGN_IN, root_event(OTHER, &new_id(), "ConsoleLogin", at))).await;
    let good = new_id();
    send(&sqs, &queue, &envelope(SIGN_IN, root_event(ACCOUNT, &good, "ConsoleLogin", at))).await;
    settle(&app, &sqs, &queue, 1, 3).await;

    let mut reasons: Vec<String> =
        events(&app, "watch.reject").iter().map(|e| e["details"]["reason"].as_str().unwrap().to_owned()).collect();
    reasons.sort();
    assert_eq!(reasons, ["malformed", "not_in_custody", "oversized"]);
    for e in events(&app, "watch.reject") {
        assert!(e["details"]["message_id"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
        assert!(!e.to_string().contains("padding") && !e.to_string().contains("not json"), "never the body: {e}");
    }
    let recorded = signins(&app, ACCOUNT, "").await;
    assert_eq!(recorded["root_signins"][0]["event_id"], good.as_str(), "the good event after the bad ones");
    assert_eq!(recorded["root_signins"][0]["classification"], "unexplained");
    assert_eq!(alerts(&app).len(), 1, "the closed account's sign-in alerts no one");
}

#[tokio::test]
async fn a_sealed_service_leaves_messages_in_the_queue_and_records_them_once_unsealed() {
    let sqs = sqs().await;
    let queue = new_queue(&sqs).await;
    let app = watched_app(&queue).await;
    assert_eq!(app.register(ACCOUNT, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let at = unix(app.last_event("account.create")["time"].as_str().unwrap());
    app.app.vault.keys().seal();
    // Wait out any receive that began before the seal.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    send(&sqs, &queue, &envelope(SIGN_IN, root_event(ACCOUNT, &new_id(), "ConsoleLogin", at))).await;
    send(&sqs, &queue, "not json").await;
    // Sealed, the watch receives nothing: over several of its polls the
    // messages stay visible in the queue and nothing is recorded.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_secs(1)).await;
        assert_eq!(depth(&sqs, &queue).await, (2, 0));
    }
    assert_eq!(recorded(&app), 0);

    let share = std::fs::read_to_string(app.data_dir().join("dev-unseal.share")).unwrap();
    let unseal = app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": share.trim()}))).await;
    assert_eq!(unseal.body["sealed"], false, "{}", unseal.body);
    settle(&app, &sqs, &queue, 1, 1).await;
    assert_eq!(recorded(&app), 1);
}

// --- the rules and the read side, without a queue ---------------------------

#[tokio::test]
async fn password_changes_are_expected_only_after_a_rotation_and_email_changes_never() {
    let app = spawn_app().await;
    app.stocked_account(ACCOUNT).await;
    assert_eq!(app.register(OTHER, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let rotate = app
        .post(&format!("/v1/accounts/{ACCOUNT}/halves/password/rotate"), &app.token("acme/alice", STAFF), json!({}))
        .await;
    assert_eq!(rotate.status, StatusCode::OK, "{}", rotate.body);
    let rotated = unix(app.last_event("half.rotate")["time"].as_str().unwrap());

    let vault = &app.app.vault;
    let record = |account: &str, name: &str, at: i64| {
        let body = envelope(API_CALL, root_event(account, &new_id(), name, at));
        async move { vault.record_watch_message(&body, "m-1").await.unwrap() }
    };
    let classified = |c: &str| rootvault::vault::WatchOutcome::Recorded {
        classification: rootvault::domain::root_signin::Classification::parse(c).unwrap(),
    };
    assert_eq!(record(ACCOUNT, "PasswordUpdated", rotated + 600).await, classified("expected"));
    assert_eq!(record(ACCOUNT, "PasswordRecoveryCompleted", rotated + 60).await, classified("expected"));
    assert_eq!(record(ACCOUNT, "PasswordUpdated", rotated + 25 * 3600).await, classified("unexplained"));
    assert_eq!(record(ACCOUNT, "EmailUpdated", rotated + 60).await, classified("unexplained"));
    assert_eq!(record(OTHER, "PasswordUpdated", rotated + 60).await, classified("unexplained"));
    assert_eq!(record(ACCOUNT, "ConsoleLogin", rotated + 60).await, classified("unexplained"), "no release");
    let rows = signins(&app, ACCOUNT, "").await;
    assert!(rows["root_signins"].as_array().unwrap().iter().all(|r| r["request_id"].is_null()));
    assert_eq!(alerts(&app).len(), 0, "no subscriber, no delivery");
}

#[tokio::test]
async fn the_list_is_paged_newest_first_and_other_customers_get_the_same_404_as_for_no_account() {
    let app = spawn_app().await;
    assert_eq!(app.register(ACCOUNT, "provider_split", Some("globex")).await.status, StatusCode::CREATED);
    let at = unix(app.last_event("account.create")["time"].as_str().unwrap());
    let mut ids = Vec::new();
    for i in 0..5 {
        let id = new_id();
        let body = envelope(SIGN_IN, root_event(ACCOUNT, &id, "ConsoleLogin", at - 3600 * i));
        app.app.vault.record_watch_message(&body, &format!("m-{i}")).await.unwrap();
        ids.push(id);
    }
    let duplicate = envelope(SIGN_IN, root_event(ACCOUNT, &ids[0], "ConsoleLogin", at));
    assert_eq!(
        app.app.vault.record_watch_message(&duplicate, "m-9").await.unwrap(),
        rootvault::vault::WatchOutcome::Duplicate
    );

    let (mut seen, mut cursor) = (Vec::new(), None::<String>);
    for _ in 0..5 {
        let query = cursor.as_ref().map_or("?limit=2".to_owned(), |c| format!("?limit=2&cursor={c}"));
        let page = signins(&app, ACCOUNT, &query).await;
        seen.extend(
            page["root_signins"].as_array().unwrap().iter().map(|r| r["event_id"].as_str().unwrap().to_owned()),
        );
        match &page["next_cursor"] {
            Value::String(next) => cursor = Some(next.clone()),
            _ => break,
        }
    }
    assert_eq!(seen, ids, "each once, newest first");
    let listed = app.last_event("root_signin.list");
    assert_eq!(
        (listed["actor"].as_str(), listed["target"]["account_id"].as_str()),
        (Some("globex/gina"), Some(ACCOUNT))
    );

    let gina = app.token("globex/gina", &["admin"]);
    for bad in ["limit=0", "limit=201", "cursor=nope", "colour=red"] {
        let reply = app.get(&format!("/v1/accounts/{ACCOUNT}/root-signins?{bad}"), &gina).await;
        assert_eq!((reply.status, reply.code()), (StatusCode::BAD_REQUEST, "invalid_query"), "{bad}");
    }
    let ian = app.token("initech/ian", &["admin"]);
    let foreign = app.get(&format!("/v1/accounts/{ACCOUNT}/root-signins"), &ian).await;
    let missing = app.get("/v1/accounts/999999999999/root-signins", &ian).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    assert_eq!(foreign.body, missing.body);
    let provider =
        app.get(&format!("/v1/accounts/{ACCOUNT}/root-signins"), &app.token("acme/audrey", &["auditor"])).await;
    assert_eq!(provider.body["root_signins"].as_array().unwrap().len(), 5);
}

#[tokio::test]
async fn the_account_page_lists_the_latest_root_sign_ins_with_the_request_that_explains_one() {
    let app = crate::helpers::spawn_dev_app().await;
    app.stocked_account(ACCOUNT).await;
    let (request, approved_at) = released(&app).await;
    for (id, detail) in [
        ("evt-expected", root_event(ACCOUNT, "evt-expected", "ConsoleLogin", approved_at + 60)),
        ("evt-failed", failed(root_event(ACCOUNT, "evt-failed", "ConsoleLogin", approved_at + 120))),
    ] {
        app.app.vault.record_watch_message(&envelope(SIGN_IN, detail), id).await.unwrap();
    }
    let gina = Browser::sign_in(&app, "globex", "gina").await;
    let page = gina.get(&format!("/accounts/{ACCOUNT}")).await;
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("Root sign-ins"), "{html}");
    assert!(html.contains("data-classification=\"expected\"") && html.contains("data-classification=\"failed\""));
    assert!(html.contains(&format!("href=\"/requests/{request}\"")), "the request that explains it is linked");
    assert!(html.contains("203.0.113.7") && html.contains("ConsoleLogin (failed)"));
}
