//! The account page's "Onboarding" section (docs/lifecycle.md): where the
//! checklist stands and who deposits which half. A view of the vault's
//! onboarding, shown to admins; the steps are taken through the API.

use maud::{Markup, html};

use crate::domain::onboarding::OnboardingItem;
use crate::vault::OnboardingView;

pub fn section(onboarding: Option<&OnboardingView>) -> Markup {
    let Some(o) = onboarding else { return html! {} };
    html! {
        h2 { "Onboarding" }
        p data-field="onboarding-state" { "Onboarding is " strong { (o.state.as_str().replace('_', " ")) } "."
            @if let Some(at) = &o.completed_at { " Completed " (at) "." } }
        p.muted {
            "The password half is deposited by the " (o.depositors.password.join(" or the "))
            ", the MFA half by the " (o.depositors.mfa.join(" or the "))
            "; their deposits tick reset_password and enable_mfa."
        }
        @if let Some(name) = &o.legal_name { p { "For " (name) @if let Some(s) = &o.signatory { ", signed by " (s.name) } "." } }
        div.scroll { table {
            thead { tr { th { "Item" } th { "Status" } th { "By" } th { "At" } } }
            tbody { @for item in OnboardingItem::ALL { tr data-onboarding-item=(item.as_str()) {
                td.mono { (item.as_str()) }
                @match o.checklist.get(&item) {
                    Some(m) => { td { (m.status.as_str()) @if let Some(v) = m.version { " (version " (v) ")" } } td.mono { (m.by) } td { (m.at) } },
                    None => { td { strong { "open" } } td { "—" } td { "—" } },
                }
            } } }
        } }
    }
}
