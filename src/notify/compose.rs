//! What each notice says to each audience (see `domain::notices` for who
//! hears it): subjects, summaries, facts, next steps and console links.

use serde_json::Value;

use super::message::{Message, Severity};
use crate::domain::account::Account;
use crate::domain::breakglass::Request;
use crate::domain::ids::Principal;
use crate::domain::notices::{Audience, Notice};

/// What a notice is about, as the notifier found it.
#[derive(Debug, Clone, Copy)]
pub struct Context<'a> {
    pub account: &'a Account,
    /// The request the notice is about, when it is about one.
    pub request: Option<&'a Request>,
    /// The event's data, as its webhook carries it.
    pub data: &'a Value,
    /// Who acted (a principal), if anyone.
    pub actor: Option<&'a str>,
    pub occurred_at: &'a str,
    /// The console's base URL (`public_url`).
    pub console: &'a str,
}

impl Context<'_> {
    pub(super) fn text(&self, key: &str) -> String {
        self.data.get(key).and_then(Value::as_str).unwrap_or_default().to_owned()
    }

    fn request_id(&self) -> String {
        self.text("request_id")
    }

    pub(super) fn account_label(&self) -> String {
        format!("{} ({})", self.account.account_id, self.account.name)
    }

    pub(super) fn subject(&self, kind: &str, what: &str) -> String {
        format!("[rootvault][{kind}] {}: {what}", self.account_label())
    }

    fn request_link(&self, message: Message, label: &str) -> Message {
        message.link(label, format!("{}/requests/{}", self.console, self.request_id()))
    }

    pub(super) fn account_link(&self, message: Message) -> Message {
        message
            .link("Open the account in the console", format!("{}/accounts/{}", self.console, self.account.account_id))
    }

    /// The request's facts, from the stored request when there is one.
    fn with_request(&self, mut message: Message) -> Message {
        message = message.fact("Account", self.account_label()).fact("Request", self.request_id());
        if let Some(r) = self.request {
            message = message
                .fact("Requester", r.requester.to_string())
                .fact("Reason", r.reason.clone())
                .fact("Ticket", r.ticket.clone().unwrap_or_default())
                .fact("Password to", r.password_to.as_ref().map(ToString::to_string).unwrap_or_default())
                .fact("MFA code to", r.mfa_to.as_ref().map(ToString::to_string).unwrap_or_default())
                .fact("Window", format!("{} minutes once approved", r.window_minutes));
        }
        message
    }
}

/// The message `audience` gets for `notice`; `None` when it has nothing to
/// say to that audience.
pub fn compose(notice: Notice, audience: &Audience, ctx: &Context<'_>) -> Option<Message> {
    let requester = ctx.request.map(|r| r.requester.to_string()).unwrap_or_else(|| ctx.text("requester"));
    let message = match (notice, audience) {
        (Notice::RequestCreated, _) => {
            let m = Message::new(
                Severity::Action,
                ctx.subject("approval", &format!("break-glass requested by {requester}")),
                format!("{requester} asks for break-glass access to the root user of {}.", ctx.account_label()),
            );
            let m = ctx.with_request(m).step(
                "Check the reason and the ticket, then approve or deny in the console. \
                 Nobody may approve their own request or one that would hand them a half.",
            );
            ctx.request_link(m, "Review the request")
        }
        (Notice::RequestApproved, Audience::Recipient(who)) => {
            let half = half_for(ctx.request?, who)?;
            let m = Message::new(
                Severity::Action,
                ctx.subject("release", &format!("your {half} is ready")),
                format!(
                    "The break-glass request of {requester} is approved: you can take the {half} of {} in the console.",
                    ctx.account_label()
                ),
            );
            let ends = ctx.request.and_then(|r| r.window_ends).map(crate::vault::rfc3339).unwrap_or_default();
            let m = ctx.with_request(m).fact("Available until", ends).step(
                "Sign in to the console and open the request. You may be asked to sign in again first: \
                 releases need a recent sign-in.",
            );
            ctx.request_link(m, "Open the request")
        }
        (Notice::RequestApproved | Notice::RequestDenied | Notice::RequestCancelled | Notice::RequestExpired, _) => {
            let (word, severity) = match notice {
                Notice::RequestApproved => ("approved", Severity::Info),
                Notice::RequestDenied => ("denied", Severity::Info),
                Notice::RequestCancelled => ("cancelled", Severity::Info),
                _ => ("expired", Severity::Info),
            };
            let by = ctx.actor.map(|a| format!(" by {a}")).unwrap_or_default();
            let m = Message::new(
                severity,
                ctx.subject("request", word),
                format!("Your break-glass request for {} was {word}{by}.", ctx.account_label()),
            );
            let m = ctx.with_request(m).fact("Cancelled because", ctx.text("cancel_reason"));
            ctx.request_link(m, "Open the request")
        }
        (Notice::RequestReleased, _) => {
            let half = match ctx.text("half").as_str() {
                "password" => "password",
                _ => "MFA code",
            };
            let recipient = ctx.text("recipient");
            let m = Message::new(
                Severity::Info,
                ctx.subject("release", &format!("{half} released to {recipient}")),
                format!("rootvault released the {half} of {} to {recipient}.", ctx.account_label()),
            );
            let m = ctx.with_request(m).fact("Released at", ctx.occurred_at.to_owned()).step(
                "Nothing to do if this release is expected; otherwise ask the requester, and watch the \
                 account's root sign-ins in the console.",
            );
            ctx.request_link(m, "Open the request")
        }
        (Notice::CustodyEnded, _) => {
            let status = ctx.text("status");
            let summary = if status == "returned" {
                format!(
                    "rootvault handed the root credentials of {} back to the customer and destroyed its keys.",
                    ctx.account_label()
                )
            } else {
                format!("Custody of {} ended ({status}); its keys are destroyed.", ctx.account_label())
            };
            let m = Message::new(Severity::Info, ctx.subject("custody", &format!("custody ended ({status})")), summary)
                .fact("Account", ctx.account_label())
                .fact("Ended at", ctx.occurred_at.to_owned());
            ctx.account_link(m)
        }
        (Notice::RootSigninAlert, _) => root_signin_alert(ctx),
        (Notice::RootSigninExpected, _) => {
            let m = Message::new(
                Severity::Info,
                ctx.subject("sign-in", "root sign-in during break-glass"),
                format!(
                    "Someone signed in as the root user of {} inside the window of a break-glass request \
                     whose password was released.",
                    ctx.account_label()
                ),
            );
            let m = ctx
                .with_request(m)
                .fact("Time", ctx.text("event_time"))
                .fact("Source address", ctx.text("source_ip"))
                .fact("MFA used", mfa_word(ctx))
                .fact("CloudTrail event", ctx.text("event_id"))
                .step("Nothing to do if the requester expected it; the request says who received the password.");
            ctx.request_link(m, "Open the request")
        }
        (
            Notice::OnboardingStarted
            | Notice::OnboardingCompleted
            | Notice::MoveRequested
            | Notice::MoveConfirmed
            | Notice::MoveCompleted
            | Notice::MoveCancelled
            | Notice::AccountClosed
            | Notice::AccountReopened,
            _,
        ) => super::lifecycle_messages::compose(notice, ctx)?,
    };
    Some(message)
}

/// Which half `who` receives in `request`, in words.
fn half_for(request: &Request, who: &Principal) -> Option<&'static str> {
    if request.password_to.as_ref() == Some(who) {
        Some("password")
    } else if request.mfa_to.as_ref() == Some(who) {
        Some("MFA code")
    } else {
        None
    }
}

fn root_signin_alert(ctx: &Context<'_>) -> Message {
    let event = ctx.text("event_name");
    let failed = ctx.text("classification") == "failed";
    let (what, steps): (String, &[&str]) = match (event.as_str(), failed) {
        ("ConsoleLogin", true) => (
            "failed root sign-in".into(),
            &["Someone tried to sign in as the root user and failed. Check the source address: \
                 repeated failures from an unknown address mean the root credentials are targeted."],
        ),
        ("ConsoleLogin", false) => (
            "unexplained root sign-in".into(),
            &[
                "No approved break-glass request of this account had its password released for this time.",
                "Ask the provider's on-call who signed in. If nobody did, treat the root password as \
                 compromised: rotate it through rootvault and review CloudTrail for this session.",
            ],
        ),
        ("EmailUpdated", _) => (
            "root e-mail changed".into(),
            &[
                "The root user's e-mail address changed while rootvault holds the account: whoever owns \
                 the new address can recover the root user.",
                "Confirm who changed it; if nobody expected it, contact AWS support at once.",
            ],
        ),
        (_, true) => (format!("failed root {}", words(&event)), &["Check the source address and who tried it."]),
        (_, false) => (
            format!("root {} outside a rotation", words(&event)),
            &[
                "The root password changed (or its recovery started) without a rotation in rootvault: \
                 the password rootvault holds may no longer work.",
                "Confirm who did it; if nobody expected it, recover the account and rotate its password.",
            ],
        ),
    };
    let mfa = mfa_word(ctx);
    let mut m = Message::new(
        Severity::Alert,
        format!("[rootvault][ALERT] {}: {what}", ctx.account_label()),
        format!("AWS recorded a {what} on {}.", ctx.account_label()),
    )
    .fact("Account", ctx.account_label())
    .fact("Event", event.clone())
    .fact("Time", ctx.text("event_time"))
    .fact("Source address", ctx.text("source_ip"))
    .fact("MFA used", mfa)
    .fact("Region", ctx.text("region"))
    .fact("Classification", ctx.text("classification"))
    .fact("CloudTrail event", ctx.text("event_id"));
    for step in steps {
        m = m.step(*step);
    }
    ctx.account_link(m)
}

/// Whether AWS says MFA was used, in words ("" when it does not say).
fn mfa_word(ctx: &Context<'_>) -> &'static str {
    match ctx.data.get("mfa_used").and_then(Value::as_bool) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
}

/// `PasswordRecoveryRequested` as "password recovery requested".
fn words(event: &str) -> String {
    let mut out = String::new();
    for (i, c) in event.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push(' ');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_names_read_as_words() {
        assert_eq!(words("PasswordRecoveryRequested"), "password recovery requested");
        assert_eq!(words("PasswordUpdated"), "password updated");
    }
}
