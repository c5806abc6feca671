//! Minimal CBOR encoding (RFC 8949 §3) for building documents, including the indefinite-length
//! maps newer NSM firmware emits, which a generic serializer would not produce.

/// Major types.
const UINT: u8 = 0;
const BYTES: u8 = 2;
const TEXT: u8 = 3;
const ARRAY: u8 = 4;
const MAP: u8 = 5;
const TAG: u8 = 6;

pub(super) const NULL: u8 = 0xf6;
pub(super) const INDEFINITE_MAP: u8 = 0xbf;
pub(super) const BREAK: u8 = 0xff;

/// The initial byte(s) of an item: major type plus the shortest argument encoding.
pub(super) fn head(out: &mut Vec<u8>, major: u8, value: u64) {
    let major = major << 5;
    if let Ok(small) = u8::try_from(value)
        && small < 24
    {
        out.push(major | small);
    } else if let Ok(v) = u8::try_from(value) {
        out.push(major | 24);
        out.push(v);
    } else if let Ok(v) = u16::try_from(value) {
        out.push(major | 25);
        out.extend_from_slice(&v.to_be_bytes());
    } else if let Ok(v) = u32::try_from(value) {
        out.push(major | 26);
        out.extend_from_slice(&v.to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&value.to_be_bytes());
    }
}

fn len(n: usize) -> u64 {
    u64::try_from(n).unwrap_or(u64::MAX)
}

pub(super) fn uint(out: &mut Vec<u8>, value: u64) {
    head(out, UINT, value);
}

pub(super) fn bytes(out: &mut Vec<u8>, value: &[u8]) {
    head(out, BYTES, len(value.len()));
    out.extend_from_slice(value);
}

pub(super) fn text(out: &mut Vec<u8>, value: &str) {
    head(out, TEXT, len(value.len()));
    out.extend_from_slice(value.as_bytes());
}

pub(super) fn array(out: &mut Vec<u8>, items: usize) {
    head(out, ARRAY, len(items));
}

pub(super) fn map(out: &mut Vec<u8>, entries: usize) {
    head(out, MAP, len(entries));
}

pub(super) fn tag(out: &mut Vec<u8>, value: u64) {
    head(out, TAG, value);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heads_use_the_shortest_form() {
        let enc = |major, v| {
            let mut out = Vec::new();
            head(&mut out, major, v);
            out
        };
        assert_eq!(enc(UINT, 23), [0x17]);
        assert_eq!(enc(UINT, 24), [0x18, 24]);
        assert_eq!(enc(BYTES, 256), [0x59, 1, 0]);
        assert_eq!(enc(UINT, 1 << 32), [0x1b, 0, 0, 0, 1, 0, 0, 0, 0]);
        assert_eq!(enc(1, 34), [0x38, 0x22]); // major type 1: -35, ES384
        assert_eq!(enc(TAG, 18), [0xd2]);
    }
}
