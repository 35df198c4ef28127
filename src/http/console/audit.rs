//! `/audit` (auditors): the caller's org's events, filtered and paged, the
//! downloads (JSON Lines, CSV, a verifiable bundle) and what an auditor
//! needs to verify a bundle offline. Every read goes through the same vault
//! use cases as `/v1/audit`, which scope it to the caller's org and record it.

use axum::Router;
use axum::body::Body;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::stream;
use maud::{Markup, html};
use serde::Deserialize;

use super::page::{page, refused};
use super::{SignedIn, signed_in};
use crate::app::App;
use crate::error::Error;
use crate::http::error::status_of;
use crate::vault::{AuditQuery, CheckpointView, EventFormat};

/// Events per page of the table.
const PAGE_SIZE: u64 = 50;

pub fn routes() -> Router<App> {
    Router::new()
        .route("/audit", get(events_page))
        .route("/audit/events.jsonl", get(download_jsonl))
        .route("/audit/events.csv", get(download_csv))
        .route("/audit/export.json", get(download_bundle))
        .route("/audit/checkpoint.txt", get(download_checkpoint))
}

/// The filters as a browser sends them: every field text, empty as absent.
#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    account_id: Option<String>,
    action: Option<String>,
    outcome: Option<String>,
    since: Option<String>,
    until: Option<String>,
    actor: Option<String>,
    after_seq: Option<String>,
    trusted_size: Option<String>,
    /// Which checkpoint to download (its tree size).
    size: Option<String>,
}

fn given(value: &Option<String>) -> Option<&str> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty())
}

fn number(name: &str, value: &Option<String>) -> Result<Option<u64>, Error> {
    given(value)
        .map(|v| v.parse().map_err(|_| Error::malformed("invalid_query", format!("{name} must be a whole number"))))
        .transpose()
}

impl Filters {
    /// The vault's query for these filters.
    fn query(&self, format: Option<EventFormat>, limit: Option<u64>) -> Result<AuditQuery, Error> {
        let account_id = given(&self.account_id)
            .map(|a| a.parse().map_err(|_| Error::malformed("invalid_query", "account_id must be 12 digits")))
            .transpose()?;
        let owned = |v: &Option<String>| given(v).map(str::to_owned);
        Ok(AuditQuery {
            account_id,
            since: owned(&self.since),
            until: owned(&self.until),
            action: owned(&self.action),
            outcome: owned(&self.outcome),
            actor: owned(&self.actor),
            after_seq: number("after_seq", &self.after_seq)?,
            limit,
            format,
            trusted_size: number("trusted_size", &self.trusted_size)?,
        })
    }

    /// The filters (not the paging) as a query string, for links.
    fn link_query(&self) -> String {
        let mut out = url::form_urlencoded::Serializer::new(String::new());
        for (name, value) in [
            ("account_id", &self.account_id),
            ("action", &self.action),
            ("outcome", &self.outcome),
            ("since", &self.since),
            ("until", &self.until),
            ("actor", &self.actor),
        ] {
            if let Some(v) = given(value) {
                out.append_pair(name, v);
            }
        }
        out.finish()
    }
}

/// `path?query` with `extra` pairs appended.
fn with_query(path: &str, query: &str, extra: &[(&str, String)]) -> String {
    let mut out = url::form_urlencoded::Serializer::new(query.to_owned());
    for (k, v) in extra {
        out.append_pair(k, v);
    }
    let query = out.finish();
    if query.is_empty() { path.to_owned() } else { format!("{path}?{query}") }
}

/// The filters, or the refusal of a query string that is not even a form.
fn filters(q: Result<Query<Filters>, QueryRejection>) -> Result<Filters, Error> {
    q.map(|Query(f)| f).map_err(|e| Error::malformed("invalid_query", e.body_text()))
}

/// The events the vault streams, read whole (one page of the table).
async fn events(app: &App, who: &SignedIn, query: AuditQuery) -> Result<Vec<serde_json::Value>, Error> {
    let mut chunks = app.vault.event_stream(who.caller(), &who.http, query).await?;
    let mut text = String::new();
    while let Some(chunk) = chunks.recv().await {
        text.push_str(&chunk.map_err(|e| Error::Internal(e.to_string()))?);
    }
    Ok(text.lines().filter_map(|line| serde_json::from_str(line).ok()).collect())
}

fn text(value: &serde_json::Value) -> String {
    match value {
        serde_json::Value::Null => String::new(),
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn filter_form(f: &Filters) -> Markup {
    let value = |v: &Option<String>| given(v).unwrap_or_default().to_owned();
    let outcome = given(&f.outcome).unwrap_or_default();
    html! {
        form.box.fields method="get" action="/audit" {
            div { label for="account_id" { "Account" } input #account_id name="account_id" inputmode="numeric" placeholder="12 digits" value=(value(&f.account_id)); }
            div { label for="action" { "Action" } input #action name="action" placeholder="e.g. half.release" value=(value(&f.action)); }
            div {
                label for="outcome" { "Outcome" }
                select #outcome name="outcome" {
                    option value="" selected[outcome.is_empty()] { "any" }
                    @for o in ["ok", "denied", "error"] { option value=(o) selected[outcome == o] { (o) } }
                }
            }
            div { label for="actor" { "Actor" } input #actor name="actor" placeholder="org/sub" value=(value(&f.actor)); }
            div { label for="since" { "Since" } input #since name="since" placeholder="2026-01-31T00:00:00Z" value=(value(&f.since)); }
            div { label for="until" { "Until" } input #until name="until" placeholder="2026-02-01T00:00:00Z" value=(value(&f.until)); }
            div { button type="submit" data-action="audit-filter" { "Show events" } }
        }
    }
}

fn table(rows: &[serde_json::Value]) -> Markup {
    html! {
        div.scroll {
            table.events {
                thead { tr { th { "Seq" } th { "Time" } th { "Actor" } th { "Action" } th { "Outcome" } th { "Account" } th { "Reason" } } }
                tbody {
                    @for e in rows {
                        tr {
                            td.mono { (text(&e["seq"])) }
                            td { (text(&e["time"])) }
                            td.mono { (text(&e["actor"])) }
                            td.mono { (text(&e["action"])) }
                            td { (text(&e["outcome"])) }
                            td.mono { (text(&e["target"]["account_id"])) }
                            td { (text(&e["reason"])) }
                        }
                    }
                }
            }
        }
    }
}

fn verification(filters: &Filters, cp: &CheckpointView) -> Markup {
    let command = format!(
        "rootvault audit verify bundle.json --public-key '{}' --trusted-checkpoint trusted-checkpoint.txt",
        cp.public_key
    );
    let hidden: Vec<(String, String)> =
        url::form_urlencoded::parse(filters.link_query().as_bytes()).into_owned().collect();
    html! {
        h2 { "Verify offline" }
        p {
            "The log is signed. Keep a checkpoint, then check any later bundle against it on your own machine: "
            "every event's inclusion, the signature, that the log only grew, and that none of your events is missing."
        }
        dl.box {
            dt { "Checkpoint" } dd { pre.mono data-field="checkpoint" { (cp.checkpoint) } }
            dt { "Public key" } dd.mono data-field="public-key" { (cp.public_key) }
        }
        p { a.button.secondary href=(format!("/audit/checkpoint.txt?size={}", cp.size)) data-action="audit-download" download="trusted-checkpoint.txt" { "Download this checkpoint" } }
        form.box.fields method="get" action="/audit/export.json" {
            @for (name, value) in &hidden { input type="hidden" name=(name) value=(value); }
            div {
                label for="trusted_size" { "Size of your trusted checkpoint" }
                input #trusted_size name="trusted_size" inputmode="numeric" required value=(cp.size);
                p.muted { "The number on the second line of the checkpoint file you kept. The bundle proves the log grew from it." }
            }
            div { button type="submit" data-action="audit-download" { "Download a verifiable bundle" } }
        }
        p { "Then run:" }
        p.box.mono data-field="verify-command" { (command) }
    }
}

/// `GET /audit?account_id&action&outcome&since&until&actor&after_seq`
pub async fn events_page(State(app): State<App>, who: SignedIn, q: Result<Query<Filters>, QueryRejection>) -> Response {
    let header = || signed_in(&who.session);
    let f = filters(q).unwrap_or_default();
    let read = async {
        let q = f.query(None, Some(PAGE_SIZE + 1))?;
        let rows = events(&app, &who, q).await?;
        let cp = app.vault.checkpoint_view(who.caller(), &who.http, None).await?;
        Ok::<_, Error>((rows, cp))
    };
    let (mut rows, cp) = match read.await {
        Ok(read) => read,
        Err(e @ Error::Forbidden { .. }) => return refused(header(), status_of(&e), "Audit log", &e.to_string()),
        Err(e) => {
            let body = html! {
                h1 { "Audit log" }
                p.box.error data-field="error" role="alert" { (e.to_string()) }
                (filter_form(&f))
            };
            return (status_of(&e), page("Audit log", Some(header()), body)).into_response();
        }
    };
    let next = (rows.len() as u64 > PAGE_SIZE).then(|| {
        rows.truncate(PAGE_SIZE as usize);
        let last = rows.last().map(|e| text(&e["seq"])).unwrap_or_default();
        with_query("/audit", &f.link_query(), &[("after_seq", last)])
    });
    let query = f.link_query();
    let body = html! {
        h1 { "Audit log" }
        p.muted { "The events of your organisation's accounts, oldest first. Reading them is itself recorded." }
        (filter_form(&f))
        @if rows.is_empty() {
            p.box { "No events match these filters. Clear a filter, or widen the time range." }
        } @else {
            (table(&rows))
        }
        @if let Some(next) = next { p { a.button.secondary href=(next) { "Next page" } } }
        h2 { "Download" }
        p.muted { "The events matching the filters above, all pages." }
        ul.downloads {
            li { a.button.secondary href=(with_query("/audit/events.jsonl", &query, &[])) data-action="audit-download" download="audit-events.jsonl" { "JSON Lines" } }
            li { a.button.secondary href=(with_query("/audit/events.csv", &query, &[])) data-action="audit-download" download="audit-events.csv" { "CSV" } }
        }
        (verification(&f, &cp))
    };
    page("Audit log", Some(header()), body).into_response()
}

/// A download's answer: `content_type`, saved as `filename`.
fn attachment(content_type: &'static str, filename: &'static str, body: Body) -> Response {
    let disposition = format!("attachment; filename=\"{filename}\"");
    ([(header::CONTENT_TYPE, content_type.to_owned()), (header::CONTENT_DISPOSITION, disposition)], body)
        .into_response()
}

fn download_refused(who: &SignedIn, e: &Error) -> Response {
    refused(signed_in(&who.session), status_of(e), "Download refused", &e.to_string())
}

async fn download_events(
    app: App,
    who: SignedIn,
    q: Result<Query<Filters>, QueryRejection>,
    format: EventFormat,
) -> Response {
    let streamed = async {
        let q = filters(q)?.query(Some(format), None)?;
        app.vault.event_stream(who.caller(), &who.http, q).await
    };
    match streamed.await {
        Ok(chunks) => {
            let body =
                Body::from_stream(stream::unfold(chunks, |mut rx| async move { rx.recv().await.map(|c| (c, rx)) }));
            match format {
                EventFormat::Jsonl => attachment("application/x-ndjson; charset=utf-8", "audit-events.jsonl", body),
                EventFormat::Csv => attachment("text/csv; charset=utf-8", "audit-events.csv", body),
            }
        }
        Err(e) => download_refused(&who, &e),
    }
}

/// `GET /audit/events.jsonl` with the page's filters.
pub async fn download_jsonl(
    State(app): State<App>,
    who: SignedIn,
    q: Result<Query<Filters>, QueryRejection>,
) -> Response {
    download_events(app, who, q, EventFormat::Jsonl).await
}

/// `GET /audit/events.csv` with the page's filters.
pub async fn download_csv(
    State(app): State<App>,
    who: SignedIn,
    q: Result<Query<Filters>, QueryRejection>,
) -> Response {
    download_events(app, who, q, EventFormat::Csv).await
}

/// `GET /audit/export.json`: the bundle of `GET /v1/audit/export`.
pub async fn download_bundle(
    State(app): State<App>,
    who: SignedIn,
    q: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let exported = async {
        let q = filters(q)?.query(None, None)?;
        let bundle = app.vault.export(who.caller(), &who.http, q).await?;
        serde_json::to_string_pretty(&bundle).map_err(|e| Error::Internal(e.to_string()))
    };
    match exported.await {
        Ok(json) => attachment("application/json", "bundle.json", Body::from(json)),
        Err(e) => download_refused(&who, &e),
    }
}

/// `GET /audit/checkpoint.txt?size=N`: a checkpoint note to keep (the
/// current one without `size`).
pub async fn download_checkpoint(
    State(app): State<App>,
    who: SignedIn,
    q: Result<Query<Filters>, QueryRejection>,
) -> Response {
    let viewed = async {
        let size = number("size", &filters(q)?.size)?;
        app.vault.checkpoint_view(who.caller(), &who.http, size).await
    };
    match viewed.await {
        Ok(cp) => attachment("text/plain; charset=utf-8", "trusted-checkpoint.txt", Body::from(cp.checkpoint)),
        Err(e) => download_refused(&who, &e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_filters_are_absent_and_links_keep_only_given_ones() {
        let f = Filters {
            account_id: Some("".into()),
            action: Some("link.create".into()),
            outcome: Some(" ".into()),
            after_seq: Some("7".into()),
            ..Filters::default()
        };
        let q = f.query(None, Some(3)).unwrap();
        assert!(q.account_id.is_none() && q.outcome.is_none());
        assert_eq!((q.action.as_deref(), q.after_seq, q.limit), (Some("link.create"), Some(7), Some(3)));
        assert_eq!(f.link_query(), "action=link.create");
        assert_eq!(with_query("/audit", "", &[]), "/audit");
        assert_eq!(with_query("/audit", "a=1", &[("after_seq", "9".into())]), "/audit?a=1&after_seq=9");
        assert!(Filters { after_seq: Some("x".into()), ..Filters::default() }.query(None, None).is_err());
    }
}
