//! The published JSON Schemas of events and bundles (`audit-schema/`),
//! built into the binary so that `rootvault audit verify` checks a bundle
//! against exactly the contract it was published with, offline.

use std::sync::LazyLock;

use jsonschema::Validator;
use serde_json::Value;

/// `audit-schema/event.schema.json`.
pub const EVENT_SCHEMA: &str = include_str!("../../audit-schema/event.schema.json");
/// `audit-schema/bundle.schema.json`.
pub const BUNDLE_SCHEMA: &str = include_str!("../../audit-schema/bundle.schema.json");

fn compile(text: &str) -> Result<Validator, String> {
    let schema: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    jsonschema::validator_for(&schema).map_err(|e| e.to_string())
}

static EVENT: LazyLock<Result<Validator, String>> = LazyLock::new(|| compile(EVENT_SCHEMA));
static BUNDLE: LazyLock<Result<Validator, String>> = LazyLock::new(|| compile(BUNDLE_SCHEMA));

/// Why `value` does not conform to `validator`: the first violation, with
/// the path of the offending field (schema messages may quote the value;
/// events and bundles never carry secrets, so that is safe to show).
fn first_violation(validator: &Result<Validator, String>, value: &Value) -> Option<String> {
    match validator {
        // Most values conform: the yes-or-no check builds no errors.
        Ok(v) if v.is_valid(value) => None,
        Ok(v) => v.iter_errors(value).next().map(|e| format!("{} at {}", e, e.instance_path)),
        Err(e) => Some(format!("the built-in schema does not compile: {e}")),
    }
}

/// The first way `event` violates `event.schema.json`, if any.
pub fn event_violation(event: &Value) -> Option<String> {
    first_violation(&EVENT, event)
}

/// The first way `bundle` violates `bundle.schema.json`, if any.
pub fn bundle_violation(bundle: &Value) -> Option<String> {
    first_violation(&BUNDLE, bundle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_schemas_compile_and_accept_the_published_example() {
        let example: Value =
            serde_json::from_str(include_str!("../../audit-schema/examples/event.example.json")).unwrap();
        assert_eq!(event_violation(&example), None);
        assert!(bundle_violation(&serde_json::json!({})).is_some());
    }
}
