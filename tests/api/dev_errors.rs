//! What `rootvault dev` says when it cannot start: one line, each cause once.

use std::process::{Command, Stdio};

use crate::cli::{spawn_logged, wait_for_listening};

#[test]
fn dev_on_a_tampered_log_names_each_cause_once() {
    let dir = crate::helpers::DataDir::new();
    let data_dir = dir.path().join("dev");
    let args = ["dev", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"];
    {
        let (_server, stdout, _) = spawn_logged(dir.path(), &args, &[]);
        wait_for_listening(&stdout);
    }
    let db = rusqlite::Connection::open(data_dir.join("rootvault.db")).unwrap();
    db.execute_batch(
        "DROP TRIGGER audit_events_no_update;
         UPDATE audit_events SET event_json = replace(event_json, '\"outcome\":\"ok\"', '\"outcome\":\"denied\"')
          WHERE seq = (SELECT MAX(seq) FROM audit_events WHERE outcome = 'ok');",
    )
    .unwrap();
    drop(db);

    let out = Command::new(env!("CARGO_BIN_EXE_rootvault")).args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let line = stderr.lines().find(|l| l.starts_with("rootvault: ")).unwrap_or_else(|| panic!("{stderr}"));
    let sentence = "the service refuses changes until it is investigated";
    assert_eq!(stderr.matches(sentence).count(), 1, "{stderr}");
    let causes: Vec<&str> = line.trim_start_matches("rootvault: ").split(": ").collect();
    let distinct: std::collections::BTreeSet<&str> = causes.iter().copied().collect();
    assert_eq!(causes.len(), distinct.len(), "a cause is repeated: {line}");
}
