//! X.509 certificates and the chain from a pinned root to the document's leaf.
//!
//! The chain is short and fixed in shape (AWS: root → three intermediates → leaf, all P-384 with
//! ecdsa-with-SHA384), so instead of a general path builder we check exactly that shape:
//! pinned root → `cabundle[1..]` in order → leaf. `cabundle[0]` is the document's own copy of
//! the root; trusting it would let anyone bring their own root, so it is ignored.

use der::asn1::ObjectIdentifier;
use der::oid::AssociatedOid as _;
use der::{Decode as _, Reader as _, SliceReader};
use p384::ecdsa::{Signature, VerifyingKey, signature::Verifier as _};
use sha2::{Digest as _, Sha256};
use x509_cert::ext::pkix::{BasicConstraints, KeyUsage};

use crate::error::Error;
use crate::limits::MAX_CERT_LEN;
use crate::time::UnixTime;

/// ecdsa-with-SHA384 (RFC 5758 §3.2).
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
/// id-ecPublicKey (RFC 5480 §2.1.1).
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
/// secp384r1 (RFC 5480 §2.1.1.1).
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// The AWS Nitro Enclaves Root-G1 certificate, as published by AWS
/// (DER SHA-256 641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b).
const AWS_NITRO_ROOT_G1_PEM: &str = include_str!("aws_nitro_enclaves_root_g1.pem");

/// A decoded X.509 certificate, kept with its exact DER bytes.
#[derive(Clone, Debug)]
pub struct Cert {
    der: Vec<u8>,
    /// Byte range of `tbsCertificate` within `der`: the signature covers these received bytes.
    tbs_start: usize,
    tbs_end: usize,
    parsed: x509_cert::Certificate,
    not_before: UnixTime,
    not_after: UnixTime,
}

impl Cert {
    /// Decodes one DER certificate (at most [`MAX_CERT_LEN`] bytes). The error is a reason
    /// for the caller to wrap in the right [`Error`] variant.
    pub(crate) fn from_der(der: Vec<u8>) -> Result<Self, String> {
        if der.len() > MAX_CERT_LEN {
            return Err(format!("{} bytes (max {MAX_CERT_LEN})", der.len()));
        }
        let parsed = x509_cert::Certificate::from_der(&der).map_err(|e| format!("bad der: {e}"))?;
        let (tbs_start, tbs_end) = tbs_range(&der).map_err(|e| format!("bad der: {e}"))?;
        let validity = parsed.tbs_certificate().validity();
        let not_before = unix(validity.not_before);
        let not_after = unix(validity.not_after);
        Ok(Self {
            der,
            tbs_start,
            tbs_end,
            parsed,
            not_before,
            not_after,
        })
    }

    /// The certificate's DER bytes, as received.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// Subject name in RFC 4514 form, e.g. `CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US`.
    pub fn subject(&self) -> String {
        self.parsed.tbs_certificate().subject().to_string()
    }

    /// Issuer name in RFC 4514 form.
    pub fn issuer(&self) -> String {
        self.parsed.tbs_certificate().issuer().to_string()
    }

    /// Start of the validity window.
    pub fn not_before(&self) -> UnixTime {
        self.not_before
    }

    /// End of the validity window (inclusive).
    pub fn not_after(&self) -> UnixTime {
        self.not_after
    }

    /// SHA-256 of the DER bytes.
    pub fn sha256(&self) -> [u8; 32] {
        Sha256::digest(&self.der).into()
    }

    fn tbs_der(&self) -> &[u8] {
        self.der
            .get(self.tbs_start..self.tbs_end)
            .unwrap_or_default()
    }

    fn valid_at(&self, at: UnixTime) -> bool {
        self.not_before <= at && at <= self.not_after
    }

    /// The subject key, which must be an EC P-384 key.
    fn p384_key(&self) -> Result<VerifyingKey, String> {
        let spki = self.parsed.tbs_certificate().subject_public_key_info();
        if spki.algorithm.oid != ID_EC_PUBLIC_KEY {
            return Err(format!(
                "key algorithm {} is not id-ecPublicKey",
                spki.algorithm.oid
            ));
        }
        let curve = spki
            .algorithm
            .parameters
            .as_ref()
            .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
        if curve != Some(SECP384R1) {
            return Err("key is not on curve p-384".to_owned());
        }
        let point = spki
            .subject_public_key
            .as_bytes()
            .ok_or("public key bit string has unused bits")?;
        VerifyingKey::from_sec1_bytes(point)
            .map_err(|_| "public key is not a valid p-384 point".to_owned())
    }
}

/// Locates the first element (tbsCertificate) of the outer Certificate SEQUENCE.
fn tbs_range(der: &[u8]) -> der::Result<(usize, usize)> {
    let mut reader = SliceReader::new(der)?;
    let header = der::Header::decode(&mut reader)?;
    header.tag().assert_eq(der::Tag::Sequence)?;
    let start = usize::try_from(reader.position())?;
    let tbs = reader.tlv_bytes()?;
    Ok((start, start.saturating_add(tbs.len())))
}

fn unix(time: x509_cert::time::Time) -> UnixTime {
    UnixTime::from_secs(time.to_unix_duration().as_secs())
}

/// The root certificate a verifier trusts.
#[derive(Clone, Debug)]
pub struct TrustAnchor {
    cert: Cert,
}

impl TrustAnchor {
    /// The AWS Nitro Enclaves Root-G1, built into the crate.
    pub fn aws_nitro_root_g1() -> Result<Self, Error> {
        Self::from_pem(AWS_NITRO_ROOT_G1_PEM.as_bytes())
    }

    /// A root from a PEM `CERTIFICATE` block.
    pub fn from_pem(pem: &[u8]) -> Result<Self, Error> {
        let (label, der) =
            pem_rfc7468::decode_vec(pem).map_err(|e| Error::Root(format!("bad pem: {e}")))?;
        if label != "CERTIFICATE" {
            return Err(Error::Root(format!(
                "pem label is `{label}`, expected `CERTIFICATE`"
            )));
        }
        Self::from_der(der)
    }

    /// A root from DER bytes.
    pub fn from_der(der: Vec<u8>) -> Result<Self, Error> {
        let cert = Cert::from_der(der).map_err(Error::Root)?;
        // Fail early on a root that could never sign this chain, rather than at every use.
        cert.p384_key().map_err(Error::Root)?;
        Ok(Self { cert })
    }

    /// The root certificate.
    pub fn cert(&self) -> &Cert {
        &self.cert
    }
}

/// What a certificate's extensions allow.
struct Constraints {
    ca: bool,
    path_len: Option<u8>,
    key_usage: Option<KeyUsage>,
}

fn constraints(cert: &Cert, label: &str) -> Result<Constraints, Error> {
    let mut out = Constraints {
        ca: false,
        path_len: None,
        key_usage: None,
    };
    let mut seen_bc = false;
    for ext in cert
        .parsed
        .tbs_certificate()
        .extensions()
        .map_or(&[][..], Vec::as_slice)
    {
        let value = ext.extn_value.as_bytes();
        if ext.extn_id == BasicConstraints::OID {
            let bc = BasicConstraints::from_der(value).map_err(|e| {
                Error::Chain(format!(
                    "{label} has a malformed basic constraints extension: {e}"
                ))
            })?;
            if std::mem::replace(&mut seen_bc, true) {
                return Err(Error::Chain(format!(
                    "{label} has two basic constraints extensions"
                )));
            }
            out.ca = bc.ca;
            out.path_len = bc.path_len_constraint;
        } else if ext.extn_id == KeyUsage::OID {
            let ku = KeyUsage::from_der(value).map_err(|e| {
                Error::Chain(format!("{label} has a malformed key usage extension: {e}"))
            })?;
            if out.key_usage.replace(ku).is_some() {
                return Err(Error::Chain(format!(
                    "{label} has two key usage extensions"
                )));
            }
        } else if ext.critical {
            // RFC 5280 §4.2: a critical extension we do not understand must fail validation.
            return Err(Error::Chain(format!(
                "{label} has an unsupported critical extension {}",
                ext.extn_id
            )));
        }
    }
    Ok(out)
}

/// Verifies pinned `root` → `cabundle[1..]` → `leaf` at time `at`, and returns the leaf's key.
pub(crate) fn verify_chain(
    root: &TrustAnchor,
    cabundle: &[Cert],
    leaf: &Cert,
    at: UnixTime,
) -> Result<VerifyingKey, Error> {
    let intermediates = cabundle.get(1..).unwrap_or_default();
    let mut path: Vec<(String, &Cert)> = Vec::with_capacity(intermediates.len().saturating_add(2));
    path.push(("root".to_owned(), &root.cert));
    path.extend(
        intermediates
            .iter()
            .enumerate()
            .map(|(i, c)| (format!("cabundle[{}]", i.saturating_add(1)), c)),
    );
    path.push(("leaf".to_owned(), leaf));

    // Leaf first: it is the shortest-lived certificate, so its window is the one worth reporting.
    for (label, cert) in path.iter().rev() {
        if !cert.valid_at(at) {
            return Err(Error::Chain(format!(
                "{label} not valid at {at} (valid {}..{})",
                cert.not_before, cert.not_after
            )));
        }
    }

    // Number of CA certificates below the one being checked, leaf excluded (RFC 5280 path length).
    let mut cas_below = intermediates.len();
    for pair in path.windows(2) {
        let [(issuer_label, issuer), (label, cert)] = pair else {
            continue;
        };
        let issuer_rules = constraints(issuer, issuer_label)?;
        if !issuer_rules.ca {
            return Err(Error::Chain(format!(
                "{issuer_label} is not a ca (basic constraints) but issues {label}"
            )));
        }
        if let Some(max) = issuer_rules.path_len
            && cas_below > usize::from(max)
        {
            return Err(Error::Chain(format!(
                "{issuer_label} allows {max} ca certificates below it, the chain has {cas_below}"
            )));
        }
        if let Some(ku) = &issuer_rules.key_usage
            && !ku.key_cert_sign()
        {
            return Err(Error::Chain(format!(
                "{issuer_label} key usage does not allow certificate signing"
            )));
        }
        cas_below = cas_below.saturating_sub(1);

        let tbs = cert.parsed.tbs_certificate();
        if tbs.issuer() != issuer.parsed.tbs_certificate().subject() {
            return Err(Error::Chain(format!(
                "{label} issuer `{}` does not match {issuer_label} subject `{}`",
                cert.issuer(),
                issuer.subject()
            )));
        }
        let outer_alg = cert.parsed.signature_algorithm();
        if outer_alg.oid != ECDSA_WITH_SHA384
            || outer_alg.parameters.is_some()
            || tbs.signature() != outer_alg
        {
            return Err(Error::Chain(format!(
                "{label} is not signed with ecdsa-with-sha384 (algorithm {})",
                outer_alg.oid
            )));
        }
        let issuer_key = issuer
            .p384_key()
            .map_err(|e| Error::Chain(format!("{issuer_label}: {e}")))?;
        let signature = cert
            .parsed
            .signature()
            .as_bytes()
            .and_then(|sig| Signature::from_der(sig).ok())
            .ok_or_else(|| {
                Error::Chain(format!("{label} signature is not a der ecdsa signature"))
            })?;
        issuer_key.verify(cert.tbs_der(), &signature).map_err(|_| {
            Error::Chain(format!(
                "{label} signature does not verify with the {issuer_label} key"
            ))
        })?;
    }

    let leaf_rules = constraints(leaf, "leaf")?;
    if let Some(ku) = &leaf_rules.key_usage
        && !ku.digital_signature()
    {
        return Err(Error::Chain(
            "leaf key usage does not allow digital signatures".to_owned(),
        ));
    }
    leaf.p384_key()
        .map_err(|e| Error::Chain(format!("leaf: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_root_is_the_aws_nitro_root_g1() {
        let root = TrustAnchor::aws_nitro_root_g1().unwrap();
        assert_eq!(
            hex::encode(root.cert().sha256()),
            "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b"
        );
        assert_eq!(
            root.cert().subject(),
            "CN=aws.nitro-enclaves,OU=AWS,O=Amazon,C=US"
        );
        assert_eq!(root.cert().not_before().to_string(), "2019-10-28T13:28:05Z");
        assert_eq!(root.cert().not_after().to_string(), "2049-10-28T14:28:05Z");
        // The tbs range is inside the certificate and starts right after the outer header.
        let c = root.cert();
        assert_eq!(c.tbs_start, 4);
        assert!(c.tbs_end < c.der.len());
    }

    #[test]
    fn rejects_non_certificate_roots() {
        assert!(TrustAnchor::from_der(vec![0x30, 0x00]).is_err());
        assert!(
            TrustAnchor::from_pem(b"-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n")
                .is_err()
        );
        assert!(TrustAnchor::from_pem(b"garbage").is_err());
    }
}
