//! The path parameters of every route, documented once by name: each
//! `{name}` in a path template gets its description from here, so no
//! operation can leave one out. A name missing here fails the document
//! tests.

use serde_json::{Value, json};

/// The parameter object of `{name}` in `path`, if the name is known.
pub fn path_parameter(path: &str, name: &str) -> Option<Value> {
    let (schema, description, example) = match name {
        "account_id" => (
            json!({"$ref": "#/components/schemas/AccountId"}),
            "The 12-digit AWS account id; 404 unless the caller's org is a party of the account.",
            Some("100000000001"),
        ),
        "half" => (json!({"$ref": "#/components/schemas/Half"}), "The half.", None),
        "item" if path.contains("/reverse-assumption/") => {
            (json!({"$ref": "#/components/schemas/ChecklistItem"}), "The checklist item.", None)
        }
        "item" => (json!({"$ref": "#/components/schemas/OnboardingItem"}), "The checklist item.", None),
        "id" if path.starts_with("/v1/requests/") => {
            (json!({"type": "string"}), "The request's id: `req_` and 32 hex digits.", None)
        }
        "id" if path.contains("/links/") => (
            json!({"type": "string"}),
            "The link's id (22 base64url characters): the capability the link's URL carries.",
            None,
        ),
        "move_id" => (json!({"type": "string"}), "The move's id: `mov_` and 32 hex digits.", None),
        "subscriber_id" => (json!({"type": "string"}), "The subscriber's id: `sub_` and 32 hex digits.", None),
        _ => return None,
    };
    let mut parameter = json!({
        "name": name,
        "in": "path",
        "required": true,
        "description": description,
        "schema": schema,
    });
    if let Some(example) = example {
        parameter["example"] = json!(example);
    }
    Some(parameter)
}

/// The `{name}`s of a path template, in order.
pub fn names(path: &str) -> Vec<&str> {
    path.split('/').filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}')).collect()
}
