//! The COSE_Sign1 envelope (RFC 9052 §4.2) around the attestation payload.
//!
//! Decoding goes through `coset`, which keeps the protected header's original bytes and the payload
//! bytes exactly as received, so the Sig_structure we verify is built from what was signed, never
//! from a re-encoding (the newer NSM's indefinite-length maps would not survive one).

use coset::{AsCborValue as _, CoseSign1, RegisteredLabelWithPrivate, iana};
use p384::ecdsa::{Signature, VerifyingKey, signature::Verifier as _};

use crate::error::Error;
use crate::limits::MAX_DOCUMENT_LEN;

/// CBOR tag for COSE_Sign1 (RFC 9052 §2).
const COSE_SIGN1_TAG: u64 = 18;

/// A decoded COSE_Sign1 whose header has been checked, but whose signature has not.
#[derive(Clone, Debug)]
pub(crate) struct Envelope {
    sign1: CoseSign1,
}

impl Envelope {
    /// Decodes a COSE_Sign1, tagged (18) or untagged, and checks that the protected header asks
    /// for ES384 and that a 96-byte signature and an attached payload are present.
    pub(crate) fn parse(bytes: &[u8]) -> Result<Self, Error> {
        if bytes.len() > MAX_DOCUMENT_LEN {
            return Err(Error::TooLarge {
                len: bytes.len(),
                max: MAX_DOCUMENT_LEN,
            });
        }
        let value = crate::cbor::read_cbor(bytes).map_err(Error::Cose)?;
        let value = match value {
            ciborium::Value::Tag(COSE_SIGN1_TAG, inner) => *inner,
            ciborium::Value::Tag(other, _) => {
                return Err(Error::Cose(format!(
                    "unexpected cbor tag {other} (expected 18 or none)"
                )));
            }
            untagged => untagged,
        };
        let sign1 = CoseSign1::from_cbor_value(value)
            .map_err(|e| Error::Cose(format!("malformed structure: {e}")))?;

        let header = &sign1.protected.header;
        let es384 = RegisteredLabelWithPrivate::Assigned(iana::Algorithm::ES384);
        match &header.alg {
            Some(alg) if *alg == es384 => {}
            Some(alg) => {
                return Err(Error::Cose(format!(
                    "protected header alg is {alg:?}, expected es384 (-35)"
                )));
            }
            None => return Err(Error::Cose("protected header has no alg".to_owned())),
        }
        // RFC 9052 §3.1: a recipient must reject headers marked critical that it does not
        // understand, and we understand none beyond `alg`.
        if !header.crit.is_empty() {
            return Err(Error::Cose(
                "protected header lists critical parameters".to_owned(),
            ));
        }
        if sign1.payload.is_none() {
            return Err(Error::Cose("payload is detached (nil)".to_owned()));
        }
        if sign1.signature.len() != 96 {
            return Err(Error::Cose(format!(
                "signature is {} bytes, expected 96 (es384 r||s)",
                sign1.signature.len()
            )));
        }
        Ok(Self { sign1 })
    }

    /// The payload bytes exactly as received.
    pub(crate) fn payload(&self) -> &[u8] {
        self.sign1.payload.as_deref().unwrap_or_default()
    }

    /// Checks the ES384 signature over `Sig_structure = ["Signature1", protected, h'', payload]`,
    /// where `protected` and `payload` are the received bytes.
    pub(crate) fn verify_signature(&self, key: &VerifyingKey) -> Result<(), Error> {
        let signature = Signature::from_slice(&self.sign1.signature)
            .map_err(|_| Error::Signature("signature is not a valid p-384 (r, s) pair"))?;
        let to_be_signed = self.sign1.tbs_data(&[]);
        key.verify(&to_be_signed, &signature)
            .map_err(|_| Error::Signature("does not verify with the leaf certificate's key"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_wrong_tag_and_alg() {
        // Tag 17 (COSE_Mac0) around an otherwise empty array.
        let tagged = [0xd1, 0x84, 0x40, 0xa0, 0x40, 0x40];
        assert!(matches!(Envelope::parse(&tagged), Err(Error::Cose(m)) if m.contains("tag 17")));
        // Protected header {1: -7} (ES256).
        let mut es256 = vec![0x84, 0x43, 0xa1, 0x01, 0x26, 0xa0, 0x41, 0x00, 0x58, 0x60];
        es256.extend_from_slice(&[0; 96]);
        let err = Envelope::parse(&es256).unwrap_err().to_string();
        assert!(err.contains("expected es384"), "{err}");
        // No protected alg at all.
        let none = [0x84, 0x40, 0xa0, 0x40, 0x40];
        assert!(Envelope::parse(&none).is_err());
    }

    #[test]
    fn rejects_trailing_bytes_and_oversize() {
        let trailing = [0x84, 0x40, 0xa0, 0x40, 0x40, 0x00];
        assert!(Envelope::parse(&trailing).is_err());
        let big = vec![0u8; MAX_DOCUMENT_LEN + 1];
        assert!(matches!(Envelope::parse(&big), Err(Error::TooLarge { .. })));
    }
}
