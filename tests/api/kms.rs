//! The `aws-kms` key provider against the local KMS emulator.

use reqwest::StatusCode;
use serde_json::json;

use crate::encryption_context::{assert_moves_fail, two_accounts};
use crate::helpers::{PASSWORD, STAFF, create_kms_key, kms_client, spawn_kms_app, spawn_kms_app_with};

#[tokio::test]
async fn halves_are_wrapped_by_their_own_kms_key() {
    let app = spawn_kms_app().await;
    app.provider_split_account("123456789012").await;
    assert_eq!(app.deposit_password("123456789012", "acme/alice", PASSWORD).await.status, StatusCode::OK);
    assert_eq!(app.deposit_seed("123456789012", "acme/bob", crate::helpers::SEED).await.status, StatusCode::OK);
    let ada = app.token("acme/ada", &["admin"]);
    let halves = app.get("/v1/accounts/123456789012/halves", &ada).await;
    let password_key = halves.body["halves"][0]["versions"][0]["key_id"].as_str().unwrap().to_owned();
    let mfa_key = halves.body["halves"][1]["versions"][0]["key_id"].as_str().unwrap().to_owned();
    assert!(password_key.starts_with("arn:aws:kms:"), "{password_key}");
    assert_ne!(password_key, mfa_key);
    let stored =
        app.app.vault.decrypt_current(&"123456789012".parse().unwrap(), rootvault::domain::ids::Half::Password).await;
    assert_eq!(&*stored.unwrap().unwrap().1, PASSWORD.as_bytes());
}

#[tokio::test]
async fn a_ciphertext_copied_into_another_row_fails_to_decrypt_with_kms() {
    let app = spawn_kms_app().await;
    two_accounts(&app).await;
    assert_moves_fail(&app).await;
}

#[tokio::test]
async fn an_account_can_name_its_own_key_for_the_mfa_half() {
    let app = spawn_kms_app().await;
    let customer_key = create_kms_key(&kms_client().await, "globex-held key for its MFA half").await;
    let ada = app.token("acme/ada", &["admin"]);
    let mut body = crate::helpers::account_body("123456789012", "shared_payer", Some("globex"));
    body["kms_keys"] = json!({"mfa": customer_key});
    let created = app.post("/v1/accounts", &ada, body).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.body);
    assert_eq!(created.body["kms_keys"], json!({"mfa": customer_key}));
    app.assign("123456789012", "mfa", "globex/gina", &["globex/gus"]).await;
    assert_eq!(app.deposit_seed("123456789012", "globex/gus", crate::helpers::SEED).await.status, StatusCode::OK);
    let halves = app.get("/v1/accounts/123456789012/halves", &ada).await;
    assert_eq!(halves.body["halves"][1]["versions"][0]["key_id"], customer_key.as_str());
}

#[tokio::test]
async fn a_kms_failure_is_a_503_and_stores_nothing() {
    let app = spawn_kms_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    let mut body = crate::helpers::account_body("123456789012", "provider_split", None);
    body["kms_keys"] =
        json!({"password": "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"});
    assert_eq!(app.post("/v1/accounts", &ada, body).await.status, StatusCode::CREATED);
    app.assign("123456789012", "password", "acme/ada", &["acme/alice"]).await;
    let reply = app.deposit_password("123456789012", "acme/alice", PASSWORD).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert_eq!(reply.body["error"]["message"], "a dependency is unavailable");
    let versions: i64 = app.db().query_row("SELECT COUNT(*) FROM half_versions", [], |r| r.get(0)).unwrap();
    assert_eq!(versions, 0);
    assert_eq!(app.last_event("half.deposit")["outcome"], "error");
}

#[tokio::test]
async fn the_keys_of_the_cloudformation_stack_protect_a_break_glass_flow() {
    let key = |name: &str| {
        std::env::var(name).unwrap_or_else(|_| {
            panic!("{name} is not set: scripts/test deploys deploy/cloudformation into the emulator first")
        })
    };
    let (password_key, mfa_key) = (key("ROOTVAULT_TEST_CFN_PASSWORD_KEY"), key("ROOTVAULT_TEST_CFN_MFA_KEY"));
    let app = spawn_kms_app_with(password_key.clone(), mfa_key.clone()).await;
    app.stocked_account("123456789012").await;
    let halves = app.get("/v1/accounts/123456789012/halves", &app.token("acme/ada", &["admin"])).await;
    assert_eq!(halves.body["halves"][0]["versions"][0]["key_id"], password_key.as_str());
    assert_eq!(halves.body["halves"][1]["versions"][0]["key_id"], mfa_key.as_str());
    let id = app.approved_request("123456789012").await;
    assert_eq!(app.step(&id, "password", "acme/alice", STAFF).await.body["password"], PASSWORD);
    assert_eq!(app.step(&id, "mfa-code", "acme/bob", STAFF).await.status, StatusCode::OK);
}

#[tokio::test]
async fn halves_in_secrets_manager_are_versioned_tagged_and_encrypted_by_their_half_key() {
    let app = crate::helpers::spawn_secrets_manager_app().await;
    app.stocked_account("123456789012").await;
    assert_eq!(app.deposit_password("123456789012", "acme/alice", "Second-Passw0rd!").await.status, StatusCode::OK);
    let rootvault::config::StorageConfig::SecretsManager(settings) = &app.config.storage else {
        panic!("not the secrets manager backend")
    };
    let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .endpoint_url(crate::helpers::kms_endpoint())
        .load()
        .await;
    let sm = aws_sdk_secretsmanager::Client::new(&config);
    let name = format!("{}/123456789012/password", settings.prefix);
    let described = sm.describe_secret().secret_id(&name).send().await.unwrap();
    assert_eq!(described.kms_key_id(), Some(app.password_key_id().as_str()));
    let tags: Vec<(String, String)> = described
        .tags()
        .iter()
        .map(|t| (t.key().unwrap_or("").to_owned(), t.value().unwrap_or("").to_owned()))
        .collect();
    assert!(tags.contains(&("rootvault:account_id".into(), "123456789012".into())));
    assert!(tags.contains(&("rootvault:half".into(), "password".into())));
    let stages: Vec<Vec<String>> = described.version_ids_to_stages().unwrap().values().cloned().collect();
    assert!(stages.iter().any(|s| s.contains(&"AWSCURRENT".to_owned())));
    assert!(stages.iter().any(|s| s.contains(&"AWSPREVIOUS".to_owned())));
    // SQLite keeps no ciphertext, only the version id; the plaintext is in neither place.
    let (ciphertext_len, version_id): (i64, Option<String>) = app
        .db()
        .query_row(
            "SELECT length(ciphertext), sm_version_id FROM half_versions WHERE half = 'password' AND version = 2",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .unwrap();
    assert_eq!(ciphertext_len, 0);
    let stored = sm.get_secret_value().secret_id(&name).version_id(version_id.unwrap()).send().await.unwrap();
    let blob = stored.secret_binary().unwrap().as_ref().to_vec();
    assert!(!String::from_utf8_lossy(&blob).contains("Second-Passw0rd!"));
    let current =
        app.app.vault.decrypt_current(&"123456789012".parse().unwrap(), rootvault::domain::ids::Half::Password).await;
    assert_eq!(&*current.unwrap().unwrap().1, b"Second-Passw0rd!");
}
