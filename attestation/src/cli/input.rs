//! Reading the document and detecting its encoding: raw CBOR, hex, or standard base64.

use std::io::Read as _;
use std::path::Path;

use base64::Engine as _;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use keyhold_attestation::limits::MAX_DOCUMENT_LEN;

/// The most input read: a maximal document in hex, with a newline every 32 characters.
const MAX_INPUT_LEN: usize = MAX_DOCUMENT_LEN * 3;

/// Standard alphabet; padding optional, since tools differ on whether they emit it.
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Reads the file (or stdin for `-`), refusing more than [`MAX_INPUT_LEN`] bytes without
/// reading past that point.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    let limit = u64::try_from(MAX_INPUT_LEN)
        .unwrap_or(u64::MAX)
        .saturating_add(1);
    let result = if path == Path::new("-") {
        std::io::stdin().lock().take(limit).read_to_end(&mut buf)
    } else {
        std::fs::File::open(path).and_then(|f| f.take(limit).read_to_end(&mut buf))
    };
    result.map_err(|e| format!("cannot read `{}`: {e}", path.display()))?;
    if buf.len() > MAX_INPUT_LEN {
        return Err(format!(
            "`{}` is over {MAX_INPUT_LEN} bytes; no attestation document is that large",
            path.display()
        ));
    }
    if buf.is_empty() {
        return Err(format!("`{}` is empty", path.display()));
    }
    Ok(buf)
}

/// Turns the input into CBOR bytes.
///
/// A COSE_Sign1 starts with 0x84 (array of 4) or 0xd2 (tag 18), neither of which is ASCII, so
/// input starting with a non-ASCII byte is raw CBOR. Otherwise it is text: hex if it has only
/// hex digits, else base64. Whitespace (line breaks) is ignored in text forms.
pub(crate) fn decode(input: &[u8]) -> Result<Vec<u8>, String> {
    if input.first().is_some_and(|b| !b.is_ascii()) {
        return Ok(input.to_vec());
    }
    let text: Vec<u8> = input
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    if text.is_empty() {
        return Err("input is only whitespace".to_owned());
    }
    if text.iter().all(u8::is_ascii_hexdigit) {
        return hex::decode(&text).map_err(|e| format!("input looks like hex but is not: {e}"));
    }
    BASE64
        .decode(&text)
        .map_err(|e| format!("input is neither raw cbor, hex nor standard base64 (base64: {e})"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn detects_each_encoding() {
        let raw = vec![0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0];
        assert_eq!(decode(&raw).unwrap(), raw);
        assert_eq!(decode(b"8444a1013822a0\n").unwrap(), raw);
        let b64 = BASE64.encode(&raw);
        assert_eq!(decode(b64.as_bytes()).unwrap(), raw);
        let (head, tail) = b64.split_at(4);
        let wrapped = format!("{head}\n{tail}\n");
        assert_eq!(decode(wrapped.as_bytes()).unwrap(), raw);
        assert_eq!(decode(b64.trim_end_matches('=').as_bytes()).unwrap(), raw);
        let tagged = [0xd2, 0x84];
        assert_eq!(decode(&tagged).unwrap(), tagged);
    }

    #[test]
    fn refuses_garbage() {
        assert!(decode(b"   \n").is_err());
        assert!(decode(b"not base64 at all!").is_err());
        assert!(decode(b"abc").is_err());
    }
}
