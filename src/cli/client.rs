//! Talking to a running server for the client verbs.

use anyhow::{Context, bail};
use serde_json::Value;

/// Where the server is and who is asking.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, global = true, env = "ROOTVAULT_ADDR", default_value = "http://127.0.0.1:8750")]
    pub addr: String,
}

/// The bearer token for client verbs: `ROOTVAULT_TOKEN` if set, else the
/// one `rootvault login` stored for this server.
pub fn token(server: &ServerArgs) -> anyhow::Result<zeroize::Zeroizing<String>> {
    if let Ok(t) = std::env::var("ROOTVAULT_TOKEN")
        && !t.trim().is_empty()
    {
        return Ok(zeroize::Zeroizing::new(t.trim().to_owned()));
    }
    match super::credentials::stored(&server.addr)? {
        Some(entry) => Ok(zeroize::Zeroizing::new(entry.token)),
        None => bail!(
            "not signed in to {addr}: run `rootvault login --addr {addr}` (or set ROOTVAULT_TOKEN to a bearer token)",
            addr = server.addr
        ),
    }
}

/// POST `body` to `path` and return the JSON answer, or the server's error
/// message as a one-sentence failure.
pub fn post(server: &ServerArgs, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Value> {
    call(server, reqwest::Method::POST, path, token, Some(body))
}

/// DELETE `path` and return the JSON answer.
pub fn delete(server: &ServerArgs, path: &str, token: &str) -> anyhow::Result<Value> {
    call(server, reqwest::Method::DELETE, path, Some(token), None)
}

/// GET `path` and return the JSON answer.
pub fn get(server: &ServerArgs, path: &str, token: &str) -> anyhow::Result<Value> {
    call(server, reqwest::Method::GET, path, Some(token), None)
}

fn call(
    server: &ServerArgs,
    method: reqwest::Method,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> anyhow::Result<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let url = format!("{}{path}", server.addr.trim_end_matches('/'));
        let mut request = reqwest::Client::new().request(method, &url);
        if let Some(body) = body {
            request = request.json(body);
        }
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        let response = request.send().await.with_context(|| format!("cannot reach {}", server.addr))?;
        let status = response.status();
        let value: Value = response.json().await.context("the server's answer is not JSON")?;
        if !status.is_success() {
            let message = value["error"]["message"].as_str().unwrap_or("request failed");
            bail!("{message} ({})", status.as_u16());
        }
        Ok(value)
    })
}
