//! The account page's "Root sign-ins" section: the latest root events the
//! watch recorded for the account (docs/root-signin-watch.md), with the
//! request that explains an expected one. A view of the vault's list; the
//! classification is the vault's.

use maud::{Markup, html};

use crate::vault::RootSigninPage;

/// How many of the latest events the page shows.
pub const SHOWN: u32 = 10;

fn mfa(used: Option<bool>) -> &'static str {
    match used {
        Some(true) => "yes",
        Some(false) => "no",
        None => "—",
    }
}

pub fn section(page: Option<&RootSigninPage>) -> Markup {
    html! {
        h2 { "Root sign-ins" }
        p.muted { "The root user's console sign-ins and password or e-mail changes that AWS reported. Unexplained and failed ones alert both parties." }
        @match page {
            None => p.muted { "Not shown." },
            Some(page) if page.root_signins.is_empty() => p.muted { "None recorded." },
            Some(page) => div.scroll { table {
                thead { tr { th { "Time" } th { "Event" } th { "Classification" } th { "Source IP" } th { "MFA" } th { "Request" } } }
                tbody { @for s in &page.root_signins { tr data-root-signin=(s.id) data-classification=(s.classification) {
                    td { (s.event_time) }
                    td { (s.event_name) @if s.outcome == "failure" { " (failed)" } }
                    td { @if s.classification == "expected" { (s.classification) } @else { strong { (s.classification) } } }
                    td.mono { (s.source_ip.as_deref().unwrap_or("—")) }
                    td { (mfa(s.mfa_used)) }
                    td { @match &s.request_id {
                        Some(r) => a.mono href=(format!("/requests/{r}")) { (r) },
                        None => "—",
                    } }
                } } }
            } },
        }
    }
}
