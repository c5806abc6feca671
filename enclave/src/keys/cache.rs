//! A bounded cache of unsealed seeds and derived keys, so a signing request does not pay for
//! AEAD opening and a BIP-32/SLIP-10 walk every time.
//!
//! Entries are keyed by a SHA-256 over the sealed blob and its binding (organization, wallet or
//! key id) — not by the ids alone — so a cached secret is only reused when the host presents
//! exactly the blob that produced it; anything else misses and goes through the full unseal,
//! which fails for a forged or swapped blob as before. Values are `Arc`s of zeroize-on-drop
//! types: an evicted secret is wiped once the last request using it finishes.

use std::fmt;
use std::sync::{Arc, Mutex};

use super::SeedMaterial;
use super::account::AccountKey;
use crate::error::Result;
use crate::lru::Lru;
pub use crate::lru::{CacheKey, cache_key};

pub const SEED_CAPACITY: usize = 1024;
pub const KEY_CAPACITY: usize = 4096;

pub struct KeyCache {
    seeds: Mutex<Lru<SeedMaterial>>,
    keys: Mutex<Lru<AccountKey>>,
}

impl Default for KeyCache {
    fn default() -> Self {
        Self::with_capacity(SEED_CAPACITY, KEY_CAPACITY)
    }
}

impl fmt::Debug for KeyCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (seeds, keys) = self.len();
        f.debug_struct("KeyCache")
            .field("seeds", &seeds)
            .field("keys", &keys)
            .finish()
    }
}

impl KeyCache {
    pub fn with_capacity(seeds: usize, keys: usize) -> Self {
        KeyCache {
            seeds: Mutex::new(Lru::new(seeds)),
            keys: Mutex::new(Lru::new(keys)),
        }
    }

    pub fn seed(
        &self,
        key: CacheKey,
        open: impl FnOnce() -> Result<SeedMaterial>,
    ) -> Result<Arc<SeedMaterial>> {
        Lru::get_or_insert(&self.seeds, key, open)
    }

    pub fn key(
        &self,
        key: CacheKey,
        derive: impl FnOnce() -> Result<AccountKey>,
    ) -> Result<Arc<AccountKey>> {
        Lru::get_or_insert(&self.keys, key, derive)
    }

    /// (seeds, keys) currently held.
    pub fn len(&self) -> (usize, usize) {
        let seeds = self.seeds.lock().map(|l| l.len()).unwrap_or(0);
        let keys = self.keys.lock().map(|l| l.len()).unwrap_or(0);
        (seeds, keys)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Error;
    use keyhold_shared::msg::Curve;

    #[test]
    fn bounded_and_least_recently_used_goes_first() {
        let cache = KeyCache::with_capacity(2, 2);
        let mut opened = 0;
        for i in 0u8..3 {
            cache
                .seed(cache_key(&[&[i]]), || {
                    opened += 1;
                    SeedMaterial::from_entropy(&[i; 16])
                })
                .unwrap();
        }
        assert_eq!(opened, 3);
        assert_eq!(cache.len().0, 2);
        // 0 was evicted, 2 is still there
        cache
            .seed(cache_key(&[&[2]]), || panic!("2 should be cached"))
            .unwrap();
        let mut reopened = false;
        cache
            .seed(cache_key(&[&[0]]), || {
                reopened = true;
                SeedMaterial::from_entropy(&[0; 16])
            })
            .unwrap();
        assert!(reopened);
        // failures are not cached
        assert!(
            cache
                .key(cache_key(&[b"x"]), || Err(Error::Unseal))
                .is_err()
        );
        let k = cache
            .key(cache_key(&[b"x"]), || AccountKey::generate(Curve::Ed25519))
            .unwrap();
        assert_eq!(k.curve(), Curve::Ed25519);
        assert!(!format!("{cache:?}").contains("entropy"));
    }
}

#[cfg(test)]
mod timing {
    use std::time::Instant;

    use super::*;
    use crate::keys::Bip32Path;
    use keyhold_shared::msg::Curve;

    /// What a cache hit saves: `cargo test -p keyhold-enclave --release timing -- --ignored
    /// --nocapture`.
    #[test]
    #[ignore = "timing measurement, not a check"]
    fn derivation_versus_cache_hit() {
        let seed = SeedMaterial::from_entropy(&[7u8; 16]).unwrap();
        let cache = KeyCache::default();
        for (curve, path) in [
            (Curve::Secp256k1, "m/44'/60'/0'/0/0"),
            (Curve::Ed25519, "m/44'/501'/0'/0'"),
            (Curve::P256, "m/44'/0'/0'/0/0"),
        ] {
            let path = Bip32Path::parse(path).unwrap();
            let n = 200u32;
            let start = Instant::now();
            for _ in 0..n {
                AccountKey::derive(&seed, curve, &path).unwrap();
            }
            let derive = start.elapsed() / n;
            let id = cache_key(&[curve.as_turnkey().as_bytes()]);
            cache
                .key(id, || AccountKey::derive(&seed, curve, &path))
                .unwrap();
            let start = Instant::now();
            for _ in 0..n {
                cache.key(id, || panic!("miss")).unwrap();
            }
            let hit = start.elapsed() / n;
            println!("{curve:?}: derive {derive:?}, cache hit {hit:?}");
        }
    }
}
