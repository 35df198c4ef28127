//! PostgreSQL storage as an operator meets it: the configuration, `rootvault
//! migrate` with the two roles, and backups left to PostgreSQL's own tools.

use std::path::Path;

use reqwest::StatusCode;

use crate::cli::{run, write_config};
use crate::helpers::{DataDir, postgres_backend, spawn_app};

/// A configuration file whose `[storage]` section is `storage`.
fn config_with(dir: &Path, storage: &str) -> String {
    let path = write_config(dir, &dir.join("data"));
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, format!("{text}\n[storage]\n{storage}\n")).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn checking_a_postgresql_configuration_names_the_database_but_not_the_password() {
    let dir = DataDir::new();
    let config = config_with(
        dir.path(),
        "backend = \"postgres\"\nurl = \"postgresql://svc:hunter2@db.example:5432/rootvault\"\npool_size = 16",
    );
    let check = run(&["serve", "--config", &config, "--check-config"]);
    let stdout = String::from_utf8_lossy(&check.stdout);
    assert!(check.status.success(), "{}", String::from_utf8_lossy(&check.stderr));
    assert!(stdout.contains("PostgreSQL at svc@db.example:5432/rootvault (verify-full)"), "{stdout}");
    assert!(!stdout.contains("hunter2"), "{stdout}");

    let plaintext = config_with(
        dir.path(),
        "backend = \"postgres\"\nurl = \"postgresql://svc:hunter2@db.example/rv?sslmode=disable\"",
    );
    let refused = run(&["serve", "--config", &plaintext, "--check-config"]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1));
    assert!(stderr.contains("`storage.url`") && stderr.contains("loopback") && !stderr.contains("hunter2"), "{stderr}");
}

#[test]
fn a_restore_into_a_postgresql_configuration_is_refused_with_its_own_tools_named() {
    let dir = DataDir::new();
    let config =
        config_with(dir.path(), "backend = \"postgres\"\nurl = \"postgresql://svc@127.0.0.1/rv?sslmode=disable\"");
    let out = run(&["restore", "--config", &config, "--from", "backup.db", "--public-key", "key"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("pg_restore") && stderr.contains("docs/postgres.md"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence: {stderr}");
    assert!(!dir.path().join("data").exists(), "nothing was written");
}

#[test]
fn migrate_has_nothing_to_do_for_sqlite() {
    let dir = DataDir::new();
    let config = write_config(dir.path(), &dir.path().join("data"));
    let out = run(&["migrate", "--config", config.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("nothing to do"));
}

#[test]
fn migrate_creates_the_schema_as_its_owner_and_grants_the_service_role_once() {
    let Ok(admin) = std::env::var("ROOTVAULT_TEST_PG_URL") else {
        eprintln!("ROOTVAULT_TEST_PG_URL is not set: skipping a PostgreSQL test (scripts/test sets it)");
        return;
    };
    let name = format!("rv_migrate_{}", std::process::id());
    let mut server = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
    server.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)")).unwrap();
    server.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    url.set_query(Some("sslmode=disable"));
    let mut db = postgres::Client::connect(url.as_str(), postgres::NoTls).unwrap();
    db.batch_execute(include_str!("../../deploy/postgres/roles.sql")).unwrap();
    let as_role = |role: &str| {
        let mut u = url.clone();
        u.set_username(role).unwrap();
        u.set_password(None).unwrap();
        u.to_string()
    };

    let dir = DataDir::new();
    let config =
        config_with(dir.path(), &format!("backend = \"postgres\"\nurl = \"{}\"", as_role("rootvault_service")));
    let migrate = || {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_rootvault"))
            .args(["migrate", "--config", &config])
            .env("ROOTVAULT_STORAGE_MIGRATION_URL", as_role("rootvault_owner"))
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8(out.stdout).unwrap()
    };
    let first = migrate();
    assert!(first.contains("created the schema at version") && first.contains("granted rootvault_service"), "{first}");
    assert!(migrate().contains("already"));

    let mut service = postgres::Client::connect(&as_role("rootvault_service"), postgres::NoTls).unwrap();
    let owner: String = service
        .query_one("SELECT tableowner::text FROM pg_tables WHERE tablename = 'audit_events'", &[])
        .unwrap()
        .get(0);
    assert_eq!(owner, "rootvault_owner");
    let refused = service.batch_execute("DELETE FROM audit_events").unwrap_err();
    assert_eq!(refused.code(), Some(&postgres::error::SqlState::INSUFFICIENT_PRIVILEGE));
    drop((service, db));
    server.batch_execute(&format!("DROP DATABASE {name} WITH (FORCE)")).unwrap();
}

#[tokio::test]
async fn on_postgresql_a_backup_is_refused_with_guidance_to_use_its_own_tools() {
    if !postgres_backend() {
        return;
    }
    let app = spawn_app().await;
    let ada = app.token("acme/ada", &["admin"]);
    let reply = app.get("/v1/sys/backup", &ada).await;
    assert_eq!((reply.status, reply.code()), (StatusCode::CONFLICT, "backup_unsupported"));
    let message = reply.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("pg_dump") && message.contains("docs/postgres.md"), "{message}");
}
