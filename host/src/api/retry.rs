//! Running an activity again when its commit lost a race. With several hosts (each with its own
//! enclave) on one database, two activities can both start from version v of an organization's
//! state; each enclave seals a version v + 1, and the database's compare-and-swap keeps only the
//! first. The loser wrote nothing, so it starts over: it looks for its activity again (another
//! host may have stored the very same request), reloads the state and runs in the enclave again.
//! Its enclave accepts the winner's v + 1 (it refuses only versions older than it has seen), so
//! the retry succeeds unless it loses again.

use std::future::Future;
use std::time::Duration;

use super::answer::Answer;
use super::error::ApiError;
use crate::error::HostError;

/// Attempts at one activity before the client gets the conflict (409).
const ATTEMPTS: u32 = 16;

/// How one attempt failed.
pub(super) enum Failure {
    /// A final answer for the client.
    Api(ApiError),
    /// A concurrent writer got there first; nothing was stored.
    Conflict {
        what: String,
        /// The attempt had already run in the enclave, which authenticated the caller: the
        /// request keeps its rate limit token however the retries end (`rate_limit.rs`).
        authenticated: bool,
    },
}

impl Failure {
    /// Marks a failure that came after the enclave accepted the request and ran it: the
    /// caller authenticated afresh and the enclave did the work, so a failure to store it
    /// (a lost race, the database) does not give the rate limit token back.
    pub(super) fn after_authentication(self) -> Self {
        match self {
            Failure::Api(e) => Failure::Api(e.after_authentication()),
            Failure::Conflict { what, .. } => Failure::Conflict {
                what,
                authenticated: true,
            },
        }
    }
}

impl From<ApiError> for Failure {
    fn from(e: ApiError) -> Self {
        Failure::Api(e)
    }
}

impl From<HostError> for Failure {
    fn from(e: HostError) -> Self {
        match e {
            HostError::Conflict(what) => Failure::Conflict {
                what,
                authenticated: false,
            },
            other => Failure::Api(other.into()),
        }
    }
}

/// Runs `attempt` until it does not end in a conflict, backing off a little longer each time
/// (with jitter, so two hosts that collided do not collide again in lockstep).
pub(super) async fn on_conflict<F, Fut>(mut attempt: F) -> Result<Answer, ApiError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<Answer, Failure>>,
{
    let mut tries = 0u32;
    // Once an attempt ran in the enclave, a later attempt's refusal (the enclave may now see a
    // replay of the request it already ran) still ends a request that authenticated.
    let mut ran = false;
    let mark = |e: ApiError, ran: bool| if ran { e.after_authentication() } else { e };
    loop {
        tries += 1;
        match attempt().await {
            // A retry that finds the activity stored (by a concurrent copy of the request, or
            // by crash recovery of this one's own run) answers it from the store; the caller's
            // earlier attempt ran all the same, so the token stays spent.
            Ok(Answer::Stored(activity)) if ran => return Ok(Answer::Text(activity.to_string())),
            Ok(answer) => return Ok(answer),
            Err(Failure::Api(e)) => return Err(mark(e, ran)),
            Err(Failure::Conflict {
                what,
                authenticated,
            }) => {
                ran |= authenticated;
                if tries >= ATTEMPTS {
                    return Err(mark(HostError::Conflict(what).into(), ran));
                }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn conflict(authenticated: bool) -> Failure {
        Failure::Conflict {
            what: "lost".into(),
            authenticated,
        }
    }

    /// Runs [`on_conflict`] over a script of attempts' outcomes (the last one repeats).
    async fn run(script: Vec<fn() -> Failure>) -> ApiError {
        let mut i = 0usize;
        let result: Result<Answer, ApiError> = on_conflict(|| {
            let outcome = script[i.min(script.len() - 1)];
            i += 1;
            async move { Err(outcome()) }
        })
        .await;
        result.err().expect("every attempt fails")
    }

    /// [`on_conflict`] over attempts that lose races (`ran`: in the enclave) and then find
    /// their activity stored.
    async fn stored_after(ran: Vec<bool>) -> Answer {
        let mut conflicts = ran.into_iter();
        on_conflict(|| {
            let outcome = match conflicts.next() {
                Some(ran) => Err(conflict(ran)),
                None => Ok(Answer::Stored(serde_json::json!({"activity": {}}))),
            };
            async move { outcome }
        })
        .await
        .unwrap_or_else(|_| panic!("the last attempt answers"))
    }

    #[tokio::test]
    async fn a_stored_answer_after_an_attempt_ran_keeps_the_token() {
        // Nothing ran for this caller: a replay, given back.
        assert!(matches!(stored_after(vec![]).await, Answer::Stored(_)));
        assert!(matches!(stored_after(vec![false]).await, Answer::Stored(_)));
        // An attempt ran in the enclave, then lost the race to store: the same answer, kept.
        let Answer::Text(text) = stored_after(vec![false, true, false]).await else {
            panic!("given back")
        };
        assert_eq!(text, r#"{"activity":{}}"#);
    }

    #[tokio::test]
    async fn a_refusal_after_an_attempt_ran_in_the_enclave_keeps_the_token() {
        // The first attempt ran and lost the race to store; the retry is refused (as a replay,
        // say) before the enclave runs it: the caller did authenticate.
        let e = run(vec![|| conflict(true), || {
            ApiError::invalid("replay").into()
        }])
        .await;
        assert!(e.is_authenticated());
        // No attempt got that far: nothing shows the caller authenticated.
        let e = run(vec![|| conflict(false), || {
            ApiError::invalid("replay").into()
        }])
        .await;
        assert!(!e.is_authenticated());
        // A refusal already marked stays marked.
        let e = run(vec![|| {
            Failure::Api(ApiError::invalid("denied")).after_authentication()
        }])
        .await;
        assert!(e.is_authenticated());
    }

    #[tokio::test]
    async fn a_conflict_to_the_end_keeps_the_token_only_if_an_attempt_ran() {
        let e = run(vec![|| conflict(true), || conflict(false)]).await;
        assert!(e.is_authenticated());
        assert_eq!(e.status(), axum::http::StatusCode::CONFLICT);
        let e = run(vec![|| conflict(false)]).await;
        assert!(!e.is_authenticated());
    }
}
