//! Backup under load, a hard kill, and a restore that keeps every
//! acknowledged event and a verifiable log.

use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;

use crate::cli::{spawn_logged, wait_for_listening};

const BIN: &str = env!("CARGO_BIN_EXE_rootvault");

/// The banner's token for `NAME` (waits for the banner, at most 30 s).
fn banner_token(stdout: &std::path::Path, name: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let text = std::fs::read_to_string(stdout).unwrap_or_default();
        if let Some(token) = text.lines().find_map(|l| l.trim().strip_prefix(&format!("export {name}="))) {
            return token.to_owned();
        }
        assert!(Instant::now() < deadline, "no token for {name}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn cli(args: &[&str], token: &str) -> std::process::Output {
    Command::new(BIN).args(args).env("ROOTVAULT_TOKEN", token).output().unwrap()
}

#[tokio::test]
async fn a_backup_taken_under_load_restores_every_acknowledged_event_after_a_crash() {
    let dir = crate::helpers::DataDir::new();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let (server, stdout, _) =
        spawn_logged(dir.path(), &["dev", "--data-dir", &data_arg, "--listen", "127.0.0.1:0"], &[]);
    let base = wait_for_listening(&stdout);
    let (ada, audrey) = (banner_token(&stdout, "ADA"), banner_token(&stdout, "AUDREY"));
    let client = reqwest::Client::new();

    let pinned: Value = client
        .get(format!("{base}/v1/audit/checkpoint"))
        .bearer_auth(&audrey)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let vkey = pinned["public_key"].as_str().unwrap().to_owned();
    let trusted = dir.path().join("trusted.txt");
    std::fs::write(&trusted, pinned["checkpoint"].as_str().unwrap()).unwrap();

    // Load: 8 clients reading an account (each read is an audited event), bounded in count and time.
    let acknowledged: Arc<Mutex<Vec<(String, Instant)>>> = Arc::default();
    let stop_at = Instant::now() + Duration::from_secs(4);
    let mut load = Vec::new();
    for _ in 0..8 {
        let (client, url, token, acknowledged) =
            (client.clone(), format!("{base}/v1/accounts/100000000002"), ada.clone(), Arc::clone(&acknowledged));
        load.push(tokio::spawn(async move {
            for _ in 0..400 {
                if Instant::now() > stop_at {
                    break;
                }
                let Ok(r) = client.get(&url).bearer_auth(&token).send().await else { break };
                if r.status() == StatusCode::OK {
                    let id = r.headers()["x-request-id"].to_str().unwrap().to_owned();
                    acknowledged.lock().unwrap().push((id, Instant::now()));
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_millis(700)).await;
    let cut = Instant::now();
    let file = dir.path().join("backup.db");
    let (base_arg, file_arg) = (base.clone(), file.to_str().unwrap().to_owned());
    let (ada_for_backup, file_for_backup) = (ada.clone(), file_arg.clone());
    let taken = tokio::task::spawn_blocking(move || {
        cli(&["backup", "--addr", &base_arg, "--to", &file_for_backup], &ada_for_backup)
    })
    .await
    .unwrap();
    assert!(taken.status.success(), "{}", String::from_utf8_lossy(&taken.stderr));
    for l in load {
        l.await.unwrap();
    }
    let before: Vec<String> =
        acknowledged.lock().unwrap().iter().filter(|(_, at)| *at < cut).map(|(id, _)| id.clone()).collect();
    assert!(before.len() > 5, "the load ran before the backup: {}", before.len());
    drop(server); // kill -9: no shutdown, no flush beyond what was committed

    // A tampered copy and a rollback past a newer pin are refused.
    let tampered = dir.path().join("tampered.db");
    let mut bytes = std::fs::read(&file).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    std::fs::write(&tampered, &bytes).unwrap();
    std::fs::copy(format!("{file_arg}.manifest"), format!("{}.manifest", tampered.display())).unwrap();
    let refused =
        cli(&["restore", "--from", tampered.to_str().unwrap(), "--data-dir", &data_arg, "--public-key", &vkey], "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("does not match its manifest"));

    let restored = cli(
        &[
            "restore",
            "--from",
            &file_arg,
            "--data-dir",
            &data_arg,
            "--public-key",
            &vkey,
            "--trusted-checkpoint",
            trusted.to_str().unwrap(),
        ],
        "",
    );
    assert!(restored.status.success(), "{}", String::from_utf8_lossy(&restored.stderr));

    let db = rusqlite::Connection::open(data.join("rootvault.db")).unwrap();
    let ids: std::collections::HashSet<String> = db
        .prepare("SELECT json_extract(event_json, '$.http.request_id') FROM audit_events WHERE json_extract(event_json, '$.http.request_id') IS NOT NULL")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    let missing: Vec<&String> = before.iter().filter(|id| !ids.contains(*id)).collect();
    assert!(missing.is_empty(), "{} acknowledged events are missing after restore", missing.len());
    drop(db);

    // The witness remembers the log as it was before the restore (a
    // rollback is what it exists to catch): as documented, the restored
    // service gets a fresh witness and the old one is kept as evidence.
    let witness = rootvault::config::dev_witness_file(&data);
    let witness_dir = witness.parent().unwrap();
    std::fs::rename(witness_dir, dir.path().join("witness-before-restore")).unwrap();

    // The restored service starts with an intact log that verifies against the pin.
    let (_server, stdout, _) = {
        let again = dir.path().join("again");
        std::fs::create_dir_all(&again).unwrap();
        spawn_logged(&again, &["dev", "--data-dir", &data_arg, "--listen", "127.0.0.1:0"], &[])
    };
    let base = wait_for_listening(&stdout);
    let ready: Value = client.get(format!("{base}/readyz")).send().await.unwrap().json().await.unwrap();
    assert_eq!(ready["audit_log"], "intact", "{ready}");
    let audrey = banner_token(&stdout, "AUDREY");
    let size = pinned["size"].as_u64().unwrap();
    let bundle: rootvault::audit::bundle::Bundle = client
        .get(format!("{base}/v1/audit/export?trusted_size={size}"))
        .bearer_auth(&audrey)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let verified =
        rootvault::audit::bundle::verify(&bundle, Some(&vkey), Some(pinned["checkpoint"].as_str().unwrap())).unwrap();
    assert!(verified.events > before.len());
    assert!(bundle.entries.iter().any(|e| e.leaf.contains("\"action\":\"sys.restore\"")));
}

#[tokio::test]
async fn a_restore_that_would_roll_back_past_a_pinned_checkpoint_needs_force() {
    let dir = crate::helpers::DataDir::new();
    let data = dir.path().join("data");
    let data_arg = data.to_str().unwrap().to_owned();
    let (server, stdout, _) =
        spawn_logged(dir.path(), &["dev", "--data-dir", &data_arg, "--listen", "127.0.0.1:0"], &[]);
    let base = wait_for_listening(&stdout);
    let (ada, audrey) = (banner_token(&stdout, "ADA"), banner_token(&stdout, "AUDREY"));
    let file = dir.path().join("early.db");
    let file_arg = file.to_str().unwrap().to_owned();
    let (b, f, t) = (base.clone(), file_arg.clone(), ada.clone());
    assert!(
        tokio::task::spawn_blocking(move || cli(&["backup", "--addr", &b, "--to", &f], &t))
            .await
            .unwrap()
            .status
            .success()
    );
    let client = reqwest::Client::new();
    for _ in 0..5 {
        client.get(format!("{base}/v1/accounts")).bearer_auth(&ada).send().await.unwrap();
    }
    let later: Value = client
        .get(format!("{base}/v1/audit/checkpoint"))
        .bearer_auth(&audrey)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let pin = dir.path().join("later.txt");
    std::fs::write(&pin, later["checkpoint"].as_str().unwrap()).unwrap();
    let vkey = later["public_key"].as_str().unwrap().to_owned();
    drop(server);

    let args = [
        "restore",
        "--from",
        &file_arg,
        "--data-dir",
        &data_arg,
        "--public-key",
        &vkey,
        "--trusted-checkpoint",
        pin.to_str().unwrap(),
    ];
    let refused = cli(&args, "");
    assert_eq!(refused.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&refused.stderr).contains("roll the log back"));
    let mut forced_args = args.to_vec();
    forced_args.push("--danger-force-rollback");
    let forced = cli(&forced_args, "");
    assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
    let db = rusqlite::Connection::open(data.join("rootvault.db")).unwrap();
    let event: String =
        db.query_row("SELECT event_json FROM audit_events WHERE action = 'sys.restore'", [], |r| r.get(0)).unwrap();
    assert!(event.contains("\"forced\":true"), "{event}");
    let kept = std::fs::read_dir(&data)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().contains("before-restore"))
        .count();
    assert!(kept >= 1, "the replaced database is kept");
}
