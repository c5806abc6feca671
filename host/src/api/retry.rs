//! Running an activity again when its commit lost a race. With several hosts (each with its own
//! enclave) on one database, two activities can both start from version v of an organization's
//! state; each enclave seals a version v + 1, and the database's compare-and-swap keeps only the
//! first. The loser wrote nothing, so it starts over: it looks for its activity again (another
//! host may have stored the very same request), reloads the state and runs in the enclave again.
//! Its enclave accepts the winner's v + 1 (it refuses only versions older than it has seen), so
//! the retry succeeds unless it loses again.

use std::future::Future;
use std::time::Duration;

use super::error::ApiError;
use crate::error::HostError;

/// Attempts at one activity before the client gets the conflict (409).
const ATTEMPTS: u32 = 16;

/// How one attempt failed.
pub(super) enum Failure {
    /// A final answer for the client.
    Api(ApiError),
    /// A concurrent writer got there first; nothing was stored.
    Conflict(String),
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Conflict(what) => Failure::Conflict(what),
            other => Failure::Api(other.into()),
        }
    }
}

/// Runs `attempt` until it does not end in a conflict, backing off a little longer each time
/// (with jitter, so two hosts that collided do not collide again in lockstep).
pub(super) async fn on_conflict<T, F, Fut>(mut attempt: F) -> Result<T, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Failure>>,
{
    let mut tries = 0u32;
    loop {
        tries += 1;
        match attempt().await {
            Ok(answer) => return Ok(answer),
            Err(Failure::Api(e)) => return Err(e),
            Err(Failure::Conflict(what)) if tries >= ATTEMPTS => {
                return Err(HostError::Conflict(what).into());
            }
            Err(Failure::Conflict(what)) => {
                tracing::info!(conflict = %what, attempt = tries, "activity lost a race; running it again");
                tokio::time::sleep(backoff(tries)).await;
            }
        }
    }
}

/// 5 ms per attempt so far, at most 50 ms, plus up to 16 ms of jitter.
pub(super) fn backoff(tries: u32) -> Duration {
    let jitter = crate::operator::random_bytes::<1>().map_or(0, |b| u64::from(b[0] % 16));
    Duration::from_millis(u64::from(tries.min(10)) * 5 + jitter)
}
