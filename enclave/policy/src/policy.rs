//! Compiled expressions and policies: the create-time entry points.

use std::collections::BTreeSet;
use std::fmt;
use std::sync::Arc;

use crate::authorize::Outcome;
use crate::error::{CompileError, EvalError};
use crate::eval::{Env, eval_bool};
use crate::ir::{Node, NodeKind};
use crate::limits::CounterKey;
use crate::schema::Scope;

/// One type-checked expression (a condition, consensus or time), ready to evaluate.
#[derive(Clone, Debug)]
pub struct Expression {
    src: Arc<str>,
    scope: Scope,
    node: Node,
}

impl Expression {
    /// Lexes, parses and type checks `src` as an expression of a policy's `scope` field.
    ///
    /// # Errors
    /// The first problem found, with its position and a hint where there is one.
    pub fn compile(src: &str, scope: Scope) -> Result<Expression, CompileError> {
        let ast = crate::parser::parse(src).map_err(|e| e.locate(src))?;
        let node = crate::check::check(&ast, scope, src).map_err(|e| e.locate(src))?;
        Ok(Expression {
            src: Arc::from(src),
            scope,
            node,
        })
    }

    /// The source text.
    #[must_use]
    pub fn source(&self) -> &str {
        &self.src
    }

    /// Which policy field this is.
    #[must_use]
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Evaluates to a bool.
    ///
    /// # Errors
    /// Any evaluation error (missing object or field, index out of bounds, overflow, …).
    pub fn evaluate(&self, env: &Env) -> Result<bool, EvalError> {
        eval_bool(&self.node, env)
    }

    /// `line:col: message` for an error of this expression.
    #[must_use]
    pub fn render_error(&self, e: &EvalError) -> String {
        let (line, col) = e.span.line_col(&self.src);
        format!("{line}:{col}: {e}")
    }

    /// The limits counters this expression reads.
    #[must_use]
    pub fn counters(&self) -> BTreeSet<CounterKey> {
        let mut out = BTreeSet::new();
        collect(&self.node, &mut out);
        out
    }
}

fn collect(n: &Node, out: &mut BTreeSet<CounterKey>) {
    match &n.kind {
        NodeKind::Counter(k) => {
            out.insert(*k);
        }
        NodeKind::Const(_) | NodeKind::Root(_) | NodeKind::Var(_) | NodeKind::CronSpan(_) => {}
        NodeKind::Field { base, .. }
        | NodeKind::Not(base)
        | NodeKind::Neg(base)
        | NodeKind::Count(base) => {
            collect(base, out);
        }
        NodeKind::Index { base: a, index: b }
        | NodeKind::Cmp { lhs: a, rhs: b, .. }
        | NodeKind::In { item: a, list: b }
        | NodeKind::Arith { lhs: a, rhs: b, .. }
        | NodeKind::Contains { list: a, item: b }
        | NodeKind::Quant {
            list: a, body: b, ..
        } => {
            collect(a, out);
            collect(b, out);
        }
        NodeKind::Slice { base, start, end } => {
            collect(base, out);
            collect(start, out);
            collect(end, out);
        }
        NodeKind::List(items) | NodeKind::And(items) | NodeKind::Or(items) => {
            items.iter().for_each(|i| collect(i, out));
        }
    }
}

/// A policy's effect.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Effect {
    /// `EFFECT_ALLOW`.
    Allow,
    /// `EFFECT_DENY`.
    Deny,
}

impl Effect {
    /// Parses Turnkey's `EFFECT_ALLOW` / `EFFECT_DENY`.
    #[must_use]
    pub fn from_turnkey(s: &str) -> Option<Effect> {
        match s {
            "EFFECT_ALLOW" => Some(Effect::Allow),
            "EFFECT_DENY" => Some(Effect::Deny),
            _ => None,
        }
    }
}

/// A policy refused at create time. Displays like Turnkey's
/// `invalid policy condition: …`, followed by the position and message.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct PolicyError {
    /// Which field is invalid.
    pub field: Scope,
    /// What is wrong with it.
    pub error: CompileError,
}

impl fmt::Display for PolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid policy {}: {}",
            self.field.name(),
            self.error.report()
        )
    }
}

impl std::error::Error for PolicyError {}

/// A compiled policy.
#[derive(Clone, Debug)]
pub struct Policy {
    id: String,
    effect: Effect,
    condition: Option<Expression>,
    consensus: Option<Expression>,
    time: Option<Expression>,
}

fn optional(src: &str, scope: Scope) -> Result<Option<Expression>, PolicyError> {
    if src.trim().is_empty() {
        return Ok(None);
    }
    Expression::compile(src, scope)
        .map(Some)
        .map_err(|error| PolicyError {
            field: scope,
            error,
        })
}

impl Policy {
    /// Compiles a policy. An empty (or blank) `condition` or `consensus` is absent, as Turnkey
    /// stores unset expressions as `""`; an absent expression always holds.
    ///
    /// # Errors
    /// The first invalid field.
    pub fn new(
        id: impl Into<String>,
        effect: Effect,
        condition: &str,
        consensus: &str,
    ) -> Result<Policy, PolicyError> {
        Ok(Policy {
            id: id.into(),
            effect,
            condition: optional(condition, Scope::Condition)?,
            consensus: optional(consensus, Scope::Consensus)?,
            time: None,
        })
    }

    /// Adds the optional top-level `time` field.
    ///
    /// # Errors
    /// An invalid time expression.
    pub fn with_time(mut self, time: &str) -> Result<Policy, PolicyError> {
        self.time = optional(time, Scope::Time)?;
        Ok(self)
    }

    /// The policy id.
    #[must_use]
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The effect.
    #[must_use]
    pub fn effect(&self) -> Effect {
        self.effect
    }

    /// The limits counters the policy reads; the enclave supplies them in the context.
    #[must_use]
    pub fn counters(&self) -> BTreeSet<CounterKey> {
        [&self.condition, &self.consensus, &self.time]
            .into_iter()
            .flatten()
            .flat_map(Expression::counters)
            .collect()
    }

    /// Evaluates the policy: condition and time first (both, no short-circuit between them),
    /// consensus only when they hold.
    #[must_use]
    pub fn evaluate(&self, env: &Env) -> Outcome {
        let run = |e: &Option<Expression>| -> Result<bool, Outcome> {
            match e {
                None => Ok(true),
                Some(x) => x.evaluate(env).map_err(|error| Outcome::Error {
                    field: x.scope(),
                    message: x.render_error(&error),
                    error,
                }),
            }
        };
        let cond = run(&self.condition);
        let time = run(&self.time);
        match (cond, time) {
            (Err(o), _) | (_, Err(o)) => return o,
            (Ok(false), Ok(_)) => return Outcome::NotApplicable,
            (Ok(true), Ok(false)) => return Outcome::TimeInactive,
            (Ok(true), Ok(true)) => {}
        }
        match run(&self.consensus) {
            Err(o) => o,
            Ok(true) => Outcome::Applies,
            Ok(false) => Outcome::ConsensusPending,
        }
    }
}
