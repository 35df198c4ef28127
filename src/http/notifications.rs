//! `GET /v1/sys/notifications`: every delivery (webhook, e-mail, chat) as
//! provider admins see it: where it went, what about, how it went. Never a
//! message body, so never a link's token or anything else a body holds.

use axum::Json;
use axum::extract::{Query, State};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{Meta, or_refuse};
use crate::app::App;
use crate::audit::{Action, EventDraft, Target};
use crate::auth::Caller;
use crate::domain::ids::AccountId;
use crate::error::Error;
use crate::store::outbox::{Channel, DeliveryFilter, DeliveryRow};
use crate::vault::{NOTIFICATION_LIST_MAX, rfc3339};

/// Deliveries per page unless `limit` says otherwise.
const DEFAULT_LIMIT: u32 = 50;

#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// `pending`, `sent` or `failed`.
    #[param(pattern = "^(pending|sent|failed)$")]
    state: Option<String>,
    /// `webhook`, `email` or `chat`.
    #[param(pattern = "^(webhook|email|chat)$")]
    channel: Option<String>,
    #[param(value_type = Option<AccountId>)]
    account_id: Option<String>,
    /// `next_cursor` of the previous page.
    cursor: Option<String>,
    /// Page size (default 50).
    #[param(minimum = 1, maximum = 200)]
    limit: Option<u32>,
}

/// One delivery.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryView {
    id: String,
    /// `webhook`, `email` or `chat`.
    channel: &'static str,
    /// The subscriber id, the e-mail address or the chat channel's name.
    target: String,
    account_id: Option<String>,
    event: String,
    subject: Option<String>,
    /// `pending`, `sent` or `failed`.
    state: &'static str,
    attempts: u32,
    /// When a pending delivery is tried next.
    next_attempt_at: Option<String>,
    created_at: String,
    sent_at: Option<String>,
    last_error: Option<String>,
}

impl From<DeliveryRow> for DeliveryView {
    fn from(row: DeliveryRow) -> Self {
        let state = match row.state.as_str() {
            "delivered" => "sent",
            "failed" => "failed",
            _ => "pending",
        };
        Self {
            next_attempt_at: (state == "pending").then(|| rfc3339(row.next_attempt_at.div_euclid(1000))),
            id: row.id,
            channel: row.channel.as_str(),
            target: row.target,
            account_id: row.account_id,
            event: row.event,
            subject: row.subject,
            state,
            attempts: row.attempts,
            created_at: row.created_at,
            sent_at: row.delivered_at,
            last_error: row.last_error,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct DeliveryPage {
    notifications: Vec<DeliveryView>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    next_cursor: Option<String>,
}

/// Every delivery of webhooks, e-mail and chat, newest first: where it
/// went, what about, how it went; never a body (provider admins).
#[utoipa::path(get, path = "/v1/sys/notifications", operation_id = "list_notifications", tag = "sys", security(("bearer" = [])), params(ListQuery),
    responses(
        (status = 200, description = "One page of deliveries.", body = DeliveryPage),
        (status = 403, description = "Not a provider admin.", body = crate::http::error::ErrorBody),
    ))]
pub async fn list(
    State(app): State<App>,
    caller: Caller,
    Meta(http): Meta,
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<DeliveryPage>, Error> {
    let draft = || EventDraft::new(Some(&caller.principal), Action::SysNotifications, Target::default(), &http);
    let (filter, cursor, limit) = or_refuse(&app, draft, parse(query)).await?;
    let (rows, next_cursor) = app.vault.notifications(&caller, &http, filter, cursor.as_deref(), limit).await?;
    Ok(Json(DeliveryPage { notifications: rows.into_iter().map(DeliveryView::from).collect(), next_cursor }))
}

fn parse(
    query: Result<Query<ListQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<(DeliveryFilter, Option<String>, u32), Error> {
    let invalid = |m: &str| Error::malformed("invalid_query", m.to_owned());
    let Query(q) = query.map_err(|_| invalid("query parameters: state, channel, account_id, cursor, limit"))?;
    let state = match q.state.as_deref() {
        None => None,
        Some("pending") => Some("pending".to_owned()),
        Some("sent") => Some("delivered".to_owned()),
        Some("failed") => Some("failed".to_owned()),
        Some(_) => return Err(invalid("state is pending, sent or failed")),
    };
    let channel = q
        .channel
        .map(|c| Channel::parse(&c).ok_or_else(|| invalid("channel is webhook, email or chat")))
        .transpose()?;
    let account = q.account_id.map(|a| a.parse::<AccountId>()).transpose()?;
    let limit = match q.limit {
        None => DEFAULT_LIMIT,
        Some(l) if (1..=NOTIFICATION_LIST_MAX).contains(&l) => l,
        Some(_) => return Err(invalid(&format!("limit is 1 to {NOTIFICATION_LIST_MAX}"))),
    };
    Ok((DeliveryFilter { state, channel, account, before: None }, q.cursor, limit))
}
