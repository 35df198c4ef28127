//! The OpenAPI 3.1 description of the `/v1` API, generated from the code:
//! the handlers' `#[utoipa::path]` annotations, the API view and body types
//! (`ToSchema`), the error body of `crate::http::error`, and the path
//! parameters and standard refusals every route shares. Served at
//! `GET /v1/openapi.json` and checked in as `docs/openapi.json` (see
//! docs/api.md for how to regenerate it).

mod error_codes;
mod params;
mod values;

use std::borrow::Cow;
use std::sync::OnceLock;

use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use utoipa::openapi::{Ref, RefOr, schema::Schema};
use utoipa::{OpenApi, PartialSchema, ToSchema};

pub use error_codes::{ERROR_CODES, error_code_schema};

use crate::audit::bundle::Bundle;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "rootvault",
        description = "Custody of AWS account root credentials: split halves, four-eyes rules, break-glass, \
            tamper-evident audit. Every answer is JSON unless said otherwise and carries `Cache-Control: \
            no-store` and an `x-request-id`. Errors are `{\"error\": {\"code\", \"message\"}}`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    paths(
        serve,
        super::auth::cli_start,
        super::auth::cli_token,
        super::auth::whoami,
        super::auth::logout,
        super::sys::seal_status,
        super::sys::unseal,
        super::sys::backup,
        super::notifications::list,
        super::ha_status::show,
        super::accounts::create,
        super::accounts::list,
        super::accounts::show,
        super::accounts::update,
        super::accounts::set_custodians,
        super::halves::list,
        super::halves::deposit_password,
        super::halves::deposit_mfa,
        super::halves::rotate,
        super::halves::confirm_rotation,
        super::subscribers::create,
        super::subscribers::list,
        super::subscribers::remove,
        super::links::create,
        super::links::show,
        super::links::revoke,
        super::links::open,
        super::links::submit,
        super::reverse::request,
        super::reverse::show,
        super::reverse::schedule,
        super::reverse::confirm_balance,
        super::reverse::checklist,
        super::reverse::handoff,
        super::reverse::cancel,
        super::reverse::consent,
        super::reverse::close,
        super::reverse::reopen,
        super::onboarding::start,
        super::onboarding::show,
        super::onboarding::checklist,
        super::onboarding::complete,
        super::moves::request,
        super::moves::list,
        super::moves::show,
        super::moves::confirm,
        super::moves::complete,
        super::moves::cancel,
        super::root_signins::list,
        super::audit::checkpoint,
        super::audit::inclusion,
        super::audit::consistency,
        super::audit::events,
        super::audit::export,
        super::requests::create,
        super::requests::list,
        super::requests::show,
        super::requests::approve,
        super::requests::deny,
        super::requests::cancel,
        super::requests::password,
        super::requests::mfa_code,
    ),
    tags(
        (name = "meta", description = "This document."),
        (name = "auth", description = "What `rootvault login`, `whoami` and `logout` talk to (docs/signin.md)."),
        (name = "sys", description = "The seal, backups, deliveries and the cluster."),
        (name = "accounts", description = "Accounts, custodians and what the root sign-in watch recorded."),
        (name = "halves", description = "Deposits, half metadata and rotation. Secrets go in; only a generated \
            password or rotation candidate comes back, once."),
        (name = "requests", description = "Break-glass requests, decisions and releases (DESIGN §6)."),
        (name = "links", description = "One-time links, as their creators see them (DESIGN §8)."),
        (name = "public links", description = "What the one-time link page calls. No token: the link id in the \
            path is the capability; its key stays in the URL fragment and never reaches the service."),
        (name = "webhooks", description = "Signed webhook subscribers per account and org."),
        (name = "lifecycle", description = "Onboarding, DDI moves, reverse assumption, closure \
            (docs/lifecycle.md)."),
        (name = "audit", description = "The tamper-evident log, for auditors (docs/auditing.md)."),
    )
)]
struct ApiDoc;

/// The export bundle's schema is the checked-in `audit-schema/
/// bundle.schema.json`; the document refers to it by this name and
/// `complete` puts it there.
const BUNDLE_SCHEMA_NAME: &str = "AuditBundle";

impl PartialSchema for Bundle {
    fn schema() -> RefOr<Schema> {
        Ref::from_schema_name(BUNDLE_SCHEMA_NAME).into()
    }
}

impl ToSchema for Bundle {
    fn name() -> Cow<'static, str> {
        Cow::Borrowed(BUNDLE_SCHEMA_NAME)
    }
}

/// The document, complete.
pub fn document() -> Value {
    // The derived document is plain data: it always serializes.
    let mut doc = serde_json::to_value(ApiDoc::openapi()).unwrap_or_default();
    complete(&mut doc);
    doc
}

/// The document as `docs/openapi.json` holds it: pretty, with a final
/// newline.
pub fn document_text() -> String {
    let mut text = serde_json::to_string_pretty(&document()).unwrap_or_default();
    text.push('\n');
    text
}

/// `GET /v1/openapi.json`: this document.
#[utoipa::path(get, path = "/v1/openapi.json", operation_id = "openapi_document", tag = "meta",
    responses((status = 200, description = "The OpenAPI 3.1 description of the `/v1` API.", body = Object)))]
pub async fn serve() -> Response {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(document_text).clone();
    ([(header::CONTENT_TYPE, "application/json")], text).into_response()
}

/// What every response carries (the request-context middleware sets them).
fn common_headers() -> Value {
    json!({
        "x-request-id": {"$ref": "#/components/headers/RequestId"},
        "cache-control": {"$ref": "#/components/headers/NoStore"},
    })
}

/// The headers `common_headers` refers to.
fn header_components() -> Value {
    json!({
        "RequestId": {"description": "This request's id, as the service's log names it.", "required": true,
            "schema": {"type": "string"}},
        "NoStore": {"description": "Always `no-store`.", "required": true,
            "schema": {"type": "string", "const": "no-store"}},
    })
}

/// The refusals routes share, by the status they answer with.
fn standard_responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "headers": common_headers(),
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}},
        })
    };
    let mut unauthenticated =
        error("`unauthenticated`: no bearer token, or one that failed verification (the reason is audited, not told).");
    unauthenticated["headers"]["www-authenticate"] =
        json!({"required": true, "schema": {"type": "string", "const": "Bearer"}});
    let mut unavailable = error(
        "`sealed`, `audit_unavailable` (nothing was changed), `audit_log_tampered`, `unavailable` (a dependency \
         such as KMS failed) or `no_active_node` (a cluster between leaders: retry).",
    );
    unavailable["headers"]["retry-after"] =
        json!({"description": "With `no_active_node`.", "schema": {"type": "string"}});
    json!({
        "BadRequest": error(
            "Malformed: `malformed_json`, `invalid_id` (a bad id in the path), `invalid_query`, `unreadable_body`, \
             `body_timeout`."),
        "Unauthenticated": unauthenticated,
        "NotFound": error("`not_found`: unknown, or not visible to the caller."),
        "PayloadTooLarge": error("`payload_too_large`: the body is over 64 KiB."),
        "UnsupportedMediaType": error("`unsupported_media_type`: the body is not `application/json`."),
        "Invalid": error(
            "A well-formed but unacceptable value: `invalid_body` (names the field and what was expected, never \
             the value), or the operation's own codes."),
        "RateLimited": error("`rate_limited`: too many requests (or failed authentications) from this address."),
        "Unavailable": unavailable,
    })
}

/// The operations of a path item, by method.
const METHODS: [&str; 8] = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];

/// Add what the derived document cannot know by itself: the security
/// schemes, each path's parameters, the refusals every route shares, the
/// headers every response carries, and the export bundle's schema.
fn complete(doc: &mut Value) {
    doc["components"]["securitySchemes"] = json!({
        "bearer": {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "JWT",
            "description": "A JWT from one of the org's trusted issuers (the org is the issuer's, never a claim), \
                or a token `rootvault login` received. Releases need a sign-in from the last 15 minutes \
                (`reauthentication_required`).",
        },
        "console_session": {
            "type": "apiKey",
            "in": "cookie",
            "name": "rv_session",
            "description": "The console's session (HttpOnly, SameSite=Lax). It authenticates the HTML console \
                pages only: no `/v1` operation accepts it.",
        },
    });
    unsigned_formats(doc);
    doc["components"]["responses"] = standard_responses();
    doc["components"]["headers"] = header_components();
    let Some(paths) = doc.get_mut("paths").and_then(Value::as_object_mut) else { return };
    for (path, item) in paths.iter_mut() {
        let parameters: Vec<Value> =
            params::names(path).into_iter().filter_map(|name| params::path_parameter(path, name)).collect();
        for method in METHODS {
            if let Some(operation) = item.get_mut(method).and_then(Value::as_object_mut) {
                complete_operation(operation, &parameters);
            }
        }
    }
    // The schemas are exact: an object carries its documented properties
    // and no others, so a response that grows a field the document does
    // not know fails the conformance checks instead of passing unseen.
    if let Some(schemas) = doc["components"]["schemas"].as_object_mut() {
        for schema in schemas.values_mut() {
            if let Some(object) = schema.as_object_mut()
                && object.contains_key("properties")
                && !object.contains_key("additionalProperties")
            {
                object.insert("additionalProperties".to_owned(), json!(false));
            }
        }
    }
    if let Ok(Value::Object(mut bundle)) = serde_json::from_str::<Value>(crate::audit::schema::BUNDLE_SCHEMA) {
        // The schema's own identity; inside the document it is a component.
        bundle.remove("$schema");
        bundle.remove("$id");
        doc["components"]["schemas"][BUNDLE_SCHEMA_NAME] = Value::Object(bundle);
    }
}

/// utoipa spells the formats of unsigned integers `u-int32`; the usual
/// spelling (as in the OpenAPI Format Registry) is `uint32`.
fn unsigned_formats(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::String(format)) = object.get_mut("format")
                && let Some(bits) = format.strip_prefix("u-int")
            {
                *format = format!("uint{bits}");
            }
            object.values_mut().for_each(unsigned_formats);
        }
        Value::Array(items) => items.iter_mut().for_each(unsigned_formats),
        _ => {}
    }
}

fn complete_operation(operation: &mut Map<String, Value>, path_parameters: &[Value]) {
    if !path_parameters.is_empty() {
        let list = operation.entry("parameters").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            let mut all = path_parameters.to_vec();
            all.append(list);
            *list = all;
        }
    }
    // utoipa writes an optional body (`Option<T>`) as "T or null"; the
    // service takes no body or T, never a JSON `null`.
    if let Some(Value::Object(body)) = operation.get_mut("requestBody") {
        let optional = !body.contains_key("required");
        let schema = &mut body["content"]["application/json"]["schema"];
        let inner = schema["oneOf"].as_array().and_then(|alternatives| match alternatives.as_slice() {
            [inner, null] if null == &json!({"type": "null"}) => Some(inner.clone()),
            _ => None,
        });
        if let (true, Some(inner)) = (optional, inner) {
            *schema = inner;
        }
    }
    let secured = operation.get("security").and_then(Value::as_array).is_some_and(|s| !s.is_empty());
    let has_body = operation.contains_key("requestBody");
    let standard = [
        ("400", "BadRequest", true),
        ("401", "Unauthenticated", secured),
        ("404", "NotFound", !path_parameters.is_empty()),
        ("413", "PayloadTooLarge", has_body),
        ("415", "UnsupportedMediaType", has_body),
        ("422", "Invalid", has_body),
        ("429", "RateLimited", true),
        ("503", "Unavailable", true),
    ];
    let Some(responses) = operation.get_mut("responses").and_then(Value::as_object_mut) else { return };
    for response in responses.values_mut() {
        if let Some(response) = response.as_object_mut() {
            let headers = response.entry("headers").or_insert_with(|| json!({}));
            if let (Some(headers), Value::Object(common)) = (headers.as_object_mut(), common_headers()) {
                headers.extend(common);
            }
        }
    }
    for (status, name, applies) in standard {
        if applies && !responses.contains_key(status) {
            responses.insert(status.to_owned(), json!({"$ref": format!("#/components/responses/{name}")}));
        }
    }
    responses.sort_keys();
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `docs/openapi.json`, from the crate's root.
    fn checked_in() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.json")
    }

    #[test]
    fn the_checked_in_document_is_the_generated_one() {
        let generated = document_text();
        if std::env::var_os("ROOTVAULT_UPDATE_OPENAPI").is_some() {
            std::fs::write(checked_in(), &generated).unwrap();
        }
        let stored = std::fs::read_to_string(checked_in()).unwrap_or_default();
        assert!(
            stored == generated,
            "docs/openapi.json differs from the document the code generates; regenerate it with\n    \
             ROOTVAULT_UPDATE_OPENAPI=1 cargo test --lib the_checked_in_document_is_the_generated_one\n\
             and review the difference"
        );
    }
}
