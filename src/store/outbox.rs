//! The `subscribers` and `outbox` tables: who wants webhooks about an
//! account, and the durable queue of every delivery: webhooks, e-mail and
//! chat messages.
//!
//! Webhook deliveries are enqueued in the same transaction as the audit
//! event of what they announce (messages to people a moment later, once
//! routed; see `announcements`), so a notification exists exactly when its
//! event does, and survives restarts until the receiver takes it.

use serde::Serialize;
use serde_json::Value;

use super::StoreError;
use super::sql::{Conn, Row, params};
use crate::domain::ids::{AccountId, OrgName};

/// A webhook subscriber as shown to its org's admins (never its secret).
#[derive(Debug, Clone, Serialize)]
pub struct Subscriber {
    pub id: String,
    pub account_id: String,
    pub org: String,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: String,
    pub created_by: String,
}

/// Which way a delivery goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Channel {
    Webhook,
    Email,
    Chat,
}

impl Channel {
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Webhook => "webhook",
            Channel::Email => "email",
            Channel::Chat => "chat",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Channel::Webhook, Channel::Email, Channel::Chat].into_iter().find(|c| c.as_str() == s)
    }
}

/// Where a due delivery goes.
#[derive(Clone)]
pub enum Destination {
    /// A subscriber's URL, signed with its secret.
    Webhook { url: String, secret: String },
    /// An e-mail address (the message is in the payload).
    Email { to: String },
    /// A `[[notify.chat]]` channel, by name.
    Chat { channel: String },
}

/// A delivery that is due, with what is needed to send it.
#[derive(Clone)]
pub struct Due {
    pub id: String,
    pub destination: Destination,
    pub event: String,
    pub payload: String,
    pub attempts: u32,
}

impl Destination {
    pub fn channel(&self) -> Channel {
        match self {
            Destination::Webhook { .. } => Channel::Webhook,
            Destination::Email { .. } => Channel::Email,
            Destination::Chat { .. } => Channel::Chat,
        }
    }
}

/// Only the channel: a webhook's URL and secret never print.
impl std::fmt::Debug for Destination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.channel().as_str())
    }
}

impl std::fmt::Debug for Due {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Due")
            .field("id", &self.id)
            .field("channel", &self.destination.channel())
            .field("event", &self.event)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}

#[expect(clippy::too_many_arguments, reason = "one argument per column of the new row")]
pub fn add_subscriber(
    tx: &Conn,
    id: &str,
    account: &AccountId,
    org: &OrgName,
    url: &str,
    secret: &str,
    events: &[String],
    by: &str,
    now: &str,
) -> Result<(), StoreError> {
    let events = serde_json::to_string(events).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    tx.execute(
        "INSERT INTO subscribers (id, account_id, org, url, secret, events, created_at, created_by)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        params![id, account.as_str(), org.as_str(), url, secret, events, now, by],
    )?;
    Ok(())
}

/// A subscriber from a row of `id, account_id, org, url, events, created_at, created_by`.
fn subscriber_row(r: &Row) -> Result<Subscriber, StoreError> {
    Ok(Subscriber {
        id: r.get(0)?,
        account_id: r.get(1)?,
        org: r.get(2)?,
        url: r.get(3)?,
        events: serde_json::from_str(&r.get::<String>(4)?)
            .map_err(|_| StoreError::Corrupt("subscribers.events".into()))?,
        created_at: r.get(5)?,
        created_by: r.get(6)?,
    })
}

/// The live subscribers of an account that belong to `org`.
pub fn subscribers(conn: &Conn, account: &AccountId, org: &OrgName) -> Result<Vec<Subscriber>, StoreError> {
    conn.query(
        "SELECT id, account_id, org, url, events, created_at, created_by FROM subscribers
          WHERE account_id = ?1 AND org = ?2 AND deleted_at IS NULL ORDER BY created_at, id",
        params![account.as_str(), org.as_str()],
    )?
    .iter()
    .map(subscriber_row)
    .collect()
}

/// Stop delivering to a subscriber; returns false if it was not live.
pub fn remove_subscriber(
    tx: &Conn,
    account: &AccountId,
    org: &OrgName,
    id: &str,
    now: &str,
) -> Result<bool, StoreError> {
    let changed = tx.execute(
        "UPDATE subscribers SET deleted_at = ?4 WHERE id = ?1 AND account_id = ?2 AND org = ?3 AND deleted_at IS NULL",
        params![id, account.as_str(), org.as_str(), now],
    )?;
    tx.execute(
        "UPDATE outbox SET state = 'failed', last_error = 'subscriber removed' WHERE subscriber_id = ?1 AND state = 'pending'",
        params![id],
    )?;
    Ok(changed == 1)
}

/// Stop delivering to every subscriber `org` has on `account` (the account
/// left that org); returns how many there were.
pub fn remove_org_subscribers(tx: &Conn, account: &AccountId, org: &OrgName, now: &str) -> Result<usize, StoreError> {
    let ids: Vec<String> = subscribers(tx, account, org)?.into_iter().map(|s| s.id).collect();
    for id in &ids {
        remove_subscriber(tx, account, org, id, now)?;
    }
    Ok(ids.len())
}

/// Queue `payload` for every live subscriber of `account` that wants `event`.
/// Each delivery gets its own id, which the payload carries for de-duplication;
/// ids are UUIDv7s, ordered by time, so inserts append to the id index rather
/// than touching a random page of it.
pub fn enqueue(
    tx: &Conn,
    account: &AccountId,
    event: &str,
    payload: &Value,
    now: &str,
    now_ms: i64,
) -> Result<usize, StoreError> {
    let targets: Vec<(String, String)> = tx
        .query(
            "SELECT id, events FROM subscribers WHERE account_id = ?1 AND deleted_at IS NULL",
            params![account.as_str()],
        )?
        .iter()
        .map(|r| Ok::<_, StoreError>((r.get(0)?, r.get(1)?)))
        .collect::<Result<_, _>>()?;
    let mut queued = 0;
    for (subscriber, events) in targets {
        let events: Vec<String> = serde_json::from_str(&events).unwrap_or_default();
        if !events.is_empty() && !events.iter().any(|e| e == event) {
            continue;
        }
        let delivery = uuid::Uuid::now_v7().to_string();
        let mut body = payload.clone();
        if let Value::Object(map) = &mut body {
            map.insert("delivery_id".into(), Value::String(delivery.clone()));
        }
        tx.execute(
            "INSERT INTO outbox (id, channel, subscriber_id, target, account_id, event, payload, state,
                                 next_attempt_at, created_at)
             VALUES (?1, 'webhook', ?2, ?2, ?3, ?4, ?5, 'pending', ?6, ?7)",
            params![delivery, subscriber, account.as_str(), event, body.to_string(), now_ms, now],
        )?;
        queued += 1;
    }
    Ok(queued)
}

/// The `channel` column at `index` (its CHECK admits only the three).
fn channel_at(r: &Row, index: usize) -> Result<Channel, StoreError> {
    Channel::parse(&r.get::<String>(index)?).ok_or_else(|| StoreError::Corrupt("outbox.channel".into()))
}

/// One message to a person or a chat channel.
#[derive(Debug, Clone)]
pub struct NewMessage<'a> {
    pub channel: Channel,
    /// The address, or the chat channel's name.
    pub target: &'a str,
    pub account: &'a AccountId,
    pub event: &'a str,
    pub subject: &'a str,
    /// The rendered message (JSON); links only, never a secret.
    pub payload: &'a str,
}

/// Queue a message to a person or chat channel (its id a UUIDv7, as above).
pub fn enqueue_message(tx: &Conn, message: &NewMessage<'_>, now: &str, now_ms: i64) -> Result<(), StoreError> {
    tx.execute(
        "INSERT INTO outbox (id, channel, target, account_id, event, subject, payload, state, next_attempt_at, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, 'pending', ?8, ?9)",
        params![
            uuid::Uuid::now_v7().to_string(),
            message.channel.as_str(),
            message.target,
            message.account.as_str(),
            message.event,
            message.subject,
            message.payload,
            now_ms,
            now
        ],
    )?;
    Ok(())
}

/// Deliveries whose next attempt is due, oldest first (in the order they
/// were queued when due at the same time).
pub fn due(conn: &Conn, now_ms: i64, limit: u32) -> Result<Vec<Due>, StoreError> {
    let rows = conn.query(
        "SELECT o.id, o.channel, o.target, s.url, s.secret, o.event, o.payload, o.attempts
           FROM outbox o LEFT JOIN subscribers s ON s.id = o.subscriber_id
          WHERE o.state = 'pending' AND o.next_attempt_at <= ?1
          ORDER BY o.next_attempt_at, o.seq LIMIT ?2",
        params![now_ms, limit],
    )?;
    rows.iter()
        .map(|r| {
            let target: String = r.get(2)?;
            let destination = match channel_at(r, 1)? {
                Channel::Webhook => Destination::Webhook { url: r.get(3)?, secret: r.get(4)? },
                Channel::Email => Destination::Email { to: target },
                Channel::Chat => Destination::Chat { channel: target },
            };
            Ok(Due { id: r.get(0)?, destination, event: r.get(5)?, payload: r.get(6)?, attempts: r.get(7)? })
        })
        .collect()
}

/// A delivery as provider admins see it: where, what and how it went;
/// never its body.
#[derive(Debug, Clone)]
pub struct DeliveryRow {
    pub id: String,
    pub channel: Channel,
    pub target: String,
    pub account_id: Option<String>,
    pub event: String,
    pub subject: Option<String>,
    pub state: String,
    pub attempts: u32,
    pub next_attempt_at: i64,
    pub created_at: String,
    pub delivered_at: Option<String>,
    pub last_error: Option<String>,
}

/// Which deliveries to list.
#[derive(Debug, Clone, Default)]
pub struct DeliveryFilter {
    pub state: Option<String>,
    pub channel: Option<Channel>,
    pub account: Option<AccountId>,
    /// Only those created before this (created_at, id) position.
    pub before: Option<(String, String)>,
}

/// Deliveries, newest first.
pub fn list(conn: &Conn, filter: &DeliveryFilter, limit: u32) -> Result<Vec<DeliveryRow>, StoreError> {
    let (before_at, before_id) = filter.before.clone().unzip();
    let rows = conn.query(
        "SELECT id, channel, target, account_id, event, subject, state, attempts, next_attempt_at, created_at,
                delivered_at, last_error
           FROM outbox
          WHERE (CAST(?1 AS TEXT) IS NULL OR state = ?1) AND (CAST(?2 AS TEXT) IS NULL OR channel = ?2)
            AND (CAST(?3 AS TEXT) IS NULL OR account_id = ?3)
            AND (CAST(?4 AS TEXT) IS NULL OR (created_at, id) < (?4, ?5))
          ORDER BY created_at DESC, id DESC LIMIT ?6",
        params![
            filter.state,
            filter.channel.map(Channel::as_str),
            filter.account.as_ref().map(AccountId::as_str),
            before_at,
            before_id,
            limit
        ],
    )?;
    rows.iter()
        .map(|r| {
            Ok(DeliveryRow {
                id: r.get(0)?,
                channel: channel_at(r, 1)?,
                target: r.get(2)?,
                account_id: r.get(3)?,
                event: r.get(4)?,
                subject: r.get(5)?,
                state: r.get(6)?,
                attempts: r.get(7)?,
                next_attempt_at: r.get(8)?,
                created_at: r.get(9)?,
                delivered_at: r.get(10)?,
                last_error: r.get(11)?,
            })
        })
        .collect()
}

pub fn mark_delivered(conn: &Conn, id: &str, now: &str) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET state = 'delivered', delivered_at = ?2, attempts = attempts + 1, last_error = NULL WHERE id = ?1",
        params![id, now],
    )?;
    Ok(())
}

/// Record a failed attempt; retry at `next_ms`, or give up when `give_up`.
/// Only a delivery still pending is touched: one stopped while its attempt
/// was under way (its subscriber removed) stays stopped.
pub fn mark_failed(conn: &Conn, id: &str, error: &str, next_ms: i64, give_up: bool) -> Result<(), StoreError> {
    conn.execute(
        "UPDATE outbox SET attempts = attempts + 1, last_error = ?2, next_attempt_at = ?3,
                state = CASE WHEN ?4 THEN 'failed' ELSE 'pending' END
          WHERE id = ?1 AND state = 'pending'",
        params![id, error, next_ms, give_up],
    )?;
    Ok(())
}

/// How many deliveries wait to be sent (for the first time or again), per
/// channel: the outbox's backlog. The `outbox_due` index finds them.
pub fn pending_by_channel(conn: &Conn) -> Result<Vec<(Channel, u64)>, StoreError> {
    let rows =
        conn.query("SELECT channel, COUNT(*) FROM outbox WHERE state = 'pending' GROUP BY channel", params![])?;
    rows.iter().map(|r| Ok((channel_at(r, 0)?, r.get(1)?))).collect()
}
