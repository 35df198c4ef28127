//! What every page of a signed-in person starts from: [`SignedIn`] (an
//! active session, else a trip to the sign-in page and back) and
//! [`CsrfForm`] (a state-changing form whose CSRF token matches the
//! session, else 403 and a denied event).

use std::collections::HashMap;

use axum::Form;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};

use super::signin::{redirect, signin_path};
use super::visitor::Visitor;
use crate::app::App;
use crate::audit::HttpInfo;
use crate::auth::Caller;
use crate::http::extract::Meta;
use crate::vault::ConsoleSession;

/// A signed-in person and the request's audit context.
#[derive(Debug)]
pub struct SignedIn {
    pub session: ConsoleSession,
    pub http: HttpInfo,
}

impl SignedIn {
    pub fn caller(&self) -> &Caller {
        &self.session.caller
    }
}

fn here(parts: &Parts) -> String {
    parts.uri.path_and_query().map_or_else(|| "/".to_owned(), |p| p.as_str().to_owned())
}

impl FromRequestParts<App> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, app: &App) -> Result<Self, Response> {
        let visitor = Visitor::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
        let Meta(http) = Meta::from_request_parts(parts, app).await.map_err(IntoResponse::into_response)?;
        match visitor.session {
            Some(session) => Ok(Self { session, http }),
            None => {
                let clear = if visitor.stale_cookie {
                    vec![super::cookies::clear(super::cookies::SESSION, super::secure(app))]
                } else {
                    vec![]
                };
                Err(redirect(&signin_path(&here(parts)), &clear))
            }
        }
    }
}

/// A POSTed form of a signed-in person, its CSRF token checked.
#[derive(Debug)]
pub struct CsrfForm {
    pub who: SignedIn,
    pub fields: HashMap<String, Vec<String>>,
}

impl CsrfForm {
    /// The first value of `name`, trimmed; empty as none.
    pub fn field(&self, name: &str) -> Option<&str> {
        self.fields.get(name).and_then(|v| v.first()).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name` (repeated fields, multi-selects).
    pub fn values(&self, name: &str) -> Vec<&str> {
        self.fields
            .get(name)
            .map(|v| v.iter().map(|s| s.trim()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    }
}

impl FromRequest<App> for CsrfForm {
    type Rejection = Response;

    async fn from_request(req: Request, app: &App) -> Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let who = SignedIn::from_request_parts(&mut parts, app).await?;
        let req = Request::from_parts(parts, body);
        let pairs: Vec<(String, String)> = match Form::<Vec<(String, String)>>::from_request(req, app).await {
            Ok(Form(pairs)) => pairs,
            Err(_) => Vec::new(),
        };
        let mut fields: HashMap<String, Vec<String>> = HashMap::new();
        for (k, v) in pairs {
            fields.entry(k).or_default().push(v);
        }
        let token = fields.get("csrf_token").and_then(|v| v.first()).map(String::as_str);
        super::check_csrf(app, &who.http, &who.session, token, crate::audit::Action::AuthFail).await?;
        Ok(Self { who, fields })
    }
}
