//! The published JSON Schemas of events and bundles (`audit-schema/`),
//! built into the binary so that `rootvault audit verify` checks a bundle
//! against exactly the contract it was published with, offline.
//!
//! A bundle is checked in parts, so that a verifier never builds one JSON
//! value of a whole bundle, nor checks one proof hash twice: its envelope
//! (every field, with its entries left empty) against `bundle.schema.json`,
//! each entry (with its proof left empty) against the schema the bundle
//! schema gives its entries' items, and each proof hash against the one it
//! gives their proofs' items. That is the same check only while the schema
//! says nothing else about those arrays, so compiling refuses a schema that
//! does.

use std::fmt::Display;
use std::sync::LazyLock;

use jsonschema::{PatternOptions, Validator};
use serde_json::Value;

/// `audit-schema/event.schema.json`.
pub const EVENT_SCHEMA: &str = include_str!("../../audit-schema/event.schema.json");
/// `audit-schema/bundle.schema.json`.
pub const BUNDLE_SCHEMA: &str = include_str!("../../audit-schema/bundle.schema.json");

/// The keywords an object's schema may have for one of its arrays to be
/// checked apart: none of them can reach into the array.
const OBJECT_KEYWORDS: [&str; 8] =
    ["$schema", "$id", "title", "description", "type", "additionalProperties", "required", "properties"];
/// The keywords such an array may have: with only these, it conforms
/// exactly when each of its items does.
const ARRAY_KEYWORDS: [&str; 3] = ["type", "items", "description"];

fn compile(schema: &Value) -> Result<Validator, String> {
    // The `regex` engine matches in linear time, so a hostile bundle cannot
    // make a pattern backtrack; the schemas' patterns need nothing more.
    jsonschema::options().with_pattern_options(PatternOptions::regex()).build(schema).map_err(|e| e.to_string())
}

fn parse(text: &str) -> Result<Value, String> {
    serde_json::from_str(text).map_err(|e| e.to_string())
}

/// The schema of the items of `schema`'s array property `name`, for a
/// schema where the array conforms exactly when each item does (so the
/// object can be checked with the array empty, and the items one by one).
/// The items are compiled on their own: under the same draft.
fn items_of(schema: &Value, name: &str) -> Result<Value, String> {
    let object = schema.as_object().ok_or("a schema is not an object")?;
    if let Some(keyword) = object.keys().find(|k| !OBJECT_KEYWORDS.contains(&k.as_str())) {
        return Err(format!("the keyword {keyword:?} beside {name:?} is not supported by the verifier"));
    }
    let array = schema.get("properties").and_then(|p| p.get(name)).and_then(Value::as_object);
    let array = array.ok_or_else(|| format!("no {name:?} property"))?;
    if array.get("type").and_then(Value::as_str) != Some("array")
        || array.keys().any(|k| !ARRAY_KEYWORDS.contains(&k.as_str()))
    {
        return Err(format!("the {name:?} property must be an array with only an items schema"));
    }
    let mut items = array.get("items").cloned().ok_or_else(|| format!("the {name:?} have no items schema"))?;
    if let (Some(draft), Some(fields)) = (object.get("$schema"), items.as_object_mut()) {
        fields.insert("$schema".into(), draft.clone());
    }
    Ok(items)
}

/// The bundle schema's validator, its entries' items' and their proofs'.
struct BundleValidators {
    envelope: Validator,
    entry: Validator,
    proof_hash: Validator,
}

fn compile_bundle(schema: &Value) -> Result<BundleValidators, String> {
    let entry = items_of(schema, "entries")?;
    let proof_hash = items_of(&entry, "proof")?;
    Ok(BundleValidators { envelope: compile(schema)?, entry: compile(&entry)?, proof_hash: compile(&proof_hash)? })
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
/// `bundle.schema.json` outside its proof, if any, at its path in the
/// bundle; `entry` has an empty proof.
pub fn entry_violation(index: usize, entry: &Value) -> Option<String> {
    first_violation(BUNDLE.as_ref().map(|b| &b.entry), entry, format_args!("/entries/{index}"))
}

/// The first way hash `k` of entry `index`'s proof violates
/// `bundle.schema.json`, if any, at its path in the bundle.
pub fn proof_hash_violation(index: usize, k: usize, hash: &Value) -> Option<String> {
    first_violation(BUNDLE.as_ref().map(|b| &b.proof_hash), hash, format_args!("/entries/{index}/proof/{k}"))
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
    fn entries_and_proof_hashes_are_checked_against_the_bundle_schemas_items_and_named_by_their_place() {
        assert_eq!(entry_violation(4, &json!({"seq": 1, "leaf": "{}", "proof": []})), None);
        let violation = entry_violation(4, &json!({"seq": 1, "leaf": 7, "proof": []})).unwrap();
        assert!(violation.ends_with(" at /entries/4/leaf"), "{violation}");
        assert!(entry_violation(0, &json!({"seq": 1, "leaf": "{}", "proof": [], "extra": 1})).is_some());
        assert_eq!(proof_hash_violation(4, 1, &json!("A".repeat(43) + "=")), None);
        let violation = proof_hash_violation(4, 1, &json!("AA==")).unwrap();
        assert!(violation.ends_with(" at /entries/4/proof/1"), "{violation}");
    }

    #[test]
    fn a_bundle_schema_that_constrains_the_entries_or_proof_arrays_themselves_is_refused() {
        let mut schema = parse(BUNDLE_SCHEMA).unwrap();
        schema["properties"]["entries"]["minItems"] = json!(1);
        assert!(compile_bundle(&schema).is_err());
        let mut schema = parse(BUNDLE_SCHEMA).unwrap();
        schema["allOf"] = json!([{"properties": {"entries": {"maxItems": 3}}}]);
        assert!(compile_bundle(&schema).is_err());
        let mut schema = parse(BUNDLE_SCHEMA).unwrap();
        schema["properties"]["entries"]["items"]["properties"]["proof"]["uniqueItems"] = json!(true);
        assert!(compile_bundle(&schema).is_err());
    }
}
