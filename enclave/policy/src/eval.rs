//! Stage 4: evaluate a typed tree against a context.
//!
//! **No short-circuiting.** Turnkey's docs ("Policy evaluation" appendix): "our policy engine
//! does not short circuit during evaluation … if any clause within the `condition` field of a
//! policy results in an error, the evaluated outcome for that policy will be an error", with the
//! example `wallet.id == '…' || private_key.id == '…'`, which always errors. keyhold does the
//! same: every operand of `&&` and `||` is evaluated, and every element of a list is visited by
//! `any`/`all`/`filter`, so an error anywhere is the expression's result even when the value
//! would already be known (`false && <error>` is an error, not `false`).
//!
//! Hardening: the tree's depth is bounded by the parser; every node and every list element
//! visited costs a step, and an evaluation over [`MAX_STEPS`] is an error; integer arithmetic is
//! checked; context lists are bounded by [`MAX_CONTEXT_LIST`] and nesting by
//! [`MAX_CONTEXT_DEPTH`].

use std::cmp::Ordering;
use std::collections::BTreeMap;

use crate::context::Context;
use crate::error::{EvalError, EvalErrorKind};
use crate::ir::{ArithOp, CmpOp, Node, NodeKind, Quant};
use crate::limits::Counters;
use crate::span::Span;
use crate::value::{Int, Timestamp, Value};

/// The most steps (nodes plus list elements visited) one evaluation may take.
pub const MAX_STEPS: u64 = 1_000_000;
/// The longest list a context may carry.
pub const MAX_CONTEXT_LIST: usize = 10_000;
/// The deepest nesting of lists and records a context may carry.
pub const MAX_CONTEXT_DEPTH: usize = 32;

/// The context, converted once per authorization and shared by every policy.
#[derive(Debug)]
pub struct Env {
    roots: BTreeMap<&'static str, Value>,
    now: Option<Timestamp>,
    counters: Counters,
}

fn check_bounds(v: &Value, depth: usize) -> Result<(), EvalErrorKind> {
    if depth > MAX_CONTEXT_DEPTH {
        return Err(EvalErrorKind::TypeMismatch {
            expected: "a context nested less deeply",
            found: "a deeper context",
        });
    }
    match v {
        Value::List(items) => {
            if items.len() > MAX_CONTEXT_LIST {
                return Err(EvalErrorKind::ListTooLong {
                    len: items.len(),
                    max: MAX_CONTEXT_LIST,
                });
            }
            items.iter().try_for_each(|i| check_bounds(i, depth + 1))
        }
        Value::Record(m) => m.values().try_for_each(|i| check_bounds(i, depth + 1)),
        _ => Ok(()),
    }
}

impl Env {
    /// Converts and bounds-checks a context.
    ///
    /// # Errors
    /// A list longer than [`MAX_CONTEXT_LIST`] or nesting deeper than [`MAX_CONTEXT_DEPTH`].
    pub fn new(ctx: &Context) -> Result<Env, EvalError> {
        let roots = ctx.roots();
        for v in roots.values() {
            check_bounds(v, 0).map_err(|k| EvalError::new(k, Span::default()))?;
        }
        Ok(Env {
            roots,
            now: ctx.now,
            counters: ctx.counters.clone(),
        })
    }
}

pub(crate) fn eval_bool(node: &Node, env: &Env) -> Result<bool, EvalError> {
    let mut m = Machine {
        env,
        vars: Vec::new(),
        steps: 0,
    };
    match m.eval(node)? {
        Value::Bool(b) => Ok(b),
        other => Err(mismatch("bool", &other, node.span)),
    }
}

struct Machine<'e> {
    env: &'e Env,
    vars: Vec<Value>,
    steps: u64,
}

fn mismatch(expected: &'static str, found: &Value, span: Span) -> EvalError {
    EvalError::new(
        EvalErrorKind::TypeMismatch {
            expected,
            found: found.kind(),
        },
        span,
    )
}

fn values_eq(a: &Value, b: &Value, span: Span) -> Result<bool, EvalError> {
    match (a, b) {
        (Value::Bool(x), Value::Bool(y)) => Ok(x == y),
        (Value::Int(x), Value::Int(y)) => Ok(x == y),
        (Value::Str(x), Value::Str(y)) => Ok(x == y),
        (Value::Timestamp(x), Value::Timestamp(y)) => Ok(x == y),
        (Value::List(_) | Value::Record(_), _) => Err(mismatch("a comparable value", a, span)),
        _ => Err(mismatch(a.kind(), b, span)),
    }
}

fn index_of(v: &Value, span: Span) -> Result<Int, EvalError> {
    match v {
        Value::Int(i) => Ok(*i),
        other => Err(mismatch("int", other, span)),
    }
}

fn bound(i: Int, len: usize, span: Span) -> Result<usize, EvalError> {
    i.to_usize().filter(|u| *u <= len).ok_or_else(|| {
        EvalError::new(
            EvalErrorKind::IndexOutOfBounds {
                index: i.to_string(),
                len,
            },
            span,
        )
    })
}

impl Machine<'_> {
    fn step(&mut self, n: u64, span: Span) -> Result<(), EvalError> {
        self.steps = self.steps.saturating_add(n);
        if self.steps > MAX_STEPS {
            return Err(EvalError::new(
                EvalErrorKind::BudgetExceeded(MAX_STEPS),
                span,
            ));
        }
        Ok(())
    }

    fn list(&mut self, n: &Node) -> Result<std::sync::Arc<[Value]>, EvalError> {
        match self.eval(n)? {
            Value::List(items) => {
                self.step(items.len() as u64, n.span)?;
                Ok(items)
            }
            other => Err(mismatch("list", &other, n.span)),
        }
    }

    fn eval(&mut self, n: &Node) -> Result<Value, EvalError> {
        self.step(1, n.span)?;
        let span = n.span;
        Ok(match &n.kind {
            NodeKind::Const(v) => v.clone(),
            NodeKind::Root(name) => self.env.roots.get(name).cloned().ok_or_else(|| {
                EvalError::new(EvalErrorKind::MissingObject((*name).to_owned()), span)
            })?,
            NodeKind::Var(i) => self.vars.get(*i).cloned().ok_or_else(|| {
                EvalError::new(EvalErrorKind::MissingObject(format!("variable {i}")), span)
            })?,
            NodeKind::Field { base, name, path } => match self.eval(base)? {
                Value::Record(m) => match m.get(&**name) {
                    Some(v) => v.clone(),
                    None if matches!(base.kind, NodeKind::Root(_)) => {
                        return Err(EvalError::new(
                            EvalErrorKind::MissingObject(path.to_string()),
                            span,
                        ));
                    }
                    None => {
                        return Err(EvalError::new(
                            EvalErrorKind::MissingField(path.to_string()),
                            span,
                        ));
                    }
                },
                other => return Err(mismatch("struct", &other, base.span)),
            },
            NodeKind::Index { base, index } => {
                let b = self.eval(base)?;
                let i = self.eval(index)?;
                match (&b, &i) {
                    (Value::List(items), Value::Int(k)) => {
                        let len = items.len();
                        k.to_usize()
                            .and_then(|u| items.get(u))
                            .cloned()
                            .ok_or_else(|| {
                                EvalError::new(
                                    EvalErrorKind::IndexOutOfBounds {
                                        index: k.to_string(),
                                        len,
                                    },
                                    index.span,
                                )
                            })?
                    }
                    (Value::Str(s), Value::Int(k)) => {
                        let len = s.chars().count();
                        self.step(len as u64, span)?;
                        let c = k.to_usize().and_then(|u| s.chars().nth(u)).ok_or_else(|| {
                            EvalError::new(
                                EvalErrorKind::IndexOutOfBounds {
                                    index: k.to_string(),
                                    len,
                                },
                                index.span,
                            )
                        })?;
                        Value::str(c.to_string())
                    }
                    (Value::Record(m), Value::Str(k)) => m.get(&**k).cloned().ok_or_else(|| {
                        EvalError::new(EvalErrorKind::MissingKey(k.to_string()), index.span)
                    })?,
                    (Value::List(_) | Value::Str(_), other) => {
                        return Err(mismatch("int", other, index.span));
                    }
                    (Value::Record(_), other) => return Err(mismatch("string", other, index.span)),
                    (other, _) => return Err(mismatch("list, string or map", other, base.span)),
                }
            }
            NodeKind::Slice { base, start, end } => {
                let b = self.eval(base)?;
                let s = self.eval(start)?;
                let e = self.eval(end)?;
                let (s, e) = (index_of(&s, start.span)?, index_of(&e, end.span)?);
                let len = match &b {
                    Value::List(items) => items.len(),
                    Value::Str(st) => st.chars().count(),
                    other => return Err(mismatch("list or string", other, base.span)),
                };
                self.step(len as u64, span)?;
                let (su, eu) = (bound(s, len, start.span)?, bound(e, len, end.span)?);
                if su > eu {
                    return Err(EvalError::new(
                        EvalErrorKind::BadSlice {
                            start: s.to_string(),
                            end: e.to_string(),
                        },
                        span,
                    ));
                }
                match &b {
                    Value::List(items) => Value::list(items.iter().skip(su).take(eu - su).cloned()),
                    Value::Str(st) => {
                        Value::str(st.chars().skip(su).take(eu - su).collect::<String>())
                    }
                    other => return Err(mismatch("list or string", other, base.span)),
                }
            }
            NodeKind::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for i in items {
                    out.push(self.eval(i)?);
                }
                Value::list(out)
            }
            NodeKind::Not(x) => match self.eval(x)? {
                Value::Bool(b) => Value::Bool(!b),
                other => return Err(mismatch("bool", &other, x.span)),
            },
            NodeKind::Neg(x) => match self.eval(x)? {
                Value::Int(i) => Value::Int(i.negate()),
                other => return Err(mismatch("int", &other, x.span)),
            },
            NodeKind::Cmp { op, lhs, rhs } => {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                let r = match op {
                    CmpOp::Eq => values_eq(&a, &b, span)?,
                    CmpOp::Ne => !values_eq(&a, &b, span)?,
                    _ => {
                        let ord = match (&a, &b) {
                            (Value::Int(x), Value::Int(y)) => x.cmp(y),
                            (Value::Timestamp(x), Value::Timestamp(y)) => x.cmp(y),
                            (Value::Int(_) | Value::Timestamp(_), other) => {
                                return Err(mismatch(a.kind(), other, rhs.span));
                            }
                            (other, _) => {
                                return Err(mismatch("int or timestamp", other, lhs.span));
                            }
                        };
                        match op {
                            CmpOp::Lt => ord == Ordering::Less,
                            CmpOp::Le => ord != Ordering::Greater,
                            CmpOp::Gt => ord == Ordering::Greater,
                            _ => ord != Ordering::Less,
                        }
                    }
                };
                Value::Bool(r)
            }
            NodeKind::In { item, list } | NodeKind::Contains { list, item } => {
                let it = self.eval(item)?;
                let items = self.list(list)?;
                let mut found = false;
                for x in items.iter() {
                    found |= values_eq(&it, x, span)?;
                }
                Value::Bool(found)
            }
            NodeKind::Arith { op, lhs, rhs } => {
                let a = self.eval(lhs)?;
                let b = self.eval(rhs)?;
                let (Value::Int(x), Value::Int(y)) = (&a, &b) else {
                    let bad = if matches!(a, Value::Int(_)) {
                        (&b, rhs.span)
                    } else {
                        (&a, lhs.span)
                    };
                    return Err(mismatch("int", bad.0, bad.1));
                };
                let r = match op {
                    ArithOp::Add => x.checked_add(*y),
                    ArithOp::Sub => x.checked_sub(*y),
                };
                Value::Int(r.ok_or_else(|| EvalError::new(EvalErrorKind::IntegerOverflow, span))?)
            }
            NodeKind::And(items) | NodeKind::Or(items) => {
                let is_and = matches!(n.kind, NodeKind::And(_));
                // No short-circuit: evaluate every operand (see the module docs).
                let mut acc = is_and;
                for i in items {
                    match self.eval(i)? {
                        Value::Bool(b) => {
                            acc = if is_and { acc && b } else { acc || b };
                        }
                        other => return Err(mismatch("bool", &other, i.span)),
                    }
                }
                Value::Bool(acc)
            }
            NodeKind::Count(list) => {
                let items = self.list(list)?;
                Value::int(items.len() as u64)
            }
            NodeKind::Quant {
                q,
                list,
                slot,
                body,
            } => {
                let items = self.list(list)?;
                let mut any = false;
                let mut all = true;
                let mut kept = Vec::new();
                for x in items.iter() {
                    self.vars.truncate(*slot);
                    self.vars.push(x.clone());
                    let r = self.eval(body);
                    self.vars.truncate(*slot);
                    match r? {
                        Value::Bool(b) => {
                            any |= b;
                            all &= b;
                            if b && *q == Quant::Filter {
                                kept.push(x.clone());
                            }
                        }
                        other => return Err(mismatch("bool", &other, body.span)),
                    }
                }
                match q {
                    Quant::Any => Value::Bool(any),
                    Quant::All => Value::Bool(all),
                    Quant::Filter => Value::list(kept),
                }
            }
            NodeKind::Counter(key) => Value::Int(self.env.counters.get(*key).ok_or_else(|| {
                EvalError::new(EvalErrorKind::MissingCounter(key.to_string()), span)
            })?),
            NodeKind::CronSpan(spec) => {
                let now = self.env.now.ok_or_else(|| {
                    EvalError::new(EvalErrorKind::MissingObject("time.now".to_owned()), span)
                })?;
                Value::Bool(spec.contains(now))
            }
        })
    }
}
