//! Errors of every stage: compile errors (lexing, parsing, type checking; reported when a policy
//! is created) and evaluation errors (reported when a policy is evaluated, and always failing
//! closed in the authorizer).
//!
//! Messages follow cedar's conventions: lowercase, no final period, user input in backticks,
//! hints in a separate `help`.

use std::fmt;

use crate::span::Span;

/// An expression that was refused before it could be evaluated: it does not lex, parse or type
/// check. Displayed as `line:column: message`.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct CompileError {
    span: Span,
    line: usize,
    col: usize,
    message: String,
    help: Option<String>,
}

impl CompileError {
    pub(crate) fn new(span: Span, message: impl Into<String>) -> CompileError {
        CompileError {
            span,
            line: 0,
            col: 0,
            message: message.into(),
            help: None,
        }
    }

    pub(crate) fn help(mut self, help: impl Into<String>) -> CompileError {
        self.help = Some(help.into());
        self
    }

    pub(crate) fn maybe_help(mut self, help: Option<String>) -> CompileError {
        self.help = help;
        self
    }

    pub(crate) fn locate(mut self, src: &str) -> CompileError {
        let (line, col) = self.span.line_col(src);
        self.line = line;
        self.col = col;
        self
    }

    /// Where in the expression the problem is.
    #[must_use]
    pub fn span(&self) -> Span {
        self.span
    }

    /// 1-based line and column of the problem.
    #[must_use]
    pub fn position(&self) -> (usize, usize) {
        (self.line, self.col)
    }

    /// The message without position or help.
    #[must_use]
    pub fn message(&self) -> &str {
        &self.message
    }

    /// A hint on how to fix the expression, if there is one.
    #[must_use]
    pub fn help_text(&self) -> Option<&str> {
        self.help.as_deref()
    }

    /// `line:col: message (help)` — the one-line form returned to API clients.
    #[must_use]
    pub fn report(&self) -> String {
        match &self.help {
            Some(h) => format!("{self} ({h})"),
            None => self.to_string(),
        }
    }
}

impl fmt::Display for CompileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}: {}", self.line, self.col, self.message)
    }
}

impl std::error::Error for CompileError {}

/// Why an evaluation failed. Every kind fails closed in the authorizer.
#[derive(Clone, PartialEq, Eq, Debug, thiserror::Error)]
pub enum EvalErrorKind {
    /// A keyword whose object this activity does not have (`wallet` when signing with a private
    /// key, `eth.tx` on a Solana transaction).
    #[error("`{0}` is not available for this activity")]
    MissingObject(String),
    /// A field the object does not carry (Turnkey's `MissingField`), e.g. an `activity.params`
    /// field that this activity type does not expose.
    #[error("missing field `{0}`")]
    MissingField(String),
    /// A list or string index, or a slice bound, outside the value.
    #[error("index {index} is out of bounds for length {len}")]
    IndexOutOfBounds {
        /// The index that was asked for.
        index: String,
        /// The length of the list or string.
        len: usize,
    },
    /// A slice whose start is after its end.
    #[error("slice start {start} is after its end {end}")]
    BadSlice {
        /// Start bound.
        start: String,
        /// End bound.
        end: String,
    },
    /// Integer arithmetic left ±(2²⁵⁶−1).
    #[error("integer overflow")]
    IntegerOverflow,
    /// A value of the wrong kind at runtime (only possible through dynamically typed values such
    /// as contract call arguments and EIP-712 messages, or a malformed context).
    #[error("expected {expected}, found {found}")]
    TypeMismatch {
        /// What the operation needed.
        expected: &'static str,
        /// What it got.
        found: &'static str,
    },
    /// A map has no entry with this key.
    #[error("no entry `{0}`")]
    MissingKey(String),
    /// The evaluation took more steps than allowed.
    #[error("evaluation exceeded its budget of {0} steps")]
    BudgetExceeded(u64),
    /// A list in the context is longer than allowed.
    #[error("a list has {len} elements, more than the maximum of {max}")]
    ListTooLong {
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
    /// The context has no value for a limits counter the policy reads.
    #[error("no counter value for `{0}`")]
    MissingCounter(String),
}

/// An evaluation failure and where in the expression it happened.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct EvalError {
    /// What went wrong.
    pub kind: EvalErrorKind,
    /// The sub-expression that failed.
    pub span: Span,
}

impl EvalError {
    pub(crate) fn new(kind: EvalErrorKind, span: Span) -> EvalError {
        EvalError { kind, span }
    }
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.kind, f)
    }
}

impl std::error::Error for EvalError {}
