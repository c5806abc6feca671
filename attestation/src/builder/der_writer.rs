//! Just enough DER writing to build small certificates: definite lengths, one helper per type.

use der::asn1::ObjectIdentifier;

use crate::time::UnixTime;

pub(super) const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const OID: u8 = 0x06;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const BOOLEAN: u8 = 0x01;

/// Tag, DER length, content.
pub(super) fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len.saturating_add(6));
    out.push(tag);
    if len < 0x80 {
        out.extend(u8::try_from(len));
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|&&b| b == 0).count();
        let significant = bytes.get(skip..).unwrap_or_default();
        out.extend(u8::try_from(significant.len()).map(|n| 0x80 | n));
        out.extend_from_slice(significant);
    }
    out.extend_from_slice(content);
    out
}

pub(super) fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

pub(super) fn oid(oid: &ObjectIdentifier) -> Vec<u8> {
    tlv(OID, oid.as_bytes())
}

/// A positive INTEGER from big-endian magnitude bytes.
pub(super) fn positive_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len().saturating_add(1));
    // A leading 1 bit would make the value negative; DER then needs one zero byte.
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend_from_slice(&trimmed);
    tlv(INTEGER, &content)
}

pub(super) fn bit_string(unused_bits: u8, bytes: &[u8]) -> Vec<u8> {
    tlv(BIT_STRING, &[&[unused_bits][..], bytes].concat())
}

pub(super) fn octet_string(bytes: &[u8]) -> Vec<u8> {
    tlv(OCTET_STRING, bytes)
}

pub(super) fn boolean_true() -> Vec<u8> {
    tlv(BOOLEAN, &[0xff])
}

/// `[n] EXPLICIT` around already-encoded content.
pub(super) fn explicit(n: u8, inner: &[u8]) -> Vec<u8> {
    tlv(0xa0 | n, inner)
}

/// A Name made of single-valued RDNs, each (attribute OID, UTF8String value).
pub(super) fn name(attributes: &[(ObjectIdentifier, &str)]) -> Vec<u8> {
    let rdns: Vec<Vec<u8>> = attributes
        .iter()
        .map(|(attr, value)| {
            let atv = seq(&[&oid(attr), &tlv(UTF8_STRING, value.as_bytes())]);
            tlv(SET, &atv)
        })
        .collect();
    tlv(SEQUENCE, &rdns.concat())
}

/// RFC 5280 §4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050.
pub(super) fn time(t: UnixTime) -> Vec<u8> {
    let (year, month, day, hour, minute, second) = t.to_civil();
    if year < 2050 {
        let text = format!(
            "{:02}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z",
            year % 100
        );
        tlv(UTC_TIME, text.as_bytes())
    } else {
        let text = format!("{year:04}{month:02}{day:02}{hour:02}{minute:02}{second:02}Z");
        tlv(GENERALIZED_TIME, text.as_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_and_integers() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 200]);
        assert_eq!(long[..3], [0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0; 300]);
        assert_eq!(longer[..4], [0x04, 0x82, 0x01, 0x2c]);
        assert_eq!(positive_integer(&[0, 0, 5]), vec![0x02, 1, 5]);
        assert_eq!(positive_integer(&[0x80]), vec![0x02, 2, 0, 0x80]);
        assert_eq!(positive_integer(&[]), vec![0x02, 1, 0]);
    }

    #[test]
    fn times() {
        let t = UnixTime::parse("2022-07-06T14:18:19Z").unwrap();
        assert_eq!(time(t), [&[0x17, 13][..], b"220706141819Z"].concat());
        let t = UnixTime::parse("2050-01-01T00:00:00Z").unwrap();
        assert_eq!(time(t), [&[0x18, 15][..], b"20500101000000Z"].concat());
    }
}
