//! The console's two cookies: `rv_session` (a session id, HttpOnly) and
//! `rv_login` (binds a sign-in in progress to this browser, 10 minutes).
//! Both `SameSite=Lax` (sent when the identity provider sends the browser
//! back, never with another site's POST) and `Secure` when the service's
//! public URL is https.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

pub const SESSION: &str = "rv_session";
pub const LOGIN: &str = "rv_login";
/// How long a sign-in may take at the provider.
const LOGIN_MAX_AGE_SECONDS: i64 = crate::store::sessions::PENDING_TTL_SECONDS;

/// The value of cookie `name` in a request, if sent once.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    let mut found = headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned());
    let first = found.next();
    // Two cookies of one name (one planted for a parent domain or path)
    // are ambiguous: trust neither.
    if found.next().is_some() { None } else { first }
}

fn attributes(secure: bool) -> &'static str {
    if secure { "Path=/; HttpOnly; SameSite=Lax; Secure" } else { "Path=/; HttpOnly; SameSite=Lax" }
}

/// A browser-session cookie holding `value`: gone when the browser closes;
/// the server ends the session on its own clock anyway.
pub fn session(value: &str, secure: bool) -> String {
    format!("{SESSION}={value}; {}", attributes(secure))
}

pub fn login(value: &str, secure: bool) -> String {
    format!("{LOGIN}={value}; Max-Age={LOGIN_MAX_AGE_SECONDS}; {}", attributes(secure))
}

/// A header that removes cookie `name`.
pub fn clear(name: &str, secure: bool) -> String {
    format!("{name}=; Max-Age=0; {}", attributes(secure))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn a_cookie_is_read_only_when_sent_once() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("a=1; rv_session=abc; b=2"));
        assert_eq!(read(&headers, SESSION).as_deref(), Some("abc"));
        assert_eq!(read(&headers, LOGIN), None);
        headers.append(COOKIE, HeaderValue::from_static("rv_session=planted"));
        assert_eq!(read(&headers, SESSION), None);
    }

    #[test]
    fn cookies_are_http_only_lax_and_secure_on_https() {
        assert_eq!(session("v", false), "rv_session=v; Path=/; HttpOnly; SameSite=Lax");
        assert!(session("v", true).ends_with("; Secure"));
        assert!(login("v", false).contains("Max-Age=600"));
        assert!(clear(SESSION, false).starts_with("rv_session=; Max-Age=0"));
    }
}
