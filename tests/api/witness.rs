//! Checkpoint witnesses and the stricter integrity check at start: a log
//! cut after its last checkpoint, deleted or edited checkpoints, and forged
//! rows without a MAC are all caught on restart.

use reqwest::StatusCode;
use rootvault::audit::checkpoint::VerifierKey;
use rootvault::audit::witness::{OnUnavailable, S3WitnessSettings, Witness, WitnessConfig, newest_verified};

use crate::helpers::{DataDir, STAFF, TestApp, db_at, restart_tampered, spawn_app_at, spawn_app_witnessed};

/// Release a password (which anchors a checkpoint); returns the service's
/// verifier key and the log size right after the release.
async fn release(app: &TestApp) -> (String, u64) {
    app.stocked_account("111111111111").await;
    let id = app.approved_request("111111111111").await;
    let released = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!(released.status, StatusCode::OK, "{}", released.body);
    let vkey = app.app.vault.store().log().keys().unwrap().signer().vkey();
    (vkey, app.app.vault.store().log().tree().size())
}

/// A service that released a password, then stopped.
async fn released_then_stopped() -> (DataDir, String, u64) {
    let dir = DataDir::new();
    let (vkey, size) = {
        let app = spawn_app_at(dir.path()).await;
        release(&app).await
    };
    (dir, vkey, size)
}

#[tokio::test]
async fn a_release_anchors_a_checkpoint_in_the_witness_file() {
    let (dir, vkey, size) = released_then_stopped().await;
    let text = std::fs::read_to_string(dir.witness_file()).unwrap();
    let key = VerifierKey::parse(&vkey).unwrap();
    let newest = newest_verified(&rootvault::audit::witness::parse_file(&text), &key).unwrap();
    assert_eq!(newest.size, size, "the release itself is covered");
    let db = db_at(dir.path());
    let released: i64 =
        db.query_row("SELECT MAX(seq) FROM audit_events WHERE action = 'half.release'", [], |r| r.get(0)).unwrap();
    assert!((released as u64) < newest.size);
    // An intact log restarts as intact.
    drop(db);
    let app = spawn_app_at(dir.path()).await;
    let ready = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["audit_log"], "intact", "{}", ready.body);
}

#[tokio::test]
async fn a_log_cut_after_its_last_stored_checkpoint_is_caught_by_the_witness() {
    let (dir, _, size) = released_then_stopped().await;
    // Remove the release and everything after it, and every checkpoint that
    // covered them: what is left is a consistent, shorter log.
    let app = restart_tampered(
        dir.path(),
        "DELETE FROM checkpoints WHERE size > (SELECT MIN(seq) FROM audit_events WHERE action = 'half.release');
         DELETE FROM audit_events WHERE seq >= (SELECT MIN(seq) FROM audit_events WHERE action = 'half.release');",
    )
    .await;
    let problem = app.last_event("audit.tamper_detected")["details"]["problem"].as_str().unwrap().to_owned();
    assert!(problem.contains(&format!("checkpoint of size {size}")), "{problem}");
}

#[tokio::test]
async fn deleting_every_stored_checkpoint_is_caught() {
    let (dir, _, _) = released_then_stopped().await;
    restart_tampered(dir.path(), "DELETE FROM checkpoints;").await;
}

#[tokio::test]
async fn an_edited_checkpoint_note_is_caught() {
    let (dir, _, _) = released_then_stopped().await;
    restart_tampered(dir.path(), "UPDATE checkpoints SET note = replace(note, 'rootvault/acme', 'rootvault/acmf');")
        .await;
}

#[tokio::test]
async fn a_forged_approval_without_a_mac_is_caught_even_when_it_claims_the_vault_was_sealed() {
    let (dir, _, _) = released_then_stopped().await;
    restart_tampered(
        dir.path(),
        r#"INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json, mac)
           SELECT MAX(seq) + 1, '2026-01-01T00:00:00.000Z', 'acme/mallory', 'request.approve', '111111111111', 'ok',
                  '{"action":"request.approve","actor":"acme/mallory","details":{"code":"sealed"},"outcome":"ok"}', NULL
             FROM audit_events;"#,
    )
    .await;
}

#[tokio::test]
async fn a_sealed_time_row_added_after_the_key_existed_is_caught() {
    let (dir, _, _) = released_then_stopped().await;
    restart_tampered(
        dir.path(),
        r#"INSERT INTO audit_events (seq, time, actor, action, account_id, outcome, event_json, mac)
           SELECT MAX(seq) + 1, '2026-01-01T00:00:00.000Z', NULL, 'auth.fail', NULL, 'denied',
                  '{"action":"auth.fail","details":{"code":"unauthenticated"},"outcome":"denied"}', NULL
             FROM audit_events;"#,
    )
    .await;
}

/// Export a bundle of the provider auditor's events to `path`.
async fn export_to(app: &TestApp, path: &std::path::Path) {
    let reply = app.get("/v1/audit/export", &app.token("acme/audrey", &["auditor"])).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    std::fs::write(path, reply.body.to_string()).unwrap();
}

fn verify_with_witness(bundle: &std::path::Path, vkey: &str, witness: &std::path::Path) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_rootvault"))
        .args(["audit", "verify", bundle.to_str().unwrap(), "--public-key", vkey])
        .args(["--witness", witness.to_str().unwrap()])
        .output()
        .unwrap()
}

#[tokio::test]
async fn audit_verify_refuses_a_bundle_older_than_the_witnessed_checkpoint() {
    let dir = DataDir::new();
    let app = spawn_app_at(dir.path()).await;
    let (old, fresh) = (dir.path().join("old.json"), dir.path().join("fresh.json"));
    export_to(&app, &old).await;
    let (vkey, size) = release(&app).await;

    let refused = verify_with_witness(&old, &vkey, &dir.witness_file());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains(&format!("checkpoint of size {size}")) && stderr.contains("cut short"), "{stderr}");

    export_to(&app, &fresh).await;
    let accepted = verify_with_witness(&fresh, &vkey, &dir.witness_file());
    let stdout = String::from_utf8_lossy(&accepted.stdout);
    assert!(accepted.status.success(), "{stdout}{}", String::from_utf8_lossy(&accepted.stderr));
    assert!(stdout.contains(&format!("witnessed in {}", dir.witness_file().display())), "{stdout}");
}

#[tokio::test]
async fn an_unreadable_witness_stops_the_start_in_refuse_mode_and_only_warns_in_warn_mode() {
    let dir = DataDir::new();
    let blocker = dir.path().with_extension("blocker");
    std::fs::write(&blocker, "").unwrap();
    let unreadable = blocker.join("checkpoints");
    let config = |on_unavailable| WitnessConfig { file: Some(unreadable.clone()), s3: None, on_unavailable };
    let mut refuse = rootvault::config::Config::dev(dir.path().to_path_buf(), "127.0.0.1:0".parse().unwrap());
    refuse.witness = config(OnUnavailable::Refuse);
    let Err(refused) = rootvault::dev::open_configured(refuse).await else { panic!("the start must be refused") };
    assert!(refused.to_string().contains("unavailable"), "{refused}");

    let app = spawn_app_witnessed(dir.path(), config(OnUnavailable::Warn)).await;
    release(&app).await;
    std::fs::remove_file(&blocker).unwrap();
}

#[tokio::test]
async fn a_release_whose_checkpoint_cannot_be_witnessed_is_recorded_but_not_sent_in_refuse_mode() {
    let dir = DataDir::new();
    let witness = dir.path().with_extension("witness").join("checkpoints");
    let config = WitnessConfig { file: Some(witness.clone()), s3: None, on_unavailable: OnUnavailable::Refuse };
    let app = spawn_app_witnessed(dir.path(), config).await;
    app.stocked_account("111111111111").await;
    let id = app.approved_request("111111111111").await;
    // The witness file turns into something nothing can append to.
    std::fs::remove_file(&witness).unwrap();
    std::fs::create_dir(&witness).unwrap();
    let released = app.step(&id, "password", "acme/alice", STAFF).await;
    assert_eq!((released.status, released.code()), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
    assert!(released.body.get("password").is_none(), "{}", released.body);
    assert_eq!(app.last_event("half.release")["outcome"], "ok", "the release itself was recorded");
    let metrics = crate::metrics::scrape(&app).await;
    assert!(crate::metrics::sample(&metrics, "rootvault_witness_failures_total").is_some_and(|n| n >= 1.0));
    let released = r#"rootvault_releases_total{half="password",outcome="ok"}"#;
    assert_eq!(crate::metrics::sample(&metrics, released), Some(1.0), "{metrics}");
    std::fs::remove_dir_all(witness.parent().unwrap()).unwrap();
}

/// The emulator's endpoint when the suite runs with one (`scripts/test`).
fn s3_endpoint() -> Option<String> {
    std::env::var("ROOTVAULT_TEST_KMS_ENDPOINT").ok()
}

#[tokio::test]
async fn a_release_anchors_a_checkpoint_in_an_object_locked_s3_bucket() {
    let Some(endpoint) = s3_endpoint() else {
        eprintln!("skipped: ROOTVAULT_TEST_KMS_ENDPOINT is not set");
        return;
    };
    let bucket = format!("witness-{}", uuid::Uuid::new_v4().simple());
    let settings = S3WitnessSettings {
        bucket: bucket.clone(),
        prefix: "rootvault/checkpoints".into(),
        retention_days: 1,
        region: "us-east-1".into(),
        endpoint_url: Some(endpoint),
    };
    let Witness::S3 { client, .. } = Witness::s3(settings.clone()).await else { unreachable!() };
    client.create_bucket().bucket(&bucket).object_lock_enabled_for_bucket(true).send().await.unwrap();

    let dir = DataDir::new();
    let config = WitnessConfig { file: None, s3: Some(settings.clone()), on_unavailable: OnUnavailable::Refuse };
    let (vkey, size) = {
        let app = spawn_app_witnessed(dir.path(), config.clone()).await;
        release(&app).await
    };
    let key = VerifierKey::parse(&vkey).unwrap();
    let witness = Witness::s3(settings).await;
    let newest = newest_verified(&witness.newest_candidates().await.unwrap(), &key).unwrap();
    assert_eq!(newest.size, size);
    let object = client
        .head_object()
        .bucket(&bucket)
        .key(rootvault::audit::witness::s3_key("rootvault/checkpoints", size))
        .send()
        .await
        .unwrap();
    assert_eq!(object.object_lock_mode(), Some(&aws_sdk_s3::types::ObjectLockMode::Compliance));
    assert!(object.object_lock_retain_until_date().is_some());

    // Cut the log: the bucket still remembers its size.
    let db = db_at(dir.path());
    db.disable_append_only();
    db.execute_batch(
        "DELETE FROM checkpoints WHERE size > (SELECT MIN(seq) FROM audit_events WHERE action = 'half.release');
         DELETE FROM audit_events WHERE seq >= (SELECT MIN(seq) FROM audit_events WHERE action = 'half.release');",
    )
    .unwrap();
    drop(db);
    let app = spawn_app_witnessed(dir.path(), config).await;
    let ready = app.send(reqwest::Method::GET, "/readyz", None, None).await;
    assert_eq!(ready.body["audit_log"], "tampered", "{}", ready.body);
}
