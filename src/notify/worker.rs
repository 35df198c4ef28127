//! The delivery worker: routes new events to people, sends due outbox
//! entries (webhooks, e-mail, chat) and schedules retries.
//!
//! It runs beside the request flow, never in it: a relay or receiver that
//! is down delays its deliveries, never a request, and loses none.

use std::sync::Arc;
use std::time::Duration;

use super::NotifySettings;
use super::chat;
use super::email::Mailer;
use super::message::Message;
use super::sign::{DELIVERY_HEADER, EVENT_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, signature};
use super::target::{self, TargetError};
use crate::config::{ChatChannel, PeopleChannels};
use crate::store::StoreError;
use crate::store::outbox::{self, Destination, Due};
use crate::vault::{Vault, now_ms, now_rfc3339};

const BATCH: u32 = 50;

/// How one attempt went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Failed; worth trying again later.
    Retry(String),
    /// Failed for good (a permanent refusal, a channel no longer configured).
    GiveUp(String),
}

/// Everything needed to send: the HTTP client, the relay, the chat channels.
#[derive(Debug, Clone)]
pub struct Deliverer {
    settings: NotifySettings,
    http: reqwest::Client,
    mailer: Option<Mailer>,
    chat: Arc<[ChatChannel]>,
}

impl Deliverer {
    pub fn new(settings: NotifySettings, people: &PeopleChannels) -> Result<Self, String> {
        let http = builder(&settings).build().map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mailer = people.email.as_ref().map(|e| Mailer::new(e, settings.timeout)).transpose()?;
        Ok(Self { settings, http, mailer, chat: people.chat.clone().into() })
    }

    async fn attempt(&self, item: &Due) -> Attempt {
        match &item.destination {
            Destination::Webhook { url, secret } => {
                let timestamp = time::OffsetDateTime::now_utc().unix_timestamp();
                self.post(url, item.payload.clone(), |request| {
                    request
                        .header(SIGNATURE_HEADER, signature(secret, timestamp, &item.payload))
                        .header(TIMESTAMP_HEADER, timestamp.to_string())
                        .header(DELIVERY_HEADER, &item.id)
                        .header(EVENT_HEADER, &item.event)
                })
                .await
            }
            Destination::Email { to } => {
                let Some(mailer) = &self.mailer else {
                    return Attempt::GiveUp("no [notify.email] relay is configured".into());
                };
                match serde_json::from_str::<Message>(&item.payload) {
                    Ok(message) => mailer.send(to, &message).await,
                    Err(_) => Attempt::GiveUp("the stored message is unreadable".into()),
                }
            }
            Destination::Chat { channel } => {
                let Some(chat) = self.chat.iter().find(|c| c.name == *channel) else {
                    return Attempt::GiveUp(format!("chat channel {channel} is no longer configured"));
                };
                let Ok(message) = serde_json::from_str::<Message>(&item.payload) else {
                    return Attempt::GiveUp("the stored message is unreadable".into());
                };
                let body = chat::body(chat.format, &item.event, &message).to_string();
                self.post(chat.url.expose(), body, |request| request).await
            }
        }
    }

    /// POST a JSON body to a webhook or chat URL, to checked addresses only.
    async fn post(
        &self,
        url: &str,
        body: String,
        headers: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Attempt {
        let pinned = match checked_client(url, &self.settings).await {
            Ok(pinned) => pinned,
            Err(refused) => return Attempt::Retry(refused.to_string()),
        };
        let request = pinned.as_ref().unwrap_or(&self.http).post(url).header("content-type", "application/json");
        match headers(request).body(body).send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => Attempt::Retry(format!("receiver answered {}", response.status().as_u16())),
            Err(e) if e.is_timeout() => Attempt::Retry("receiver timed out".to_owned()),
            Err(_) => Attempt::Retry("receiver unreachable".to_owned()),
        }
    }
}

/// Send every due delivery once. Returns how many were delivered.
pub async fn deliver_due(vault: &Vault, deliverer: &Deliverer) -> Result<usize, StoreError> {
    let store = vault.store();
    let due = store.read(move |c| outbox::due(c, now_ms(), BATCH)).await?;
    let mut delivered = 0;
    for item in due {
        let (id, attempts) = (item.id.clone(), item.attempts + 1);
        let channel = item.destination.channel();
        let (error, permanent) = match deliverer.attempt(&item).await {
            Attempt::Delivered => {
                store.write(move |b| outbox::mark_delivered(b.conn(), &id, &now_rfc3339())).await?;
                delivered += 1;
                continue;
            }
            Attempt::Retry(error) => (error, false),
            Attempt::GiveUp(error) => (error, true),
        };
        let give_up = permanent || attempts >= deliverer.settings.max_attempts;
        let next = if give_up {
            now_ms()
        } else {
            now_ms() + i64::try_from(deliverer.settings.backoff(attempts).as_millis()).unwrap_or(i64::MAX / 2)
        };
        tracing::warn!(delivery = %item.id, channel = channel.as_str(), attempts, give_up, %error, "delivery failed");
        vault.metrics().delivery_failed(channel, give_up);
        store.write(move |b| outbox::mark_failed(b.conn(), &id, &error, next, give_up)).await?;
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

/// Route and deliver forever, every `poll_interval`.
pub async fn run(vault: Vault, deliverer: Deliverer) {
    let mut tick = tokio::time::interval(deliverer.settings.poll_interval.max(Duration::from_millis(10)));
    loop {
        tick.tick().await;
        if let Err(e) = vault.route_announcements().await {
            tracing::error!(code = e.code(), "routing notifications to people failed");
        }
        if let Err(e) = deliver_due(&vault, &deliverer).await {
            tracing::error!(error = %e, "the outbox could not be read");
        }
    }
}
