//! Where an issuer's public keys come from, and reading them from there.
//!
//! A JWKS URL is fetched with a short timeout, without following
//! redirects (the configured address is the one trusted, not wherever it
//! points) and with a cap on the body, so a slow or misbehaving provider
//! cannot stall or exhaust the service. A JWKS file is simply re-read.

use std::path::PathBuf;
use std::time::Duration;

/// How long one fetch of a key set may take, connection included.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(10);

/// The largest key set document accepted. Real ones are a few KiB.
pub const MAX_DOCUMENT_BYTES: usize = 1024 * 1024;

/// Why a key set document could not be read. Names the issuer's source
/// problem only: safe for logs.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot read {path}: {message}")]
    File { path: String, message: String },
    #[error("the key set request failed: {0}")]
    Request(String),
    #[error("the key set URL answered HTTP {0}")]
    Status(u16),
    #[error("the key set document is larger than {MAX_DOCUMENT_BYTES} bytes")]
    TooLarge,
    #[error("the key set document is not UTF-8")]
    NotText,
    #[error("the key set cannot be set up for fetching: {0}")]
    Client(String),
}

/// Where one issuer's keys are read from.
#[derive(Debug, Clone)]
pub enum KeySource {
    /// A JWKS file, re-read on refresh.
    File(PathBuf),
    /// A JWKS URL, fetched on refresh.
    Url { url: String, client: reqwest::Client },
}

impl KeySource {
    /// A JWKS URL, with the client that fetches it.
    pub fn url(url: String) -> Result<Self, SourceError> {
        let client = reqwest::Client::builder()
            .timeout(FETCH_TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| SourceError::Client(e.without_url().to_string()))?;
        Ok(Self::Url { url, client })
    }

    /// The current JWKS document.
    pub async fn read(&self) -> Result<String, SourceError> {
        match self {
            Self::File(path) => tokio::fs::read_to_string(path)
                .await
                .map_err(|e| SourceError::File { path: path.display().to_string(), message: e.to_string() }),
            Self::Url { url, client } => fetch(client, url).await,
        }
    }
}

fn request_error(e: reqwest::Error) -> SourceError {
    let reason = if e.is_timeout() {
        format!("no answer within {} s", FETCH_TIMEOUT.as_secs())
    } else if e.is_connect() {
        "could not connect".to_owned()
    } else {
        e.without_url().to_string()
    };
    SourceError::Request(reason)
}

async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, SourceError> {
    let mut response = client.get(url).send().await.map_err(request_error)?;
    // Redirects are not followed, so a 3xx lands here too.
    if !response.status().is_success() {
        return Err(SourceError::Status(response.status().as_u16()));
    }
    if response.content_length().is_some_and(|n| n > MAX_DOCUMENT_BYTES as u64) {
        return Err(SourceError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(request_error)? {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(SourceError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| SourceError::NotText)
}
