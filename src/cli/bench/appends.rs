//! Durable audit appends through the store's writer, on either backend:
//! each acknowledged only once committed (SQLite `synchronous=FULL`,
//! PostgreSQL `synchronous_commit = on`), by one writer and by many at once
//! (which the writer commits in groups).

use std::sync::Arc;
use std::time::Instant;

use zeroize::Zeroizing;

use crate::audit::log::LogKeys;
use crate::audit::{Action, EventDraft, HttpInfo, Outcome, Target};
use crate::store::{Store, StoreError};
use crate::vault::now_rfc3339;

/// A realistic event to append, numbered `n`.
pub fn draft(n: u64) -> EventDraft {
    let http =
        HttpInfo { request_id: Some(uuid::Uuid::new_v4().to_string()), ip: Some("127.0.0.1".into()), user_agent: None };
    EventDraft::new(None, Action::AccountRead, Target::default(), &http).detail("n", n)
}

/// Appends per second with one writer and with `writers` at once.
#[derive(Debug, Clone, Copy)]
pub struct Appends {
    pub single: f64,
    pub many: f64,
}

/// Give `store`'s log the bench's key, then append `single` events from one
/// writer and `each` from each of `writers` concurrent ones.
pub async fn measure(store: &Store, single: u64, writers: u64, each: u64) -> anyhow::Result<Appends> {
    store.log().set_keys(Some(Arc::new(LogKeys::from_seed("rootvault/bench", &Zeroizing::new([7; 32])))));
    store.log().set_provider("bench");
    Ok(Appends { single: rate(store, 1, single).await?, many: rate(store, writers, each).await? })
}

async fn rate(store: &Store, writers: u64, each: u64) -> anyhow::Result<f64> {
    let started = Instant::now();
    let mut tasks = Vec::new();
    for w in 0..writers {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            for i in 0..each {
                let d = draft(w * each + i);
                store
                    .write(move |b| crate::store::audit::append(b, d, &now_rfc3339(), Outcome::Ok, None).map(|_| ()))
                    .await?;
            }
            Ok::<_, StoreError>(())
        }));
    }
    for task in tasks {
        task.await??;
    }
    Ok((writers * each) as f64 / started.elapsed().as_secs_f64())
}
