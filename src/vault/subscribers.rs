//! Webhook subscribers of an account, managed by each party's admins.

use std::sync::Arc;

use rand::RngCore;
use serde::Serialize;

use super::{Vault, require_role, visible};
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::domain::ids::{AccountId, Role};
use crate::error::Error;
use crate::notify::Event;
use crate::notify::target::{self, TargetError};
use crate::store::{self, outbox::Subscriber};

/// Most subscribers one org may have on one account.
const MAX_PER_ORG: usize = 10;

/// A new subscriber with its signing secret, shown once.
#[derive(Debug, Serialize)]
pub struct NewSubscriber {
    #[serde(flatten)]
    pub subscriber: Subscriber,
    #[serde(serialize_with = "super::expose")]
    pub secret: secrecy::SecretString,
}

/// Check a webhook URL's form and, unless private targets are allowed,
/// that every address its host resolves to is public (`notify::target`).
async fn check_url(raw: &str, allow_private: bool) -> Result<reqwest::Url, Error> {
    let refuse = |e: TargetError| Error::invalid("invalid_url", e.to_string());
    let url = target::parse(raw, allow_private).map_err(refuse)?;
    if !allow_private {
        target::resolve(&url).await.map_err(refuse)?;
    }
    Ok(url)
}

impl Vault {
    /// Subscribe a URL to an account's events (admins of a party org).
    pub async fn add_subscriber(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        url: String,
        events: Vec<String>,
    ) -> Result<NewSubscriber, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::SubscriberCreate, Target::account(&id), http);
        let checked = match self.ensure_unsealed() {
            Ok(()) => check_url(&url, self.allow_private_webhooks).await,
            Err(e) => Err(e),
        };
        let checked = checked.and_then(|url| {
            if let Some(unknown) = events.iter().find(|e| Event::parse(e).is_none()) {
                let known: Vec<_> = Event::ALL.iter().map(|e| e.as_str()).collect();
                return Err(Error::invalid(
                    "invalid_event",
                    format!("unknown event {unknown:?}; known: {}", known.join(", ")),
                ));
            }
            Ok(url)
        });
        let url = match checked {
            Ok(url) => url,
            Err(e) => return Err(self.refuse(draft, e).await),
        };
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let secret = format!("whsec_{}", hex::encode(bytes));
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, draft, now| {
            visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "managing webhooks")?;
            let org = &caller.principal.org;
            if store::outbox::subscribers(tx, &id, org)?.len() >= MAX_PER_ORG {
                return Err(Error::conflict(
                    "too_many_subscribers",
                    format!("at most {MAX_PER_ORG} subscribers per org and account"),
                ));
            }
            let sub_id = format!("sub_{}", uuid::Uuid::new_v4().simple());
            let by = caller.principal.to_string();
            store::outbox::add_subscriber(tx, &sub_id, &id, org, url.as_str(), &secret, &events, &by, now)?;
            // URLs can embed tokens in their path: the log keeps the host only.
            draft.details.insert("subscriber_id".into(), sub_id.clone().into());
            draft.details.insert("host".into(), url.host_str().unwrap_or("").into());
            let subscriber = Subscriber {
                id: sub_id,
                account_id: id.to_string(),
                org: org.to_string(),
                url: url.to_string(),
                events,
                created_at: now.to_owned(),
                created_by: by,
            };
            Ok(NewSubscriber { subscriber, secret: secrecy::SecretString::from(secret) })
        })
        .await
    }

    /// The caller's org's subscribers of an account (admins).
    pub async fn subscribers(&self, caller: &Caller, http: &HttpInfo, id: AccountId) -> Result<Vec<Subscriber>, Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::SubscriberList, Target::account(&id), http);
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, _| {
            visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "managing webhooks")?;
            Ok(store::outbox::subscribers(tx, &id, &caller.principal.org)?)
        })
        .await
    }

    /// Remove one of the caller's org's subscribers; its queued deliveries stop.
    pub async fn remove_subscriber(
        &self,
        caller: &Caller,
        http: &HttpInfo,
        id: AccountId,
        sub_id: String,
    ) -> Result<(), Error> {
        let draft = EventDraft::new(Some(&caller.principal), Action::SubscriberDelete, Target::account(&id), http)
            .detail("subscriber_id", sub_id.chars().take(64).collect::<String>());
        let (orgs, caller) = (Arc::clone(&self.orgs), caller.clone());
        self.audited(draft, move |tx, _, now| {
            visible(&orgs, tx, &caller, &id)?;
            require_role(&caller, Role::Admin, "managing webhooks")?;
            if store::outbox::remove_subscriber(tx, &id, &caller.principal.org, &sub_id, now)? {
                Ok(())
            } else {
                Err(Error::NotFound("subscriber"))
            }
        })
        .await
    }
}
