//! Per-organization rate limiting on the host: a token bucket per organization id, so one
//! tenant's burst cannot starve the enclave for everyone else. Refusals are Turnkey's
//! RESOURCE_EXHAUSTED (HTTP 429) and happen before any enclave call.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

use super::error::ApiError;

/// Buckets idle this long are forgotten (a full bucket carries no information).
const IDLE_SECS: f64 = 60.0;
/// Past this many tracked organizations, idle buckets are swept.
const SWEEP_AT: usize = 100_000;

#[derive(Debug)]
pub struct OrgRateLimiter {
    /// Tokens per second; 0 disables the limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl OrgRateLimiter {
    /// `per_second` requests a second per organization, with bursts of up to twice that
    /// (at least 1). `0` means no limit.
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second);
        OrgRateLimiter {
            rate,
            burst: (rate * 2.0).max(1.0),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn unlimited() -> Self {
        Self::new(0)
    }

    /// Takes one token for `org`, or refuses.
    pub fn admit(&self, org: &str) -> Result<(), ApiError> {
        if self.rate <= 0.0 {
            return Ok(());
        }
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if buckets.len() >= SWEEP_AT {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs_f64() < IDLE_SECS);
        }
        let (tokens, at) = buckets.entry(org.to_owned()).or_insert((self.burst, now));
        *tokens = (*tokens + now.duration_since(*at).as_secs_f64() * self.rate).min(self.burst);
        *at = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            Ok(())
        } else {
            crate::metrics::global().rate_limited();
            Err(ApiError::rate_limited(org))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_is_cut_per_organization_and_zero_means_unlimited() {
        let limiter = OrgRateLimiter::new(5);
        let admitted = (0..50).filter(|_| limiter.admit("a").is_ok()).count();
        // the burst (10), plus whatever refilled while the loop ran
        assert!((10..=11).contains(&admitted), "{admitted}");
        assert!(
            limiter.admit("b").is_ok(),
            "another organization has its own bucket"
        );
        let err = limiter.admit("a").unwrap_err();
        assert_eq!(err.status().as_u16(), 429);
        let open = OrgRateLimiter::unlimited();
        assert!((0..10_000).all(|_| open.admit("a").is_ok()));
    }
}
