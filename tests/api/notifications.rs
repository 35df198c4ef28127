//! E-mail and chat notifications (DESIGN §15): a real SMTP server and a
//! chat receiver on loopback take every message of a break-glass flow.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rootvault::config::{ChatChannel, ChatFormat, ChatUrl, EmailSettings, OrgRouting, PeopleChannels, SmtpTls};
use rootvault::watch::WatchSettings;
use serde_json::{Value, json};

use crate::browser::Browser;
use crate::chat_receiver::ChatReceiver;
use crate::helpers::{APPROVER, PASSWORD, SEED, STAFF, TestApp, kms_endpoint, spawn_app_configured};
use crate::smtp_sink::{Mail, SmtpSink};

const ACCOUNT: &str = "123456789012";

struct Rig {
    app: TestApp,
    smtp: SmtpSink,
    chat: ChatReceiver,
}

fn email(address: &str) -> Option<rootvault::domain::account::Email> {
    Some(address.parse().unwrap())
}

/// acme's approvers, SOC and account team, and globex's approvers and SOC,
/// with a Slack and a generic channel for acme and a Teams one for globex.
async fn rig_with(smtp: SmtpSink, tls: SmtpTls) -> Rig {
    rig_watching(smtp, tls, None).await
}

/// The same, with the root sign-in watch reading `queue` in the emulator.
async fn rig_watching(smtp: SmtpSink, tls: SmtpTls, queue: Option<String>) -> Rig {
    let chat = ChatReceiver::start().await;
    let (port, ca_file) = (smtp.port(), Some(smtp.ca_file()).filter(|f| f.exists()));
    let channel = |name: &str, format, url| ChatChannel { name: name.into(), format, url: ChatUrl::new(url) };
    let chats = vec![
        channel("acme-slack", ChatFormat::Slack, chat.url("slack")),
        channel("acme-generic", ChatFormat::Generic, chat.url("generic")),
        channel("globex-teams", ChatFormat::Teams, chat.url("teams")),
    ];
    let app = spawn_app_configured(move |config| {
        // Outage tests keep the relay down for a while: never give up here.
        config.notify.max_attempts = 10_000;
        if let Some(queue) = queue {
            let mut watch = WatchSettings::new(queue);
            watch.endpoint_url = Some(kms_endpoint());
            watch.wait_time_seconds = 1;
            config.watch = Some(watch);
        }
        config.people = PeopleChannels {
            email: Some(EmailSettings {
                host: "127.0.0.1".into(),
                port,
                tls,
                username: None,
                password: None,
                from: "rootvault <rootvault@acme.example>".into(),
                ca_file,
            }),
            chat: chats,
        };
        for org in &mut config.orgs {
            org.notify = match org.name.as_str() {
                "acme" => OrgRouting {
                    approvers_email: email("approvers@acme.example"),
                    security_email: email("soc@acme.example"),
                    account_team_email: email("accounts@acme.example"),
                    chat: vec!["acme-slack".into(), "acme-generic".into()],
                },
                "globex" => OrgRouting {
                    approvers_email: email("approvers@globex.example"),
                    security_email: email("secops@globex.example"),
                    account_team_email: None,
                    chat: vec!["globex-teams".into()],
                },
                _ => OrgRouting::default(),
            };
        }
    })
    .await;
    Rig { app, smtp, chat }
}

async fn rig() -> Rig {
    rig_with(SmtpSink::start(), SmtpTls::DangerPlaintext).await
}

/// The people of the flow sign in once through the dev identity provider,
/// which vouches for `<sub>@<org>.example`.
async fn sign_in_everyone(app: &TestApp) {
    for sub in ["sam", "alice", "bob"] {
        Browser::sign_in(app, "acme", sub).await;
    }
}

/// Wait (bounded) until nothing is left to route or deliver.
async fn settled(app: &TestApp) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let waiting: i64 = app
            .db()
            .query_row(
                "SELECT (SELECT count(*) FROM announcements WHERE routed_at IS NULL)
                      + (SELECT count(*) FROM outbox WHERE state = 'pending')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        if waiting == 0 {
            return;
        }
        assert!(Instant::now() < deadline, "{waiting} notifications still waiting");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A break-glass flow on a provider-split account: asked, approved by two,
/// both halves released. Returns the request id and the MFA code released.
async fn break_glass(app: &TestApp) -> (String, String) {
    app.stocked_account(ACCOUNT).await;
    let id = app.approved_request(ACCOUNT).await;
    let password = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(password.status, StatusCode::OK, "{}", password.body);
    let code = app.step(&id, "mfa-code", "acme/bob", STAFF).await;
    assert_eq!(code.status, StatusCode::OK, "{}", code.body);
    (id, code.body["code"].as_str().unwrap().to_owned())
}

fn to<'a>(mails: &'a [Mail], address: &str) -> Vec<&'a Mail> {
    mails.iter().filter(|m| m.rcpt_tos == [address]).collect()
}

fn assert_no_secret(text: &str, code: &str) {
    for secret in [PASSWORD, SEED, code] {
        assert!(!text.contains(secret), "a secret was sent: {text}");
    }
}

#[tokio::test]
async fn a_break_glass_flow_mails_each_person_what_they_need_and_never_a_secret() {
    let rig = rig().await;
    sign_in_everyone(&rig.app).await;
    let (id, code) = break_glass(&rig.app).await;
    settled(&rig.app).await;
    let mails = rig.smtp.messages();
    let base = rig.app.base.clone();

    // The approvers are asked, with the reason and a link to decide.
    let asked = to(&mails, "approvers@acme.example");
    assert_eq!(asked.len(), 1, "{mails:#?}");
    assert_eq!(
        asked[0].subject,
        format!("[rootvault][approval] {ACCOUNT} (Account {ACCOUNT}): break-glass requested by acme/sam")
    );
    assert!(asked[0].text.contains("billing lockout"), "{}", asked[0].text);
    assert!(asked[0].text.contains(&format!("{base}/requests/{id}")), "{}", asked[0].text);
    assert!(asked[0].html.contains(&format!(r#"href="{base}/requests/{id}""#)), "{}", asked[0].html);
    assert!(to(&mails, "approvers@globex.example").is_empty(), "the customer does not decide a provider-held split");

    // Each recipient hears that their half is ready; the requester that the request is approved.
    let alice = to(&mails, "alice@acme.example");
    assert_eq!(alice.len(), 1);
    assert_eq!(alice[0].subject, format!("[rootvault][release] {ACCOUNT} (Account {ACCOUNT}): your password is ready"));
    let bob = to(&mails, "bob@acme.example");
    assert_eq!(bob.len(), 1);
    assert!(bob[0].subject.ends_with("your MFA code is ready"), "{}", bob[0].subject);
    let sam = to(&mails, "sam@acme.example");
    assert_eq!(sam.len(), 1);
    assert_eq!(sam[0].subject, format!("[rootvault][request] {ACCOUNT} (Account {ACCOUNT}): approved"));

    // Both parties' security addresses, and the account's own, hear of each release.
    for soc in ["soc@acme.example", "secops@globex.example", "soc@globex.example"] {
        let mut subjects: Vec<String> = to(&mails, soc).iter().map(|m| m.subject.clone()).collect();
        subjects.sort();
        assert_eq!(
            subjects,
            [
                format!("[rootvault][release] {ACCOUNT} (Account {ACCOUNT}): MFA code released to acme/bob"),
                format!("[rootvault][release] {ACCOUNT} (Account {ACCOUNT}): password released to acme/alice"),
            ],
            "{soc}"
        );
    }
    assert!(to(&mails, "accounts@acme.example").is_empty(), "account teams hear of hand-offs and alerts only");
    assert_eq!(mails.len(), 10, "{mails:#?}");

    for mail in &mails {
        assert_eq!(mail.content_types[0], "multipart/alternative", "{}", mail.subject);
        assert!(
            mail.content_types.contains(&"text/plain".to_owned())
                && mail.content_types.contains(&"text/html".to_owned())
        );
        assert!(mail.raw.contains("From: rootvault <rootvault@acme.example>"), "{}", mail.raw);
        assert_no_secret(&mail.raw, &code);
        assert_no_secret(&mail.text, &code);
        assert_no_secret(&mail.html, &code);
    }
}

#[tokio::test]
async fn chat_channels_get_slack_teams_and_generic_payloads_without_secrets() {
    let rig = rig().await;
    let (id, code) = break_glass(&rig.app).await;
    settled(&rig.app).await;

    // acme hears of the request and both releases; globex of both releases.
    let slack = rig.chat.wait_for("slack", 3).await;
    let generic = rig.chat.wait_for("generic", 3).await;
    let teams = rig.chat.wait_for("teams", 2).await;
    assert_eq!((slack.len(), generic.len(), teams.len()), (3, 3, 2));

    let asked = &slack[0];
    assert!(asked["text"].as_str().unwrap().starts_with("[rootvault][approval]"), "{asked}");
    let blocks = asked["blocks"].as_array().unwrap();
    assert_eq!(blocks[0]["type"], "header");
    assert_eq!(blocks[0]["text"]["type"], "plain_text");
    let button = &blocks.last().unwrap()["elements"][0];
    assert_eq!(button["type"], "button");
    assert_eq!(button["url"], format!("{}/requests/{id}", rig.app.base));

    for card in &teams {
        assert_eq!(card["type"], "message");
        let attachment = &card["attachments"][0];
        assert_eq!(attachment["contentType"], "application/vnd.microsoft.card.adaptive");
        assert_eq!(attachment["content"]["type"], "AdaptiveCard");
        assert_eq!(attachment["content"]["body"][0]["type"], "TextBlock");
        assert!(attachment["content"]["body"].as_array().unwrap().iter().any(|b| b["type"] == "FactSet"), "{card}");
        assert_eq!(attachment["content"]["actions"][0]["type"], "Action.OpenUrl");
    }

    let events: Vec<&str> = generic.iter().map(|g| g["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["request.created", "request.released", "request.released"]);
    assert_eq!(generic[0]["facts"]["Reason"], "billing lockout");
    assert_eq!(generic[0]["severity"], "action");

    for body in slack.iter().chain(&teams).chain(&generic) {
        assert_no_secret(&body.to_string(), &code);
    }
}

#[tokio::test]
async fn where_custody_is_shared_both_parties_approvers_are_asked() {
    let rig = rig().await;
    assert_eq!(rig.app.register(ACCOUNT, "shared_payer", Some("globex")).await.status, StatusCode::CREATED);
    rig.app.assign(ACCOUNT, "password", "acme/ada", &["acme/alice"]).await;
    rig.app.assign(ACCOUNT, "mfa", "globex/gina", &["globex/gus"]).await;
    assert_eq!(rig.app.deposit_password(ACCOUNT, "acme/alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(rig.app.deposit_seed(ACCOUNT, "globex/gus", SEED).await.status, StatusCode::OK);
    let asked = rig
        .app
        .ask(
            "acme/sam",
            json!({"account_id": ACCOUNT, "reason": "payer lockout", "ticket": "INC-7", "mfa_to": "globex/gus"}),
        )
        .await;
    assert_eq!(asked.status, StatusCode::CREATED, "{}", asked.body);
    let mails = rig.smtp.wait_for(2).await;
    let mut to: Vec<&str> = mails.iter().map(Mail::to).collect();
    to.sort_unstable();
    assert_eq!(to, ["approvers@acme.example", "approvers@globex.example"]);
    assert!(mails.iter().all(|m| m.text.contains("INC-7")), "the ticket is in every approver's mail");
    rig.chat.wait_for("teams", 1).await;
}

#[tokio::test]
async fn mail_waits_for_a_relay_that_is_down_and_the_request_flow_does_not() {
    let mut rig = rig().await;
    sign_in_everyone(&rig.app).await;
    rig.app.stocked_account(ACCOUNT).await;
    let asked = rig
        .app
        .ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "billing lockout", "password_to": "acme/alice", "mfa_to": "acme/bob"}))
        .await;
    let id = asked.body["id"].as_str().unwrap().to_owned();
    rig.smtp.wait_for(1).await;

    // The relay goes away mid-flow; approvals and releases go on.
    rig.smtp.stop();
    for approver in ["acme/carol", "acme/dave"] {
        assert_eq!(rig.app.step(&id, "approve", approver, APPROVER).await.status, StatusCode::OK);
    }
    assert_eq!(rig.app.step(&id, "password", "acme/alice", STAFF).await.status, StatusCode::OK);

    // The deliveries wait, each with the reason it failed.
    let ada = rig.app.token("acme/ada", &["admin"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let failing = loop {
        let page = rig.app.get("/v1/sys/notifications?channel=email&state=pending", &ada).await;
        let pending = page.body["notifications"].as_array().unwrap().clone();
        if pending.len() == 6 && pending.iter().all(|n| n["last_error"].is_string()) {
            break pending;
        }
        assert!(Instant::now() < deadline, "{}", page.body);
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    for delivery in &failing {
        assert_eq!(delivery["last_error"], "the relay is unreachable", "{delivery}");
        assert!(delivery["attempts"].as_u64().unwrap() >= 1);
    }

    // Back up: everything arrives, once.
    rig.smtp.resume();
    settled(&rig.app).await;
    let mails = rig.smtp.messages();
    let mut to: Vec<&str> = mails.iter().map(Mail::to).collect();
    to.sort_unstable();
    assert_eq!(
        to,
        [
            "alice@acme.example",
            "approvers@acme.example",
            "bob@acme.example",
            "sam@acme.example",
            "secops@globex.example",
            "soc@acme.example",
            "soc@globex.example"
        ]
    );
    let page = rig.app.get("/v1/sys/notifications?channel=email&state=sent", &ada).await;
    assert_eq!(page.body["notifications"].as_array().unwrap().len(), 7, "{}", page.body);
}

#[tokio::test]
async fn provider_admins_see_every_delivery_and_nobody_else_does() {
    let rig = rig().await;
    let (_, code) = break_glass(&rig.app).await;
    settled(&rig.app).await;
    let ada = rig.app.token("acme/ada", &["admin"]);

    let all = rig.app.get("/v1/sys/notifications?limit=200", &ada).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.body);
    let deliveries = all.body["notifications"].as_array().unwrap();
    // 7 mails (no one signed in, so no personal ones) and 8 chat messages.
    let count = |channel: &str| deliveries.iter().filter(|d| d["channel"] == channel).count();
    assert_eq!((count("email"), count("chat"), count("webhook")), (7, 8, 0), "{}", all.body);
    for d in deliveries {
        assert_eq!(d["state"], "sent", "{d}");
        assert!(d["sent_at"].is_string() && d["next_attempt_at"].is_null(), "{d}");
        assert!(d.get("payload").is_none() && d.get("body").is_none(), "never a body: {d}");
        assert_no_secret(&d.to_string(), &code);
    }
    let chat_targets: Vec<&str> =
        deliveries.iter().filter(|d| d["channel"] == "chat").map(|d| d["target"].as_str().unwrap()).collect();
    assert!(
        chat_targets.iter().all(|t| ["acme-slack", "acme-generic", "globex-teams"].contains(t)),
        "names, never URLs"
    );

    // Pages of two, newest first, cover the same deliveries.
    let mut seen = Vec::new();
    let mut path = "/v1/sys/notifications?limit=2".to_owned();
    for _ in 0..20 {
        let page = rig.app.get(&path, &ada).await;
        seen.extend(page.body["notifications"].as_array().unwrap().iter().map(|d| d["id"].clone()));
        match page.body["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/sys/notifications?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let expected: Vec<Value> = deliveries.iter().map(|d| d["id"].clone()).collect();
    assert_eq!(seen, expected);

    for (who, roles) in [("globex/gina", &["admin"][..]), ("acme/sam", &["staff"][..])] {
        let refused = rig.app.get("/v1/sys/notifications", &rig.app.token(who, roles)).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{who}");
    }
    let bad = rig.app.get("/v1/sys/notifications?state=delivered", &ada).await;
    assert_eq!((bad.status, bad.code()), (StatusCode::BAD_REQUEST, "invalid_query"));
    let events: Vec<Value> =
        rig.app.audit_events().into_iter().filter(|e| e["action"] == "sys.notifications").collect();
    let outcomes: Vec<&str> = events.iter().map(|e| e["outcome"].as_str().unwrap()).collect();
    assert!(outcomes.contains(&"ok") && outcomes.contains(&"denied"), "{outcomes:?}");
}

#[tokio::test]
async fn starttls_is_used_when_the_relay_offers_it() {
    let rig = rig_with(SmtpSink::start_with_starttls(), SmtpTls::StartTls).await;
    rig.app.stocked_account(ACCOUNT).await;
    let asked = rig.app.ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "x", "mfa_to": "acme/bob"})).await;
    assert_eq!(asked.status, StatusCode::CREATED);
    let mails = rig.smtp.wait_for(1).await;
    assert!(mails[0].tls, "the message went over TLS");
}

#[tokio::test]
async fn a_relay_without_starttls_gets_nothing_in_the_clear() {
    // The configuration says smtp:// (STARTTLS required); this relay has none.
    let rig = rig_with(SmtpSink::start(), SmtpTls::StartTls).await;
    rig.app.stocked_account(ACCOUNT).await;
    rig.app.ask("acme/sam", json!({"account_id": ACCOUNT, "reason": "x", "mfa_to": "acme/bob"})).await;
    let deadline = Instant::now() + Duration::from_secs(20);
    let error = loop {
        let error: Option<String> = rig
            .app
            .db()
            .query_row("SELECT last_error FROM outbox WHERE channel = 'email'", [], |r| r.get(0))
            .unwrap_or(None);
        if let Some(error) = error {
            break error;
        }
        assert!(Instant::now() < deadline, "the delivery was never attempted");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(error.contains("TLS") || error.contains("refused"), "{error}");
    assert!(rig.smtp.messages().is_empty());
}

#[tokio::test]
async fn every_root_sign_in_reaches_both_parties_and_only_unexplained_or_failed_ones_as_alerts() {
    use crate::watch::{SIGN_IN, envelope, failed, new_id, new_queue, root_event, send, sqs};
    let sqs = sqs().await;
    let queue = new_queue(&sqs).await;
    let rig = rig_watching(SmtpSink::start(), SmtpTls::DangerPlaintext, Some(queue.clone())).await;
    rig.app.stocked_account(ACCOUNT).await;
    let id = rig.app.approved_request(ACCOUNT).await;
    assert_eq!(rig.app.step(&id, "password", "acme/alice", STAFF).await.status, StatusCode::OK);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();

    let explained = root_event(ACCOUNT, &new_id(), "ConsoleLogin", now);
    let unexplained = root_event(ACCOUNT, &new_id(), "ConsoleLogin", now - 7200);
    let failure = failed(root_event(ACCOUNT, &new_id(), "ConsoleLogin", now));
    let password = root_event(ACCOUNT, &new_id(), "PasswordUpdated", now);
    for detail in [explained, unexplained, failure, password] {
        send(&sqs, &queue, &envelope(SIGN_IN, detail)).await;
    }

    // Three alerts, each to both SOCs, the provider's account team and the account's contact.
    let deadline = Instant::now() + Duration::from_secs(30);
    let alerts = loop {
        let alerts: Vec<Mail> = rig.smtp.messages().into_iter().filter(|m| m.subject.contains("[ALERT]")).collect();
        if alerts.len() >= 12 {
            break alerts;
        }
        assert!(Instant::now() < deadline, "{} alert mails", alerts.len());
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    settled(&rig.app).await;
    assert_eq!(alerts.len(), 12, "the expected sign-in is no alert: {alerts:#?}");
    // The explained one is told too, as information, with its request (seed 004).
    let told: Vec<Mail> = rig.smtp.messages().into_iter().filter(|m| m.subject.contains("[sign-in]")).collect();
    let mut to: Vec<&str> = told.iter().map(Mail::to).collect();
    to.sort_unstable();
    assert_eq!(to, ["accounts@acme.example", "secops@globex.example", "soc@acme.example", "soc@globex.example"]);
    assert!(told.iter().all(|m| m.subject.ends_with(": root sign-in during break-glass")), "{told:#?}");
    assert!(told[0].text.contains(&id) && told[0].text.contains(&format!("{}/requests/{id}", rig.app.base)));
    let label = format!("{ACCOUNT} (Account {ACCOUNT})");
    for soc in ["soc@acme.example", "accounts@acme.example", "secops@globex.example", "soc@globex.example"] {
        let mut subjects: Vec<&str> = alerts.iter().filter(|m| m.to() == soc).map(|m| m.subject.as_str()).collect();
        subjects.sort_unstable();
        assert_eq!(
            subjects,
            [
                format!("[rootvault][ALERT] {label}: failed root sign-in"),
                format!("[rootvault][ALERT] {label}: root password updated outside a rotation"),
                format!("[rootvault][ALERT] {label}: unexplained root sign-in"),
            ],
            "{soc}"
        );
    }
    let mail = alerts.iter().find(|m| m.subject.ends_with("unexplained root sign-in")).unwrap();
    assert!(mail.text.contains("203.0.113.7") && mail.text.contains("ConsoleLogin"), "{}", mail.text);
    assert!(mail.text.contains(&format!("{}/accounts/{ACCOUNT}", rig.app.base)), "{}", mail.text);
    assert!(mail.text.contains("What to do:"), "{}", mail.text);
    for mail in &alerts {
        assert_no_secret(&mail.raw, "no code was released");
    }

    // Chat: both orgs' channels, Slack's button in red.
    let slack: Vec<Value> =
        rig.chat.bodies("slack").into_iter().filter(|b| b["text"].as_str().unwrap().contains("[ALERT]")).collect();
    assert_eq!(slack.len(), 3);
    assert!(slack.iter().all(|b| b["blocks"].as_array().unwrap().last().unwrap()["elements"][0]["style"] == "danger"));
    let teams = rig.chat.bodies("teams");
    let red = teams.iter().filter(|b| b["attachments"][0]["content"]["body"][0]["color"] == "Attention").count();
    assert_eq!(red, 3);
    let generic = rig.chat.bodies("generic");
    assert_eq!(generic.iter().filter(|b| b["event"] == "root_signin.alert").count(), 3);
    assert_eq!(generic.iter().filter(|b| b["event"] == "root_signin.expected").count(), 1);
}
