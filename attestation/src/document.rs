//! The attestation payload: the CBOR map AWS Nitro's NSM signs.
//!
//! [`Document::parse`] fully decodes and bounds the document (envelope, payload map, every
//! certificate) before anything looks at it; nothing here is trusted until
//! [`Document::verify`] returns a [`crate::VerifiedDocument`].

use std::collections::BTreeMap;

use ciborium::Value;

use crate::cbor;
use crate::chain::Cert;
use crate::cose::Envelope;
use crate::error::Error;
use crate::limits::{
    MAX_CABUNDLE, MAX_CERT_LEN, MAX_MODULE_ID_LEN, MAX_PAYLOAD_ENTRIES, MAX_PCRS,
    MAX_USER_FIELD_LEN,
};

/// The hash algorithm the PCRs were computed with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PcrDigest {
    /// SHA-256: 32-byte PCRs.
    Sha256,
    /// SHA-384: 48-byte PCRs (what Nitro uses).
    Sha384,
    /// SHA-512: 64-byte PCRs.
    Sha512,
}

impl PcrDigest {
    fn from_name(name: &str) -> Option<Self> {
        match name {
            "SHA256" => Some(Self::Sha256),
            "SHA384" => Some(Self::Sha384),
            "SHA512" => Some(Self::Sha512),
            _ => None,
        }
    }

    /// The name used in the document, e.g. `SHA384`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Sha256 => "SHA256",
            Self::Sha384 => "SHA384",
            Self::Sha512 => "SHA512",
        }
    }

    /// Length of each PCR in bytes.
    pub fn pcr_len(self) -> usize {
        match self {
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 => 64,
        }
    }
}

/// A decoded but **unverified** attestation document.
///
/// Everything in it is attacker-controlled until [`Document::verify`] succeeds; it is public so a
/// tool can show what a refused document claims.
#[derive(Clone, Debug)]
pub struct Document {
    pub(crate) envelope: Envelope,
    pub(crate) module_id: String,
    pub(crate) digest: PcrDigest,
    pub(crate) timestamp_ms: u64,
    pub(crate) pcrs: BTreeMap<u8, Vec<u8>>,
    pub(crate) certificate: Cert,
    pub(crate) cabundle: Vec<Cert>,
    pub(crate) public_key: Option<Vec<u8>>,
    pub(crate) user_data: Option<Vec<u8>>,
    pub(crate) nonce: Option<Vec<u8>>,
}

/// Fields while the payload map is being read; each may appear at most once.
#[derive(Default)]
struct Fields {
    module_id: Option<String>,
    digest: Option<PcrDigest>,
    timestamp_ms: Option<u64>,
    pcrs: Option<Vec<(u8, Vec<u8>)>>,
    certificate: Option<Cert>,
    cabundle: Option<Vec<Cert>>,
    public_key: Option<Option<Vec<u8>>>,
    user_data: Option<Option<Vec<u8>>>,
    nonce: Option<Option<Vec<u8>>>,
}

/// Stores a field, refusing a second occurrence: two readings of one document must not exist.
fn set_once<T>(slot: &mut Option<T>, value: T, name: &str) -> Result<(), String> {
    if slot.replace(value).is_some() {
        return Err(format!("duplicate field `{name}`"));
    }
    Ok(())
}

impl Document {
    /// Decodes a COSE_Sign1 attestation document (raw CBOR bytes). Checks structure and limits
    /// only: no signature, chain, time or policy check happens here.
    pub fn parse(bytes: &[u8]) -> Result<Self, Error> {
        let envelope = Envelope::parse(bytes)?;
        let payload = cbor::read_cbor(envelope.payload()).map_err(Error::Payload)?;
        let Value::Map(entries) = payload else {
            return Err(Error::Payload(format!(
                "expected a map, got {}",
                cbor::kind(&payload)
            )));
        };
        if entries.len() > MAX_PAYLOAD_ENTRIES {
            return Err(Error::Payload(format!(
                "{} entries in the map (max {MAX_PAYLOAD_ENTRIES})",
                entries.len()
            )));
        }

        let mut f = Fields::default();
        let mut digest_name = String::new();
        for (key, value) in entries {
            let Value::Text(key) = key else {
                return Err(Error::Payload(format!(
                    "map keys must be text, got {}",
                    cbor::kind(&key)
                )));
            };
            let name = key.as_str();
            let step = match name {
                "module_id" => cbor::text(value, name, MAX_MODULE_ID_LEN)
                    .and_then(|v| set_once(&mut f.module_id, v, name)),
                "digest" => cbor::text(value, name, 16).and_then(|v| {
                    let d =
                        PcrDigest::from_name(&v).ok_or_else(|| format!("unknown digest `{v}`"))?;
                    digest_name = v;
                    set_once(&mut f.digest, d, name)
                }),
                "timestamp" => {
                    cbor::uint(value, name).and_then(|v| set_once(&mut f.timestamp_ms, v, name))
                }
                "pcrs" => parse_pcrs(value).and_then(|v| set_once(&mut f.pcrs, v, name)),
                "certificate" => cbor::bytes(value, name, MAX_CERT_LEN)
                    .and_then(|der| Cert::from_der(der).map_err(|e| format!("`certificate`: {e}")))
                    .and_then(|v| set_once(&mut f.certificate, v, name)),
                "cabundle" => {
                    parse_cabundle(value).and_then(|v| set_once(&mut f.cabundle, v, name))
                }
                "public_key" => cbor::optional_bytes(value, name, MAX_USER_FIELD_LEN)
                    .and_then(|v| set_once(&mut f.public_key, v, name)),
                "user_data" => cbor::optional_bytes(value, name, MAX_USER_FIELD_LEN)
                    .and_then(|v| set_once(&mut f.user_data, v, name)),
                "nonce" => cbor::optional_bytes(value, name, MAX_USER_FIELD_LEN)
                    .and_then(|v| set_once(&mut f.nonce, v, name)),
                // Unknown fields are signed by the same key as the known ones, so tolerating
                // them cannot let anyone forge a field; refusing them would break every
                // verifier the day AWS adds one. They are bounded by MAX_PAYLOAD_ENTRIES.
                _ => Ok(()),
            };
            step.map_err(Error::Payload)?;
        }

        let missing = |name: &str| Error::Payload(format!("missing field `{name}`"));
        let digest = f.digest.ok_or_else(|| missing("digest"))?;
        let pcr_list = f.pcrs.ok_or_else(|| missing("pcrs"))?;
        let mut pcrs = BTreeMap::new();
        for (index, value) in pcr_list {
            if value.len() != digest.pcr_len() {
                return Err(Error::Payload(format!(
                    "pcr{index} is {} bytes, but digest {digest_name} needs {}",
                    value.len(),
                    digest.pcr_len()
                )));
            }
            if pcrs.insert(index, value).is_some() {
                return Err(Error::Payload(format!("duplicate pcr{index}")));
            }
        }
        let module_id = f.module_id.ok_or_else(|| missing("module_id"))?;
        if module_id.is_empty() {
            return Err(Error::Payload("`module_id` is empty".to_owned()));
        }
        let timestamp_ms = f.timestamp_ms.ok_or_else(|| missing("timestamp"))?;
        if timestamp_ms == 0 {
            return Err(Error::Payload("`timestamp` is zero".to_owned()));
        }
        Ok(Self {
            envelope,
            module_id,
            digest,
            timestamp_ms,
            pcrs,
            certificate: f.certificate.ok_or_else(|| missing("certificate"))?,
            cabundle: f.cabundle.ok_or_else(|| missing("cabundle"))?,
            public_key: f.public_key.flatten(),
            user_data: f.user_data.flatten(),
            nonce: f.nonce.flatten(),
        })
    }

    /// The enclave's module id, e.g. `i-0123…-enc0123…`.
    pub fn module_id(&self) -> &str {
        &self.module_id
    }

    /// The PCR hash algorithm.
    pub fn digest(&self) -> PcrDigest {
        self.digest
    }

    /// When the NSM produced the document, in milliseconds since the Unix epoch.
    pub fn timestamp_millis(&self) -> u64 {
        self.timestamp_ms
    }

    /// All PCRs, by index.
    pub fn pcrs(&self) -> &BTreeMap<u8, Vec<u8>> {
        &self.pcrs
    }

    /// One PCR.
    pub fn pcr(&self, index: u8) -> Option<&[u8]> {
        self.pcrs.get(&index).map(Vec::as_slice)
    }

    /// The leaf certificate that signed the document.
    pub fn certificate(&self) -> &Cert {
        &self.certificate
    }

    /// The document's CA bundle, root first (the root copy is not trusted).
    pub fn cabundle(&self) -> &[Cert] {
        &self.cabundle
    }

    /// The `public_key` field, if present and not null.
    pub fn public_key(&self) -> Option<&[u8]> {
        self.public_key.as_deref()
    }

    /// The `user_data` field, if present and not null.
    pub fn user_data(&self) -> Option<&[u8]> {
        self.user_data.as_deref()
    }

    /// The `nonce` field, if present and not null.
    pub fn nonce(&self) -> Option<&[u8]> {
        self.nonce.as_deref()
    }

    /// Whether PCR0, PCR1 and PCR2 are all zero, which is how Nitro marks a debug-mode enclave.
    /// A document missing any of the three also counts, so it can never pass as production.
    pub fn is_debug(&self) -> bool {
        (0..3u8).all(|i| self.pcr(i).is_none_or(|v| v.iter().all(|&b| b == 0)))
    }
}

fn parse_pcrs(value: Value) -> Result<Vec<(u8, Vec<u8>)>, String> {
    let Value::Map(entries) = value else {
        return Err(format!("`pcrs` must be a map, got {}", cbor::kind(&value)));
    };
    if entries.len() > MAX_PCRS {
        return Err(format!("{} pcrs (max {MAX_PCRS})", entries.len()));
    }
    entries
        .into_iter()
        .map(|(key, value)| {
            let index = match key {
                Value::Integer(i) => u8::try_from(i)
                    .ok()
                    .filter(|&i| usize::from(i) < MAX_PCRS)
                    .ok_or_else(|| format!("pcr index out of range (0..{MAX_PCRS})"))?,
                other => {
                    return Err(format!(
                        "pcr index must be an integer, got {}",
                        cbor::kind(&other)
                    ));
                }
            };
            let bytes = cbor::bytes(value, &format!("pcr{index}"), 64)?;
            Ok((index, bytes))
        })
        .collect()
}

fn parse_cabundle(value: Value) -> Result<Vec<Cert>, String> {
    let Value::Array(items) = value else {
        return Err(format!(
            "`cabundle` must be an array, got {}",
            cbor::kind(&value)
        ));
    };
    if items.is_empty() || items.len() > MAX_CABUNDLE {
        return Err(format!(
            "`cabundle` has {} certificates (1..={MAX_CABUNDLE} allowed)",
            items.len()
        ));
    }
    items
        .into_iter()
        .enumerate()
        .map(|(i, item)| {
            let name = format!("cabundle[{i}]");
            let der = cbor::bytes(item, &name, MAX_CERT_LEN)?;
            Cert::from_der(der).map_err(|e| format!("`{name}`: {e}"))
        })
        .collect()
}

#[cfg(test)]
mod tests;
