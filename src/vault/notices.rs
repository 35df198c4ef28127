//! Notifications to people: routing announced events to e-mail addresses
//! and chat channels, and the provider admins' view of every delivery.
//!
//! Events are announced in their own transaction (see `notify` in this
//! module's parent); the worker calls [`Vault::route_announcements`], which
//! turns each into outbox deliveries and marks it routed in one write, so
//! a crash between the two neither loses nor doubles a message.

use std::collections::{BTreeMap, BTreeSet};

use crate::store::Conn;
use serde_json::Value;

use super::{Vault, require_role};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::config::OrgRouting;
use crate::domain::account::{Account, Email};
use crate::domain::ids::{AccountId, OrgName, Principal, Role};
use crate::domain::notices::{Audience, Notice, RequestPeople, audiences};
use crate::domain::orgs::Party;
use crate::error::Error;
use crate::notify::Event;
use crate::notify::compose::{Context, compose};
use crate::store::outbox::{Channel, DeliveryFilter, DeliveryRow, NewMessage};
use crate::store::{self, StoreError, announcements, people};

/// Announcements routed per write.
const ROUTE_BATCH: u32 = 50;
/// Most deliveries one listing returns.
pub const NOTIFICATION_LIST_MAX: u32 = 200;

/// Where each org hears, and which channels exist.
#[derive(Debug, Clone, Default)]
pub struct PeopleRouting {
    pub orgs: BTreeMap<OrgName, OrgRouting>,
    /// An SMTP relay is configured.
    pub email: bool,
}

impl Event {
    /// The notice people get for this event, if any (rotations, account
    /// edits, single onboarding items and consent marks are for webhooks
    /// only).
    fn notice(self) -> Option<Notice> {
        match self {
            Event::RequestCreated => Some(Notice::RequestCreated),
            Event::RequestApproved => Some(Notice::RequestApproved),
            Event::RequestDenied => Some(Notice::RequestDenied),
            Event::RequestCancelled => Some(Notice::RequestCancelled),
            Event::RequestReleased => Some(Notice::RequestReleased),
            Event::RequestExpired => Some(Notice::RequestExpired),
            Event::CustodyEnded => Some(Notice::CustodyEnded),
            Event::RootSigninAlert => Some(Notice::RootSigninAlert),
            Event::RootSigninExpected => Some(Notice::RootSigninExpected),
            Event::OnboardingStarted => Some(Notice::OnboardingStarted),
            Event::OnboardingCompleted => Some(Notice::OnboardingCompleted),
            Event::MoveRequested => Some(Notice::MoveRequested),
            Event::MoveConfirmed => Some(Notice::MoveConfirmed),
            Event::MoveCompleted => Some(Notice::MoveCompleted),
            Event::MoveCancelled => Some(Notice::MoveCancelled),
            Event::AccountClosed => Some(Notice::AccountClosed),
            Event::AccountReopened => Some(Notice::AccountReopened),
            Event::HalfRotated | Event::AccountUpdated | Event::OnboardingProgress | Event::ConsentMarked => None,
        }
    }

    /// Whether people hear about this event at all.
    pub(super) fn tells_people(self) -> bool {
        self.notice().is_some()
    }
}

impl Vault {
    /// Route announced events to people; returns how many were routed.
    pub async fn route_announcements(&self) -> Result<usize, Error> {
        let pending = self.store.read(|c| announcements::unrouted(c, ROUTE_BATCH)).await?;
        if pending.is_empty() {
            return Ok(0);
        }
        let (routing, orgs, console) = (self.people.clone(), self.orgs.clone(), self.public_url());
        let now = super::now_rfc3339();
        let routed = self
            .store
            .write(move |b| {
                let tx = b.conn();
                let mut routed = 0;
                for item in pending {
                    if !announcements::mark_routed(tx, &item.id, &now)? {
                        continue;
                    }
                    routed += 1;
                    let (Some(event), Ok(payload)) =
                        (Event::parse(&item.event), serde_json::from_str::<Value>(&item.payload))
                    else {
                        tracing::warn!(announcement = %item.id, "an announcement is unreadable; skipped");
                        continue;
                    };
                    let Some(notice) = event.notice() else { continue };
                    let Ok(account_id) = item.account_id.parse::<AccountId>() else { continue };
                    let Some(account) = store::accounts::get(tx, &account_id)? else { continue };
                    let route = Route { tx, routing: &routing, provider: orgs.provider(), account: &account };
                    route.deliver(notice, event, &payload, &console, &now)?;
                }
                Ok::<_, StoreError>(routed)
            })
            .await?;
        Ok(routed)
    }

    /// `GET /v1/sys/notifications`: deliveries, newest first (provider
    /// admins), after `cursor` (a previous page's). Never a body: subjects,
    /// targets and states only. The second value is the next page's cursor,
    /// if there is one.
    pub async fn notifications(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        mut filter: DeliveryFilter,
        cursor: Option<&str>,
        limit: u32,
    ) -> Result<(Vec<DeliveryRow>, Option<String>), Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::SysNotifications, Target::default(), http);
        // Deliveries sort by their creation time, kept as fixed-width RFC 3339
        // text with milliseconds; the cursor carries it as Unix milliseconds.
        let valid_id = |id: &str| uuid::Uuid::parse_str(id).is_ok();
        match cursor.map(|c| super::cursor::decode(c, valid_id)).transpose() {
            Ok(before) => filter.before = before.map(|(ms, id)| (rfc3339_ms(ms), id)),
            Err(e) => return Err(self.refuse(draft, e).await),
        }
        let (who, orgs) = (caller.clone(), self.orgs.clone());
        let limit = limit.clamp(1, NOTIFICATION_LIST_MAX);
        self.audited(draft, move |tx, _, _| {
            if !orgs.is_provider(&who.principal.org) {
                return Err(Error::forbidden("forbidden", "only the provider's admins see notification deliveries"));
            }
            require_role(&who, Role::Admin, "listing notification deliveries")?;
            let mut rows = store::outbox::list(tx, &filter, limit + 1)?;
            let next = if rows.len() > limit as usize {
                rows.truncate(limit as usize);
                rows.last().map(|r| super::cursor::encode(unix_ms(&r.created_at), &r.id))
            } else {
                None
            };
            Ok((rows, next))
        })
        .await
    }
}

/// Unix milliseconds as the outbox's `created_at` text.
fn rfc3339_ms(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .map(super::rfc3339_of)
        .unwrap_or_default()
}

/// The outbox's `created_at` text (always written by `now_rfc3339`) as
/// Unix milliseconds.
fn unix_ms(text: &str) -> i64 {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp_nanos().div_euclid(1_000_000) as i64)
        .unwrap_or_default()
}

/// One announcement being routed, inside the routing write.
struct Route<'a, 'c> {
    tx: &'a Conn<'c>,
    routing: &'a PeopleRouting,
    provider: &'a OrgName,
    account: &'a Account,
}

impl Route<'_, '_> {
    fn deliver(
        &self,
        notice: Notice,
        event: Event,
        payload: &Value,
        console: &str,
        now: &str,
    ) -> Result<(), StoreError> {
        let data = payload.get("data").cloned().unwrap_or(Value::Null);
        let request = match data.get("request_id").and_then(Value::as_str) {
            Some(id) => store::requests::load(self.tx, id)?.map(|r| r.request),
            None => None,
        };
        let people = request.as_ref().map(|r| RequestPeople {
            requester: &r.requester,
            password_to: r.password_to.as_ref(),
            mfa_to: r.mfa_to.as_ref(),
        });
        let ctx = Context {
            account: self.account,
            request: request.as_ref(),
            data: &data,
            actor: payload.get("actor").and_then(Value::as_str),
            occurred_at: payload.get("occurred_at").and_then(Value::as_str).unwrap_or(now),
            console,
        };
        let mut served = BTreeSet::new();
        for audience in audiences(notice, self.account, people) {
            for (channel, target) in self.targets(&audience)? {
                if !served.insert((channel, target.clone())) {
                    continue;
                }
                let Some(message) = compose(notice, &audience, &ctx) else { continue };
                let body = serde_json::to_string(&message).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                let new = NewMessage {
                    channel,
                    target: &target,
                    account: &self.account.account_id,
                    event: event.as_str(),
                    subject: &message.subject,
                    payload: &body,
                };
                store::outbox::enqueue_message(self.tx, &new, now, super::now_ms())?;
            }
        }
        Ok(())
    }

    fn org(&self, party: Party) -> Option<&OrgRouting> {
        let name = match party {
            Party::Provider => Some(self.provider),
            Party::Customer => self.account.customer_org.as_ref(),
        };
        name.and_then(|n| self.routing.orgs.get(n))
    }

    /// The channels and targets an audience is reached at.
    fn targets(&self, audience: &Audience) -> Result<Vec<(Channel, String)>, StoreError> {
        let email = |address: Option<&Email>| -> Vec<(Channel, String)> {
            match address {
                Some(a) if self.routing.email => vec![(Channel::Email, a.to_string())],
                _ => Vec::new(),
            }
        };
        Ok(match audience {
            Audience::Approvers(p) => email(self.org(*p).and_then(|o| o.approvers_email.as_ref())),
            Audience::Security(p) => email(self.org(*p).and_then(|o| o.security_email.as_ref())),
            Audience::AccountTeam(p) => email(self.org(*p).and_then(|o| o.account_team_email.as_ref())),
            Audience::AccountSecurityContact => email(self.account.contacts.security.as_ref()),
            Audience::Chat(p) => {
                self.org(*p).map(|o| o.chat.iter().map(|c| (Channel::Chat, c.clone())).collect()).unwrap_or_default()
            }
            Audience::Requester(who) | Audience::Recipient(who) => email(self.person(who)?.as_ref()),
        })
    }

    /// A person's address: the one their provider vouched for at sign-in,
    /// else their subject when it is itself an address.
    fn person(&self, who: &Principal) -> Result<Option<Email>, StoreError> {
        Ok(people::email_of(self.tx, who)?.or_else(|| who.sub.as_str().parse().ok()))
    }
}
