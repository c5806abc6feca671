//! keyhold's stateful limits extension ("beyond Turnkey"): spending and velocity counters that a
//! `condition` can read, e.g. `spend.eth.wei('24h') + eth.tx.value <= 10000000000000000000`.
//!
//! The policy engine keeps no state. Before evaluating, the enclave asks each policy which
//! counters it reads ([`crate::Policy::counters`]), computes them from its sealed per-organization
//! state, and passes them in [`Counters`]. A counter the policy reads but the context lacks is an
//! evaluation error (fail closed). See `LANGUAGE.md`.

use std::collections::BTreeMap;
use std::fmt;

use crate::value::Int;

/// The longest window a counter may cover: 31 days.
pub const MAX_WINDOW_MINUTES: u32 = 31 * 24 * 60;

/// What a counter measures, over the signing resource (wallet or private key) of the activity.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub enum Metric {
    /// `spend.eth.wei(w)`: the sum of `value` of the Ethereum transactions signed in the window.
    EthWei,
    /// `spend.solana.lamports(w)`: the sum of native SOL `transfers` signed in the window.
    SolanaLamports,
    /// `spend.bitcoin.sats(w)`: the sum of output values (excluding change) signed in the window.
    BitcoinSats,
    /// `signatures.count(w)`: the number of signatures produced in the window.
    Signatures,
}

impl Metric {
    /// How the counter is written in a policy.
    #[must_use]
    pub fn syntax(self) -> &'static str {
        match self {
            Metric::EthWei => "spend.eth.wei",
            Metric::SolanaLamports => "spend.solana.lamports",
            Metric::BitcoinSats => "spend.bitcoin.sats",
            Metric::Signatures => "signatures.count",
        }
    }
}

/// A trailing time window, in whole minutes (1 minute to 31 days).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct Window {
    minutes: u32,
}

impl Window {
    /// A window of `minutes`, when within the allowed range.
    #[must_use]
    pub fn from_minutes(minutes: u32) -> Option<Window> {
        (1..=MAX_WINDOW_MINUTES)
            .contains(&minutes)
            .then_some(Window { minutes })
    }

    /// Parses the duration syntax of `CronSpan` (`24h`, `90m`, `1d12h`).
    ///
    /// # Errors
    /// What is wrong with the text.
    pub fn parse(s: &str) -> Result<Window, String> {
        let minutes = crate::time::parse_duration_minutes(s)?;
        Window::from_minutes(minutes).ok_or_else(|| "a window must be at most 31 days".to_owned())
    }

    /// Length in minutes.
    #[must_use]
    pub fn minutes(self) -> u32 {
        self.minutes
    }
}

impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}m", self.minutes)
    }
}

/// One counter a policy reads.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Debug)]
pub struct CounterKey {
    /// What it measures.
    pub metric: Metric,
    /// Over which trailing window.
    pub window: Window,
}

impl fmt::Display for CounterKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}('{}')", self.metric.syntax(), self.window)
    }
}

/// Counter values supplied by the enclave for one evaluation. They cover activity *before* the
/// current one; policies add the current amount themselves (`… + eth.tx.value <= …`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Counters {
    values: BTreeMap<CounterKey, Int>,
}

impl Counters {
    /// No counters.
    #[must_use]
    pub fn new() -> Counters {
        Counters::default()
    }

    /// Sets one counter.
    pub fn set(&mut self, key: CounterKey, value: impl Into<Int>) {
        self.values.insert(key, value.into());
    }

    /// Reads one counter.
    #[must_use]
    pub fn get(&self, key: CounterKey) -> Option<Int> {
        self.values.get(&key).copied()
    }
}
