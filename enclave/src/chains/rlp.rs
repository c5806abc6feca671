//! Recursive Length Prefix (Ethereum yellow paper, appendix B): a strict, bounded decoder and
//! the encoder. "Strict" means canonical only: a single byte below 0x80 must be itself, short
//! forms are used up to 55 bytes, long lengths have no leading zeros, and nothing may trail the
//! top-level item — so one transaction has exactly one encoding and what is signed is what was
//! parsed.

use crate::error::{Error, Result};

/// Deepest nesting accepted (a transaction's access list is depth 3).
const MAX_DEPTH: usize = 8;
/// Most items in one list (a generous bound for access lists).
const MAX_ITEMS: usize = 10_000;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Item<'a> {
    Bytes(&'a [u8]),
    List(Vec<Item<'a>>),
}

fn bad(what: &str) -> Error {
    Error::invalid(format!("malformed RLP: {what}"))
}

impl<'a> Item<'a> {
    pub fn bytes(&self) -> Result<&'a [u8]> {
        match self {
            Item::Bytes(b) => Ok(b),
            Item::List(_) => Err(bad("expected a byte string, found a list")),
        }
    }

    pub fn list(&self) -> Result<&[Item<'a>]> {
        match self {
            Item::List(items) => Ok(items),
            Item::Bytes(_) => Err(bad("expected a list, found a byte string")),
        }
    }
}

/// Decodes exactly one item spanning all of `input`.
pub fn decode(input: &[u8]) -> Result<Item<'_>> {
    let (item, rest) = decode_one(input, 0)?;
    if !rest.is_empty() {
        return Err(bad("trailing bytes after the item"));
    }
    Ok(item)
}

fn read_length(input: &[u8], len_of_len: usize) -> Result<(usize, &[u8])> {
    let (len_bytes, rest) = input
        .split_at_checked(len_of_len)
        .ok_or_else(|| bad("truncated length"))?;
    if len_bytes.first() == Some(&0) {
        return Err(bad("length with leading zeros"));
    }
    let mut len: usize = 0;
    for b in len_bytes {
        len = len
            .checked_mul(256)
            .and_then(|l| l.checked_add(usize::from(*b)))
            .ok_or_else(|| bad("length overflows"))?;
    }
    if len <= 55 {
        return Err(bad("long form used for a short length"));
    }
    Ok((len, rest))
}

fn take(len: usize, rest: &[u8]) -> Result<(&[u8], &[u8])> {
    rest.split_at_checked(len)
        .ok_or_else(|| bad("item longer than the input"))
}

fn decode_one(input: &[u8], depth: usize) -> Result<(Item<'_>, &[u8])> {
    if depth > MAX_DEPTH {
        return Err(bad("nested too deeply"));
    }
    let (&prefix, rest) = input.split_first().ok_or_else(|| bad("unexpected end"))?;
    match prefix {
        0x00..=0x7f => Ok((Item::Bytes(input.get(..1).unwrap_or_default()), rest)),
        0x80..=0xb7 => {
            let len = usize::from(prefix - 0x80);
            let (body, rest) = take(len, rest)?;
            if len == 1 && body.first().is_some_and(|b| *b < 0x80) {
                return Err(bad("single byte below 0x80 must not be prefixed"));
            }
            Ok((Item::Bytes(body), rest))
        }
        0xb8..=0xbf => {
            let (len, rest) = read_length(rest, usize::from(prefix - 0xb7))?;
            let (body, rest) = take(len, rest)?;
            Ok((Item::Bytes(body), rest))
        }
        0xc0..=0xf7 => {
            let (body, rest) = take(usize::from(prefix - 0xc0), rest)?;
            Ok((Item::List(decode_list(body, depth)?), rest))
        }
        0xf8..=0xff => {
            let (len, rest) = read_length(rest, usize::from(prefix - 0xf7))?;
            let (body, rest) = take(len, rest)?;
            Ok((Item::List(decode_list(body, depth)?), rest))
        }
    }
}

fn decode_list(mut body: &[u8], depth: usize) -> Result<Vec<Item<'_>>> {
    let mut items = Vec::new();
    while !body.is_empty() {
        if items.len() >= MAX_ITEMS {
            return Err(bad("too many items in a list"));
        }
        let (item, rest) = decode_one(body, depth + 1)?;
        items.push(item);
        body = rest;
    }
    Ok(items)
}

fn length_prefix(out: &mut Vec<u8>, len: usize, short: u8) {
    if len <= 55 {
        out.push(short + len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.push(short + 55 + significant.len() as u8);
        out.extend_from_slice(significant);
    }
}

/// Appends the encoding of a byte string.
pub fn encode_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    match bytes {
        [b] if *b < 0x80 => out.push(*b),
        _ => {
            length_prefix(out, bytes.len(), 0x80);
            out.extend_from_slice(bytes);
        }
    }
}

/// Appends a list whose items are already encoded (concatenated in `payload`).
pub fn encode_list(out: &mut Vec<u8>, payload: &[u8]) {
    length_prefix(out, payload.len(), 0xc0);
    out.extend_from_slice(payload);
}

/// Re-encodes a decoded item (canonical, so identical to the input it came from).
pub fn encode_item(out: &mut Vec<u8>, item: &Item<'_>) {
    match item {
        Item::Bytes(b) => encode_bytes(out, b),
        Item::List(items) => {
            let mut payload = Vec::new();
            for i in items {
                encode_item(&mut payload, i);
            }
            encode_list(out, &payload);
        }
    }
}

/// A big-endian integer without leading zeros (RLP's scalar form).
pub fn trim_leading_zeros(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    bytes.get(skip..).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Examples from the Ethereum wiki's RLP page (ethereum.org/developers/docs/data-structures-and-encoding/rlp).
    #[test]
    fn known_encodings() {
        let dog = decode(&[0x83, b'd', b'o', b'g']).unwrap();
        assert_eq!(dog, Item::Bytes(b"dog"));
        let cat_dog = hex::decode("c88363617483646f67").unwrap();
        let list = decode(&cat_dog).unwrap();
        assert_eq!(
            list,
            Item::List(vec![Item::Bytes(b"cat"), Item::Bytes(b"dog")])
        );
        assert_eq!(decode(&[0x80]).unwrap(), Item::Bytes(b""));
        assert_eq!(decode(&[0xc0]).unwrap(), Item::List(vec![]));
        assert_eq!(decode(&[0x0f]).unwrap(), Item::Bytes(&[0x0f]));
        // set theoretical representation of three
        let three = hex::decode("c7c0c1c0c3c0c1c0").unwrap();
        let mut out = Vec::new();
        encode_item(&mut out, &decode(&three).unwrap());
        assert_eq!(out, three);
        let lorem = b"Lorem ipsum dolor sit amet, consectetur adipisicing elit";
        let mut out = Vec::new();
        encode_bytes(&mut out, lorem);
        assert_eq!(out.get(..2).unwrap(), &[0xb8, 0x38]);
        assert_eq!(decode(&out).unwrap(), Item::Bytes(lorem));
    }

    #[test]
    fn non_canonical_and_truncated_inputs_are_refused() {
        for bad in [
            &[][..],
            &[0x81, 0x05][..], // single byte below 0x80 with a prefix
            &[0xb8, 0x05, 1, 2, 3, 4, 5][..], // long form for a short string
            &[0xb9, 0x00, 0x40][..], // leading zero in the length
            &[0x83, b'd', b'o'][..], // truncated
            &[0xc2, 0x83, b'd'][..],
            &[0x80, 0x80][..], // trailing bytes
            &[0xbf, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff][..],
        ] {
            assert!(decode(bad).is_err(), "{}", hex::encode(bad));
        }
        assert!(decode(&[0xc0 + 20]).is_err());
        let mut nested = vec![0xc0u8];
        for _ in 0..20 {
            let mut outer = Vec::new();
            encode_list(&mut outer, &nested);
            nested = outer;
        }
        assert!(decode(&nested).is_err());
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_round_trip(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(item) = decode(&bytes) {
                let mut out = Vec::new();
                encode_item(&mut out, &item);
                prop_assert_eq!(out, bytes);
            }
        }
    }
}
