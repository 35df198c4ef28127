//! The one place errors become HTTP responses.
//!
//! Body shape: `{"error": {"code": "snake_case_code", "message": "…"}}`.
//! 5xx bodies carry fixed sentences; their details were logged where the
//! error was raised.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::Error;

/// The body of every error the API answers with.
#[derive(Debug, Serialize, ToSchema)]
#[schema(example = json!({"error": {"code": "four_eyes_violation", "message": "acme/alice holds the password half of 100000000002, so cannot hold its MFA half"}}))]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong: a stable code for programs, a sentence for people
/// (never a secret; 5xx messages are fixed sentences).
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    #[schema(schema_with = crate::http::openapi::error_code_schema)]
    pub code: &'static str,
    pub message: String,
}

impl ErrorBody {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        Self { error: ErrorDetail { code, message: message.into() } }
    }
}

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
        let mut response = (status, Json(ErrorBody::new(self.code(), self.to_string()))).into_response();
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
