//! Who is looking at a console page: the session its `rv_session` cookie
//! names, if that session is active. A cookie that names no active session
//! (tampered, forged, signed out, idle, expired) is an `auth.fail` event,
//! and the visitor is treated as signed out.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use super::cookies;
use crate::app::App;
use crate::error::Error;
use crate::http::extract::{Meta, auth_failed};
use crate::vault::ConsoleSession;

#[derive(Debug)]
pub struct Visitor {
    pub session: Option<ConsoleSession>,
    /// The browser sent a cookie that no longer opens anything: clear it.
    pub stale_cookie: bool,
}

impl FromRequestParts<App> for Visitor {
    type Rejection = Error;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Error> {
        let Some(cookie) = cookies::read(&parts.headers, cookies::SESSION) else {
            return Ok(Self { session: None, stale_cookie: false });
        };
        match app.vault.console_session(&cookie).await {
            Ok(session) => Ok(Self { session: Some(session), stale_cookie: false }),
            Err(reason) => {
                let Meta(http) = Meta::from_request_parts(parts, app).await?;
                let _ = auth_failed(app, parts, &http, reason, None).await;
                Ok(Self { session: None, stale_cookie: true })
            }
        }
    }
}
