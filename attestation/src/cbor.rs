//! Bounded CBOR decoding into `ciborium::Value`, and typed accessors that name the field on error.
//!
//! ciborium reads byte and text strings in chunks (it never reserves a declared length up front)
//! and accepts both definite and indefinite-length items; we add a depth limit and reject bytes
//! after the first item, so one document has exactly one reading.

use ciborium::Value;

use crate::limits::MAX_CBOR_DEPTH;

/// Decodes exactly one CBOR item from `bytes`.
pub(crate) fn read_cbor(bytes: &[u8]) -> Result<Value, String> {
    let mut rest = bytes;
    let value: Value = ciborium::de::from_reader_with_recursion_limit(&mut rest, MAX_CBOR_DEPTH)
        .map_err(|e| format!("malformed cbor: {}", describe(&e)))?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes after the cbor item", rest.len()));
    }
    Ok(value)
}

/// ciborium's `Debug`/`Display` mention Rust types; say it in words instead.
fn describe(e: &ciborium::de::Error<std::io::Error>) -> String {
    match e {
        ciborium::de::Error::Io(_) => "unexpected end of input".to_owned(),
        ciborium::de::Error::Syntax(offset) => format!("syntax error at byte {offset}"),
        ciborium::de::Error::Semantic(Some(offset), msg) => format!("{msg} at byte {offset}"),
        ciborium::de::Error::Semantic(None, msg) => msg.clone(),
        ciborium::de::Error::RecursionLimitExceeded => "nested too deeply".to_owned(),
    }
}

/// A short name for the kind of a value, for "expected X, got Y" messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Integer(_) => "an integer",
        Value::Bytes(_) => "a byte string",
        Value::Float(_) => "a float",
        Value::Text(_) => "a text string",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
        Value::Tag(..) => "a tagged item",
        Value::Array(_) => "an array",
        Value::Map(_) => "a map",
        _ => "an unknown item",
    }
}

/// A byte string of at most `max` bytes.
pub(crate) fn bytes(value: Value, field: &str, max: usize) -> Result<Vec<u8>, String> {
    match value {
        Value::Bytes(b) if b.len() <= max => Ok(b),
        Value::Bytes(b) => Err(format!("`{field}` is {} bytes (max {max})", b.len())),
        other => Err(format!(
            "`{field}` must be a byte string, got {}",
            kind(&other)
        )),
    }
}

/// An optional field: null means absent.
pub(crate) fn optional_bytes(
    value: Value,
    field: &str,
    max: usize,
) -> Result<Option<Vec<u8>>, String> {
    match value {
        Value::Null => Ok(None),
        other => bytes(other, field, max).map(Some),
    }
}

/// A text string of at most `max` bytes.
pub(crate) fn text(value: Value, field: &str, max: usize) -> Result<String, String> {
    match value {
        Value::Text(t) if t.len() <= max => Ok(t),
        Value::Text(t) => Err(format!("`{field}` is {} bytes (max {max})", t.len())),
        other => Err(format!(
            "`{field}` must be a text string, got {}",
            kind(&other)
        )),
    }
}

/// An unsigned integer that fits in `u64`.
pub(crate) fn uint(value: Value, field: &str) -> Result<u64, String> {
    match value {
        Value::Integer(i) => {
            u64::try_from(i).map_err(|_| format!("`{field}` must be an unsigned integer"))
        }
        other => Err(format!(
            "`{field}` must be an unsigned integer, got {}",
            kind(&other)
        )),
    }
}
