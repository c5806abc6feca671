//! Builds attestation documents in AWS Nitro's format, signed by a self-made P-384 CA.
//!
//! **For tests and for the enclave's future development issuer only.** A document built here
//! verifies only against the [`DevIssuer`]'s own root, never against the AWS root, so it cannot
//! be mistaken for a real Nitro attestation by a verifier that pins AWS.
//!
//! Keys are derived from a caller-chosen seed and ECDSA signing is deterministic (RFC 6979), so
//! the same inputs always give the same bytes: test vectors can be regenerated and compared.
//!
//! ```
//! use keyhold_attestation::builder::{DevIssuer, DocumentSpec};
//! use keyhold_attestation::{Policy, UnixTime, verify};
//!
//! let t = UnixTime::parse("2025-01-01T12:00:00Z")?;
//! let issuer = DevIssuer::new(b"doc example", t.saturating_sub(60), t.saturating_add(3600))?;
//! let doc = issuer.sign(&DocumentSpec::new(t.as_secs() * 1000))?;
//! let policy = Policy::new(t).with_root(issuer.trust_anchor()?);
//! assert!(verify(&doc, &policy).is_ok());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cbor_writer;
mod der_writer;

use std::collections::BTreeMap;

use der::asn1::ObjectIdentifier;
use p384::ecdsa::{Signature, SigningKey, signature::Signer as _};
use sha2::{Digest as _, Sha384};

use crate::chain::TrustAnchor;
use crate::error::Error;
use crate::time::UnixTime;
use cbor_writer as cbor;
use der_writer as d;

const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");
const COMMON_NAME: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.3");
const ORGANIZATION: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.4.10");
const BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.15");

/// COSE protected header `{1: -35}` (alg: ES384), as the NSM encodes it.
const PROTECTED_ES384: [u8; 4] = [0xa1, 0x01, 0x38, 0x22];

/// How the payload map (and the PCR map inside it) is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapEncoding {
    /// Definite-length maps, as older NSM firmware writes.
    Definite,
    /// Indefinite-length maps (`0xbf … 0xff`), as NSM output from 2025 on writes.
    Indefinite,
}

/// The contents of a document to build. Nothing is validated, so over-limit values can be
/// produced on purpose to test the verifier.
#[derive(Clone, Debug)]
pub struct DocumentSpec {
    /// `module_id`.
    pub module_id: String,
    /// `digest` (normally `SHA384`).
    pub digest: String,
    /// `timestamp`, milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// `pcrs`.
    pub pcrs: BTreeMap<u8, Vec<u8>>,
    /// `public_key` (`None` is encoded as null, like the NSM does).
    pub public_key: Option<Vec<u8>>,
    /// `user_data`.
    pub user_data: Option<Vec<u8>>,
    /// `nonce`.
    pub nonce: Option<Vec<u8>>,
    /// Definite or indefinite-length maps.
    pub map_encoding: MapEncoding,
    /// Wrap the COSE_Sign1 in CBOR tag 18.
    pub tagged: bool,
    /// Put this DER in `certificate` instead of the issuer's leaf (the document is still signed
    /// with the issuer's leaf key).
    pub certificate_override: Option<Vec<u8>>,
    /// Put these DERs in `cabundle` instead of the issuer's root copy and intermediates.
    pub cabundle_override: Option<Vec<Vec<u8>>>,
}

impl DocumentSpec {
    /// A production-looking document at `timestamp_ms`: SHA384, 16 PCRs (PCR0–2 non-zero so it is
    /// not debug mode, the rest zero), no public key, user data or nonce, definite maps, untagged.
    pub fn new(timestamp_ms: u64) -> Self {
        let pcrs = (0..16u8)
            .map(|i| {
                let value = if i < 3 {
                    vec![i + 0x11; 48]
                } else {
                    vec![0; 48]
                };
                (i, value)
            })
            .collect();
        Self {
            module_id: "i-0123456789abcdef0-enc0123456789abcdef".to_owned(),
            digest: "SHA384".to_owned(),
            timestamp_ms,
            pcrs,
            public_key: None,
            user_data: None,
            nonce: None,
            map_encoding: MapEncoding::Definite,
            tagged: false,
            certificate_override: None,
            cabundle_override: None,
        }
    }
}

/// A self-made CA chain (root → intermediates → leaf) that signs Nitro-format documents.
#[derive(Clone)]
pub struct DevIssuer {
    root_der: Vec<u8>,
    intermediate_ders: Vec<Vec<u8>>,
    leaf_der: Vec<u8>,
    leaf_key: SigningKey,
}

impl core::fmt::Debug for DevIssuer {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        // The leaf key stays out of logs.
        f.debug_struct("DevIssuer").finish_non_exhaustive()
    }
}

/// A key derived from the seed and a label; retried with a counter in the (negligible) case the
/// hash is not a valid scalar.
fn derive_key(seed: &[u8], label: &str) -> Result<SigningKey, Error> {
    for counter in 0u8..8 {
        let digest = Sha384::new()
            .chain_update(b"keyhold-attestation dev issuer\0")
            .chain_update(seed)
            .chain_update(label.as_bytes())
            .chain_update([counter])
            .finalize();
        if let Ok(key) = SigningKey::from_slice(&digest) {
            return Ok(key);
        }
    }
    Err(Error::Build(format!("no valid key for `{label}`")))
}

/// Uncompressed SEC1 point in an EC SubjectPublicKeyInfo.
fn spki(key: &SigningKey) -> Vec<u8> {
    let point = key.verifying_key().to_sec1_point(false);
    d::seq(&[
        &d::seq(&[&d::oid(&ID_EC_PUBLIC_KEY), &d::oid(&SECP384R1)]),
        &d::bit_string(0, point.as_bytes()),
    ])
}

fn extension(id: &ObjectIdentifier, value: &[u8]) -> Vec<u8> {
    d::seq(&[&d::oid(id), &d::boolean_true(), &d::octet_string(value)])
}

struct CertSpec<'a> {
    subject_cn: &'a str,
    issuer_cn: &'a str,
    serial_label: &'a str,
    not_before: UnixTime,
    not_after: UnixTime,
    ca: bool,
    subject_key: &'a SigningKey,
    issuer_key: &'a SigningKey,
}

fn dev_name(cn: &str) -> Vec<u8> {
    d::name(&[(ORGANIZATION, "keyhold dev"), (COMMON_NAME, cn)])
}

fn certificate(spec: &CertSpec<'_>) -> Result<Vec<u8>, Error> {
    let serial: [u8; 16] = Sha384::digest(spec.serial_label.as_bytes())
        .get(..16)
        .and_then(|s| <[u8; 16]>::try_from(s).ok())
        .unwrap_or([1; 16]);
    let (basic_constraints, key_usage) = if spec.ca {
        // cA TRUE; keyUsage digitalSignature, keyCertSign, cRLSign (as on the AWS CAs).
        (d::seq(&[&d::boolean_true()]), d::bit_string(1, &[0x86]))
    } else {
        // cA FALSE is the DEFAULT, so DER omits it; keyUsage digitalSignature.
        (d::seq(&[]), d::bit_string(7, &[0x80]))
    };
    let extensions = d::seq(&[
        &extension(&BASIC_CONSTRAINTS, &basic_constraints),
        &extension(&KEY_USAGE, &key_usage),
    ]);
    let algorithm = d::seq(&[&d::oid(&ECDSA_WITH_SHA384)]);
    let tbs = d::seq(&[
        &d::explicit(0, &[0x02, 0x01, 0x02]), // version v3
        &d::positive_integer(&serial),
        &algorithm,
        &dev_name(spec.issuer_cn),
        &d::seq(&[&d::time(spec.not_before), &d::time(spec.not_after)]),
        &dev_name(spec.subject_cn),
        &spki(spec.subject_key),
        &d::explicit(3, &extensions),
    ]);
    let signature: Signature = spec
        .issuer_key
        .try_sign(&tbs)
        .map_err(|_| Error::Build("certificate signing failed".to_owned()))?;
    Ok(d::seq(&[
        &tbs,
        &algorithm,
        &d::bit_string(0, signature.to_der().as_bytes()),
    ]))
}

impl DevIssuer {
    /// Root → one intermediate → leaf. The leaf is valid from `not_before` to `not_after`; the
    /// CAs from a day before to a year after, like AWS's longer-lived CAs around a 3-hour leaf.
    pub fn new(seed: &[u8], not_before: UnixTime, not_after: UnixTime) -> Result<Self, Error> {
        Self::with_intermediates(seed, not_before, not_after, 1)
    }

    /// Like [`DevIssuer::new`] with `count` intermediates (0 means the root signs the leaf).
    pub fn with_intermediates(
        seed: &[u8],
        not_before: UnixTime,
        not_after: UnixTime,
        count: usize,
    ) -> Result<Self, Error> {
        let ca_from = not_before.saturating_sub(86_400);
        let ca_until = not_after.saturating_add(365 * 86_400);
        Self::with_ca_window(seed, (ca_from, ca_until), not_before, not_after, count)
    }

    /// A long-lived dev CA: the root and intermediate are valid from 2024-01-01 to 2124-01-01
    /// whatever the leaf's window, so the root certificate made from one `seed` is the same on
    /// every boot and can be pinned (`keyhold-attest --root`).
    pub fn long_lived(
        seed: &[u8],
        not_before: UnixTime,
        not_after: UnixTime,
    ) -> Result<Self, Error> {
        const CA_FROM: u64 = 1_704_067_200; // 2024-01-01T00:00:00Z
        const CA_UNTIL: u64 = 4_859_740_800; // 2124-01-01T00:00:00Z
        Self::with_ca_window(
            seed,
            (UnixTime::from_secs(CA_FROM), UnixTime::from_secs(CA_UNTIL)),
            not_before,
            not_after,
            1,
        )
    }

    fn with_ca_window(
        seed: &[u8],
        (ca_from, ca_until): (UnixTime, UnixTime),
        not_before: UnixTime,
        not_after: UnixTime,
        count: usize,
    ) -> Result<Self, Error> {
        let root_key = derive_key(seed, "root")?;
        let root_der = certificate(&CertSpec {
            subject_cn: "keyhold dev root",
            issuer_cn: "keyhold dev root",
            serial_label: "root",
            not_before: ca_from,
            not_after: ca_until,
            ca: true,
            subject_key: &root_key,
            issuer_key: &root_key,
        })?;

        let mut issuer_key = root_key;
        let mut issuer_cn = "keyhold dev root".to_owned();
        let mut intermediate_ders = Vec::with_capacity(count);
        for i in 1..=count {
            let key = derive_key(seed, &format!("intermediate {i}"))?;
            let cn = format!("keyhold dev intermediate {i}");
            intermediate_ders.push(certificate(&CertSpec {
                subject_cn: &cn,
                issuer_cn: &issuer_cn,
                serial_label: &cn,
                not_before: ca_from,
                not_after: ca_until,
                ca: true,
                subject_key: &key,
                issuer_key: &issuer_key,
            })?);
            issuer_key = key;
            issuer_cn = cn;
        }

        let leaf_key = derive_key(seed, "leaf")?;
        let leaf_der = certificate(&CertSpec {
            subject_cn: "keyhold dev enclave",
            issuer_cn: &issuer_cn,
            serial_label: "leaf",
            not_before,
            not_after,
            ca: false,
            subject_key: &leaf_key,
            issuer_key: &issuer_key,
        })?;
        Ok(Self {
            root_der,
            intermediate_ders,
            leaf_der,
            leaf_key,
        })
    }

    /// The root certificate, DER.
    pub fn root_der(&self) -> &[u8] {
        &self.root_der
    }

    /// The root certificate, PEM (for `keyhold-attest --root`).
    pub fn root_pem(&self) -> Result<String, Error> {
        pem_rfc7468::encode_string("CERTIFICATE", pem_rfc7468::LineEnding::LF, &self.root_der)
            .map_err(|e| Error::Build(format!("pem encoding failed: {e}")))
    }

    /// The root as a verifier's trust anchor.
    pub fn trust_anchor(&self) -> Result<TrustAnchor, Error> {
        TrustAnchor::from_der(self.root_der.clone())
    }

    /// The leaf certificate, DER.
    pub fn leaf_der(&self) -> &[u8] {
        &self.leaf_der
    }

    /// The `cabundle` the NSM would send: root copy first, then intermediates.
    pub fn cabundle(&self) -> Vec<Vec<u8>> {
        std::iter::once(self.root_der.clone())
            .chain(self.intermediate_ders.iter().cloned())
            .collect()
    }

    /// Encodes `spec` as a COSE_Sign1 attestation document signed by the leaf key.
    pub fn sign(&self, spec: &DocumentSpec) -> Result<Vec<u8>, Error> {
        let payload = self.payload(spec);
        let mut to_be_signed = Vec::with_capacity(payload.len().saturating_add(32));
        cbor::array(&mut to_be_signed, 4);
        cbor::text(&mut to_be_signed, "Signature1");
        cbor::bytes(&mut to_be_signed, &PROTECTED_ES384);
        cbor::bytes(&mut to_be_signed, &[]);
        cbor::bytes(&mut to_be_signed, &payload);
        let signature: Signature = self
            .leaf_key
            .try_sign(&to_be_signed)
            .map_err(|_| Error::Build("document signing failed".to_owned()))?;

        let mut out = Vec::with_capacity(payload.len().saturating_add(128));
        if spec.tagged {
            cbor::tag(&mut out, 18);
        }
        cbor::array(&mut out, 4);
        cbor::bytes(&mut out, &PROTECTED_ES384);
        cbor::map(&mut out, 0);
        cbor::bytes(&mut out, &payload);
        cbor::bytes(&mut out, &signature.to_bytes());
        Ok(out)
    }

    fn payload(&self, spec: &DocumentSpec) -> Vec<u8> {
        let indefinite = spec.map_encoding == MapEncoding::Indefinite;
        let open_map = |out: &mut Vec<u8>, n: usize| {
            if indefinite {
                out.push(cbor::INDEFINITE_MAP);
            } else {
                cbor::map(out, n);
            }
        };
        let close_map = |out: &mut Vec<u8>| {
            if indefinite {
                out.push(cbor::BREAK);
            }
        };
        let optional = |out: &mut Vec<u8>, value: &Option<Vec<u8>>| match value {
            Some(v) => cbor::bytes(out, v),
            None => out.push(cbor::NULL),
        };

        let mut out = Vec::new();
        open_map(&mut out, 9);
        cbor::text(&mut out, "module_id");
        cbor::text(&mut out, &spec.module_id);
        cbor::text(&mut out, "digest");
        cbor::text(&mut out, &spec.digest);
        cbor::text(&mut out, "timestamp");
        cbor::uint(&mut out, spec.timestamp_ms);
        cbor::text(&mut out, "pcrs");
        open_map(&mut out, spec.pcrs.len());
        for (&index, value) in &spec.pcrs {
            cbor::uint(&mut out, u64::from(index));
            cbor::bytes(&mut out, value);
        }
        close_map(&mut out);
        cbor::text(&mut out, "certificate");
        cbor::bytes(
            &mut out,
            spec.certificate_override
                .as_deref()
                .unwrap_or(&self.leaf_der),
        );
        cbor::text(&mut out, "cabundle");
        let cabundle = spec
            .cabundle_override
            .clone()
            .unwrap_or_else(|| self.cabundle());
        cbor::array(&mut out, cabundle.len());
        for cert in &cabundle {
            cbor::bytes(&mut out, cert);
        }
        cbor::text(&mut out, "public_key");
        optional(&mut out, &spec.public_key);
        cbor::text(&mut out, "user_data");
        optional(&mut out, &spec.user_data);
        cbor::text(&mut out, "nonce");
        optional(&mut out, &spec.nonce);
        close_map(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Document, Policy, verify};

    fn at() -> UnixTime {
        UnixTime::parse("2025-06-01T12:00:00Z").unwrap()
    }

    #[test]
    fn builds_verifiable_documents_in_both_map_forms() {
        let t = at();
        let issuer = DevIssuer::new(b"unit", t.saturating_sub(10), t.saturating_add(10)).unwrap();
        let policy = Policy::new(t).with_root(issuer.trust_anchor().unwrap());
        for encoding in [MapEncoding::Definite, MapEncoding::Indefinite] {
            for tagged in [false, true] {
                let mut spec = DocumentSpec::new(t.as_secs() * 1000);
                spec.map_encoding = encoding;
                spec.tagged = tagged;
                let bytes = issuer.sign(&spec).unwrap();
                let doc = verify(&bytes, &policy).unwrap();
                assert_eq!(doc.module_id(), spec.module_id);
                assert_eq!(doc.document().pcrs().len(), 16);
            }
        }
    }

    #[test]
    fn chain_shapes() {
        let t = at();
        for count in [0, 1, 3] {
            let issuer = DevIssuer::with_intermediates(
                b"shapes",
                t.saturating_sub(10),
                t.saturating_add(10),
                count,
            )
            .unwrap();
            let bytes = issuer.sign(&DocumentSpec::new(t.as_secs() * 1000)).unwrap();
            let doc = Document::parse(&bytes).unwrap();
            assert_eq!(doc.cabundle().len(), count + 1);
            assert_eq!(doc.certificate().not_before(), t.saturating_sub(10));
            let policy = Policy::new(t).with_root(issuer.trust_anchor().unwrap());
            doc.verify(&policy).unwrap();
        }
    }

    #[test]
    fn deterministic() {
        let t = at();
        let a = DevIssuer::new(b"same", t, t.saturating_add(1)).unwrap();
        let b = DevIssuer::new(b"same", t, t.saturating_add(1)).unwrap();
        let spec = DocumentSpec::new(t.as_secs() * 1000);
        assert_eq!(a.sign(&spec).unwrap(), b.sign(&spec).unwrap());
        let c = DevIssuer::new(b"other", t, t.saturating_add(1)).unwrap();
        assert_ne!(a.root_der(), c.root_der());
    }
}
