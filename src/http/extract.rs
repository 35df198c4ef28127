//! Request extractors: who is calling, the request's audit context, and
//! strict JSON bodies.

use std::net::{IpAddr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, MatchedPath, Request};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, USER_AGENT};
use axum::http::request::Parts;
use serde::Deserialize;
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
        let (reason, org) = match bearer_token(&parts.headers) {
            None => ("missing bearer token", None),
            // Tokens `rootvault login` received: the session decides.
            Some(token) if app.vault.is_service_token(token) => match app.vault.service_token_caller(token).await {
                Ok(caller) => return Ok(caller),
                Err(reason) => (reason, None),
            },
            Some(token) => match app.auth.verify(token).await {
                Ok(caller) => return Ok(caller),
                Err(f) => (f.reason, f.org),
            },
        };
        Err(auth_failed(app, parts, &http, reason, org).await)
    }
}

/// The bearer token of a request's `Authorization` header, if any.
pub fn bearer_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")))
        .map(str::trim)
}

/// Count a failed authentication per address and record it as `auth.fail`
/// (only the first of a window for each reason in full, see `failures`);
/// returns the 401 to answer with.
pub async fn auth_failed(
    app: &App,
    parts: &Parts,
    http: &HttpInfo,
    reason: &'static str,
    org: Option<crate::domain::ids::OrgName>,
) -> Error {
    let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map_or(IpAddr::from([0, 0, 0, 0]), |c| c.0.ip());
    let noted = app.auth_failures.note(ip, reason, std::time::Instant::now(), crate::vault::unix_now());
    if !app.ha.role().is_active() {
        // Only the active node writes (DESIGN §17). A standby answers few
        // routes itself (health, the seal, the cluster's status) and
        // forwards the rest before authenticating: its failures, still
        // counted against the budget, go to the service log.
        let route = parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned());
        tracing::warn!(%ip, reason, ?route, "authentication failed on a standby (not in the audit log)");
        return Error::Unauthenticated;
    }
    super::failures::record(&app.vault, noted.summaries).await;
    if !noted.record {
        return Error::Unauthenticated;
    }
    let mut draft = EventDraft::new(None, Action::AuthFail, Target::default(), http)
        .detail("reason", reason)
        .detail("route", parts.extensions.get::<MatchedPath>().map(|p| p.as_str().to_owned()));
    if let Some(org) = org {
        draft = draft.detail("org", org.to_string());
    }
    app.vault.refuse(draft, Error::Unauthenticated).await
}

/// Whether `path` decodes to UTF-8 (axum's `Path` refuses it otherwise,
/// with a plain-text body). A `%` not followed by two hex digits is kept
/// as is, as the router does.
pub fn percent_decoded_is_utf8(path: &str) -> bool {
    let raw = path.as_bytes();
    let mut decoded = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (raw[i], raw.get(i + 1).copied().and_then(hex), raw.get(i + 2).copied().and_then(hex)) {
            (b'%', Some(hi), Some(lo)) => {
                // Two hex digits make at most 0xff: the cast cannot truncate.
                decoded.push((hi * 16 + lo) as u8);
                i += 3;
            }
            (b, _, _) => {
                decoded.push(b);
                i += 1;
            }
        }
    }
    std::str::from_utf8(&decoded).is_ok()
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
        let deadline = req.extensions().get::<super::server::BodyReadTimeout>().map(|t| t.0);
        let read = Bytes::from_request(req, state);
        let read = match deadline {
            Some(deadline) => tokio::time::timeout(deadline, read)
                .await
                .map_err(|_| Error::malformed("body_timeout", "the request body did not arrive in time"))?,
            None => read.await,
        };
        let bytes = read.map_err(|rejection| {
            if rejection.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Error::PayloadTooLarge
            } else {
                Error::malformed("unreadable_body", "the request body could not be read")
            }
        })?;
        Ok(RawJson(bytes))
    }
}

/// serde's messages echo the offending value (`invalid type: integer
/// `90417753``, `unknown variant `hunter2``, `invalid value: string "…"`),
/// and that value may be a secret typed into the wrong field. Rebuild the
/// message from what is safe: where in the body (`at`, a field path), what
/// kind of problem, and what was expected. Messages of our own parsers are
/// fixed sentences; anything quoted in them is dropped all the same.
fn describe(at: &str, message: &str) -> String {
    let message = message.rfind(" at line ").map_or(message, |i| &message[..i]);
    let expected = |m: &str| m.split_once(", expected ").map(|(_, e)| e.to_owned());
    let kind = [
        ("invalid type: ", "wrong type"),
        ("invalid value: ", "invalid value"),
        ("unknown variant ", "unknown value"),
        ("invalid length ", "wrong length"),
        ("unknown field ", "unknown field"),
    ]
    .into_iter()
    .find(|(prefix, _)| message.starts_with(prefix));
    let what = match kind {
        Some((_, kind)) => match expected(message) {
            Some(e) => format!("{kind}, expected {e}"),
            None if kind == "unknown field" => "unknown field; the object takes no fields".to_owned(),
            None => kind.to_owned(),
        },
        // `missing field` and `duplicate field` name our own field.
        None if message.starts_with("missing field ") || message.starts_with("duplicate field ") => message.to_owned(),
        None => redact_quoted(message),
    };
    if at.is_empty() || at == "." { format!("body: {what}") } else { format!("{at}: {what}") }
}

/// Drop whatever a message quotes with `"` or `` ` ``.
fn redact_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut inside: Option<char> = None;
    for c in message.chars() {
        match inside {
            Some(q) if c == q => inside = None,
            Some(_) => {}
            None if c == '"' || c == '`' => {
                out.push('…');
                inside = Some(c);
            }
            None => out.push(c),
        }
    }
    out
}

impl RawJson {
    /// Parse into `T`: syntax errors are 400, shape errors (unknown fields,
    /// wrong types, bad ids) are 422. The message names the field and what
    /// was expected, never the value sent.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T, Error> {
        use serde_json::error::Category;
        let syntax = |e: serde_json::Error| Error::malformed("malformed_json", redact_quoted(&e.to_string()));
        // Every body is an object, but serde's derived structs also take an
        // array of their fields in order: refuse one here (after the syntax
        // check, so malformed JSON stays a 400).
        if serde_json::from_slice::<serde_json::Value>(&self.0).map_err(syntax)?.is_array() {
            return Err(Error::invalid("invalid_body", "body: wrong type, expected a JSON object"));
        }
        let mut de = serde_json::Deserializer::from_slice(&self.0);
        let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let at = e.path().to_string();
            let inner = e.into_inner();
            match inner.classify() {
                Category::Data => Error::invalid("invalid_body", describe(&at, &inner.to_string())),
                Category::Syntax | Category::Eof | Category::Io => syntax(inner),
            }
        })?;
        de.end().map_err(syntax)?;
        Ok(value)
    }
}

/// `deserialize_with` for an object nested in a body: like the body itself
/// (`RawJson::parse`), it must be a JSON object, not an array of its fields.
/// The object's fields go on to `T` through the same map, so an error still
/// names its full path (`recipient.name`).
pub fn object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    d.deserialize_map(ObjectOnly(std::marker::PhantomData))
}

/// `object` for an optional field: absent or `null` is `None`.
pub fn optional_object<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    d.deserialize_option(OptionalObject(std::marker::PhantomData))
}

/// The visitor of `object`.
struct ObjectOnly<T>(std::marker::PhantomData<T>);

/// The visitor of `optional_object`.
struct OptionalObject<T>(std::marker::PhantomData<T>);

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for ObjectOnly<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object")
    }

    fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
        T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
    }
}

impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for OptionalObject<T> {
    type Value = Option<T>;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("an object or null")
    }

    fn visit_none<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_unit<E: serde::de::Error>(self) -> Result<Option<T>, E> {
        Ok(None)
    }

    fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<T>, D::Error> {
        object(d).map(Some)
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
    use super::{describe, percent_decoded_is_utf8, redact_quoted};

    #[test]
    fn parse_messages_name_the_field_and_the_expectation_but_never_the_value() {
        let cases = [
            ("invalid type: integer `90417753`, expected a string at line 1 column 24", "90417753"),
            (r#"invalid type: string "hunter2!", expected u32 at line 1 column 30"#, "hunter2"),
            ("unknown variant `hunter2`, expected `deliver` or `collect`", "hunter2"),
            (r#"invalid value: string "hunter2", expected a date"#, "hunter2"),
            ("invalid length 90417753, expected a shorter list", "90417753"),
            ("a custom message quoting `hunter2` and \"hunter2\"", "hunter2"),
        ];
        for (message, value) in cases {
            let m = describe("passphrase", message);
            assert!(m.starts_with("passphrase: "), "{m}");
            assert!(!m.contains(value), "{m}");
        }
        assert_eq!(
            describe("ttl_minutes", "invalid type: string \"x\", expected u32 at line 1 column 9"),
            "ttl_minutes: wrong type, expected u32"
        );
        assert_eq!(describe(".", "missing field `purpose`"), "body: missing field `purpose`");
    }

    #[test]
    fn quoted_values_are_dropped() {
        assert_eq!(redact_quoted(r#"bad "hunter2" and `x`!"#), "bad … and …!");
    }

    #[test]
    fn paths_are_checked_for_utf8_after_percent_decoding() {
        assert!(percent_decoded_is_utf8("/v1/links/abc%20d%C3%A9"));
        assert!(percent_decoded_is_utf8("/v1/links/100%"));
        assert!(!percent_decoded_is_utf8("/v1/links/%FF%FE"));
        assert!(!percent_decoded_is_utf8("/v1/requests/%C3"));
    }
}
