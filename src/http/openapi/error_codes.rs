//! Every `code` an error body may carry, for the document's error schema.
//! A unit test reads the sources for the codes the service raises and
//! fails when this list and they differ.

use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};

/// The codes, sorted.
pub const ERROR_CODES: &[&str] = &[
    "account_closed",
    "account_exists",
    "account_not_active",
    "account_not_closed",
    "already_decided",
    "already_unsealed",
    "audit_log_tampered",
    "audit_unavailable",
    "backup_unsupported",
    "body_timeout",
    "concurrent_change",
    "consent_already_marked",
    "consent_not_required",
    "consent_required",
    "csrf",
    "duplicate_share",
    "forbidden",
    "foreign_principal",
    "four_eyes_violation",
    "half_changed",
    "handoff_pending",
    "internal_error",
    "invalid_account",
    "invalid_body",
    "invalid_checklist_item",
    "invalid_event",
    "invalid_grant",
    "invalid_id",
    "invalid_link",
    "invalid_mfa",
    "invalid_onboarding",
    "invalid_proof_request",
    "invalid_qr",
    "invalid_query",
    "invalid_request",
    "invalid_share",
    "invalid_url",
    "key_override_unsupported",
    "link_burned",
    "link_expired",
    "link_revoked",
    "link_used",
    "link_void",
    "malformed_json",
    "method_not_allowed",
    "move_exists",
    "move_pending",
    "move_rule",
    "no_active_node",
    "no_pending_rotation",
    "no_views_left",
    "not_a_session",
    "not_custodian",
    "not_found",
    "not_half_holder",
    "not_recipient",
    "not_requester",
    "not_rotator",
    "not_sealable",
    "nothing_deposited",
    "nothing_in_custody",
    "onboarding_rule",
    "other_party_approval_required",
    "password_policy",
    "payload_too_large",
    "provider_approval_required",
    "rate_limited",
    "reauthentication_required",
    "recipient_approval",
    "recipient_not_custodian",
    "reopen_window_passed",
    "request_not_approved",
    "request_not_pending",
    "reverse_assumption_exists",
    "reverse_assumption_open",
    "reverse_assumption_rule",
    "rotation_superseded",
    "same_customer",
    "sealed",
    "self_approval",
    "self_assignment",
    "session_ended",
    "signin_refused",
    "too_many_custodians",
    "too_many_subscribers",
    "unauthenticated",
    "unavailable",
    "unknown_customer",
    "unreadable_body",
    "unseal_failed",
    "unsupported_media_type",
    "window_closed",
    "wrong_link_purpose",
    "wrong_passphrase",
];

/// The schema of an error body's `code`.
pub fn error_code_schema() -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(ERROR_CODES.iter().copied()))
        .description(Some("A stable, snake_case code for programs; the message is for people. Each operation names the codes it answers with."))
        .into()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::Path;

    use super::ERROR_CODES;
    use crate::error::Error;

    /// The codes every source file under `dir` raises: the string literal
    /// that follows `Error::invalid(` (or another constructor), or that is
    /// paired with a constructor in a tuple, `(Error::forbidden, …)`.
    fn raised_in(dir: &Path, codes: &mut BTreeSet<String>) {
        const CONSTRUCTORS: [&str; 5] = ["invalid", "malformed", "forbidden", "conflict", "gone"];
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                raised_in(&path, codes);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            for constructor in CONSTRUCTORS {
                for (at, _) in text.match_indices(&format!("Error::{constructor}")) {
                    let rest = text[at + "Error::".len() + constructor.len()..].trim_start();
                    let Some(rest) = rest.strip_prefix('(').or_else(|| rest.strip_prefix(',')) else { continue };
                    let Some(quoted) = rest.trim_start().strip_prefix('"') else { continue };
                    if let Some(end) = quoted.find('"') {
                        codes.insert(quoted[..end].to_owned());
                    }
                }
            }
        }
    }

    #[test]
    fn the_documented_error_codes_are_the_codes_the_service_raises() {
        let mut raised = BTreeSet::new();
        raised_in(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut raised);
        let fixed = [
            Error::Unauthenticated,
            Error::ReauthenticationRequired,
            Error::NotFound("route"),
            Error::RateLimited,
            Error::PayloadTooLarge,
            Error::UnsupportedMediaType,
            Error::Sealed,
            Error::AuditTampered,
            Error::AuditUnavailable,
            Error::Unavailable(String::new()),
            Error::NoActiveNode,
            Error::Internal(String::new()),
        ];
        raised.extend(fixed.iter().map(|e| e.code().to_owned()));
        // The router's own answer to a method a path does not serve.
        raised.insert("method_not_allowed".to_owned());
        let documented: BTreeSet<String> = ERROR_CODES.iter().map(|c| (*c).to_owned()).collect();
        assert_eq!(
            documented, raised,
            "ERROR_CODES in src/http/openapi/error_codes.rs must list exactly the codes the service raises \
             (then regenerate docs/openapi.json)"
        );
        assert!(ERROR_CODES.windows(2).all(|w| w[0] < w[1]), "ERROR_CODES must stay sorted");
    }
}
