//! RFC 8785 (JCS) canonical JSON of a JSON value, written into a buffer the
//! caller reuses: how the log writes each leaf, and how a verifier checks,
//! leaf after leaf, that each leaf is exactly the canonical form of the
//! event it holds.
//!
//! `serde_json_canonicalizer` buffers every object member separately and
//! re-parses every key to sort it, costing dozens of allocations per event;
//! checking a bundle of many events with it was most of the verifier's
//! time, and writing leaves with it about a tenth of the log writer's.
//! Here only the structure is walked by hand (object members sorted by
//! UTF-16 code units, RFC 8785 §3.2.3); every scalar is written by a
//! library: numbers by `serde_json_canonicalizer` itself (the ECMAScript
//! number form, §3.2.2.3) unless they are integers a double holds exactly
//! (their digits), strings by `serde_json`, whose escapes are the ones
//! §3.2.2.2 prescribes. A property test holds the result equal to
//! `serde_json_canonicalizer`'s for arbitrary values.

use std::cmp::Ordering;
use std::io::Write;

use serde_json::Value;

/// 2^53: every integer up to this size is exactly a double.
const MAX_SAFE_INTEGER: u64 = 1 << 53;

/// Append the canonical JSON of `value` to `out`.
pub fn write(value: &Value, out: &mut Vec<u8>) -> serde_json::Result<()> {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(true) => out.extend_from_slice(b"true"),
        Value::Bool(false) => out.extend_from_slice(b"false"),
        // An integer a double holds exactly is written as its digits, in
        // JavaScript as everywhere; any other number as the library does.
        Value::Number(n) => match n.as_i64().filter(|i| i.unsigned_abs() <= MAX_SAFE_INTEGER) {
            Some(i) => write!(out, "{i}").map_err(serde_json::Error::io)?,
            None => serde_json_canonicalizer::to_writer(n, out)?,
        },
        Value::String(s) => serde_json::to_writer(&mut *out, s)?,
        Value::Array(items) => {
            out.push(b'[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                write(item, out)?;
            }
            out.push(b']');
        }
        Value::Object(members) => {
            // A map iterates its keys in UTF-8 byte order, which is the
            // UTF-16 order unless keys mix characters above U+FFFF with
            // ones from U+E000 to U+FFFF: sort only when it is not.
            let keys = members.keys();
            if keys.clone().zip(keys.skip(1)).all(|(a, b)| utf16_order(a, b) != Ordering::Greater) {
                write_members(members.iter(), out)?;
            } else {
                let mut sorted: Vec<(&String, &Value)> = members.iter().collect();
                sorted.sort_unstable_by(|a, b| utf16_order(a.0, b.0));
                write_members(sorted.into_iter(), out)?;
            }
        }
    }
    Ok(())
}

fn write_members<'a>(
    members: impl Iterator<Item = (&'a String, &'a Value)>,
    out: &mut Vec<u8>,
) -> serde_json::Result<()> {
    out.push(b'{');
    for (i, (key, member)) in members.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        serde_json::to_writer(&mut *out, key)?;
        out.push(b':');
        write(member, out)?;
    }
    out.push(b'}');
    Ok(())
}

fn utf16_order(a: &str, b: &str) -> Ordering {
    // ASCII sorts the same in UTF-8 and UTF-16; most keys are ASCII.
    if a.is_ascii() && b.is_ascii() { a.cmp(b) } else { a.encode_utf16().cmp(b.encode_utf16()) }
}

/// Whether `leaf` is the canonical JSON of `value`, the value parsed from
/// it; `scratch` is a buffer the caller keeps from one leaf to the next.
pub fn is_canonical_form(value: &Value, leaf: &str, scratch: &mut Vec<u8>) -> bool {
    scratch.clear();
    write(value, scratch).is_ok() && scratch.as_slice() == leaf.as_bytes()
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;
    use serde_json::{Map, Number};

    use super::*;

    fn text() -> impl Strategy<Value = String> {
        // ASCII, controls that need escapes, and characters on both sides
        // of the UTF-8 / UTF-16 ordering difference.
        let chars = prop_oneof![
            proptest::char::range('\u{0}', '\u{7f}'),
            proptest::char::range('\u{80}', '\u{7ff}'),
            proptest::char::range('\u{e000}', '\u{ffff}'),
            proptest::char::range('\u{10000}', '\u{10ffff}'),
        ];
        proptest::collection::vec(chars, 0..6).prop_map(|cs| cs.into_iter().collect())
    }

    fn number() -> impl Strategy<Value = Number> {
        prop_oneof![
            any::<u64>().prop_map(Number::from),
            any::<i64>().prop_map(Number::from),
            any::<f64>().prop_filter_map("finite", Number::from_f64),
            (0u64..1 << 54).prop_map(Number::from),
            (-(1i64 << 54)..0).prop_map(Number::from),
        ]
    }

    fn json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            number().prop_map(Value::Number),
            text().prop_map(Value::String),
        ];
        leaf.prop_recursive(4, 48, 6, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
                proptest::collection::vec((text(), inner), 0..6)
                    .prop_map(|members| Value::Object(members.into_iter().collect::<Map<_, _>>())),
            ]
        })
    }

    proptest! {
        #[test]
        fn writes_what_serde_json_canonicalizer_writes(value in json()) {
            let mut out = Vec::new();
            write(&value, &mut out).unwrap();
            prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json_canonicalizer::to_string(&value).unwrap());
        }
    }

    #[test]
    fn sorts_keys_by_utf_16_code_units_not_utf_8_bytes() {
        let value = serde_json::json!({"\u{fb01}": 1, "\u{1f600}": 2, "a": [1e21, -0.0, 0.5, "\u{1}\"\\/"]});
        let mut out = Vec::new();
        write(&value, &mut out).unwrap();
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "{\"a\":[1e+21,0,0.5,\"\\u0001\\\"\\\\/\"],\"\u{1f600}\":2,\"\u{fb01}\":1}"
        );
    }

    #[test]
    fn a_leaf_is_canonical_only_in_exactly_that_form() {
        let mut scratch = b"left over from the last leaf".to_vec();
        for (leaf, canonical) in [
            (r#"{"a":1,"b":[true,null]}"#, true),
            (r#"{"b":[true,null],"a":1}"#, false),
            (r#"{"a": 1,"b":[true,null]}"#, false),
            (r#"{"a":1.0,"b":[true,null]}"#, false),
            (r#"{"a":"\u0041"}"#, false),
            (r#"{"a":9007199254740993}"#, false),
            (r#"{"a":9007199254740992,"b":-9007199254740992}"#, true),
            (r#"{"a":-0}"#, false),
            (r#"{"a":1e+21,"b":-7}"#, true),
        ] {
            let value: Value = serde_json::from_str(leaf).unwrap();
            assert_eq!(is_canonical_form(&value, leaf, &mut scratch), canonical, "{leaf}");
        }
    }
}
