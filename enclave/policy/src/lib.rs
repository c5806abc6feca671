//! keyhold's policy engine: Turnkey's policy language, checked when a policy is created and
//! evaluated inside the enclave before anything is signed.
//!
//! A staged pipeline, like cedar's: `lexer` → `parser` (syntax tree with spans) → `check`
//! (types against the `schema`; refuses invalid policies at create time) → `eval` (runs the
//! typed tree, which cannot be malformed) → [`authorize()`] (combines policies, failing closed).
//!
//! ```
//! use keyhold_policy::{authorize, Activity, Context, Decision, Effect, Policy, RootQuorum, User};
//!
//! let policy = Policy::new(
//!     "p1",
//!     Effect::Allow,
//!     "activity.resource == 'WALLET' && activity.action == 'CREATE'",
//!     "approvers.count() >= 2",
//! )?;
//! let mut ctx = Context {
//!     activity: Activity::new("ACTIVITY_TYPE_CREATE_WALLET", "WALLET", "CREATE"),
//!     ..Context::default()
//! };
//! ctx.approvers.push(User { id: "alice".into(), ..User::default() });
//! let root = RootQuorum { user_ids: vec!["root".into()], threshold: 1 };
//! assert_eq!(authorize(&[policy.clone()], &root, &ctx).decision(), Decision::ConsensusNeeded);
//! ctx.approvers.push(User { id: "bob".into(), ..User::default() });
//! assert_eq!(authorize(&[policy], &root, &ctx).decision(), Decision::Allow);
//! # Ok::<(), keyhold_policy::PolicyError>(())
//! ```
//!
//! The language, keyhold's deviations from Turnkey and the limits extension are described in
//! `LANGUAGE.md` next to this crate.

mod ast;
mod authorize;
mod check;
mod context;
mod error;
mod eval;
mod ir;
mod lexer;
mod limits;
mod parser;
mod policy;
mod schema;
mod span;
mod time;
mod value;

pub use authorize::{
    Authorization, Decision, ERROR_HANDLING, ErrorHandling, Outcome, PolicyAllowed, PolicyResult,
    ROOT_QUORUM_ONLY, Reason, RootQuorum, authorize,
};
pub use context::{
    Activity, AddressTableLookup, BitcoinInput, BitcoinOutput, BitcoinTx, Context, Credential,
    Eip712, Eip7702Authorization, EthTx, PrivateKey, SolanaAccount, SolanaInstruction,
    SolanaParsedInstruction, SolanaTransfer, SolanaTx, SplTransfer, TempoCall, TempoTx, User,
    Wallet, WalletAccount, activity_kind,
};
pub use error::{CompileError, EvalError, EvalErrorKind};
pub use eval::{Env, MAX_CONTEXT_DEPTH, MAX_CONTEXT_LIST, MAX_STEPS};
pub use limits::{CounterKey, Counters, MAX_WINDOW_MINUTES, Metric, Window};
pub use parser::{MAX_DEPTH, MAX_LIST_LITERAL, MAX_SOURCE_LEN};
pub use policy::{Effect, Expression, Policy, PolicyError};
pub use schema::Scope;
pub use span::Span;
pub use time::zone_names;
pub use value::{Int, Timestamp, U256, Value};
