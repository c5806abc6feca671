//! A bounded least-recently-used map behind the enclave's caches (unsealed seeds, derived keys,
//! compiled policies). Keys are SHA-256 digests over everything that determines the value, so
//! an entry is only reused for exactly the input that produced it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};

pub type CacheKey = [u8; 32];

/// Hashes the parts that identify a cached value (each length-prefixed, so the split between
/// parts is part of the key).
pub fn cache_key(parts: &[&[u8]]) -> CacheKey {
    let mut h = Sha256::new();
    for part in parts {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part);
    }
    h.finalize().into()
}

/// Least-recently-used map with a fixed capacity (eviction scans; capacities are small).
pub struct Lru<V> {
    capacity: usize,
    tick: u64,
    map: HashMap<CacheKey, (Arc<V>, u64)>,
}

/// Shows the size only: cached values (opened states, keys) stay out of `Debug` output.
impl<V> std::fmt::Debug for Lru<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lru")
            .field("len", &self.map.len())
            .field("capacity", &self.capacity)
            .finish()
    }
}

impl<V> Lru<V> {
    pub fn new(capacity: usize) -> Self {
        Lru {
            capacity,
            tick: 0,
            map: HashMap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.map.is_empty()
    }

    fn get(&mut self, key: &CacheKey) -> Option<Arc<V>> {
        self.tick = self.tick.wrapping_add(1);
        let tick = self.tick;
        self.map.get_mut(key).map(|(v, used)| {
            *used = tick;
            v.clone()
        })
    }

    fn insert(&mut self, key: CacheKey, value: Arc<V>) {
        if self.capacity == 0 {
            return;
        }
        if self.map.len() >= self.capacity && !self.map.contains_key(&key) {
            let oldest = self
                .map
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| *k);
            if let Some(oldest) = oldest {
                self.map.remove(&oldest);
            }
        }
        self.tick = self.tick.wrapping_add(1);
        self.map.insert(key, (value, self.tick));
    }

    /// The cached value for `key`, if any (for a cache filled only once a value proved good,
    /// with [`Lru::put`]).
    pub fn lookup(lru: &Mutex<Lru<V>>, key: &CacheKey) -> Result<Option<Arc<V>>> {
        Ok(lru
            .lock()
            .map_err(|_| Error::Internal("cache lock poisoned"))?
            .get(key))
    }

    pub fn put(lru: &Mutex<Lru<V>>, key: CacheKey, value: Arc<V>) -> Result<()> {
        lru.lock()
            .map_err(|_| Error::Internal("cache lock poisoned"))?
            .insert(key, value);
        Ok(())
    }

    /// The cached value for `key`, or `make`'s (cached unless it failed). `make` runs outside
    /// the lock, so a slow one (a SLIP-10 walk, a policy compile) does not serialise requests.
    pub fn get_or_insert(
        lru: &Mutex<Lru<V>>,
        key: CacheKey,
        make: impl FnOnce() -> Result<V>,
    ) -> Result<Arc<V>> {
        if let Some(hit) = Self::lookup(lru, &key)? {
            return Ok(hit);
        }
        let value = Arc::new(make()?);
        Self::put(lru, key, value.clone())?;
        Ok(value)
    }
}
