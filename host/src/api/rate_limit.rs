//! Per-organization rate limiting on the host: a token bucket per organization id, so one
//! tenant's burst cannot starve the enclave for everyone else. Refusals are Turnkey's
//! RESOURCE_EXHAUSTED (HTTP 429) and happen before any enclave call.
//!
//! Only authenticated requests keep their token. The host cannot tell a forged stamp from a
//! real one before the enclave has checked it, and an organization id is no secret: if a
//! request that failed authentication kept its token, anyone could lock an organization out
//! with a few hundred garbage requests. Such a request now holds a token only while the
//! enclave checks it (milliseconds), so starving an organization takes a flood the size of the
//! whole deployment's capacity. The price: unauthenticated requests naming a real organization
//! are not limited here; per-client limits in front of the host (its reverse proxy) are the
//! defence against a flood.

use std::collections::HashMap;
use std::future::Future;
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

    /// Gives back the token [`OrgRateLimiter::admit`] took for a request that turned out not
    /// to be authenticated (up to the burst; a forgotten bucket is full anyway).
    pub fn refund(&self, org: &str) {
        if self.rate <= 0.0 {
            return;
        }
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((tokens, _)) = buckets.get_mut(org) {
            *tokens = (*tokens + 1.0).min(self.burst);
        }
    }
}

/// Runs `work` — a request naming `org` — under one of the organization's tokens, which goes
/// back when the enclave found the request unauthenticated (see the module's comment).
pub async fn limited<T>(
    limiter: &OrgRateLimiter,
    org: &str,
    work: impl Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    limiter.admit(org)?;
    let result = work.await;
    if let Err(e) = &result
        && e.is_unauthenticated()
    {
        limiter.refund(org);
    }
    result
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

    #[test]
    fn a_refund_returns_one_token_up_to_the_burst() {
        let limiter = OrgRateLimiter::new(1);
        assert!(limiter.admit("a").is_ok() && limiter.admit("a").is_ok());
        assert!(limiter.admit("a").is_err(), "burst of 2 spent");
        limiter.refund("a");
        assert!(limiter.admit("a").is_ok(), "the refunded token");
        assert!(limiter.admit("a").is_err());
        // Refunds never raise a bucket above its burst, nor create one.
        let full = OrgRateLimiter::new(1);
        for _ in 0..10 {
            full.refund("b");
        }
        assert_eq!((0..10).filter(|_| full.admit("b").is_ok()).count(), 2);
        OrgRateLimiter::unlimited().refund("c");
    }

    #[tokio::test]
    async fn only_unauthenticated_failures_give_the_token_back() {
        let limiter = OrgRateLimiter::new(1);
        let forged = || async {
            Err::<(), _>(ApiError::from(keyhold_shared::WireError::new(
                keyhold_shared::ErrorCode::SignatureInvalid,
                "the stamp's signature does not verify",
            )))
        };
        for _ in 0..50 {
            assert!(limited(&limiter, "a", forged()).await.is_err());
        }
        let denied = || async {
            Err::<(), _>(ApiError::from(keyhold_shared::WireError::new(
                keyhold_shared::ErrorCode::PermissionDenied,
                "no policy allows this",
            )))
        };
        // Authenticated requests keep their tokens, refused or not: the burst of 2, then 429.
        assert!(limited(&limiter, "a", async { Ok(()) }).await.is_ok());
        let refused = limited(&limiter, "a", denied()).await.unwrap_err();
        assert_eq!(refused.status().as_u16(), 403);
        let limited_now = limited(&limiter, "a", async { Ok(()) }).await.unwrap_err();
        assert_eq!(limited_now.status().as_u16(), 429);
    }
}
