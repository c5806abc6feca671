//! Payload decoding edge cases, on hand-built payloads (signatures are not checked by `parse`).

use ciborium::Value;

use super::*;
use crate::builder::DevIssuer;
use crate::time::UnixTime;

fn certs() -> (Vec<u8>, Vec<u8>) {
    let t = UnixTime::from_secs(1_750_000_000);
    let issuer =
        DevIssuer::with_intermediates(b"payload tests", t, t.saturating_add(60), 0).unwrap();
    (issuer.leaf_der().to_vec(), issuer.root_der().to_vec())
}

fn text(s: &str) -> Value {
    Value::Text(s.to_owned())
}

/// A complete, well-formed payload map as (key, value) entries.
fn entries() -> Vec<(Value, Value)> {
    let (leaf, root) = certs();
    let pcrs = (0..16)
        .map(|i| (Value::Integer(i.into()), Value::Bytes(vec![1; 48])))
        .collect();
    vec![
        (text("module_id"), text("i-1-enc1")),
        (text("digest"), text("SHA384")),
        (
            text("timestamp"),
            Value::Integer(1_750_000_000_000u64.into()),
        ),
        (text("pcrs"), Value::Map(pcrs)),
        (text("certificate"), Value::Bytes(leaf)),
        (text("cabundle"), Value::Array(vec![Value::Bytes(root)])),
        (text("public_key"), Value::Null),
        (text("user_data"), Value::Null),
        (text("nonce"), Value::Null),
    ]
}

fn envelope(payload: &[u8]) -> Vec<u8> {
    let mut out = vec![0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0];
    let mut bstr = Vec::new();
    ciborium::ser::into_writer(&Value::Bytes(payload.to_vec()), &mut bstr).unwrap();
    out.extend_from_slice(&bstr);
    out.extend_from_slice(&[0x58, 0x60]);
    out.extend_from_slice(&[7; 96]);
    out
}

fn parse(entries: Vec<(Value, Value)>) -> Result<Document, Error> {
    let mut payload = Vec::new();
    ciborium::ser::into_writer(&Value::Map(entries), &mut payload).unwrap();
    Document::parse(&envelope(&payload))
}

fn payload_error(entries: Vec<(Value, Value)>) -> String {
    match parse(entries) {
        Err(Error::Payload(m)) => m,
        other => panic!("expected a payload error, got {other:?}"),
    }
}

#[test]
fn well_formed_payload_parses() {
    let doc = parse(entries()).unwrap();
    assert_eq!(doc.module_id(), "i-1-enc1");
    assert_eq!(doc.pcrs().len(), 16);
    assert_eq!(doc.nonce(), None);
    assert!(!doc.is_debug());
}

#[test]
fn optional_fields_may_be_absent_null_or_bytes() {
    let mut e = entries();
    e.retain(|(k, _)| *k != text("nonce") && *k != text("public_key"));
    e.push((text("user_data"), Value::Bytes(vec![1, 2])));
    e.retain(|(k, v)| !(*k == text("user_data") && *v == Value::Null));
    let doc = parse(e).unwrap();
    assert_eq!(doc.user_data(), Some(&[1u8, 2][..]));
    assert_eq!(doc.public_key(), None);
}

#[test]
fn unknown_fields_are_tolerated_within_the_entry_limit() {
    let mut e = entries();
    e.push((text("future_field"), Value::Bool(true)));
    parse(e).unwrap();
    let mut e = entries();
    for i in 0..8 {
        e.push((text(&format!("x{i}")), Value::Null));
    }
    assert_eq!(payload_error(e), "17 entries in the map (max 16)");
}

#[test]
fn structural_errors_name_the_field() {
    let mut e = entries();
    e.push((text("nonce"), Value::Null));
    assert_eq!(payload_error(e), "duplicate field `nonce`");

    let mut e = entries();
    e.retain(|(k, _)| *k != text("certificate"));
    assert_eq!(payload_error(e), "missing field `certificate`");

    let mut e = entries();
    e.push((Value::Integer(1.into()), Value::Null));
    assert_eq!(payload_error(e), "map keys must be text, got an integer");

    let mut e = entries();
    e[2].1 = Value::Integer((-5).into());
    assert_eq!(payload_error(e), "`timestamp` must be an unsigned integer");

    let mut e = entries();
    e[0].1 = Value::Bytes(b"id".to_vec());
    assert_eq!(
        payload_error(e),
        "`module_id` must be a text string, got a byte string"
    );

    let mut e = entries();
    e[0].1 = text(&"x".repeat(257));
    assert_eq!(payload_error(e), "`module_id` is 257 bytes (max 256)");

    let mut e = entries();
    e[6].1 = Value::Array(vec![]);
    assert_eq!(
        payload_error(e),
        "`public_key` must be a byte string, got an array"
    );

    let mut e = entries();
    e[3].1 = Value::Map(vec![(
        Value::Integer((-1).into()),
        Value::Bytes(vec![0; 48]),
    )]);
    assert_eq!(payload_error(e), "pcr index out of range (0..32)");

    let mut e = entries();
    e[3].1 = Value::Map(vec![
        (Value::Integer(1.into()), Value::Bytes(vec![0; 48])),
        (Value::Integer(1.into()), Value::Bytes(vec![0; 48])),
    ]);
    assert_eq!(payload_error(e), "duplicate pcr1");

    let mut e = entries();
    e[3].1 = Value::Map(vec![(text("0"), Value::Bytes(vec![0; 48]))]);
    assert_eq!(
        payload_error(e),
        "pcr index must be an integer, got a text string"
    );

    let mut e = entries();
    e[5].1 = Value::Array(vec![Value::Bytes(vec![0x30, 0x03, 1, 1, 1])]);
    assert!(payload_error(e).starts_with("`cabundle[0]`: bad der"));
}

#[test]
fn non_map_payloads_and_trailing_bytes_are_refused() {
    let doc = Document::parse(&envelope(&[0x80])).unwrap_err();
    assert_eq!(
        doc,
        Error::Payload("expected a map, got an array".to_owned())
    );
    let mut payload = Vec::new();
    ciborium::ser::into_writer(&Value::Map(entries()), &mut payload).unwrap();
    payload.push(0);
    let err = Document::parse(&envelope(&payload)).unwrap_err();
    assert_eq!(
        err,
        Error::Payload("1 trailing bytes after the cbor item".to_owned())
    );
}

#[test]
fn deep_nesting_is_refused_without_overflowing_the_stack() {
    let mut e = entries();
    let mut payload = Vec::new();
    e.push((text("deep"), Value::Null));
    ciborium::ser::into_writer(&Value::Map(e), &mut payload).unwrap();
    // Replace the final null with 10 000 nested one-element arrays, as raw bytes.
    payload.pop();
    payload.extend(std::iter::repeat_n(0x81, 10_000));
    payload.push(0xf6);
    let err = Document::parse(&envelope(&payload)).unwrap_err();
    assert!(err.to_string().contains("nested too deeply"), "{err}");
}

#[test]
fn missing_debug_pcrs_count_as_debug() {
    let mut e = entries();
    e[3].1 = Value::Map(vec![(Value::Integer(5.into()), Value::Bytes(vec![1; 48]))]);
    assert!(parse(e).unwrap().is_debug());
}
