//! The typed tree the checker produces and the evaluator runs. Every operation is resolved (which
//! function, which variable slot, which counter); the evaluator only re-checks value kinds where
//! the schema says a value is dynamic (`Ty::Dyn`) or the context is malformed.
//!
//! INVARIANT: a `Node` tree is no deeper than the `Expr` it came from (at most
//! `parser::MAX_DEPTH`), so the evaluator may recurse over it.

use std::sync::Arc;

use crate::limits::CounterKey;
use crate::span::Span;
use crate::time::CronSpan;
use crate::value::Value;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum CmpOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum ArithOp {
    Add,
    Sub,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Quant {
    Any,
    All,
    Filter,
}

#[derive(Clone, Debug)]
pub(crate) enum NodeKind {
    Const(Value),
    /// A top-level keyword (`activity`, `eth`, `approvers`, …).
    Root(&'static str),
    /// A lambda variable: an index into the evaluator's variable stack.
    Var(usize),
    /// `base.name`; `path` is the source text, for error messages.
    Field {
        base: Box<Node>,
        name: Arc<str>,
        path: Arc<str>,
    },
    Index {
        base: Box<Node>,
        index: Box<Node>,
    },
    Slice {
        base: Box<Node>,
        start: Box<Node>,
        end: Box<Node>,
    },
    List(Vec<Node>),
    Not(Box<Node>),
    Neg(Box<Node>),
    Cmp {
        op: CmpOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    In {
        item: Box<Node>,
        list: Box<Node>,
    },
    Arith {
        op: ArithOp,
        lhs: Box<Node>,
        rhs: Box<Node>,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Count(Box<Node>),
    Contains {
        list: Box<Node>,
        item: Box<Node>,
    },
    /// `list.any(x, body)` etc.; the element is pushed as variable `slot` while `body` runs.
    Quant {
        q: Quant,
        list: Box<Node>,
        slot: usize,
        body: Box<Node>,
    },
    Counter(CounterKey),
    CronSpan(CronSpan),
}

#[derive(Clone, Debug)]
pub(crate) struct Node {
    pub(crate) kind: NodeKind,
    pub(crate) span: Span,
}
