//! Invariant 9: no secret in logs, error bodies or audit events. Runs the
//! real binary (`rootvault dev`) with verbose logging, feeds it secrets along
//! good and bad paths, and searches everything it wrote.

use rootvault::auth::dev::DevIssuer;
use rootvault::domain::ids::Role;
use serde_json::{Value, json};

use crate::cli::{spawn_logged, wait_for_listening};
const SECRET_PASSWORD: &str = "Zebra-Secret-Password-77";
const SECRET_SEED: &str = "KRSXG5CTMVRXEZLUKN2XAZLSKNSWG4TF";
const SECRET_NEAR_MISS: &str = "zebrasecretlowercase77!";

#[tokio::test]
async fn secrets_never_reach_logs_error_bodies_or_the_audit_log() {
    let dir = crate::helpers::DataDir::new();
    let data_dir = dir.path().join("dev");
    let args = ["dev", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    let (server, stdout_path, stderr_path) = spawn_logged(dir.path(), &args, &[("RUST_LOG", "trace")]);
    let base = wait_for_listening(&stdout_path);
    let token = |sub: &str| {
        DevIssuer::load(&data_dir, &"acme".parse().unwrap())
            .unwrap()
            .mint("rootvault", &sub.parse().unwrap(), &[Role::Staff], 300)
            .unwrap()
    };
    let (alice, bob) = (token("alice"), token("bob"));

    let client = reqwest::Client::new();
    let mut bodies: Vec<Value> = Vec::new();
    let account = format!("{base}/v1/accounts/100000000002");
    let requests = [
        (&alice, "halves/password", json!({"password": SECRET_PASSWORD})),
        (&alice, "halves/password", json!({"password": SECRET_PASSWORD})),
        (&alice, "halves/password", json!({"password": SECRET_NEAR_MISS})),
        (&alice, "halves/password", json!({"generate": SECRET_PASSWORD})),
        (&alice, "halves/password", json!({"passwd": SECRET_PASSWORD})),
        (&alice, "halves/mfa", json!({"secret_base32": SECRET_SEED})),
        (&bob, "halves/mfa", json!({"secret_base32": SECRET_SEED, "digits": 4})),
        (&bob, "halves/mfa", json!({"otpauth_uri": format!("otpauth://totp/x?secret={SECRET_SEED}&algorithm=MD5")})),
        (&bob, "halves/mfa", json!({"secret_base32": SECRET_SEED})),
    ];
    for (token, path, body) in requests {
        let response = client.put(format!("{account}/{path}")).bearer_auth(token).json(&body).send().await.unwrap();
        bodies.push(response.json().await.unwrap());
    }
    assert_eq!(bodies[0]["version"], 2, "the first deposit succeeded: {}", bodies[0]);
    assert_eq!(bodies[1]["error"]["code"], "password_policy", "reuse refused");
    assert_eq!(bodies[8]["version"], 2, "the seed deposit succeeded: {}", bodies[8]);

    // Break-glass: the secret leaves once, in the release response only.
    let mint = |sub: &str, role: Role| {
        DevIssuer::load(&data_dir, &"acme".parse().unwrap())
            .unwrap()
            .mint("rootvault", &sub.parse().unwrap(), &[role], 300)
            .unwrap()
    };
    let ask = json!({"account_id": "100000000002", "reason": "secrets test", "password_to": "acme/alice", "mfa_to": "acme/bob"});
    let created: Value = client
        .post(format!("{base}/v1/requests"))
        .bearer_auth(token("sam"))
        .json(&ask)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap();
    for approver in ["carol", "dave"] {
        let url = format!("{base}/v1/requests/{id}/approve");
        client.post(url).bearer_auth(mint(approver, Role::Approver)).json(&json!({})).send().await.unwrap();
    }
    let released: Value = client
        .post(format!("{base}/v1/requests/{id}/password"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(released["password"], SECRET_PASSWORD, "released: {released}");
    let refused: Value = client
        .post(format!("{base}/v1/requests/{id}/password"))
        .bearer_auth(&alice)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    bodies.push(refused);
    drop(server);

    let logs = std::fs::read_to_string(&stderr_path).unwrap();
    assert!(logs.contains("request"), "the log captured the requests");
    let db = rusqlite::Connection::open(data_dir.join("rootvault.db")).unwrap();
    let audit: String =
        db.query_row("SELECT group_concat(event_json, '\n') FROM audit_events", [], |r| r.get(0)).unwrap();
    assert!(audit.contains("half.deposit"));
    let bodies = serde_json::to_string(&bodies).unwrap();
    let banner = std::fs::read_to_string(&stdout_path).unwrap();
    assert!(banner.contains("export ALICE="), "the banner printed the demo tokens");
    for secret in [SECRET_PASSWORD, SECRET_SEED, SECRET_NEAR_MISS, &SECRET_SEED.to_lowercase()] {
        for (place, text) in [("logs", &logs), ("audit log", &audit), ("response bodies", &bodies), ("stdout", &banner)]
        {
            assert!(!text.contains(secret), "a secret appeared in the {place}");
        }
    }
    for token in [&alice, &bob] {
        let signature = token.rsplit('.').next().unwrap();
        assert!(!logs.contains(signature) && !audit.contains(signature), "a token appeared in the logs or audit log");
    }
}
