//! The `aws-kms` key provider: GenerateDataKey/Decrypt with encryption context.
//!
//! One customer master key per half (and optionally per account and half).
//! The encryption context `{account_id, half, version}` is sent on every call,
//! so KMS itself refuses to unwrap a data key for another row, and key
//! policies can require it (`kms:EncryptionContextKeys`). The endpoint is
//! configurable so tests run against a local emulator, never against AWS.

use std::collections::HashMap;
use std::fmt;

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::SdkError;
use aws_sdk_kms::operation::decrypt::DecryptError;
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;
use zeroize::Zeroize;

use super::{CryptoError, DataKey, EncryptionContext, KeyProvider, SealStatus, WrappedKey};
use crate::domain::ids::Half;

/// Where to reach KMS and which keys protect which half.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KmsSettings {
    pub region: String,
    /// Overrides the regional endpoint (e.g. a VPC endpoint, or a local
    /// emulator in tests).
    pub endpoint_url: Option<String>,
    pub password_key_id: String,
    pub mfa_key_id: String,
}

pub struct KmsKeyProvider {
    client: Client,
    settings: KmsSettings,
}

impl fmt::Debug for KmsKeyProvider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KmsKeyProvider").field("settings", &self.settings).finish_non_exhaustive()
    }
}

impl KmsKeyProvider {
    /// Build a client from the standard AWS credential chain and `settings`.
    pub async fn connect(settings: KmsSettings) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(settings.region.clone()));
        if let Some(url) = &settings.endpoint_url {
            loader = loader.endpoint_url(url);
        }
        let client = Client::new(&loader.load().await);
        Self { client, settings }
    }

    fn key_for(&self, half: Half) -> &str {
        match half {
            Half::Password => &self.settings.password_key_id,
            Half::Mfa => &self.settings.mfa_key_id,
        }
    }

    fn context(ctx: &EncryptionContext) -> HashMap<String, String> {
        ctx.pairs().into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }
}

/// A short, secret-free description of an SDK failure for logs and errors.
fn describe<E: aws_sdk_kms::error::ProvideErrorMetadata + fmt::Debug>(err: &SdkError<E>) -> String {
    match err {
        SdkError::ServiceError(e) => {
            let meta = e.err();
            format!("KMS refused: {}", meta.code().unwrap_or("unknown error"))
        }
        SdkError::TimeoutError(_) => "KMS timed out".into(),
        SdkError::DispatchFailure(_) => "KMS could not be reached".into(),
        _ => "KMS call failed".into(),
    }
}

#[async_trait]
impl KeyProvider for KmsKeyProvider {
    fn kind(&self) -> &'static str {
        "aws-kms"
    }

    fn seal_status(&self) -> SealStatus {
        SealStatus { sealed: false, threshold: 0, progress: 0 }
    }

    fn submit_unseal_share(&self, _share: &str) -> Result<SealStatus, CryptoError> {
        Err(CryptoError::NotSealable)
    }

    fn seal(&self) {}

    fn supports_key_overrides(&self) -> bool {
        true
    }

    async fn generate_data_key(
        &self,
        key_override: Option<&str>,
        ctx: &EncryptionContext,
    ) -> Result<(DataKey, WrappedKey), CryptoError> {
        let key_id = key_override.unwrap_or_else(|| self.key_for(ctx.key_half()));
        let out = self
            .client
            .generate_data_key()
            .key_id(key_id)
            .key_spec(DataKeySpec::Aes256)
            .set_encryption_context(Some(Self::context(ctx)))
            .send()
            .await
            .map_err(|e| CryptoError::Provider(describe(&e)))?;
        let mut plaintext = out.plaintext.map(Blob::into_inner).unwrap_or_default();
        let key = DataKey::from_slice(&plaintext);
        plaintext.zeroize();
        let blob = out.ciphertext_blob.map(Blob::into_inner).unwrap_or_default();
        let key_id = out.key_id.unwrap_or_else(|| key_id.to_owned());
        Ok((key?, WrappedKey { key_id, blob }))
    }

    async fn unwrap_data_key(&self, wrapped: &WrappedKey, ctx: &EncryptionContext) -> Result<DataKey, CryptoError> {
        let out =
            self.client
                .decrypt()
                .key_id(&wrapped.key_id)
                .ciphertext_blob(Blob::new(wrapped.blob.clone()))
                .set_encryption_context(Some(Self::context(ctx)))
                .send()
                .await
                .map_err(|e| match e.as_service_error() {
                    Some(DecryptError::InvalidCiphertextException(_))
                    | Some(DecryptError::IncorrectKeyException(_)) => CryptoError::Decrypt,
                    _ => CryptoError::Provider(describe(&e)),
                })?;
        let mut plaintext = out.plaintext.map(Blob::into_inner).unwrap_or_default();
        let key = DataKey::from_slice(&plaintext);
        plaintext.zeroize();
        key
    }
}
