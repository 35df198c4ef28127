//! High availability seen from outside (DESIGN §17), on one machine: a
//! standby's router, whose role the test holds, forwards to a second
//! service that is active; every node answers health, the seal and
//! `GET /v1/sys/ha-status` itself; on SQLite the one node is active.

use std::net::IpAddr;

use reqwest::StatusCode;
use rootvault::config::ClusterSecret;
use rootvault::ha::{ActiveNode, Backend, FORWARDED_HEADER, Ha, InstanceId, Role, Term};
use serde_json::{Value, json};
use tokio::sync::watch;

use crate::helpers::{STAFF, TestApp, account_body, postgres_backend, spawn_app, spawn_app_adjusted, spawn_sealed_app};

const SECRET: &str = "a cluster secret for tests, 32 bytes or more";

/// The client's own loopback address, so the active node can tell the
/// client (127.0.0.2) from the standby (127.0.0.1).
const CLIENT_IP: &str = "127.0.0.2";

/// A single node that believes requests forwarded with `SECRET`.
async fn active_node() -> TestApp {
    spawn_app_adjusted(|config, app| {
        config.ha.node = "rv-active".into();
        config.ha.cluster_secret = Some(ClusterSecret::new(SECRET.into()));
        app.parts_mut().ha = Ha::single(&config.ha, Backend::Sqlite).unwrap();
    })
    .await
}

fn pointing_at(active: Option<&TestApp>) -> Role {
    Role::Standby {
        active: active.map(|a| ActiveNode {
            instance: InstanceId::random(),
            node: "rv-active".into(),
            api_addr: a.base.clone(),
            term: Term::new(7),
        }),
    }
}

/// A standby whose role the test holds, clients calling it from CLIENT_IP.
async fn standby_of(active: Option<&TestApp>) -> (TestApp, watch::Sender<Role>) {
    let (role, roles) = watch::channel(pointing_at(active));
    let mut standby = spawn_app_adjusted(|config, app| {
        config.ha.node = "rv-standby".into();
        config.ha.cluster_secret = Some(ClusterSecret::new(SECRET.into()));
        app.parts_mut().ha = Ha::driven(&config.ha, Backend::Postgres, roles).unwrap();
    })
    .await;
    standby.client = client(false);
    (standby, role)
}

/// A client calling from CLIENT_IP, following redirects or not.
fn client(follow: bool) -> reqwest::Client {
    let redirects = if follow { reqwest::redirect::Policy::default() } else { reqwest::redirect::Policy::none() };
    reqwest::Client::builder().local_address(CLIENT_IP.parse::<IpAddr>().unwrap()).redirect(redirects).build().unwrap()
}

async fn json_of(response: reqwest::Response) -> Value {
    serde_json::from_str(&response.text().await.unwrap()).unwrap()
}

#[tokio::test]
async fn a_standby_forwards_requests_to_the_active_node_which_sees_the_client_and_the_standbys_request_id() {
    let active = active_node().await;
    let (standby, _role) = standby_of(Some(&active)).await;
    let ada = active.token("acme/ada", &["admin"]);

    let created = standby.post("/v1/accounts", &ada, account_body("111122223333", "provider_split", None)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(
        active.get("/v1/accounts/111122223333", &ada).await.status,
        StatusCode::OK,
        "written on the active node"
    );
    let event = active.last_event("account.create");
    assert_eq!(event["http"]["ip"], CLIENT_IP, "the active node sees the client, not the standby");
    assert!(standby.audit_events().iter().all(|e| e["action"] != "account.create"), "the standby wrote nothing");

    // The query is forwarded as sent (the proof covers it).
    let response =
        standby.client.get(format!("{}/v1/accounts?limit=5", standby.base)).bearer_auth(&ada).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(response.headers()["cache-control"], "no-store");
    assert_eq!(json_of(response).await["accounts"][0]["account_id"], "111122223333");
    let listed = active.last_event("account.list");
    assert_eq!(listed["http"]["request_id"], id.as_str(), "one request id on both nodes");
    assert_eq!(listed["http"]["ip"], CLIENT_IP);

    // Refusals and redirects come back as the active node gave them.
    let refused = standby.get("/v1/accounts", &active.token("acme/sam", STAFF)).await;
    let direct = active.get("/v1/accounts", &active.token("acme/sam", STAFF)).await;
    assert_eq!((refused.status, refused.code()), (direct.status, direct.code()));
    let console = |base: &str| client(false).get(format!("{base}/")).send();
    let (via, direct) = (console(&standby.base).await.unwrap(), console(&active.base).await.unwrap());
    assert!(direct.status().is_redirection(), "{}", direct.status());
    assert_eq!(via.status(), direct.status());
    assert_eq!(via.headers().get("location"), direct.headers().get("location"), "redirects are not followed");
}

#[tokio::test]
async fn a_body_beyond_what_any_route_takes_is_refused_by_the_standby_itself() {
    let active = active_node().await;
    let (standby, _role) = standby_of(Some(&active)).await;
    let ada = active.token("acme/ada", &["admin"]);
    let huge = "x".repeat(rootvault::http::MAX_FORWARD_BODY_BYTES + 1);
    let refused = standby.post("/v1/accounts", &ada, json!({"name": huge})).await;
    assert_eq!((refused.status, refused.code()), (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"));
    assert!(active.audit_events().iter().all(|e| e["action"] != "account.create"));
}

#[tokio::test]
async fn a_claim_to_be_forwarded_without_a_valid_proof_is_refused_and_recorded() {
    let active = active_node().await;
    let ada = active.token("acme/ada", &["admin"]);
    let forged = "v1;ts=1767225600;client=203.0.113.7:443;rid=0b7e6f5c-3f7d-4b1e-9a51-6f2d8c0e4a11;mac=00";
    let response = active
        .client
        .get(format!("{}/v1/accounts", active.base))
        .bearer_auth(&ada)
        .header(FORWARDED_HEADER, forged)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    let id = response.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(json_of(response).await["error"]["code"], "unauthenticated");
    let event = active.last_event("auth.fail");
    assert_eq!(event["details"]["reason"], "invalid forwarding proof");
    assert_eq!(event["http"]["request_id"], id.as_str(), "the refusal's own id, not the claimed one");
    assert_eq!(event["http"]["ip"], "127.0.0.1", "the claimed address is not believed");
    assert!(active.audit_events().iter().all(|e| e["action"] != "account.list"));
}

#[tokio::test]
async fn without_an_active_node_a_standby_answers_503_with_retry_after_and_never_forwards_twice() {
    let (standby, role) = standby_of(None).await;
    let response = standby.client.get(format!("{}/v1/accounts", standby.base)).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "1");
    assert_eq!(json_of(response).await["error"]["code"], "no_active_node");

    // A request some node already forwarded is not sent on again.
    let active = active_node().await;
    role.send_replace(pointing_at(Some(&active)));
    let looped = standby
        .client
        .get(format!("{}/v1/accounts", standby.base))
        .bearer_auth(active.token("acme/ada", &["admin"]))
        .header(FORWARDED_HEADER, "v1;anything")
        .send()
        .await
        .unwrap();
    assert_eq!(looped.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(json_of(looped).await["error"]["code"], "no_active_node");
    assert!(active.audit_events().iter().all(|e| e["action"] != "account.list" && e["action"] != "auth.fail"));

    // Once the node is active, it serves the request itself.
    role.send_replace(Role::Active { term: Some(Term::new(8)) });
    let own = standby.get("/v1/accounts", &standby.token("acme/ada", &["admin"])).await;
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    assert_eq!(standby.last_event("account.list")["http"]["ip"], CLIENT_IP);
}

#[tokio::test]
async fn health_readiness_the_seal_and_ha_status_are_answered_by_each_node_itself() {
    let active = active_node().await;
    let (standby, _role) = standby_of(Some(&active)).await;
    for path in ["/healthz", "/readyz", "/v1/sys/seal-status"] {
        let response = standby.client.get(format!("{}{path}", standby.base)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
    // The standby's own issuer vouches for its admin; the active node's
    // token means nothing there: the answer is the standby's.
    let status = standby.get("/v1/sys/ha-status", &standby.token("acme/ada", &["admin"])).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let body = &status.body;
    assert_eq!((body["ha_enabled"].clone(), body["backend"].clone()), (json!(true), json!("postgres")));
    assert_eq!((body["node"]["node"].clone(), body["node"]["role"].clone()), (json!("rv-standby"), json!("standby")));
    assert_eq!(body["active"], json!({"node": "rv-active", "api_addr": active.base}));
    assert_eq!(body["term"], 7);
    assert_eq!(standby.get("/v1/sys/ha-status", &active.token("acme/ada", &["admin"])).await.status, 401);
}

#[tokio::test]
async fn a_single_node_shows_itself_active_without_a_term_to_provider_admins_only() {
    let app = spawn_app().await;
    let status = app.get("/v1/sys/ha-status", &app.token("acme/ada", &["admin"])).await;
    assert_eq!(status.status, StatusCode::OK, "{}", status.body);
    let body = &status.body;
    assert_eq!(body["ha_enabled"], false);
    assert_eq!(body["backend"], if postgres_backend() { "postgres" } else { "sqlite" });
    assert_eq!(body["node"]["role"], "active");
    assert_eq!(body["active"]["node"], body["node"]["node"]);
    assert_eq!(body["term"], Value::Null);
    let nodes = body["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 1);
    assert_eq!(nodes[0]["role"], "active");
    let seen = nodes[0]["last_seen"].as_str().unwrap();
    assert!(time::OffsetDateTime::parse(seen, &time::format_description::well_known::Rfc3339).is_ok(), "{seen}");

    for (who, roles) in [("acme/sam", STAFF), ("globex/gina", &["admin"][..])] {
        let refused = app.get("/v1/sys/ha-status", &app.token(who, roles)).await;
        assert_eq!((refused.status, refused.code()), (StatusCode::FORBIDDEN, "forbidden"), "{who}");
    }
    assert_eq!(app.send(reqwest::Method::GET, "/v1/sys/ha-status", None, None).await.status, 401);
}

#[tokio::test]
async fn a_node_may_lead_once_unsealed_and_still_on_a_log_found_altered() {
    let (app, shares) = spawn_sealed_app(3, 2).await;
    let may_lead = rootvault::ha::may_lead(&app.app.vault);
    assert!(!may_lead(), "a sealed node does not lead");
    for share in &shares[..2] {
        let unsealed = app.send(reqwest::Method::POST, "/v1/sys/unseal", None, Some(json!({"share": share}))).await;
        assert_eq!(unsealed.status, StatusCode::OK, "{}", unsealed.body);
    }
    assert!(may_lead());
    // The auditors of an altered log still need an active node.
    app.app.vault.store().log().flag("rows were edited (flagged by the test)".into());
    assert!(may_lead());
}
