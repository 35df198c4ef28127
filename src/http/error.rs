//! The one place errors become HTTP responses.
//!
//! Body shape: `{"error": {"code": "snake_case_code", "message": "…"}}`.
//! 5xx bodies carry fixed sentences; their details were logged where the
//! error was raised.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::error::Error;

/// The status code of each error kind.
pub fn status_of(err: &Error) -> StatusCode {
    match err {
        Error::Malformed { .. } => StatusCode::BAD_REQUEST,
        Error::Unauthenticated | Error::ReauthenticationRequired => StatusCode::UNAUTHORIZED,
        Error::Forbidden { .. } => StatusCode::FORBIDDEN,
        Error::NotFound(_) => StatusCode::NOT_FOUND,
        Error::Conflict { .. } => StatusCode::CONFLICT,
        Error::Gone { .. } => StatusCode::GONE,
        Error::PayloadTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
        Error::RateLimited => StatusCode::TOO_MANY_REQUESTS,
        Error::UnsupportedMediaType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
        Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        Error::Sealed
        | Error::AuditUnavailable
        | Error::AuditTampered
        | Error::Unavailable(_)
        | Error::NoActiveNode => StatusCode::SERVICE_UNAVAILABLE,
        Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let status = status_of(&self);
        if let Error::Internal(detail) | Error::Unavailable(detail) = &self {
            tracing::error!(code = self.code(), detail = %detail, "request failed");
        }
        let mut response =
            (status, Json(json!({"error": {"code": self.code(), "message": self.to_string()}}))).into_response();
        if status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(axum::http::header::WWW_AUTHENTICATE, axum::http::HeaderValue::from_static("Bearer"));
        }
        if let Error::NoActiveNode = self {
            // A standby takes over within seconds (DESIGN §17).
            response.headers_mut().insert(axum::http::header::RETRY_AFTER, axum::http::HeaderValue::from_static("1"));
        }
        response
    }
}
