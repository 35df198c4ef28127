//! Talking to a running server for the client verbs.

use anyhow::{Context, bail};
use serde_json::Value;

/// Where the server is and who is asking.
#[derive(clap::Args, Debug)]
pub struct ServerArgs {
    /// Base URL of the server.
    #[arg(long, env = "ROOTVAULT_ADDR", default_value = "http://127.0.0.1:8750")]
    pub addr: String,
}

/// POST `body` to `path` and return the JSON answer, or the server's error
/// message as a one-sentence failure.
pub fn post(server: &ServerArgs, path: &str, token: Option<&str>, body: &Value) -> anyhow::Result<Value> {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    runtime.block_on(async {
        let url = format!("{}{path}", server.addr.trim_end_matches('/'));
        let mut request = reqwest::Client::new().post(&url).json(body);
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
