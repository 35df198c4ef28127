//! `GET /metrics`: provider admins only on the main listener, counters that
//! follow releases, route labels that are templates, no secret in the
//! text, the cluster gauges, and the separate listener of `[metrics] listen`.

use reqwest::StatusCode;
use rootvault::ha::{ActiveNode, Backend, Ha, InstanceId, Role, Term};
use serde_json::json;
use tokio::sync::watch;

use crate::cli::{run, spawn_logged, wait_for_printed, write_config};
use crate::helpers::{STAFF, TestApp, spawn_app, spawn_app_adjusted};

/// The metrics text as `acme/ada` (a provider admin) reads it.
pub async fn scrape(app: &TestApp) -> String {
    let response = app
        .client
        .get(format!("{}/metrics", app.base))
        .bearer_auth(app.token("acme/ada", &["admin"]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let kind = response.headers()["content-type"].to_str().unwrap().to_owned();
    assert!(kind.starts_with("application/openmetrics-text"), "{kind}");
    response.text().await.unwrap()
}

/// The value of the sample `series` (its name and labels as written).
pub fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines().find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

/// Whether `needle` stands in `text` on its own: not inside a longer run of
/// digits, dots, letters or base64url, as a six-digit code could sit inside
/// a latency sum by chance.
fn contains_token(text: &str, needle: &str) -> bool {
    let part = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_');
    text.match_indices(needle).any(|(at, _)| {
        let before = text[..at].chars().next_back().is_none_or(|c| !part(c));
        let after = text[at + needle.len()..].chars().next().is_none_or(|c| !part(c));
        before && after
    })
}

#[tokio::test]
async fn only_the_providers_admins_may_scrape_the_main_listener() {
    let app = spawn_app().await;
    let get = |token: Option<String>| {
        let request = app.client.get(format!("{}/metrics", app.base));
        async move { request.bearer_auth(token.unwrap_or_default()).send().await.unwrap().status() }
    };
    assert_eq!(get(None).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some("not-a-token".into())).await, StatusCode::UNAUTHORIZED);
    assert_eq!(get(Some(app.token("acme/sam", &["staff", "approver", "auditor"]))).await, StatusCode::FORBIDDEN);
    assert_eq!(get(Some(app.token("globex/gina", &["admin"]))).await, StatusCode::FORBIDDEN);
    let text = scrape(&app).await;
    assert_eq!(sample(&text, "rootvault_sealed"), Some(0.0));
    assert!(text.ends_with("# EOF\n"), "{text}");
}

#[tokio::test]
async fn releases_approvals_and_refusals_are_counted_with_their_labels() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let before = scrape(&app).await;
    assert_eq!(sample(&before, "rootvault_approvals_total"), Some(2.0));
    assert_eq!(sample(&before, r#"rootvault_releases_total{half="mfa",outcome="ok"}"#), None);

    assert_eq!(app.step(&id, "mfa-code", "acme/bob", STAFF).await.status, StatusCode::OK);
    let wrong = app.step(&id, "mfa-code", "acme/alice", STAFF).await;
    assert_eq!((wrong.status, wrong.code()), (StatusCode::FORBIDDEN, "not_recipient"));

    let after = scrape(&app).await;
    assert_eq!(sample(&after, r#"rootvault_releases_total{half="mfa",outcome="ok"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"rootvault_releases_total{half="mfa",outcome="denied"}"#), Some(1.0));
    assert_eq!(sample(&after, r#"rootvault_releases_total{half="password",outcome="ok"}"#), None);
    assert_eq!(sample(&after, r#"rootvault_refusals_total{reason="not_recipient"}"#), Some(1.0));
    let route = r#"{method="POST",route="/v1/requests/{id}/mfa-code",status="200"}"#;
    assert_eq!(sample(&after, &format!("rootvault_http_requests_total{route}")), Some(1.0));
    assert_eq!(sample(&after, &format!("rootvault_http_request_duration_seconds_count{route}")), Some(1.0));
    // A release anchors a checkpoint, so one was signed moments ago.
    assert!(sample(&after, "rootvault_audit_checkpoint_age_seconds").is_some_and(|age| age < 600.0), "{after}");
    assert!(sample(&after, "rootvault_audit_events_after_checkpoint").is_some(), "{after}");
    for writes in ["rootvault_audit_commit_writes_sum", "rootvault_audit_append_duration_seconds_count"] {
        assert!(sample(&after, writes).is_some_and(|n| n > 0.0), "{writes}: {after}");
    }
}

#[tokio::test]
async fn a_route_is_labelled_by_its_template_and_unknown_paths_share_one_label() {
    let app = spawn_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    assert_eq!(app.get("/v1/accounts/987654321098", &ada).await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.get("/v1/no-such-place/s3cr3t-path", &ada).await.status, StatusCode::NOT_FOUND);
    let text = scrape(&app).await;
    let shown = r#"rootvault_http_requests_total{method="GET",route="/v1/accounts/{account_id}",status="404"}"#;
    assert_eq!(sample(&text, shown), Some(1.0), "{text}");
    let unmatched = r#"rootvault_http_requests_total{method="GET",route="unmatched",status="404"}"#;
    assert_eq!(sample(&text, unmatched), Some(1.0), "{text}");
    assert!(!text.contains("987654321098") && !text.contains("s3cr3t"), "{text}");
}

#[tokio::test]
async fn no_secret_id_or_token_appears_in_the_metrics_after_releases_and_a_link() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let id = app.approved_request("123456789012").await;
    let code = app.step(&id, "mfa-code", "acme/bob", STAFF).await;
    let code = code.body["code"].as_str().unwrap().to_owned();
    let alice = app.token("acme/alice", STAFF);
    let recipient = json!({"name": "Jane Doe", "email": "jane@globex.example"});
    let body = json!({"purpose": "deliver", "account_id": "123456789012", "half": "password", "recipient": recipient, "request_id": id});
    let link = app.post("/v1/links", &alice, body).await;
    assert_eq!(link.status, StatusCode::CREATED, "{}", link.body);
    let (link_id, url) = (link.body["id"].as_str().unwrap(), link.body["url"].as_str().unwrap());
    let key = url.split_once('#').unwrap().1;
    let opened = app.client.post(format!("{}/v1/public/links/{link_id}/open", app.base)).json(&json!({})).send().await;
    assert_eq!(opened.unwrap().status(), StatusCode::OK);

    let text = scrape(&app).await;
    assert_eq!(sample(&text, r#"rootvault_releases_total{half="password",outcome="ok"}"#), Some(1.0), "{text}");
    let open = r#"rootvault_http_requests_total{method="POST",route="/v1/public/links/{id}/open",status="200"}"#;
    assert_eq!(sample(&text, open), Some(1.0), "{text}");
    for secret in [crate::helpers::PASSWORD, crate::helpers::SEED, key, link_id, &id, &code, "123456789012", &alice] {
        assert!(!contains_token(&text, secret), "{secret} in the metrics:\n{text}");
    }
}

#[tokio::test]
async fn failed_webhook_deliveries_are_counted_and_wait_in_the_outbox() {
    let app = spawn_app().await;
    app.stocked_account("123456789012").await;
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap().local_addr().unwrap();
    let body = json!({"url": format!("http://{closed}/hook"), "events": []});
    let subscribed =
        app.post("/v1/accounts/123456789012/subscribers", &app.token("globex/gina", &["admin"]), body).await;
    assert_eq!(subscribed.status, StatusCode::CREATED, "{}", subscribed.body);
    app.approved_request("123456789012").await;

    let failed = r#"rootvault_delivery_failures_total{channel="webhook",outcome="retry"}"#;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let text = loop {
        let text = scrape(&app).await;
        if sample(&text, failed).is_some() || std::time::Instant::now() > deadline {
            break text;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    };
    assert!(sample(&text, failed).is_some_and(|n| n >= 1.0), "{text}");
    let pending = r#"rootvault_outbox_pending_deliveries{channel="webhook"}"#;
    assert!(sample(&text, pending).is_some_and(|n| n >= 1.0), "the receiver is still down: {text}");
}

#[tokio::test]
async fn a_cluster_node_shows_its_role_and_the_leases_term_and_a_single_node_shows_neither() {
    let single = scrape(&spawn_app().await).await;
    assert!(!single.contains("rootvault_ha_"), "{single}");

    let leader = ActiveNode {
        instance: InstanceId::random(),
        node: "rv-1".into(),
        api_addr: "http://127.0.0.1:9".into(),
        term: Term::new(7),
    };
    let (role, roles) = watch::channel(Role::Standby { active: Some(leader) });
    let node = spawn_app_adjusted(|config, app| {
        app.parts_mut().ha = Ha::driven(&config.ha, Backend::Postgres, roles).unwrap();
    })
    .await;
    let standby = scrape(&node).await;
    assert_eq!(
        (sample(&standby, "rootvault_ha_active"), sample(&standby, "rootvault_ha_term")),
        (Some(0.0), Some(7.0))
    );
    role.send(Role::Active { term: Some(Term::new(8)) }).unwrap();
    let active = scrape(&node).await;
    assert_eq!((sample(&active, "rootvault_ha_active"), sample(&active, "rootvault_ha_term")), (Some(1.0), Some(8.0)));
}

#[tokio::test]
async fn the_metrics_listener_serves_them_without_a_token_and_the_main_listener_then_does_not() {
    let dir = crate::helpers::DataDir::new();
    let config = write_config(dir.path(), &dir.path().join("data"));
    let mut text = std::fs::read_to_string(&config).unwrap();
    text.push_str("\n[metrics]\nlisten = \"127.0.0.1:0\"\non_main_listener = false\n");
    std::fs::write(&config, text).unwrap();
    let config = config.to_str().unwrap();
    let init = run(&["init", "--config", config, "--shares", "3", "--threshold", "2"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));

    let (_server, stdout, _) = spawn_logged(dir.path(), &["serve", "--config", config], &[]);
    let metrics = wait_for_printed(&stdout, "metrics on ");
    let base = wait_for_printed(&stdout, "listening on ");
    let client = reqwest::Client::new();
    let scraped = client.get(&metrics).send().await.unwrap();
    assert_eq!(scraped.status(), StatusCode::OK);
    let scraped = scraped.text().await.unwrap();
    assert_eq!(sample(&scraped, "rootvault_sealed"), Some(1.0), "the service starts sealed:\n{scraped}");

    let elsewhere = metrics.replace("/metrics", "/v1/sys/seal-status");
    assert_eq!(client.get(elsewhere).send().await.unwrap().status(), StatusCode::NOT_FOUND);
    let main = client.get(format!("{base}/metrics")).send().await.unwrap();
    assert_eq!(main.status(), StatusCode::NOT_FOUND, "on_main_listener = false");
}
