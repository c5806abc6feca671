//! Records the SQLite store keeps in memory between requests.
//!
//! Every signing request reads its organization's row and the account it signs with, and a
//! SQLite read transaction after any write re-reads its pages from the file (a connection's page
//! cache is dropped whenever the WAL changed): those reads were ~12% of the host's CPU per
//! signing request. The rows change only in the store's own writer thread, which forgets the
//! affected entries once their transaction committed; a generation number keeps a read that
//! began before that commit from putting the old row back afterwards. Only for SQLite, whose
//! file one host process owns; PostgreSQL is shared by hosts that would not see each other's
//! changes.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::{Mutex, MutexGuard};

pub(super) struct RecordCache<K, V> {
    state: Mutex<State<K, V>>,
    /// Most bytes kept (as `cost` counts them); the cache is emptied when it would exceed them.
    budget: usize,
    /// Largest record kept; larger ones are read each time.
    largest: usize,
    cost: fn(&V) -> usize,
}

struct State<K, V> {
    generation: u64,
    records: HashMap<K, V>,
    bytes: usize,
}

impl<K: Eq + Hash, V: Clone> RecordCache<K, V> {
    pub(super) fn new(budget: usize, largest: usize, cost: fn(&V) -> usize) -> Self {
        RecordCache {
            state: Mutex::new(State {
                generation: 0,
                records: HashMap::new(),
                bytes: 0,
            }),
            budget,
            largest,
            cost,
        }
    }

    fn lock(&self) -> MutexGuard<'_, State<K, V>> {
        // Nothing panics while holding the lock; a poisoned one is still consistent.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The cached record, or the generation to pass to [`RecordCache::keep`] after reading it.
    pub(super) fn get(&self, key: &K) -> Result<V, u64> {
        let state = self.lock();
        state.records.get(key).cloned().ok_or(state.generation)
    }

    /// Keeps `value`, read when the cache was at `generation`, unless something was forgotten
    /// since (the read may predate that change).
    pub(super) fn keep(&self, generation: u64, key: K, value: &V) {
        let size = (self.cost)(value);
        if size > self.largest {
            return;
        }
        let mut state = self.lock();
        if state.generation != generation {
            return;
        }
        if state.bytes + size > self.budget {
            state.records.clear();
            state.bytes = 0;
        }
        if let Some(old) = state.records.insert(key, value.clone()) {
            state.bytes = state.bytes.saturating_sub((self.cost)(&old));
        }
        state.bytes += size;
    }

    /// Forgets `key`'s record: called once a change to it committed.
    pub(super) fn forget(&self, key: &K) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        if let Some(old) = state.records.remove(key) {
            state.bytes = state.bytes.saturating_sub((self.cost)(&old));
        }
    }

    /// Forgets every record.
    pub(super) fn forget_all(&self) {
        let mut state = self.lock();
        state.generation = state.generation.wrapping_add(1);
        state.records.clear();
        state.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cache() -> RecordCache<u32, String> {
        RecordCache::new(10, 4, String::len)
    }

    #[test]
    fn a_read_from_before_a_change_is_not_kept() {
        let cache = cache();
        let generation = cache.get(&1).unwrap_err();
        // The row changes (and is forgotten) while the old one is being read.
        cache.forget(&1);
        cache.keep(generation, 1, &"old".into());
        assert!(cache.get(&1).is_err());
        let generation = cache.get(&1).unwrap_err();
        cache.keep(generation, 1, &"new".into());
        assert_eq!(cache.get(&1).unwrap(), "new");
        cache.forget_all();
        assert!(cache.get(&1).is_err());
    }

    #[test]
    fn bounded_by_bytes_and_record_size() {
        let cache = cache();
        let generation = cache.get(&0).unwrap_err();
        cache.keep(generation, 0, &"large".into());
        assert!(cache.get(&0).is_err(), "larger than `largest`");
        for key in 1..=3 {
            cache.keep(generation, key, &"abcd".into());
        }
        // 3 × 4 bytes exceed the 10-byte budget: the third emptied the cache first.
        assert!(cache.get(&1).is_err() && cache.get(&2).is_err());
        assert_eq!(cache.get(&3).unwrap(), "abcd");
        // Replacing a record does not count it twice.
        cache.keep(generation, 3, &"wxyz".into());
        cache.keep(generation, 4, &"abcd".into());
        assert_eq!(cache.get(&3).unwrap(), "wxyz");
        assert_eq!(cache.get(&4).unwrap(), "abcd");
    }
}
