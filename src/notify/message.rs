//! Messages to people: what each notice says, to whom, as e-mail (plain
//! text and HTML) and as the facts chat payloads are built from.
//!
//! A message carries ids, principals, the request's stated reason and
//! links into the console, never a secret: the console is where anything
//! is released, after sign-in. Subjects read
//! `[rootvault][<kind>] <account id> (<name>): <what>` so that a mailbox
//! sorted by subject groups alerts, approvals and releases, then accounts.

use maud::{DOCTYPE, html};
use serde::{Deserialize, Serialize};

/// How urgent a message is; chat formats colour by it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// For the record (a release, a decision).
    Info,
    /// Someone must act (approve, take a release).
    Action,
    /// Something may be wrong (a root sign-in nobody explains).
    Alert,
}

/// One message, as stored in the outbox until it is delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub subject: String,
    pub severity: Severity,
    /// One sentence: what happened.
    pub summary: String,
    /// Labelled facts, in reading order.
    pub facts: Vec<(String, String)>,
    /// What the reader should do or check, one step per entry.
    pub steps: Vec<String>,
    /// Where to act, with its label.
    pub link: Option<(String, String)>,
}

impl Message {
    pub fn new(severity: Severity, subject: String, summary: String) -> Self {
        Self { subject, severity, summary, facts: Vec::new(), steps: Vec::new(), link: None }
    }

    /// Add a fact unless it is empty.
    pub fn fact(mut self, label: &str, value: impl Into<String>) -> Self {
        let value = value.into();
        if !value.is_empty() {
            self.facts.push((label.to_owned(), value));
        }
        self
    }

    pub fn step(mut self, text: impl Into<String>) -> Self {
        self.steps.push(text.into());
        self
    }

    pub fn link(mut self, label: &str, url: String) -> Self {
        self.link = Some((label.to_owned(), url));
        self
    }

    /// The plain-text part of the e-mail.
    pub fn text(&self) -> String {
        let mut out = format!("{}\n\n", self.summary);
        let width = self.facts.iter().map(|(label, _)| label.chars().count()).max().unwrap_or(0);
        for (label, value) in &self.facts {
            out.push_str(&format!("{label:<width$}  {}\n", one_line(value)));
        }
        if !self.steps.is_empty() {
            out.push_str("\nWhat to do:\n");
            for step in &self.steps {
                out.push_str(&format!("- {step}\n"));
            }
        }
        if let Some((label, url)) = &self.link {
            out.push_str(&format!("\n{label}: {url}\n"));
        }
        out.push_str("\nrootvault never sends a password, a code or a link key by e-mail or chat.\n");
        out
    }

    /// The HTML part of the e-mail: no script, no remote asset.
    pub fn html(&self) -> String {
        let accent = match self.severity {
            Severity::Info => "#4b5563",
            Severity::Action => "#1d4ed8",
            Severity::Alert => "#b91c1c",
        };
        html! {
            (DOCTYPE)
            html lang="en" {
                head { meta charset="utf-8"; title { (self.subject) } }
                body style="font-family: sans-serif; color: #111827; max-width: 40em" {
                    p style=(format!("border-left: 4px solid {accent}; padding-left: 0.75em; font-size: 1.05em")) {
                        (self.summary)
                    }
                    @if !self.facts.is_empty() {
                        table style="border-collapse: collapse" {
                            @for (label, value) in &self.facts {
                                tr {
                                    th style="text-align: left; padding: 0.2em 1em 0.2em 0; vertical-align: top" { (label) }
                                    td style="padding: 0.2em 0" { (value) }
                                }
                            }
                        }
                    }
                    @if !self.steps.is_empty() {
                        p { strong { "What to do" } }
                        ul { @for step in &self.steps { li { (step) } } }
                    }
                    @if let Some((label, url)) = &self.link {
                        p { a href=(url) style=(format!("color: {accent}")) { (label) } }
                    }
                    p style="color: #6b7280; font-size: 0.85em" {
                        "rootvault never sends a password, a code or a link key by e-mail or chat."
                    }
                }
            }
        }
        .into_string()
    }
}

/// A value on one line (reasons may hold line breaks).
fn one_line(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Message {
        Message::new(Severity::Alert, "[rootvault][alert] 1 (x): y".into(), "A <root> sign-in".into())
            .fact("Reason", "line one\nline two")
            .fact("Ticket", "")
            .step("Check it")
            .link("Open the account", "https://vault.example/accounts/1".into())
    }

    #[test]
    fn text_lists_facts_steps_and_the_link_and_skips_empty_facts() {
        let text = sample().text();
        assert!(text.starts_with("A <root> sign-in\n\n"));
        assert!(text.contains("Reason  line one line two\n"));
        assert!(!text.contains("Ticket"));
        assert!(text.contains("- Check it\n"));
        assert!(text.contains("Open the account: https://vault.example/accounts/1\n"));
    }

    #[test]
    fn html_escapes_what_people_typed() {
        let html = sample().html();
        assert!(html.contains("A &lt;root&gt; sign-in"));
        assert!(!html.contains("<script"));
        assert!(html.contains(r#"href="https://vault.example/accounts/1""#));
    }
}
