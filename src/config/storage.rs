//! `[storage]`: where the service keeps its state. SQLite in the data
//! directory by default; `secrets-manager` moves the encrypted halves to AWS
//! Secrets Manager; `postgres` keeps everything in PostgreSQL (DESIGN §17,
//! docs/postgres.md).
//!
//! PostgreSQL URLs carry a password: they come from the file or from
//! `ROOTVAULT_STORAGE_URL` / `ROOTVAULT_STORAGE_MIGRATION_URL`, and no
//! message quotes them.

use std::path::Path;

use serde::Deserialize;

use super::{ConfigError, Env, KeysConfig, StorageConfig};
use crate::store::postgres::{DEFAULT_POOL_SIZE, DatabaseUrl, MAX_POOL_SIZE, PostgresSettings};
use crate::store::secrets_manager::SecretsManagerSettings;

/// Overrides `storage.url`.
pub const STORAGE_URL_ENV: &str = "ROOTVAULT_STORAGE_URL";
/// Overrides `storage.migration_url`.
pub const STORAGE_MIGRATION_URL_ENV: &str = "ROOTVAULT_STORAGE_MIGRATION_URL";

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct FileStorage {
    backend: String,
    secrets_manager: Option<FileSecretsManager>,
    url: Option<String>,
    migration_url: Option<String>,
    pool_size: Option<i64>,
    danger_allow_plaintext: Option<bool>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileSecretsManager {
    region: String,
    endpoint_url: Option<String>,
    prefix: Option<String>,
}

pub(super) fn parse_storage(
    file: Option<FileStorage>,
    keys: &KeysConfig,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<StorageConfig, ConfigError> {
    let env_url = env.var(STORAGE_URL_ENV);
    let Some(mut file) = file else {
        return match env_url {
            None => Ok(StorageConfig::Sqlite),
            Some(_) => Err(not_postgres("storage.url")),
        };
    };
    if file.backend != "postgres" {
        let postgres_only = [
            ("storage.url", file.url.is_some() || env_url.is_some()),
            ("storage.migration_url", file.migration_url.is_some()),
            ("storage.pool_size", file.pool_size.is_some()),
            ("storage.danger_allow_plaintext", file.danger_allow_plaintext.is_some()),
        ];
        if let Some((key, _)) = postgres_only.iter().find(|(_, set)| *set) {
            return Err(not_postgres(key));
        }
    }
    match (file.backend.as_str(), file.secrets_manager.take()) {
        ("sqlite", None) => Ok(StorageConfig::Sqlite),
        ("sqlite" | "postgres", Some(_)) => {
            Err(ConfigError::new("storage.secrets_manager", "is only used with backend = \"secrets-manager\""))
        }
        ("secrets-manager", Some(sm)) => {
            if !matches!(keys, KeysConfig::AwsKms(_)) {
                return Err(ConfigError::new(
                    "storage.backend",
                    "secrets-manager needs keys.provider = \"aws-kms\": each secret is encrypted by its half's KMS key",
                ));
            }
            if sm.region.trim().is_empty() {
                return Err(ConfigError::new("storage.secrets_manager.region", "must not be empty"));
            }
            Ok(StorageConfig::SecretsManager(SecretsManagerSettings {
                region: sm.region,
                endpoint_url: env.var("ROOTVAULT_SECRETS_MANAGER_ENDPOINT_URL").or(sm.endpoint_url),
                prefix: sm.prefix.unwrap_or_else(|| "rootvault".into()),
            }))
        }
        ("secrets-manager", None) => {
            Err(ConfigError::new("storage.secrets_manager", "is required with backend secrets-manager"))
        }
        ("postgres", None) => parse_postgres(file, env_url, base_dir, env).map(StorageConfig::Postgres),
        (other, _) => {
            Err(ConfigError::new("storage.backend", format!("{other:?} is not sqlite, secrets-manager or postgres")))
        }
    }
}

fn not_postgres(key: &str) -> ConfigError {
    let message = if key == "storage.url" {
        "is set (in the file or ROOTVAULT_STORAGE_URL) but storage.backend is not \"postgres\""
    } else {
        "is only used with backend = \"postgres\""
    };
    ConfigError::new(key, message)
}

fn parse_postgres(
    file: FileStorage,
    env_url: Option<String>,
    base_dir: &Path,
    env: &dyn Env,
) -> Result<PostgresSettings, ConfigError> {
    let allow_plaintext = file.danger_allow_plaintext.unwrap_or(false);
    let url = |key: &str, raw: String| {
        DatabaseUrl::parse(&raw, base_dir, allow_plaintext).map_err(|e| ConfigError::new(key, e.to_string()))
    };
    let raw = env_url.or(file.url).ok_or_else(|| {
        ConfigError::new("storage.url", format!("is required with backend postgres (or set {STORAGE_URL_ENV})"))
    })?;
    let migration_url = env.var(STORAGE_MIGRATION_URL_ENV).or(file.migration_url);
    let pool_size = match file.pool_size {
        None => DEFAULT_POOL_SIZE,
        Some(n) => u32::try_from(n)
            .ok()
            .filter(|n| (1..=MAX_POOL_SIZE).contains(n))
            .ok_or_else(|| ConfigError::new("storage.pool_size", format!("must be 1 to {MAX_POOL_SIZE}")))?,
    };
    Ok(PostgresSettings {
        url: url("storage.url", raw)?,
        migration_url: migration_url.map(|raw| url("storage.migration_url", raw)).transpose()?,
        pool_size,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::super::tests::FakeEnv;
    use super::*;
    use crate::store::postgres::TlsMode;

    fn parse(section: &str, env: &[(&'static str, &'static str)]) -> Result<StorageConfig, ConfigError> {
        let file: FileStorage = toml::from_str(section).unwrap();
        parse_storage(
            Some(file),
            &KeysConfig::Local,
            Path::new("/etc/rootvault"),
            &FakeEnv(env.iter().copied().collect()),
        )
    }

    fn postgres(section: &str, env: &[(&'static str, &'static str)]) -> PostgresSettings {
        match parse(section, env).unwrap() {
            StorageConfig::Postgres(settings) => settings,
            other => panic!("not postgres: {other:?}"),
        }
    }

    #[test]
    fn postgres_takes_its_url_from_the_environment_before_the_file() {
        let section = r#"
            backend = "postgres"
            url = "postgresql://svc:from-file@db.example/rootvault"
        "#;
        let from_file = postgres(section, &[]);
        assert_eq!(from_file.url.config().get_password(), Some(&b"from-file"[..]));
        assert_eq!(from_file.pool_size, DEFAULT_POOL_SIZE);
        assert_eq!(from_file.migration_url(), &from_file.url);
        assert_eq!(from_file.url.tls(), &TlsMode::VerifyFull { roots: None });

        let env = [
            (STORAGE_URL_ENV, "postgresql://svc:from-env@db.example/rootvault?sslmode=require"),
            (STORAGE_MIGRATION_URL_ENV, "postgresql://owner:owner-pw@db.example/rootvault"),
        ];
        let from_env = postgres(section, &env);
        assert_eq!(from_env.url.config().get_password(), Some(&b"from-env"[..]));
        assert_eq!(from_env.migration_url().user(), "owner");
        let printed = format!("{from_env:?}");
        for secret in ["from-env", "owner-pw"] {
            assert!(!printed.contains(secret), "{printed}");
        }
    }

    #[test]
    fn the_pool_is_bounded_and_plaintext_stays_on_this_machine_unless_allowed() {
        let url = "url = \"postgresql://svc@10.0.0.5/rootvault?sslmode=disable\"";
        let section = |extra: &str| format!("backend = \"postgres\"\n{url}\n{extra}");
        assert_eq!(parse(&section(""), &[]).unwrap_err().key, "storage.url");
        let allowed = postgres(&section("danger_allow_plaintext = true\npool_size = 64"), &[]);
        assert_eq!((allowed.url.tls(), allowed.pool_size), (&TlsMode::Disable, 64));
        for size in ["0", "65", "-1"] {
            let err = parse(&section(&format!("danger_allow_plaintext = true\npool_size = {size}")), &[]).unwrap_err();
            assert_eq!(err.key, "storage.pool_size");
        }
    }

    #[test]
    fn postgres_keys_belong_to_the_postgres_backend_and_mistakes_quote_no_url() {
        let cases = [
            ("backend = \"postgres\"", &[][..], "storage.url"),
            ("backend = \"sqlite\"\npool_size = 4", &[][..], "storage.pool_size"),
            ("backend = \"sqlite\"", &[(STORAGE_URL_ENV, "postgresql://svc@db.example/rv")][..], "storage.url"),
            (
                "backend = \"postgres\"\nurl = \"postgresql://svc@db.example/rv\"\nmigration_url = \"mysql://owner:pw@x\"",
                &[][..],
                "storage.migration_url",
            ),
            (
                "backend = \"postgres\"\nurl = \"postgresql://svc@db.example/rv\"\n[secrets_manager]\nregion = \"eu-west-1\"",
                &[][..],
                "storage.secrets_manager",
            ),
        ];
        for (section, env, key) in cases {
            let err = parse(section, env).unwrap_err();
            assert_eq!(err.key, key, "{section}: {err}");
        }
        let leaky =
            parse("backend = \"postgres\"\nurl = \"postgresql://svc:hunter2@db.example/rv?sslmode=prefer\"", &[]);
        let err = leaky.unwrap_err().to_string();
        assert!(err.contains("sslmode") && !err.contains("hunter2"), "{err}");
        let none = parse_storage(None, &KeysConfig::Local, Path::new("/"), &FakeEnv(HashMap::new())).unwrap();
        assert_eq!(none, StorageConfig::Sqlite);
    }
}
