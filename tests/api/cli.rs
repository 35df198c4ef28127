//! The binary as an operator uses it: init, serve sealed, unseal, tokens.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use rootvault::auth::dev::DevIssuer;
use rootvault::domain::ids::Role;

const BIN: &str = env!("CARGO_BIN_EXE_rootvault");

pub fn run(args: &[&str]) -> Output {
    Command::new(BIN).args(args).stdin(Stdio::null()).output().unwrap()
}

/// A child process killed when the test ends, pass or fail.
pub struct Server(pub Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Start the binary with stdout and stderr going to files in `dir`.
pub fn spawn_logged(dir: &Path, args: &[&str], envs: &[(&str, &str)]) -> (Server, PathBuf, PathBuf) {
    let (out, err) = (dir.join("stdout.log"), dir.join("stderr.log"));
    let child = Command::new(BIN)
        .args(args)
        .envs(envs.iter().copied())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out).unwrap())
        .stderr(std::fs::File::create(&err).unwrap())
        .spawn()
        .unwrap();
    (Server(child), out, err)
}

/// Poll `stdout` until it holds `listening on http://…` (at most 60 s) and
/// return the base URL.
pub fn wait_for_listening(stdout: &Path) -> String {
    wait_for_printed(stdout, "listening on ")
}

/// Poll `stdout` until a line begins with `prefix` (at most 60 s) and
/// return the rest of that line.
pub fn wait_for_printed(stdout: &Path, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let text = std::fs::read_to_string(stdout).unwrap_or_default();
        if let Some(rest) = text.lines().find_map(|l| l.strip_prefix(prefix)) {
            return rest.trim().to_owned();
        }
        assert!(Instant::now() < deadline, "the server did not print {prefix:?} within 60 s; it printed {text:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

pub fn write_config(dir: &Path, data_dir: &Path) -> std::path::PathBuf {
    let mut orgs = String::new();
    for org in ["acme", "globex"] {
        let issuer = DevIssuer::load_or_create(&dir.join("idp"), &org.parse().unwrap()).unwrap();
        let jwks = dir.join(format!("{org}.jwks.json"));
        std::fs::write(&jwks, issuer.jwks().to_string()).unwrap();
        orgs.push_str(&format!(
            "[[orgs]]\nname = \"{org}\"\nissuer = \"{}\"\njwks_file = \"{}\"\n\n",
            DevIssuer::issuer_for(&org.parse().unwrap()),
            jwks.display()
        ));
    }
    let path = dir.join("rootvault.toml");
    std::fs::write(
        &path,
        format!(
            "listen = \"127.0.0.1:0\"\ndata_dir = \"{}\"\nprovider_org = \"acme\"\n\n{orgs}[keys]\nprovider = \"local\"\n",
            data_dir.display()
        ),
    )
    .unwrap();
    path
}

#[tokio::test]
async fn an_operator_inits_serves_sealed_and_unseals_with_two_of_three_shares() {
    let dir = crate::helpers::DataDir::new();
    let data_dir = dir.path().join("data");
    let config = write_config(dir.path(), &data_dir);
    let config = config.to_str().unwrap();

    let check = run(&["serve", "--config", config, "--check-config"]);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));

    let init = run(&["init", "--config", config, "--shares", "3", "--threshold", "2"]);
    assert!(init.status.success(), "{}", String::from_utf8_lossy(&init.stderr));
    let stdout = String::from_utf8(init.stdout).unwrap();
    let shares: Vec<String> = stdout
        .lines()
        .filter_map(|l| l.split_once(": ").filter(|(k, _)| k.starts_with("share ")).map(|(_, v)| v.to_owned()))
        .collect();
    assert_eq!(shares.len(), 3, "{stdout}");
    let again = run(&["init", "--config", config, "--shares", "3", "--threshold", "2"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already initialised"));

    let (_server, stdout, _) = spawn_logged(dir.path(), &["serve", "--config", config], &[]);
    let base = wait_for_listening(&stdout);
    let client = reqwest::Client::new();
    let status: serde_json::Value =
        client.get(format!("{base}/v1/sys/seal-status")).send().await.unwrap().json().await.unwrap();
    assert_eq!(status, serde_json::json!({"sealed": true, "threshold": 2, "progress": 0}));

    let share_file = dir.path().join("share-1");
    std::fs::write(&share_file, &shares[2]).unwrap();
    let first = run(&["unseal", "--addr", &base, "--share-file", share_file.to_str().unwrap()]);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    assert_eq!(String::from_utf8_lossy(&first.stdout).trim(), "sealed: 1 of 2 shares submitted");

    let mut second = Command::new(BIN)
        .args(["unseal", "--addr", &base])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    second.stdin.take().unwrap().write_all(shares[0].as_bytes()).unwrap();
    let second = second.wait_with_output().unwrap();
    assert!(second.status.success());
    assert_eq!(String::from_utf8_lossy(&second.stdout).trim(), "unsealed");

    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let token = DevIssuer::load(&dir.path().join("idp"), &"acme".parse().unwrap())
        .unwrap()
        .mint("rootvault", &"ada".parse().unwrap(), &[Role::Admin], 60)
        .unwrap();
    let accounts = client.get(format!("{base}/v1/accounts")).bearer_auth(token).send().await.unwrap();
    assert_eq!(accounts.status(), StatusCode::OK);
}

#[test]
fn a_bad_configuration_is_refused_naming_the_key() {
    let dir = crate::helpers::DataDir::new();
    let good = std::fs::read_to_string(write_config(dir.path(), &dir.path().join("data"))).unwrap();
    for (mistake, key) in [
        (good.replace("provider = \"local\"", "provider = \"vault\""), "`keys.provider`"),
        (format!("{good}\n[break_glass]\napprovals_required = 1\n"), "`break_glass.approvals_required`"),
    ] {
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, mistake).unwrap();
        for args in [
            vec!["serve", "--config", path.to_str().unwrap(), "--check-config"],
            vec!["serve", "--config", path.to_str().unwrap()],
        ] {
            let out = run(&args);
            assert_eq!(out.status.code(), Some(1), "the server refuses to start");
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(stderr.contains(key), "{stderr}");
            assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
        }
    }
}

#[test]
fn tokens_are_minted_only_for_dev_data_directories() {
    let dir = crate::helpers::DataDir::new();
    let out = run(&[
        "token",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--org",
        "acme",
        "--sub",
        "ada",
        "--roles",
        "admin",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a dev data directory"));

    DevIssuer::load_or_create(dir.path(), &"acme".parse().unwrap()).unwrap();
    let ok = run(&[
        "token",
        "--data-dir",
        dir.path().to_str().unwrap(),
        "--org",
        "acme",
        "--sub",
        "ada",
        "--roles",
        "admin,staff",
        "--ttl",
        "5m",
    ]);
    assert!(ok.status.success());
    assert_eq!(String::from_utf8_lossy(&ok.stdout).trim().split('.').count(), 3);

    let bad_role =
        run(&["token", "--data-dir", dir.path().to_str().unwrap(), "--org", "acme", "--sub", "ada", "--roles", "root"]);
    assert_eq!(bad_role.status.code(), Some(1));
    let usage = run(&["token", "--org", "acme"]);
    assert_eq!(usage.status.code(), Some(2), "a usage error exits 2");
}

#[test]
fn the_printed_dev_walkthrough_runs_the_whole_break_glass_flow() {
    let dir = crate::helpers::DataDir::new();
    let data_dir = dir.path().join("dev");
    let (_server, stdout, _) =
        spawn_logged(dir.path(), &["dev", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"], &[]);
    wait_for_listening(&stdout);
    let deadline = Instant::now() + Duration::from_secs(30);
    let banner = loop {
        let text = std::fs::read_to_string(&stdout).unwrap();
        if text.contains("seal-status") {
            break text;
        }
        assert!(Instant::now() < deadline, "the walkthrough was not printed: {text}");
        std::thread::sleep(Duration::from_millis(50));
    };
    // Paste it as a newcomer would: the exports, then every walkthrough line.
    let exports: Vec<&str> = banner.lines().filter(|l| l.trim_start().starts_with("export ")).collect();
    let script = format!("shopt -s expand_aliases\n{}\n", exports.join("\n"));
    let script =
        script + &banner.lines().skip_while(|l| !l.starts_with("Walkthrough")).skip(1).collect::<Vec<_>>().join("\n");
    let out = Command::new("bash").arg("-c").arg(&script).current_dir(dir.path()).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stdout.contains("\"code\":\"four_eyes_violation\""), "{stdout}\n{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(
        lines.iter().any(|l| l.len() == 32 && l.chars().any(|c| c.is_ascii_punctuation())),
        "the password was revealed: {stdout}"
    );
    assert!(
        lines.iter().any(|l| l.len() == 6 && l.chars().all(|c| c.is_ascii_digit())),
        "an MFA code was revealed: {stdout}"
    );
    assert!(stderr.contains("not the named recipient of the mfa half"), "{stderr}");
    assert!(stdout.contains("state     approved (2/2 approvals)"), "{stdout}");
    assert!(stdout.contains("\"candidate_password\"") && stdout.contains("{\"version\":2}"), "rotation: {stdout}");
    assert!(stdout.contains("\"sealed\":false"), "{stdout}");
    assert!(stdout.contains("seq,time,actor,action"), "the CSV export: {stdout}");
    assert!(stdout.contains("collect link for the password half of 100000000002: pending"), "{stdout}\n{stderr}");
    assert!(stdout.contains("collect link for the password half of 100000000002: revoked"), "{stdout}");
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("OK: ") && l.contains("signed by pinned key, consistent with trusted size")),
        "{stdout}\n{stderr}"
    );
}

#[test]
fn request_verbs_print_json_on_request_and_fail_with_one_sentence() {
    let out = Command::new(BIN).args(["request", "list"]).env_remove("ROOTVAULT_TOKEN").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("ROOTVAULT_TOKEN"));
    let usage = Command::new(BIN).args(["reveal", "password"]).output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[tokio::test]
async fn sigterm_turns_readiness_off_then_drains_and_exits_cleanly() {
    let dir = crate::helpers::DataDir::new();
    let data_dir = dir.path().join("dev");
    let (mut server, stdout, _) =
        spawn_logged(dir.path(), &["dev", "--data-dir", data_dir.to_str().unwrap(), "--listen", "127.0.0.1:0"], &[]);
    let base = wait_for_listening(&stdout);
    let client = reqwest::Client::new();
    assert_eq!(client.get(format!("{base}/readyz")).send().await.unwrap().status(), StatusCode::OK);
    let pid = server.0.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    // Readiness turns off within the drain grace period, before the listener closes.
    let mut draining = None;
    for _ in 0..40 {
        let Ok(r) = client.get(format!("{base}/readyz")).send().await else { break };
        if r.status() == StatusCode::SERVICE_UNAVAILABLE {
            draining = Some(r.json::<serde_json::Value>().await.unwrap());
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert_eq!(draining.expect("readiness went 503 while draining")["draining"], true);
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = server.0.try_wait().unwrap() {
            break status;
        }
        assert!(Instant::now() < deadline, "the server did not stop");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "{status}");
}
