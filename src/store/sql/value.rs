//! Values as both engines store them, and rows of them.
//!
//! Integers are 64-bit (booleans are stored as 0 or 1), text is UTF-8 and
//! blobs are bytes; nothing else is written. Reading checks the type, so a
//! column that holds something unexpected is a [`StoreError::Corrupt`], not
//! a panic. `Debug` shows a value's kind and size only: rows carry hashes,
//! wrapped keys and ciphertexts.

use crate::store::StoreError;

/// One parameter or column value.
#[derive(Clone, PartialEq, Eq)]
pub enum Value {
    Null,
    Integer(i64),
    Text(String),
    Blob(Vec<u8>),
}

impl Value {
    fn kind(&self) -> &'static str {
        match self {
            Value::Null => "NULL",
            Value::Integer(_) => "an integer",
            Value::Text(_) => "text",
            Value::Blob(_) => "a blob",
        }
    }
}

impl std::fmt::Debug for Value {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Value::Null => f.write_str("Null"),
            Value::Integer(_) => f.write_str("Integer(..)"),
            Value::Text(s) => write!(f, "Text({} bytes)", s.len()),
            Value::Blob(b) => write!(f, "Blob({} bytes)", b.len()),
        }
    }
}

/// What can be passed as a parameter (see the `params!` macro).
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}

impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}

impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_owned())
    }
}

impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}

impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}

impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Integer(*self)
    }
}

impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Integer(i64::from(*self))
    }
}

/// What a column can be read as; the error says what was expected.
pub trait FromValue: Sized {
    fn from_value(value: &Value) -> Result<Self, String>;
}

fn expected(what: &str, found: &Value) -> String {
    format!("expected {what}, found {}", found.kind())
}

impl<T: FromValue> FromValue for Option<T> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Null => Ok(None),
            other => T::from_value(other).map(Some),
        }
    }
}

impl FromValue for i64 {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(i) => Ok(*i),
            other => Err(expected("an integer", other)),
        }
    }
}

/// Integers that must fit a narrower or unsigned type.
macro_rules! checked_integer {
    ($($t:ty),+) => {$(
        impl FromValue for $t {
            fn from_value(value: &Value) -> Result<Self, String> {
                let i = i64::from_value(value)?;
                <$t>::try_from(i).map_err(|_| format!("{i} does not fit {}", stringify!($t)))
            }
        }
    )+};
}
checked_integer!(u32, u64, usize);

impl FromValue for bool {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Integer(0) => Ok(false),
            Value::Integer(1) => Ok(true),
            other => Err(expected("0 or 1", other)),
        }
    }
}

impl FromValue for String {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Text(s) => Ok(s.clone()),
            other => Err(expected("text", other)),
        }
    }
}

impl FromValue for Vec<u8> {
    fn from_value(value: &Value) -> Result<Self, String> {
        match value {
            Value::Blob(b) => Ok(b.clone()),
            other => Err(expected("a blob", other)),
        }
    }
}

/// One row of a query's result.
#[derive(Clone, PartialEq, Eq)]
pub struct Row(Vec<Value>);

impl std::fmt::Debug for Row {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.0).finish()
    }
}

impl Row {
    /// A row of `values`, in the order selected.
    pub fn new(values: Vec<Value>) -> Self {
        Self(values)
    }

    /// Every column, in the order selected.
    pub fn values(&self) -> &[Value] {
        &self.0
    }

    /// The column at `index` (0-based, in the order selected) as `T`.
    pub fn get<T: FromValue>(&self, index: usize) -> Result<T, StoreError> {
        let value = self.0.get(index).ok_or_else(|| StoreError::Corrupt(format!("column {index} was not selected")))?;
        T::from_value(value).map_err(|e| StoreError::Corrupt(format!("column {index}: {e}")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn getters_check_types_and_ranges_instead_of_panicking() {
        let row = Row::new(vec![Value::Integer(-1), Value::Text("x".into()), Value::Null, Value::Integer(2)]);
        assert_eq!(row.get::<i64>(0).unwrap(), -1);
        assert!(matches!(row.get::<u32>(0), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.get::<i64>(1), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.get::<Vec<u8>>(1), Err(StoreError::Corrupt(_))));
        assert_eq!(row.get::<Option<String>>(2).unwrap(), None);
        assert!(matches!(row.get::<String>(2), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.get::<bool>(3), Err(StoreError::Corrupt(_))));
        assert!(matches!(row.get::<i64>(4), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn booleans_are_zero_or_one() {
        assert_eq!(true.to_value(), Value::Integer(1));
        assert_eq!(bool::from_value(&Value::Integer(0)), Ok(false));
        assert_eq!(bool::from_value(&Value::Integer(1)), Ok(true));
    }

    #[test]
    fn debug_output_shows_no_content() {
        let row = Row::new(vec![Value::Text("secret".into()), Value::Blob(vec![1, 2]), Value::Integer(42)]);
        let shown = format!("{row:?}");
        assert!(!shown.contains("secret") && !shown.contains("42"), "{shown}");
    }
}
