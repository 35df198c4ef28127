//! Request extractors: who is calling, the request's audit context, and
//! strict JSON bodies.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::app::App;
use crate::audit::{Action, EventDraft, HttpInfo, Target};
use crate::auth::Caller;
use crate::error::Error;

/// The id the request-id middleware gave this request.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The HTTP context recorded with every audit event.
#[derive(Debug, Clone)]
pub struct Meta(pub HttpInfo);

fn user_agent(parts: &Parts) -> Option<String> {
    let raw = parts.headers.get(USER_AGENT)?.to_str().ok()?;
    Some(raw.chars().filter(|c| !c.is_control()).take(256).collect())
}

impl<S: Send + Sync> FromRequestParts<S> for Meta {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Error> {
        Ok(Meta(HttpInfo {
            request_id: parts.extensions.get::<RequestId>().map(|r| r.0.clone()),
            ip: parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip().to_string()),
            user_agent: user_agent(parts),
        }))
    }
}

impl FromRequestParts<App> for Caller {
    type Rejection = Error;

    /// Verify the bearer token. Every failure is an `auth.fail` audit event
    /// with the precise reason; the caller only sees 401.
    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let Meta(http) = Meta::from_request_parts(parts, app).await?;
        let token = parts
            .headers
            .get(AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
            .map(str::trim);
        let failure = match token {
            None => ("missing bearer token", None),
            Some(token) => match app.auth.verify(token) {
                Ok(caller) => return Ok(caller),
                Err(f) => (f.reason, f.org),
            },
        };
        let (reason, org) = failure;
        let mut draft = EventDraft::new(None, Action::AuthFail, Target::default(), &http)
            .detail("reason", reason)
            .detail("route", parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned()));
        if let Some(org) = org {
            draft = draft.detail("org", org.to_string());
        }
        Err(app.vault.refuse(draft, Error::Unauthenticated).await)
    }
}

/// A request body read under the size limit, not yet parsed. Parsing is left
/// to the handler so that a refused body is audited like any other refusal.
#[derive(Debug)]
pub struct RawJson(pub Bytes);

impl<S: Send + Sync> FromRequest<S> for RawJson {
    type Rejection = Error;

    async fn from_request(req: Request, state: &S) -> Result<Self, Error> {
        let is_json =
            req.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).is_some_and(|v| {
                v.split(';').next().is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
            });
        if !is_json {
            return Err(Error::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::malformed("unreadable_body", "the request body could not be read")
            }
        })?;
        Ok(RawJson(bytes))
    }
}

/// serde's messages quote offending string values, which could be secrets
/// typed into the wrong field; keep the message, drop the quoted values.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside = false;
    for c in message.chars() {
        if c == '"' {
            if !inside {
                out.push_str("\"…\"");
            }
            inside = !inside;
        } else if !inside {
            out.push(c);
        }
    }
    out
}

impl RawJson {
    /// Parse into `T`: syntax errors are 400, shape errors (unknown fields,
    /// wrong types, bad ids) are 422.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.0).map_err(|e| {
            use serde_json::error::Category;
            let message = redact_quoted(&e.to_string());
            match e.classify() {
                Category::Data => Error::invalid("invalid_body", message),
                Category::Syntax | Category::Eof | Category::Io => Error::malformed("malformed_json", message),
            }
        })
    }
}

/// Parse a body extracted as `Result<RawJson, Error>` (so size and media
/// type refusals reach the handler too).
pub fn parse_body<T: DeserializeOwned>(body: Result<RawJson, Error>) -> Result<T, Error> {
    body.and_then(|raw| raw.parse())
}

/// Parse an optional body: none at all (empty, or sent without a JSON
/// content type, as a bare `curl -X POST` does) means `T::default()`.
pub fn parse_optional_body<T: DeserializeOwned + Default>(body: Result<RawJson, Error>) -> Result<T, Error> {
    match body {
        Err(Error::UnsupportedMediaType) => Ok(T::default()),
        Ok(raw) if raw.0.is_empty() => Ok(T::default()),
        other => parse_body(other),
    }
}

/// Pass `result` through; on a refusal, record it under `draft` first.
pub async fn or_refuse<T>(app: &App, draft: impl FnOnce() -> EventDraft, result: Result<T, Error>) -> Result<T, Error> {
    match result {
        Ok(value) => Ok(value),
        Err(e) => Err(app.vault.refuse(draft(), e).await),
    }
}

#[cfg(test)]
mod tests {
    use super::redact_quoted;

    #[test]
    fn quoted_values_are_dropped_from_parse_messages() {
        let m = redact_quoted(r#"invalid type: string "hunter2!", expected a boolean at line 1 column 30"#);
        assert_eq!(m, r#"invalid type: string "…", expected a boolean at line 1 column 30"#);
        assert!(!m.contains("hunter2"));
    }
}
