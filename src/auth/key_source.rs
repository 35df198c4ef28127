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

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::{Body, Bytes};
    use axum::response::Redirect;
    use axum::routing::get;

    use super::*;

    /// A provider on 127.0.0.1 that misbehaves in the ways a fetch must survive.
    async fn provider() -> String {
        let chunks = || {
            let chunk = Bytes::from(vec![b' '; 256 * 1024]);
            futures_util::stream::iter((0..5).map(move |_| Ok::<_, std::io::Error>(chunk.clone())))
        };
        let app = Router::new()
            .route("/jwks", get(|| async { r#"{"keys": []}"# }))
            .route("/moved", get(|| async { Redirect::temporary("/jwks") }))
            .route("/large", get(|| async { " ".repeat(MAX_DOCUMENT_BYTES + 1) }))
            .route("/streamed", get(move || async move { Body::from_stream(chunks()) }));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        base
    }

    async fn read(base: &str, path: &str) -> Result<String, SourceError> {
        KeySource::url(format!("{base}{path}")).unwrap().read().await
    }

    #[tokio::test]
    async fn a_url_is_fetched_but_redirects_are_not_followed() {
        let base = provider().await;
        assert_eq!(read(&base, "/jwks").await.unwrap(), r#"{"keys": []}"#);
        assert!(matches!(read(&base, "/moved").await, Err(SourceError::Status(307))));
        assert!(matches!(read(&base, "/missing").await, Err(SourceError::Status(404))));
    }

    #[tokio::test]
    async fn documents_over_a_mebibyte_are_refused_whether_announced_or_streamed() {
        let base = provider().await;
        assert!(matches!(read(&base, "/large").await, Err(SourceError::TooLarge)));
        assert!(matches!(read(&base, "/streamed").await, Err(SourceError::TooLarge)));
    }

    #[tokio::test]
    async fn a_missing_file_or_a_failing_url_is_an_error_naming_no_url() {
        let file = KeySource::File("/nonexistent/jwks.json".into()).read().await;
        assert!(matches!(file, Err(SourceError::File { .. })));
        // A provider that hangs up on every request.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed = format!("http://{}/jwks?x=1", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((connection, _)) = listener.accept().await {
                drop(connection);
            }
        });
        let error = KeySource::url(closed).unwrap().read().await.unwrap_err();
        assert!(!error.to_string().contains("127.0.0.1"), "{error}");
    }
}
