//! A chat-webhook receiver on 127.0.0.1: records every JSON body posted
//! to it, by path (`/slack`, `/teams`, `/generic`), as Slack and Teams
//! would receive them.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{Path, State};
use serde_json::Value;

type Received = Arc<Mutex<Vec<(String, Value)>>>;

pub struct ChatReceiver {
    base: String,
    received: Received,
    _server: tokio::task::JoinHandle<()>,
}

impl ChatReceiver {
    pub async fn start() -> Self {
        let received: Received = Arc::default();
        let app = axum::Router::new()
            .route(
                "/{channel}",
                axum::routing::post(
                    |State(r): State<Received>, Path(channel): Path<String>, Json(body): Json<Value>| async move {
                        r.lock().unwrap().push((channel, body));
                        "ok"
                    },
                ),
            )
            .with_state(Arc::clone(&received));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let server = tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Self { base, received, _server: server }
    }

    /// The URL of one channel.
    pub fn url(&self, channel: &str) -> String {
        format!("{}/{channel}", self.base)
    }

    /// The bodies posted to `channel` so far.
    pub fn bodies(&self, channel: &str) -> Vec<Value> {
        self.received.lock().unwrap().iter().filter(|(c, _)| c == channel).map(|(_, b)| b.clone()).collect()
    }

    /// Wait (bounded) until `channel` got at least `count` bodies.
    pub async fn wait_for(&self, channel: &str, count: usize) -> Vec<Value> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let bodies = self.bodies(channel);
            if bodies.len() >= count {
                return bodies;
            }
            assert!(Instant::now() < deadline, "{channel} got {} of {count} messages", bodies.len());
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}
