//! The untyped syntax tree the parser produces, with a source span on every node.
//!
//! INVARIANT: every `Expr` built by the parser has `depth <= parser::MAX_DEPTH`, so every later
//! pass may recurse over it without a stack check.

use crate::span::Span;
use crate::value::Int;

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
}

impl BinOp {
    pub(crate) fn symbol(self) -> &'static str {
        match self {
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum UnOp {
    Not,
    Neg,
}

#[derive(Clone, Debug)]
pub(crate) struct Name {
    pub(crate) name: String,
    pub(crate) span: Span,
}

#[derive(Clone, Debug)]
pub(crate) enum ExprKind {
    Bool(bool),
    Int(Int),
    Str(String),
    List(Vec<Expr>),
    Ident(String),
    Field {
        base: Box<Expr>,
        field: Name,
    },
    Method {
        recv: Box<Expr>,
        method: Name,
        args: Vec<Expr>,
    },
    Call {
        func: Name,
        args: Vec<Expr>,
    },
    Index {
        base: Box<Expr>,
        index: Box<Expr>,
    },
    Slice {
        base: Box<Expr>,
        start: Box<Expr>,
        end: Box<Expr>,
    },
    Unary {
        op: UnOp,
        op_span: Span,
        operand: Box<Expr>,
    },
    Binary {
        op: BinOp,
        op_span: Span,
        lhs: Box<Expr>,
        rhs: Box<Expr>,
    },
    /// `a && b && …` (n-ary so that long chains do not nest).
    And(Vec<Expr>),
    /// `a || b || …`.
    Or(Vec<Expr>),
}

#[derive(Clone, Debug)]
pub(crate) struct Expr {
    pub(crate) kind: ExprKind,
    pub(crate) span: Span,
    pub(crate) depth: usize,
}
