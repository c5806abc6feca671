//! Per-organization rate limiting on the host: a token bucket per organization, so one
//! tenant's burst cannot starve the enclave for everyone else. Refusals are Turnkey's
//! RESOURCE_EXHAUSTED (HTTP 429) and happen before any enclave call.
//!
//! A request keeps its token only when its caller authenticated: it succeeded, or it was
//! refused after the enclave verified a fresh stamp (a policy's denial, bad parameters — see
//! `WireError::authenticated`). Every other outcome gives the token back: a forged or missing
//! stamp, an unknown or expired credential, a timestamp outside the window, a malformed body,
//! an unknown organization, the enclave being unavailable, a replay answered from the store.
//! (A client that goes away does not get its token back once the enclave may be working for it:
//! activities, votes and queries run in tasks of their own to the end, so their outcome
//! decides.) The host cannot tell a forged stamp from a real one before the enclave has checked
//! it, and an organization id is no secret: if such requests kept their tokens, anyone could
//! lock an organization out with a few hundred of them. They now hold a token only while the
//! enclave checks them, so starving an organization takes a flood that saturates the whole
//! deployment. The price: requests that fail authentication are not limited here; per-client
//! limits in front of the host (its reverse proxy) are the defence against a flood. Someone who
//! captured a genuine request can replay it (within its time window for an activity, which then
//! answers with the stored activity; at any time for a query, as in Turnkey) and spend tokens:
//! that takes a request the organization's user signed.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use keyhold_shared::OrgId;

use super::error::ApiError;

/// How often buckets that have refilled are forgotten (a full bucket carries no information).
const SWEEP_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug)]
pub struct OrgRateLimiter {
    /// Tokens per second; 0 disables the limit.
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

#[derive(Debug)]
struct Buckets {
    /// Only organizations whose buckets are not full: one per organization with authenticated
    /// traffic in the last seconds, plus requests in flight.
    tokens: HashMap<OrgId, Bucket>,
    next_sweep: Instant,
}

#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl OrgRateLimiter {
    /// `per_second` requests a second per organization, with bursts of up to twice that
    /// (at least 1). `0` means no limit.
    pub fn new(per_second: u32) -> Self {
        let rate = f64::from(per_second);
        Self::with_rate(rate, (rate * 2.0).max(1.0))
    }

    /// Any refill rate (tokens per second, `0` = no limit) and burst; tests use rates too slow
    /// to refill while they run.
    pub fn with_rate(per_second: f64, burst: f64) -> Self {
        OrgRateLimiter {
            rate: per_second,
            burst,
            buckets: Mutex::new(Buckets {
                tokens: HashMap::new(),
                next_sweep: Instant::now() + SWEEP_EVERY,
            }),
        }
    }

    pub fn unlimited() -> Self {
        Self::new(0)
    }

    /// Takes one token for `org`, or refuses. The token goes back when the [`Admission`] is
    /// dropped without [`Admission::keep`].
    pub fn admit(self: &Arc<Self>, org: OrgId) -> Result<Admission, ApiError> {
        if self.rate <= 0.0 {
            return Ok(Admission { limiter: None, org });
        }
        let now = Instant::now();
        let mut buckets = self.lock();
        if now >= buckets.next_sweep {
            buckets
                .tokens
                .retain(|_, bucket| self.refilled(*bucket, now) < self.burst);
            buckets.next_sweep = now + SWEEP_EVERY;
        }
        let full = Bucket {
            tokens: self.burst,
            at: now,
        };
        let bucket = buckets.tokens.entry(org).or_insert(full);
        bucket.tokens = self.refilled(*bucket, now);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(Admission {
                limiter: Some(Arc::clone(self)),
                org,
            })
        } else {
            crate::metrics::global().rate_limited();
            Err(ApiError::rate_limited(org))
        }
    }

    /// Gives one token back to `org` (up to the burst; a bucket that is full again is
    /// forgotten, so requests that all give their tokens back leave nothing behind).
    fn refund(&self, org: OrgId) {
        let now = Instant::now();
        let mut buckets = self.lock();
        if let Some(bucket) = buckets.tokens.get_mut(&org) {
            bucket.tokens = self.refilled(*bucket, now) + 1.0;
            bucket.at = now;
            if bucket.tokens >= self.burst {
                buckets.tokens.remove(&org);
            }
        }
    }

    /// The bucket's tokens at `now`.
    fn refilled(&self, bucket: Bucket, now: Instant) -> f64 {
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        (bucket.tokens + elapsed * self.rate).min(self.burst)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Buckets> {
        self.buckets
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Organizations with a bucket that is not full.
    #[cfg(test)]
    fn tracked(&self) -> usize {
        self.lock().tokens.len()
    }
}

/// One admitted request's token: given back when dropped, unless the request turned out to be
/// an authenticated caller's ([`Admission::keep`]). Dropping covers every way a request can end
/// early; the handlers that call the enclave run in tasks of their own, so a client going away
/// does not drop theirs.
#[must_use = "dropping an admission gives its token back"]
pub struct Admission {
    limiter: Option<Arc<OrgRateLimiter>>,
    org: OrgId,
}

impl Admission {
    /// The caller authenticated: the token stays spent.
    pub fn keep(mut self) {
        self.limiter = None;
    }
}

impl Drop for Admission {
    fn drop(&mut self) {
        if let Some(limiter) = self.limiter.take() {
            limiter.refund(self.org);
        }
    }
}

/// Runs `work` — a request to `org` — under one of the organization's tokens, which stays
/// spent only if the request was refused to an authenticated caller or succeeded with an
/// answer `fresh` accepts (not a stored activity answered again to a replay).
pub async fn limited<T>(
    limiter: &Arc<OrgRateLimiter>,
    org: OrgId,
    work: impl Future<Output = Result<T, ApiError>>,
    fresh: impl FnOnce(&T) -> bool,
) -> Result<T, ApiError> {
    let admission = limiter.admit(org)?;
    let result = work.await;
    if result
        .as_ref()
        .map_or_else(ApiError::is_authenticated, fresh)
    {
        admission.keep();
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use keyhold_shared::{ErrorCode, WireError};

    const A: OrgId = OrgId(keyhold_shared::Uuid::from_bytes([1; 16]));
    const B: OrgId = OrgId(keyhold_shared::Uuid::from_bytes([2; 16]));

    /// Bursts of `burst`, refilling one token an hour: nothing refills while a test runs.
    fn slow(burst: f64) -> Arc<OrgRateLimiter> {
        Arc::new(OrgRateLimiter::with_rate(1.0 / 3600.0, burst))
    }

    fn refusal(code: ErrorCode, authenticated: bool) -> ApiError {
        ApiError::from(WireError {
            code,
            message: "refused".into(),
            authenticated,
        })
    }

    #[test]
    fn a_burst_is_cut_per_organization_and_zero_means_unlimited() {
        let limiter = slow(10.0);
        let admitted: Vec<Admission> = (0..50).filter_map(|_| limiter.admit(A).ok()).collect();
        assert_eq!(admitted.len(), 10);
        let other = limiter.admit(B);
        assert!(other.is_ok(), "another organization has its own bucket");
        let err = limiter.admit(A).err().unwrap();
        assert_eq!(err.status().as_u16(), 429);
        assert!(err.message().contains(&A.to_string()), "{}", err.message());
        let open = Arc::new(OrgRateLimiter::unlimited());
        let kept: Vec<Admission> = (0..10_000).filter_map(|_| open.admit(A).ok()).collect();
        assert_eq!(kept.len(), 10_000);
        // The same organization however its id was spelt: the key is the parsed id.
        let upper: OrgId = A.to_string().to_uppercase().parse().unwrap();
        assert_eq!(upper, A);
    }

    #[test]
    fn a_dropped_admission_gives_its_token_back_and_a_kept_one_does_not() {
        let limiter = slow(2.0);
        for _ in 0..10 {
            drop(limiter.admit(A).unwrap());
        }
        assert_eq!(limiter.tracked(), 0, "a bucket full again is forgotten");
        limiter.admit(A).unwrap().keep();
        limiter.admit(A).unwrap().keep();
        assert!(limiter.admit(A).is_err(), "burst of 2 spent");
        assert_eq!(limiter.tracked(), 1);
        // The real rate refills: a bucket that had time to fill up is swept, not kept forever.
        let fast = Arc::new(OrgRateLimiter::with_rate(1e9, 1.0));
        fast.admit(A).unwrap().keep();
        fast.lock().next_sweep = Instant::now();
        fast.admit(B).unwrap().keep();
        assert_eq!(fast.tracked(), 1, "A refilled and was swept");
    }

    #[tokio::test]
    async fn only_authenticated_outcomes_keep_the_token() {
        let limiter = slow(2.0);
        // Forged stamps, unknown keys, stale timestamps, malformed bodies, unknown
        // organizations, an unavailable enclave: none of them is marked authenticated.
        let strangers = || {
            [
                refusal(ErrorCode::SignatureInvalid, false),
                refusal(ErrorCode::PublicKeyNotFound, false),
                refusal(ErrorCode::InvalidTime, false),
                refusal(ErrorCode::InvalidRequest, false),
                ApiError::org_not_found("x"),
                refusal(ErrorCode::Busy, false),
            ]
        };
        for _ in 0..20 {
            for refused in strangers() {
                assert!(
                    limited(&limiter, A, async { Err::<(), _>(refused) }, |_| true)
                        .await
                        .is_err()
                );
            }
        }
        // Authenticated requests keep their tokens, refused or not: the burst of 2, then 429.
        assert!(
            limited(&limiter, A, async { Ok(()) }, |_| true)
                .await
                .is_ok()
        );
        let denied = refusal(ErrorCode::PermissionDenied, true);
        let refused = limited(&limiter, A, async { Err::<(), _>(denied) }, |_| true).await;
        assert_eq!(refused.unwrap_err().status().as_u16(), 403);
        let now = limited(&limiter, A, async { Ok(()) }, |_| true)
            .await
            .unwrap_err();
        assert_eq!(now.status().as_u16(), 429);
        // A refusal the host makes after authentication counts as authenticated too.
        let limiter = slow(1.0);
        let host_refusal = ApiError::not_found("no such activity").after_authentication();
        let _ = limited(&limiter, B, async { Err::<(), _>(host_refusal) }, |_| true).await;
        assert!(limiter.admit(B).is_err());
    }

    #[tokio::test]
    async fn a_dropped_limited_future_gives_its_token_back() {
        let limiter = slow(1.0);
        for _ in 0..5 {
            // The future is dropped before it ends (a failure before the enclave was asked).
            let work = limited(
                &limiter,
                A,
                std::future::pending::<Result<(), ApiError>>(),
                |_| true,
            );
            let mut work = Box::pin(work);
            assert!(poll_once(work.as_mut()).await.is_none());
            assert!(
                limiter.admit(A).is_err(),
                "the token is taken while it runs"
            );
            drop(work);
        }
        assert!(limiter.admit(A).is_ok());
        // A replay answered from the store gives its token back too.
        let limiter = slow(1.0);
        for _ in 0..5 {
            let _ = limited(&limiter, A, async { Ok(1) }, |answer| *answer != 1).await;
        }
        assert!(limiter.admit(A).is_ok());
    }

    /// Polls `future` once.
    async fn poll_once<F: Future + Unpin>(mut future: F) -> Option<F::Output> {
        std::future::poll_fn(|cx| {
            std::task::Poll::Ready(match std::pin::Pin::new(&mut future).poll(cx) {
                std::task::Poll::Ready(output) => Some(output),
                std::task::Poll::Pending => None,
            })
        })
        .await
    }
}
