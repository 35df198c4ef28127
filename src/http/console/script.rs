//! The console's one script, served at [`SCRIPT_PATH`] from the binary
//! (never inline: CSP `script-src 'self'`), loaded by release pages only:
//! a copy button for a revealed password and the MFA code's countdown and
//! self-refresh.

use axum::http::header;
use axum::response::{IntoResponse, Response};

const SCRIPT: &str = include_str!("../web/console.js");
pub const SCRIPT_PATH: &str = "/assets/console.js";

pub async fn script() -> Response {
    ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], SCRIPT).into_response()
}
