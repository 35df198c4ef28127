//! The console's page frame and headers: every page is server-rendered
//! with maud (which escapes every value), styled only by the self-hosted
//! stylesheet, and sent with a strict CSP, `no-store` and no referrer.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};
use maud::{DOCTYPE, Markup, html};

/// The stylesheet, served at [`STYLESHEET_PATH`].
pub const STYLESHEET: &str = include_str!("../web/console.css");
pub const STYLESHEET_PATH: &str = "/assets/console.css";

/// The policy of every console page: nothing but this origin's stylesheet
/// and images, forms only to this origin, never framed.
const CSP: &str = "default-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Headers of console pages (and of the stylesheet).
pub async fn headers(req: Request, next: Next) -> Response {
    let mut response = next.run(req).await;
    let headers = response.headers_mut();
    if !headers.contains_key(header::CONTENT_SECURITY_POLICY) {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// A whole page: `title`, an optional signed-in header, and `body`.
pub fn page(title: &str, signed_in: Option<Markup>, body: Markup) -> Html<String> {
    Html(
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width, initial-scale=1";
                    title { (title) " · rootvault" }
                    link rel="stylesheet" href=(STYLESHEET_PATH);
                }
                body {
                    header {
                        a.brand href="/" { "rootvault" }
                        @if let Some(who) = signed_in { (who) }
                    }
                    main { (body) }
                }
            }
        }
        .into_string(),
    )
}

/// A page that explains a refusal in plain words, with a way on.
pub fn problem(status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p.box.error data-field="error" role="alert" { (message) }
        p { a.button href="/signin" { "Back to sign-in" } }
    };
    (status, page(title, None, body)).into_response()
}

/// A refusal shown to a signed-in person (`header` from
/// `console::signed_in`): the vault's message in plain words, and a way home.
pub fn refused(header: Markup, status: StatusCode, title: &str, message: &str) -> Response {
    let body = html! {
        h1 { (title) }
        p.box.error data-field="error" role="alert" { (message) }
        p { a.button.secondary href="/" { "Back to my work" } }
    };
    (status, page(title, Some(header), body)).into_response()
}

pub async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], STYLESHEET).into_response()
}
