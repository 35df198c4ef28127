//! The published JSON Schemas of events and bundles (`audit-schema/`),
//! built into the binary so that `rootvault audit verify` checks a bundle
//! against exactly the contract it was published with, offline.
//!
//! A bundle is checked in two parts, so that a verifier never builds one
//! JSON value of a whole bundle: its envelope (every field, with its
//! entries left empty) against `bundle.schema.json`, and each entry against
//! the schema the bundle schema gives its entries' items. That is the same
//! check only while the schema says nothing else about the entries array,
//! so compiling refuses a schema that does.

use std::fmt::Display;
use std::sync::LazyLock;

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

/// `audit-schema/event.schema.json`.
pub const EVENT_SCHEMA: &str = include_str!("../../audit-schema/event.schema.json");
/// `audit-schema/bundle.schema.json`.
pub const BUNDLE_SCHEMA: &str = include_str!("../../audit-schema/bundle.schema.json");

/// The bundle schema's keywords that constrain the entries: the root's own
/// keywords other than these could reach into the entries array.
const ROOT_KEYWORDS: [&str; 8] =
    ["$schema", "$id", "title", "description", "type", "additionalProperties", "required", "properties"];
/// The keywords the entries array may have: with only these, an array
/// conforms exactly when each of its items does.
const ENTRIES_KEYWORDS: [&str; 3] = ["type", "items", "description"];

fn compile(schema: &Value) -> Result<Validator, String> {
    // The `regex` engine matches in linear time, so a hostile bundle cannot
    // make a pattern backtrack; the schemas' patterns need nothing more.
    jsonschema::options().with_pattern_options(PatternOptions::regex()).build(schema).map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The bundle schema's validator and its entries' items' validator.
struct BundleValidators {
    envelope: Validator,
    entry: Validator,
}

fn compile_bundle(schema: &Value) -> Result<BundleValidators, String> {
    let root = schema.as_object().ok_or("the bundle schema is not an object")?;
    if let Some(keyword) = root.keys().find(|k| !ROOT_KEYWORDS.contains(&k.as_str())) {
        return Err(format!("the bundle schema's {keyword:?} is not supported by the verifier"));
    }
    let entries = schema.pointer("/properties/entries").and_then(Value::as_object).ok_or("no entries property")?;
    if entries.get("type").and_then(Value::as_str) != Some("array")
        || entries.keys().any(|k| !ENTRIES_KEYWORDS.contains(&k.as_str()))
    {
        return Err("the entries property must be an array with only an items schema".into());
    }
    let mut item = entries.get("items").cloned().ok_or("the entries have no items schema")?;
    // The item schema is compiled on its own: under the same draft.
    if let (Some(draft), Some(fields)) = (root.get("$schema"), item.as_object_mut()) {
        fields.insert("$schema".into(), draft.clone());
    }
    Ok(BundleValidators { envelope: compile(schema)?, entry: compile(&item)? })
}

static EVENT: LazyLock<Result<Validator, String>> = LazyLock::new(|| compile(&parse(EVENT_SCHEMA)?));
static BUNDLE: LazyLock<Result<BundleValidators, String>> = LazyLock::new(|| compile_bundle(&parse(BUNDLE_SCHEMA)?));

/// Why `value` does not conform to `validator`: the first violation, with
/// the path of the offending field below `at` (schema messages may quote
/// the value; events and bundles never carry secrets, so that is safe to
/// show).
fn first_violation(validator: Result<&Validator, &String>, value: &Value, at: impl Display) -> Option<String> {
    match validator {
        // Most values conform: the yes-or-no check builds no errors.
        Ok(v) if v.is_valid(value) => None,
        Ok(v) => v.iter_errors(value).next().map(|e| format!("{} at {at}{}", e, e.instance_path)),
        Err(e) => Some(format!("the built-in schema does not compile: {e}")),
    }
}

/// The first way `event` violates `event.schema.json`, if any.
pub fn event_violation(event: &Value) -> Option<String> {
    first_violation(EVENT.as_ref(), event, "")
}

/// The first way a bundle violates `bundle.schema.json` outside its
/// entries, if any; `envelope` is the bundle with an empty entries array.
pub fn envelope_violation(envelope: &Value) -> Option<String> {
    first_violation(BUNDLE.as_ref().map(|b| &b.envelope), envelope, "")
}

/// The first way the bundle's entry number `index` violates
/// `bundle.schema.json`, if any, at its path in the bundle.
pub fn entry_violation(index: usize, entry: &Value) -> Option<String> {
    first_violation(BUNDLE.as_ref().map(|b| &b.entry), entry, format_args!("/entries/{index}"))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_built_in_schemas_compile_and_accept_the_published_example() {
        let example: Value =
            serde_json::from_str(include_str!("../../audit-schema/examples/event.example.json")).unwrap();
        assert_eq!(event_violation(&example), None);
        assert!(envelope_violation(&json!({})).is_some());
        assert!(BUNDLE.is_ok());
    }

    #[test]
    fn an_entry_is_checked_against_the_bundle_schemas_items_and_named_by_its_place() {
        let proof = "A".repeat(43) + "=";
        assert_eq!(entry_violation(4, &json!({"seq": 1, "leaf": "{}", "proof": [proof]})), None);
        let violation = entry_violation(4, &json!({"seq": 1, "leaf": "{}", "proof": [proof, "AA=="]})).unwrap();
        assert!(violation.ends_with(" at /entries/4/proof/1"), "{violation}");
        assert!(entry_violation(0, &json!({"seq": 1, "leaf": "{}", "proof": [], "extra": 1})).is_some());
    }

    #[test]
    fn a_bundle_schema_that_constrains_the_entries_array_itself_is_refused() {
        let mut schema = parse(BUNDLE_SCHEMA).unwrap();
        schema["properties"]["entries"]["minItems"] = json!(1);
        assert!(compile_bundle(&schema).is_err());
        let mut schema = parse(BUNDLE_SCHEMA).unwrap();
        schema["allOf"] = json!([{"properties": {"entries": {"maxItems": 3}}}]);
        assert!(compile_bundle(&schema).is_err());
    }
}
