//! The delivery worker: sends due outbox entries and schedules retries.

use std::time::Duration;

use super::NotifySettings;
use super::sign::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use super::target::{self, TargetError};
use crate::store::{Store, StoreError, outbox};
use crate::vault::now_rfc3339;

const BATCH: u32 = 50;

fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos().div_euclid(1_000_000) as i64
}

/// Send every due delivery once. Returns how many were delivered.
pub async fn deliver_due(
    store: &Store,
    client: &reqwest::Client,
    settings: &NotifySettings,
) -> Result<usize, StoreError> {
    let due = store.read(move |c| outbox::due(c, now_ms(), BATCH)).await?;
    let mut delivered = 0;
    for item in due {
        let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
        let pinned = match checked_client(&item.url, settings).await {
            Ok(pinned) => pinned,
            Err(refused) => {
                let (id, attempts) = (item.id.clone(), item.attempts + 1);
                let give_up = attempts >= settings.max_attempts;
                let next = now_ms() + i64::try_from(settings.backoff(attempts).as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(delivery = %item.id, attempts, give_up, error = %refused, "webhook target refused");
                let error = refused.to_string();
                store.write(move |b| outbox::mark_failed(b.tx(), &id, &error, next, give_up)).await?;
                continue;
            }
        };
        let sent = pinned
            .as_ref()
            .unwrap_or(client)
            .post(&item.url)
            .header("content-type", "application/json")
            .header(SIGNATURE_HEADER, signature(&item.secret, timestamp, &item.payload))
            .header(TIMESTAMP_HEADER, timestamp.to_string())
            .header(DELIVERY_HEADER, &item.id)
            .header(EVENT_HEADER, &item.event)
            .body(item.payload.clone())
            .send()
            .await;
        let outcome = match sent {
            Ok(response) if response.status().is_success() => Ok(()),
            Ok(response) => Err(format!("receiver answered {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Err("receiver timed out".to_owned()),
            Err(_) => Err("receiver unreachable".to_owned()),
        };
        let attempts = item.attempts + 1;
        let id = item.id.clone();
        match outcome {
            Ok(()) => {
                store.write(move |b| outbox::mark_delivered(b.tx(), &id, &now_rfc3339())).await?;
                delivered += 1;
            }
            Err(error) => {
                let give_up = attempts >= settings.max_attempts;
                let next = now_ms() + i64::try_from(settings.backoff(attempts).as_millis()).unwrap_or(i64::MAX / 2);
                tracing::warn!(delivery = %item.id, attempts, give_up, %error, "webhook delivery failed");
                store.write(move |b| outbox::mark_failed(b.tx(), &id, &error, next, give_up)).await?;
            }
        }
    }
    Ok(delivered)
}

/// Unless private targets are allowed: resolve the target, check every
/// address, and give back a client that connects to those addresses only
/// (no proxy, no second lookup), so the name cannot be re-pointed at an
/// internal address between the check and the connection.
async fn checked_client(url: &str, settings: &NotifySettings) -> Result<Option<reqwest::Client>, TargetError> {
    if settings.allow_private_targets {
        return Ok(None);
    }
    let url = target::parse(url, false)?;
    let addrs = target::resolve(&url).await?;
    let host = url.host_str().ok_or(TargetError::Unparsable)?;
    let client =
        builder(settings).no_proxy().resolve_to_addrs(host, &addrs).build().map_err(|_| TargetError::Unresolvable)?;
    Ok(Some(client))
}

fn builder(settings: &NotifySettings) -> reqwest::ClientBuilder {
    reqwest::Client::builder().timeout(settings.timeout).redirect(reqwest::redirect::Policy::none())
}

/// Deliver forever, every `poll_interval`.
pub async fn run(store: Store, settings: NotifySettings) {
    let client = match builder(&settings).build() {
        Ok(client) => client,
        Err(e) => {
            tracing::error!(error = %e, "cannot build the webhook client; notifications are not delivered");
            return;
        }
    };
    let mut tick = tokio::time::interval(settings.poll_interval.max(Duration::from_millis(10)));
    loop {
        tick.tick().await;
        if let Err(e) = deliver_due(&store, &client, &settings).await {
            tracing::error!(error = %e, "webhook outbox could not be read");
        }
    }
}
