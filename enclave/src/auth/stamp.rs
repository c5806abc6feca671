//! Turnkey's `X-Stamp` header: base64url (padding optional) of the JSON
//! `{"publicKey": hex, "scheme": "SIGNATURE_SCHEME_TK_API_…", "signature": hex}`; what each
//! scheme signs is in [`super::schemes`]. Format and test vector from Turnkey's
//! `@turnkey/api-key-stamper` 0.6.17 and `@turnkey/wallet-stamper` 1.1.17 (see
//! ../shared/reference/turnkey-api.md §2.1).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, LazyLock, Mutex};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD_INDIFFERENT;
use serde::Deserialize;

use keyhold_p256_verify::KeyTable;

use super::schemes::{PublicKey, Scheme, verify, verify_p256_with_table};
use crate::error::{Error, Result, clip};
use crate::lru::{CacheKey, Lru, cache_key};

/// Longest stamp header accepted; a real one is about 300 bytes.
const MAX_HEADER_LEN: usize = 4096;

/// Most parsed API public keys kept.
const KEYS_CAPACITY: usize = 1024;

/// API public keys as parsed points. Decompressing a SEC1 key (a field square root) was ~3% of
/// the enclave's CPU per signing request, for the same few keys every time. A key is cached
/// only once a stamp made with it verified, so stamps under made-up keys cannot churn it.
static KEYS: LazyLock<Mutex<Lru<CachedKey>>> =
    LazyLock::new(|| Mutex::new(Lru::new(KEYS_CAPACITY)));

/// A parsed key, how many of its stamps verified since it was cached (or since its table was
/// last built), and how many tables were built for it.
#[derive(Debug)]
struct CachedKey {
    key: PublicKey,
    verified: AtomicU32,
    builds: AtomicU32,
}

impl CachedKey {
    fn new(key: PublicKey) -> Self {
        CachedKey {
            key,
            verified: AtomicU32::new(0),
            builds: AtomicU32::new(0),
        }
    }

    /// Whether this stamp should build the key's table: once [`table_after`] stamps verified
    /// since the last build. Claimed with a compare-and-swap, so stamps of one key verified at
    /// once on several workers build it once.
    fn claim_build(&self) -> bool {
        let due = table_after(self.builds.load(Ordering::Relaxed));
        let verified = self.verified.load(Ordering::Relaxed);
        if verified < due
            || self
                .verified
                .compare_exchange(verified, 0, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return false;
        }
        self.builds.fetch_add(1, Ordering::Relaxed);
        true
    }
}

/// Verified stamps before a key's next table, after `builds` earlier ones: [`TABLE_AFTER`],
/// doubling with each rebuild up to 64 times that. A key whose table was evicted (more keys in
/// use than [`TABLES_CAPACITY`], or someone rotating many keys to flush the cache) rebuilds
/// ever more rarely, so churn costs at most ~1 ms per 8, 16, 32 … stamps of a key instead of
/// per 8 — against ~200 µs saved on each stamp that finds its table.
fn table_after(builds: u32) -> u32 {
    TABLE_AFTER << builds.min(6)
}

/// Most P-256 keys with precomputed multiples kept (~50 KiB each: 12.5 MiB in all).
const TABLES_CAPACITY: usize = 256;

/// Verified stamps of a key before its table is built. A table costs ~1 ms, about what it
/// saves over five verifications (73 against 274 µs each): a key that signs a few times —
/// a new sub-organization's first requests — is not worth one.
const TABLE_AFTER: u32 = 8;

/// Precomputed multiples of the P-256 API keys in use (see `keyhold_p256_verify`): a stamp
/// verifies in about a quarter of the time (the P-256 verification was three quarters of the
/// enclave's CPU per signing request).
static TABLES: LazyLock<Mutex<Lru<KeyTable>>> =
    LazyLock::new(|| Mutex::new(Lru::new(TABLES_CAPACITY)));

fn key_id(scheme: Scheme, public_key: &[u8]) -> CacheKey {
    cache_key(&[scheme.curve().credential_type().as_bytes(), public_key])
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StampJson {
    #[serde(rename = "publicKey")]
    public_key: String,
    scheme: String,
    signature: String,
}

/// A parsed (not yet verified) API-key stamp.
#[derive(Debug)]
pub struct ApiKeyStamp {
    scheme: Scheme,
    public_key: Vec<u8>,
    /// The key's id in [`KEYS`] and [`TABLES`].
    id: CacheKey,
    key: Arc<CachedKey>,
    /// Whether `key` came from [`KEYS`] (else it is cached once the stamp verifies).
    cached: bool,
    signature: Vec<u8>,
}

impl ApiKeyStamp {
    pub fn parse(header: &str) -> Result<Self> {
        if header.len() > MAX_HEADER_LEN {
            return Err(Error::MalformedStamp("stamp header too long"));
        }
        let json = URL_SAFE_NO_PAD_INDIFFERENT
            .decode(header.trim())
            .map_err(|_| Error::MalformedStamp("not base64url"))?;
        let stamp: StampJson = serde_json::from_slice(&json)
            .map_err(|_| Error::MalformedStamp("not a stamp JSON object"))?;
        let scheme = Scheme::from_turnkey(&stamp.scheme)
            .ok_or_else(|| Error::Unsupported(format!("stamp scheme `{}`", clip(&stamp.scheme))))?;
        let public_key = hex::decode(&stamp.public_key)
            .map_err(|_| Error::MalformedStamp("publicKey is not hex"))?;
        let id = key_id(scheme, &public_key);
        let (key, cached) = match Lru::lookup(&KEYS, &id)? {
            Some(key) => (key, true),
            None => {
                let key = PublicKey::parse(scheme.curve(), &public_key).map_err(|_| {
                    Error::MalformedStamp("publicKey is not a public key of the scheme's curve")
                })?;
                (Arc::new(CachedKey::new(key)), false)
            }
        };
        let signature = hex::decode(&stamp.signature)
            .map_err(|_| Error::MalformedStamp("signature is not hex"))?;
        Ok(ApiKeyStamp {
            scheme,
            public_key,
            id,
            key,
            cached,
            signature,
        })
    }

    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    pub fn scheme(&self) -> Scheme {
        self.scheme
    }

    /// Verifies the signature over `body` under the stamp's scheme.
    pub fn verify(&self, body: &[u8]) -> Result<()> {
        if let Some(table) = self.table()? {
            return verify_p256_with_table(&table, &self.signature, body);
        }
        verify(self.scheme, &self.key.key, &self.signature, body)?;
        if self.cached {
            self.key.verified.fetch_add(1, Ordering::Relaxed);
        } else {
            Lru::put(&KEYS, self.id, self.key.clone())?;
        }
        Ok(())
    }

    /// The P-256 key's precomputed multiples: looked up, or built once the cached key has
    /// verified enough stamps (see [`table_after`]).
    fn table(&self) -> Result<Option<Arc<KeyTable>>> {
        // The table path verifies ECDSA/SHA-256 over the body: P-256 stamps only, even should
        // another scheme on P-256 keys come along.
        let (Scheme::P256, PublicKey::P256(key)) = (self.scheme, &self.key.key) else {
            return Ok(None);
        };
        if !self.cached {
            return Ok(None);
        }
        let table = match Lru::lookup(&TABLES, &self.id)? {
            Some(table) => table,
            None if self.key.claim_build() => {
                let table = Arc::new(KeyTable::new(key));
                Lru::put(&TABLES, self.id, table.clone())?;
                table
            }
            None => return Ok(None),
        };
        // The cache is keyed by the encoded key; a table is only used for the very point.
        Ok((table.key() == key).then_some(table))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Test vector from ../shared/reference/turnkey-api.md §2.1, produced by
    /// `@turnkey/api-key-stamper` 0.6.17 (purejs runtime, RFC 6979).
    const BODY: &str = r#"{"type":"ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2","timestampMs":"1700000000000","organizationId":"00000000-0000-0000-0000-000000000000","parameters":{"signWith":"0x0000000000000000000000000000000000000000","payload":"0xdeadbeef","encoding":"PAYLOAD_ENCODING_HEXADECIMAL","hashFunction":"HASH_FUNCTION_NO_OP"}}"#;
    const STAMP: &str = "eyJwdWJsaWNLZXkiOiIwM2I0Y2M1ZTk0MDliMzQzMjljY2JmNjM2ODEzYmUxZDhmZGJlYTlmMjQwNmU5NjA0OTBmNmI4NDhhMGRlM2QzOGYiLCJzY2hlbWUiOiJTSUdOQVRVUkVfU0NIRU1FX1RLX0FQSV9QMjU2Iiwic2lnbmF0dXJlIjoiMzA0NTAyMjEwMGNiNTJiZGVlNDYwOTY2OGUxNGUzYmNmNTAyYWI4YjkxZGViZjY0ODlhNGQ0ZTVlZjE0YmMyZmM4NTAxMmE0NDgwMjIwMTkwODM0NzVkZDI2NTk3OWUwOTQzNzM0MzBhMTBjOWY3OTJjZDFiZTNkNzJhYWZiNjZmZTQxYTI4YTczODFmNyJ9";

    /// Verifies `stamp` until its key has a table (no sooner than [`TABLE_AFTER`] stamps).
    fn use_until_tabled(stamp: &ApiKeyStamp, body: &[u8]) {
        for _ in 0..=TABLE_AFTER {
            stamp.verify(body).unwrap();
        }
        assert!(Lru::lookup(&TABLES, &stamp.id).unwrap().is_some());
    }

    #[test]
    fn turnkey_test_vector_verifies() {
        let stamp = ApiKeyStamp::parse(STAMP).unwrap();
        assert_eq!(
            hex::encode(stamp.public_key()),
            "03b4cc5e9409b34329ccbf636813be1d8fdbea9f2406e960490f6b848a0de3d38f"
        );
        stamp.verify(BODY.as_bytes()).unwrap();
        // one byte changed in the body
        let altered = BODY.replace("deadbeef", "deadbeee");
        assert!(matches!(
            stamp.verify(altered.as_bytes()),
            Err(Error::SignatureInvalid)
        ));
        // again, until the key has a table, and then through the table
        let again = ApiKeyStamp::parse(STAMP).unwrap();
        assert!(again.cached);
        use_until_tabled(&again, BODY.as_bytes());
        again.verify(BODY.as_bytes()).unwrap();
        assert!(matches!(
            again.verify(altered.as_bytes()),
            Err(Error::SignatureInvalid)
        ));
    }

    #[test]
    fn keys_are_cached_only_after_a_stamp_verified() {
        let key = p256::ecdsa::SigningKey::from_slice(&[9u8; 32]).unwrap();
        let stamp_for = |body: &[u8]| p256_stamp(&key, body);
        let header = stamp_for(b"one");
        // a stamp that does not verify leaves the key out of the cache
        let first = ApiKeyStamp::parse(&header).unwrap();
        assert!(!first.cached);
        assert!(first.verify(b"two").is_err());
        assert!(!ApiKeyStamp::parse(&header).unwrap().cached);
        // one that verifies puts it in; the cached key still refuses a wrong body
        first.verify(b"one").unwrap();
        let second = ApiKeyStamp::parse(&stamp_for(b"three")).unwrap();
        assert!(second.cached);
        second.verify(b"three").unwrap();
        assert!(matches!(
            second.verify(b"one"),
            Err(Error::SignatureInvalid)
        ));
        // a key that signs on gets precomputed multiples (not after a stamp or two), with the
        // same verdicts
        assert_eq!(second.id, key_id(Scheme::P256, second.public_key()));
        assert!(Lru::lookup(&TABLES, &second.id).unwrap().is_none());
        use_until_tabled(&second, b"three");
        let third = ApiKeyStamp::parse(&stamp_for(b"four")).unwrap();
        third.verify(b"four").unwrap();
        for wrong in [&b"one"[..], b"fou", b"four "] {
            assert!(matches!(third.verify(wrong), Err(Error::SignatureInvalid)));
        }
    }

    /// A P-256 stamp header for `body` under `key`.
    fn p256_stamp(key: &p256::ecdsa::SigningKey, body: &[u8]) -> String {
        use p256::ecdsa::Signature;
        use p256::ecdsa::signature::Signer;
        let sig: Signature = key.sign(body);
        URL_SAFE_NO_PAD_INDIFFERENT.encode(
            serde_json::json!({
                "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
                "scheme": "SIGNATURE_SCHEME_TK_API_P256",
                "signature": hex::encode(sig.to_der().as_bytes()),
            })
            .to_string(),
        )
    }

    #[test]
    fn rebuilds_back_off_and_are_claimed_once() {
        assert_eq!(
            (0..9).map(table_after).collect::<Vec<_>>(),
            [8, 16, 32, 64, 128, 256, 512, 512, 512]
        );
        assert_eq!(table_after(u32::MAX), 512);
        let key = p256::ecdsa::SigningKey::from_slice(&[12u8; 32]).unwrap();
        let cached = CachedKey::new(PublicKey::P256(*key.verifying_key()));
        cached.verified.store(7, Ordering::Relaxed);
        assert!(!cached.claim_build());
        cached.verified.store(8, Ordering::Relaxed);
        assert!(cached.claim_build());
        // claimed: the count restarts and the next build waits for twice as many stamps
        assert!(!cached.claim_build());
        cached.verified.store(15, Ordering::Relaxed);
        assert!(!cached.claim_build());
        cached.verified.store(16, Ordering::Relaxed);
        assert!(cached.claim_build());
        assert_eq!(cached.builds.load(Ordering::Relaxed), 2);
    }

    /// A table filed under another key's id (it cannot happen: the id is the encoded key) is
    /// not used: the stamp is verified without it, with the right verdicts.
    #[test]
    fn a_table_of_another_key_is_never_used() {
        let alice = p256::ecdsa::SigningKey::from_slice(&[13u8; 32]).unwrap();
        let bob = p256::ecdsa::SigningKey::from_slice(&[14u8; 32]).unwrap();
        ApiKeyStamp::parse(&p256_stamp(&bob, b"one"))
            .unwrap()
            .verify(b"one")
            .unwrap();
        let stamp = ApiKeyStamp::parse(&p256_stamp(&bob, b"two")).unwrap();
        assert!(stamp.cached);
        Lru::put(
            &TABLES,
            stamp.id,
            Arc::new(KeyTable::new(alice.verifying_key())),
        )
        .unwrap();
        assert!(stamp.table().unwrap().is_none());
        stamp.verify(b"two").unwrap();
        assert!(matches!(stamp.verify(b"one"), Err(Error::SignatureInvalid)));
    }

    #[test]
    fn high_s_signatures_are_accepted() {
        use p256::ecdsa::signature::Signer;
        use p256::ecdsa::{Signature, SigningKey};
        let key = SigningKey::from_slice(&[7u8; 32]).unwrap();
        let body = b"{\"organizationId\":\"x\"}";
        let sig: Signature = key.sign(body);
        // flip to the high-S twin (n - s): still a valid ECDSA signature
        let high = Signature::from_scalars(sig.r(), -*sig.s()).unwrap();
        let low_is_high = high.normalize_s() == high;
        let json = serde_json::json!({
            "publicKey": hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
            "scheme": "SIGNATURE_SCHEME_TK_API_P256",
            "signature": hex::encode(if low_is_high { sig.to_der() } else { high.to_der() }.as_bytes()),
        });
        let header = URL_SAFE_NO_PAD_INDIFFERENT.encode(json.to_string());
        ApiKeyStamp::parse(&header).unwrap().verify(body).unwrap();
        // the same stamp with base64 padding is tolerated too
        let padded = base64::engine::general_purpose::URL_SAFE.encode(json.to_string());
        ApiKeyStamp::parse(&padded).unwrap().verify(body).unwrap();
    }

    #[test]
    fn malformed_stamps_are_refused() {
        for bad in ["", "!!!!", "bm90IGpzb24", &"A".repeat(5000)] {
            assert!(ApiKeyStamp::parse(bad).is_err(), "{bad}");
        }
        let other_scheme = URL_SAFE_NO_PAD_INDIFFERENT.encode(
            r#"{"publicKey":"03","scheme":"SIGNATURE_SCHEME_TK_API_RSA","signature":"30"}"#,
        );
        assert!(matches!(
            ApiKeyStamp::parse(&other_scheme),
            Err(Error::Unsupported(_))
        ));
    }
}
