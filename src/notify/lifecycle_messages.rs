//! What people are told about an account's life: onboarding, DDI moves,
//! closure and reopening (docs/lifecycle.md). Facts come from the event's
//! webhook data; never a secret.

use serde_json::Value;

use super::compose::Context;
use super::message::{Message, Severity};
use crate::domain::notices::Notice;

/// `["provider"]` as "the provider", `["provider", "customer"]` as "the
/// provider or the customer".
fn sides(ctx: &Context<'_>, half: &str) -> String {
    let named: Vec<String> = ctx
        .data
        .get("depositors")
        .and_then(|d| d.get(half))
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).map(|s| format!("the {s}")).collect())
        .unwrap_or_default();
    named.join(" or the ")
}

fn yes_no(ctx: &Context<'_>, key: &str) -> &'static str {
    match ctx.data.get(key).and_then(Value::as_bool) {
        Some(true) => "yes",
        Some(false) => "no",
        None => "",
    }
}

/// The facts every move message carries.
fn move_facts(ctx: &Context<'_>, message: Message) -> Message {
    message
        .fact("Account", ctx.account_label())
        .fact("Move", ctx.text("move_id"))
        .fact("From", ctx.text("from_customer_org"))
        .fact("To", ctx.text("to_customer_org"))
        .fact("Move date", ctx.text("move_date"))
        .fact("Inside a move window", yes_no(ctx, "in_window"))
}

/// The message for a lifecycle `notice`; `None` for any other notice.
pub(super) fn compose(notice: Notice, ctx: &Context<'_>) -> Option<Message> {
    let account = ctx.account_label();
    let (from, to, date) = (ctx.text("from_customer_org"), ctx.text("to_customer_org"), ctx.text("move_date"));
    let message = match notice {
        Notice::OnboardingStarted => {
            let (password, mfa) = (sides(ctx, "password"), sides(ctx, "mfa"));
            Message::new(
                Severity::Action,
                ctx.subject("onboarding", "onboarding started"),
                format!("The provider started onboarding {account}: its root credentials come into custody."),
            )
            .fact("Account", account)
            .fact("Password half from", password.clone())
            .fact("MFA half from", mfa.clone())
            .step(format!(
                "The password half is deposited by {password}'s custodians (or through a one-time collect link): \
                 reset the root password, or keep yours and submit it through the link."
            ))
            .step(format!("The MFA half is deposited by {mfa}'s custodians once MFA is enabled on the root user."))
            .step("The provider settles the other checklist items and completes the onboarding.")
        }
        Notice::OnboardingCompleted => Message::new(
            Severity::Info,
            ctx.subject("onboarding", "onboarding completed"),
            format!(
                "Onboarding of {account} is complete: every checklist item is settled and the account is in custody."
            ),
        )
        .fact("Account", account)
        .fact("Completed at", ctx.occurred_at.to_owned()),
        Notice::MoveRequested => move_facts(
            ctx,
            Message::new(
                Severity::Action,
                ctx.subject("move", &format!("move to {to} requested")),
                format!("{from} asks to move {account} to {to} on {date}."),
            ),
        )
        .fact("Fee acknowledged", yes_no(ctx, "fee_acknowledged"))
        .step("The provider's admin confirms the move in rootvault, or cancels it."),
        Notice::MoveConfirmed => move_facts(
            ctx,
            Message::new(
                Severity::Info,
                ctx.subject("move", &format!("move to {to} confirmed")),
                format!("The provider confirmed the move of {account} from {from} to {to} on {date}."),
            ),
        )
        .step(format!(
            "On that date {from} loses access: its custodians and the halves it holds are retired, and its open \
             break-glass requests are cancelled."
        )),
        Notice::MoveCompleted => {
            let retired: Vec<String> = ctx
                .data
                .get("retired_halves")
                .and_then(Value::as_array)
                .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
                .unwrap_or_default();
            let mut m = move_facts(
                ctx,
                Message::new(
                    Severity::Action,
                    ctx.subject("move", &format!("moved to {to}")),
                    format!("{account} moved from {from} to {to}."),
                ),
            )
            .fact("Halves retired", retired.join(", "))
            .fact(
                "Requests cancelled",
                ctx.data.get("requests_cancelled").map(ToString::to_string).unwrap_or_default(),
            );
            if !retired.is_empty() {
                m = m.step(format!(
                    "{to}'s admin names custodians for the {} half and they deposit it: nothing of it can be \
                     released until then.",
                    retired.join(" and ")
                ));
            }
            m.step("Review the account's custodians in the console.")
        }
        Notice::MoveCancelled => move_facts(
            ctx,
            Message::new(
                Severity::Info,
                ctx.subject("move", "move cancelled"),
                format!("The move of {account} to {to} was cancelled; it stays with {from}."),
            ),
        ),
        Notice::AccountClosed => Message::new(
            Severity::Info,
            ctx.subject("closure", "account closed"),
            format!("{account} was closed. Its halves are kept, encrypted, and nothing is released."),
        )
        .fact("Account", account)
        .fact("Closed at", ctx.occurred_at.to_owned())
        .fact("Reopen until", ctx.text("reopen_until"))
        .step(
            "A provider admin may reopen the account until the date above (AWS allows it for 90 days); after \
             that its keys are destroyed.",
        ),
        Notice::AccountReopened => Message::new(
            Severity::Info,
            ctx.subject("closure", "account reopened"),
            format!("{account} was reopened: custody resumes and releases follow the usual rules again."),
        )
        .fact("Account", account)
        .fact("Reopened at", ctx.occurred_at.to_owned()),
        _ => return None,
    };
    Some(ctx.account_link(message))
}
