//! The spending and velocity ledger behind keyhold's limit counters (`spend.eth.wei('24h')`,
//! `signatures.count('1h')`, … — see enclave/policy/LANGUAGE.md).
//!
//! The ledger lives in the sealed organization state, so the host can neither read nor edit it,
//! and cannot reset it by presenting an older state (the sealer refuses older versions). Only
//! organizations with at least one policy that reads a counter keep a ledger: for them every
//! signature changes the organization state (and so is serialised per organization); everyone
//! else signs without writing anything.
//!
//! Amounts are recorded per signing resource (wallet or private key) in buckets of one minute.
//! The ledger is bounded: when it is full, the two oldest entries of the resource with most
//! entries are merged, keeping the *later* time, so an amount may be counted for longer than
//! its window but never for shorter — a full ledger makes limits stricter, not looser.

use std::borrow::Borrow;
use std::collections::BTreeSet;

use keyhold_policy::{CounterKey, Counters, Metric, Policy};
use keyhold_shared::msg::ActivityContext;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Most entries an organization's ledger holds.
pub const MAX_ENTRIES: usize = 4096;
/// Entries are merged within buckets of this length.
const BUCKET_MS: u64 = 60_000;
/// Longest window a counter may read; older entries are dropped.
const MAX_WINDOW_MS: u64 = keyhold_policy::MAX_WINDOW_MINUTES as u64 * 60_000;

/// What a limit is counted against: the wallet or private key that signs (its UUID bytes).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Resource(pub [u8; 16]);

impl Resource {
    /// The signing resource of an activity, as the host resolved it. A host that names another
    /// wallet or key than the client's `signWith` gets nothing signed: the seal binds the seed
    /// to that id and the derived address must match `signWith`.
    pub fn of(context: &ActivityContext) -> Option<Resource> {
        match context {
            ActivityContext::WalletAccount { wallet_id, .. } => {
                Some(Resource(*wallet_id.0.as_bytes()))
            }
            ActivityContext::PrivateKey { private_key_id, .. } => {
                Some(Resource(*private_key_id.0.as_bytes()))
            }
            _ => None,
        }
    }
}

/// What one activity spent.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Spend {
    pub signatures: u32,
    pub eth_wei: u128,
    pub lamports: u64,
    pub sats: u64,
}

/// One ledger entry: what `resource` spent in the minute ending at `at_ms`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub resource: Resource,
    pub at_ms: u64,
    pub signatures: u32,
    /// Saturating: a sum beyond 2^128 wei only makes a limit stricter.
    pub eth_wei: u128,
    pub lamports: u64,
    pub sats: u64,
}

impl Entry {
    fn absorb(&mut self, other: &Entry) {
        self.at_ms = self.at_ms.max(other.at_ms);
        self.signatures = self.signatures.saturating_add(other.signatures);
        self.eth_wei = self.eth_wei.saturating_add(other.eth_wei);
        self.lamports = self.lamports.saturating_add(other.lamports);
        self.sats = self.sats.saturating_add(other.sats);
    }

    fn amount(&self, metric: Metric) -> u128 {
        match metric {
            Metric::EthWei => self.eth_wei,
            Metric::SolanaLamports => u128::from(self.lamports),
            Metric::BitcoinSats => u128::from(self.sats),
            Metric::Signatures => u128::from(self.signatures),
        }
    }
}

/// The counters any of `policies` reads (empty: the organization keeps no ledger).
pub fn keys_read<P: Borrow<Policy>>(policies: &[P]) -> BTreeSet<CounterKey> {
    policies
        .iter()
        .flat_map(|p| p.borrow().counters())
        .collect()
}

/// The counters `keys` for `resource` at `now_ms`, from `ledger`. An activity without a signing
/// resource has spent nothing: its counters are zero, so a DENY on a counter does not block,
/// say, user management.
pub fn counters(
    ledger: &[Entry],
    resource: Option<Resource>,
    keys: &BTreeSet<CounterKey>,
    now_ms: u64,
) -> Counters {
    let mut out = Counters::new();
    for key in keys {
        let window_ms = u64::from(key.window.minutes()).saturating_mul(60_000);
        let since = now_ms.saturating_sub(window_ms);
        let sum = ledger
            .iter()
            .filter(|e| Some(e.resource) == resource && e.at_ms > since)
            .fold(0u128, |acc, e| acc.saturating_add(e.amount(key.metric)));
        out.set(*key, sum);
    }
    out
}

/// Records `spend` by `resource` at `now_ms`: drops entries older than the longest window,
/// merges into this minute's entry, and keeps the ledger within [`MAX_ENTRIES`].
pub fn record(
    ledger: &mut Vec<Entry>,
    resource: Resource,
    spend: Spend,
    now_ms: u64,
) -> Result<()> {
    ledger.retain(|e| e.at_ms.saturating_add(MAX_WINDOW_MS) > now_ms);
    let entry = Entry {
        resource,
        at_ms: now_ms,
        signatures: spend.signatures,
        eth_wei: spend.eth_wei,
        lamports: spend.lamports,
        sats: spend.sats,
    };
    let bucket = now_ms / BUCKET_MS;
    if let Some(same) = ledger
        .iter_mut()
        .rev()
        .find(|e| e.resource == resource && e.at_ms / BUCKET_MS == bucket)
    {
        same.absorb(&entry);
        return Ok(());
    }
    ledger.push(entry);
    while ledger.len() > MAX_ENTRIES {
        merge_oldest(ledger)?;
    }
    Ok(())
}

/// Merges the two oldest entries of the resource with the most entries.
fn merge_oldest(ledger: &mut Vec<Entry>) -> Result<()> {
    let mut counts = std::collections::BTreeMap::<Resource, usize>::new();
    for e in ledger.iter() {
        *counts.entry(e.resource).or_default() += 1;
    }
    let busiest = counts
        .into_iter()
        .max_by_key(|(_, n)| *n)
        .map(|(r, _)| r)
        .ok_or(Error::Internal("empty ledger"))?;
    let mut oldest: Vec<usize> = ledger
        .iter()
        .enumerate()
        .filter(|(_, e)| e.resource == busiest)
        .map(|(i, _)| i)
        .collect();
    oldest.sort_by_key(|i| ledger.get(*i).map_or(u64::MAX, |e| e.at_ms));
    let (Some(&first), Some(&second)) = (oldest.first(), oldest.get(1)) else {
        // One entry per resource and still too many resources: only a ledger far beyond any
        // real use gets here. Refuse rather than forget what was spent.
        return Err(Error::invalid(
            "the spending ledger of this organization is full",
        ));
    };
    let removed = ledger.remove(first);
    let second = if second > first { second - 1 } else { second };
    let kept = ledger
        .get_mut(second)
        .ok_or(Error::Internal("ledger index"))?;
    kept.absorb(&removed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_policy::Window;

    const MIN: u64 = 60_000;

    fn key(metric: Metric, minutes: u32) -> CounterKey {
        CounterKey {
            metric,
            window: Window::from_minutes(minutes).unwrap(),
        }
    }

    fn spend(wei: u128) -> Spend {
        Spend {
            signatures: 1,
            eth_wei: wei,
            ..Spend::default()
        }
    }

    #[test]
    fn sums_only_the_window_and_the_resource() {
        let a = Resource([1; 16]);
        let b = Resource([2; 16]);
        let mut ledger = Vec::new();
        let t0 = 1_000 * 24 * 60 * MIN;
        record(&mut ledger, a, spend(5), t0).unwrap();
        record(&mut ledger, a, spend(7), t0 + 30 * MIN).unwrap();
        record(&mut ledger, b, spend(100), t0 + 30 * MIN).unwrap();
        let keys: BTreeSet<_> = [key(Metric::EthWei, 60), key(Metric::Signatures, 20)].into();
        let c = counters(&ledger, Some(a), &keys, t0 + 45 * MIN);
        assert_eq!(c.get(key(Metric::EthWei, 60)), Some(12u128.into()));
        assert_eq!(c.get(key(Metric::Signatures, 20)), Some(1u128.into()));
        // an hour and a minute after the first: it has left the 60 minute window
        let c = counters(&ledger, Some(a), &keys, t0 + 61 * MIN);
        assert_eq!(c.get(key(Metric::EthWei, 60)), Some(7u128.into()));
        // no resource: nothing spent
        let c = counters(&ledger, None, &keys, t0 + 45 * MIN);
        assert_eq!(c.get(key(Metric::EthWei, 60)), Some(0u128.into()));
    }

    #[test]
    fn same_minute_merges_and_old_entries_expire() {
        let a = Resource([1; 16]);
        let mut ledger = Vec::new();
        let t0 = 100 * 24 * 60 * MIN;
        record(&mut ledger, a, spend(1), t0).unwrap();
        record(&mut ledger, a, spend(2), t0 + 1).unwrap();
        assert_eq!(ledger.len(), 1);
        assert_eq!(ledger[0].signatures, 2);
        record(&mut ledger, a, spend(3), t0 + 32 * 24 * 60 * MIN).unwrap();
        assert_eq!(ledger.len(), 1, "entries older than 31 days are dropped");
    }

    #[test]
    fn a_full_ledger_merges_towards_later_times_never_forgets() {
        let a = Resource([1; 16]);
        let b = Resource([2; 16]);
        let mut ledger = Vec::new();
        let t0 = 100 * 24 * 60 * MIN;
        record(&mut ledger, b, spend(1_000), t0).unwrap();
        for i in 0..(MAX_ENTRIES as u64 + 10) {
            record(&mut ledger, a, spend(1), t0 + (i + 1) * MIN).unwrap();
        }
        assert_eq!(ledger.len(), MAX_ENTRIES);
        let end = t0 + (MAX_ENTRIES as u64 + 10) * MIN;
        let all: BTreeSet<_> = [key(Metric::EthWei, 31 * 24 * 60)].into();
        let total = counters(&ledger, Some(a), &all, end);
        assert_eq!(
            total.get(key(Metric::EthWei, 31 * 24 * 60)),
            Some((MAX_ENTRIES as u128 + 10).into())
        );
        // b's single entry was not merged away
        let b_total = counters(&ledger, Some(b), &all, end);
        assert_eq!(
            b_total.get(key(Metric::EthWei, 31 * 24 * 60)),
            Some(1_000u128.into())
        );
        // merging only moves amounts later: a short window counts at least what it did
        // (the last 60 minutes saw 60 entries of 1, none of them merged yet)
        let hour: BTreeSet<_> = [key(Metric::EthWei, 60)].into();
        let recent = counters(&ledger, Some(a), &hour, end);
        assert_eq!(recent.get(key(Metric::EthWei, 60)), Some(60u128.into()));
    }
}
