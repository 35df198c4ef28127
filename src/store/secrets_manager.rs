//! Optional storage of the encrypted halves in AWS Secrets Manager.
//!
//! One secret per account and half, named `<prefix>/<account_id>/<half>`,
//! tagged with both, and encrypted at rest by that half's KMS key. Every
//! half version becomes a secret version (Secrets Manager moves `AWSCURRENT`
//! and `AWSPREVIOUS` as they arrive); SQLite records which version id holds
//! which half version, together with the wrapped data key, so reads go by
//! version id and a version written by a transaction that then failed is
//! never read. Metadata, custody and audit stay in SQLite, and destroying
//! the wrapped data keys there still shreds what Secrets Manager holds.

use std::fmt;

use aws_sdk_secretsmanager::Client;
use aws_sdk_secretsmanager::error::ProvideErrorMetadata;
use aws_sdk_secretsmanager::primitives::Blob;
use aws_sdk_secretsmanager::types::Tag;

use crate::domain::ids::{AccountId, Half};

/// Where the secrets live.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretsManagerSettings {
    pub region: String,
    pub endpoint_url: Option<String>,
    /// Secret names start with this, e.g. `rootvault/prod`.
    pub prefix: String,
}

/// A Secrets Manager failure, without secret material.
#[derive(Debug, thiserror::Error)]
#[error("Secrets Manager: {0}")]
pub struct SecretsError(String);

fn describe<E: ProvideErrorMetadata>(err: &aws_sdk_secretsmanager::error::SdkError<E>) -> String {
    match err {
        aws_sdk_secretsmanager::error::SdkError::ServiceError(e) => {
            e.err().code().unwrap_or("unknown error").to_owned()
        }
        aws_sdk_secretsmanager::error::SdkError::DispatchFailure(_) => "could not be reached".to_owned(),
        aws_sdk_secretsmanager::error::SdkError::TimeoutError(_) => "timed out".to_owned(),
        _ => "call failed".to_owned(),
    }
}

/// The encrypted halves in Secrets Manager.
#[derive(Clone)]
pub struct SecretsManagerHalves {
    client: Client,
    settings: SecretsManagerSettings,
}

impl fmt::Debug for SecretsManagerHalves {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SecretsManagerHalves").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl SecretsManagerHalves {
    pub async fn connect(settings: SecretsManagerSettings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        Self { client: Client::new(&loader.load().await), settings }
    }

    fn name(&self, account: &AccountId, half: Half) -> String {
        format!("{}/{account}/{half}", self.settings.prefix.trim_end_matches('/'))
    }

    /// Store one half version's ciphertext; returns its secret version id.
    /// The secret is created (tagged, under `kms_key`) on first use.
    pub async fn put(
        &self,
        account: &AccountId,
        half: Half,
        version: u32,
        ciphertext: &[u8],
        kms_key: &str,
    ) -> Result<String, SecretsError> {
        let name = self.name(account, half);
        // The request token makes a retried put idempotent and becomes the version id.
        let token = format!("{account}-{half}-v{version}-{}", uuid::Uuid::new_v4().simple());
        let put = self
            .client
            .put_secret_value()
            .secret_id(&name)
            .secret_binary(Blob::new(ciphertext.to_vec()))
            .client_request_token(&token)
            .send()
            .await;
        match put {
            Ok(out) => return Ok(out.version_id.unwrap_or(token)),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => {}
            Err(e) => return Err(SecretsError(describe(&e))),
        }
        let created = self
            .client
            .create_secret()
            .name(&name)
            .description(format!("rootvault {half} half of AWS account {account} (ciphertext)"))
            .kms_key_id(kms_key)
            .secret_binary(Blob::new(ciphertext.to_vec()))
            .client_request_token(&token)
            .tags(Tag::builder().key("rootvault:account_id").value(account.as_str()).build())
            .tags(Tag::builder().key("rootvault:half").value(half.as_str()).build())
            .send()
            .await
            .map_err(|e| SecretsError(describe(&e)))?;
        Ok(created.version_id.unwrap_or(token))
    }

    /// Read the ciphertext stored as `version_id`.
    pub async fn get(&self, account: &AccountId, half: Half, version_id: &str) -> Result<Vec<u8>, SecretsError> {
        let out = self
            .client
            .get_secret_value()
            .secret_id(self.name(account, half))
            .version_id(version_id)
            .send()
            .await
            .map_err(|e| SecretsError(describe(&e)))?;
        out.secret_binary.map(Blob::into_inner).ok_or_else(|| SecretsError("the secret version holds no binary".into()))
    }
}
