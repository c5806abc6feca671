//! Stage 3: static type checking against the schema, producing the typed tree.
//!
//! Everything that can be known before evaluation is refused here, when the policy is created:
//! unknown keywords and fields (with "did you mean" hints), keywords used in the wrong policy
//! field, type mismatches, non-boolean conditions, unknown functions, wrong arities, malformed
//! `Timestamp`/`CronSpan` literals and limits windows.

use std::fmt;
use std::sync::Arc;

use crate::ast::{BinOp, Expr, ExprKind, Name, UnOp};
use crate::error::CompileError;
use crate::ir::{ArithOp, CmpOp, Node, NodeKind, Quant};
use crate::limits::{CounterKey, Window};
use crate::schema::{self, Scope, Ty};
use crate::span::Span;
use crate::value::{Timestamp, Value};

#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Type {
    Bool,
    Int,
    Str,
    Timestamp,
    /// Checked when evaluated.
    Dyn,
    List(Box<Type>),
    Map(Box<Type>),
    Struct(&'static str),
    Counter(crate::limits::Metric),
}

impl Type {
    fn from_ty(t: Ty) -> Type {
        match t {
            Ty::Bool => Type::Bool,
            Ty::Int => Type::Int,
            Ty::Str => Type::Str,
            Ty::Timestamp => Type::Timestamp,
            Ty::Dyn => Type::Dyn,
            Ty::List(inner) => Type::List(Box::new(Type::from_ty(*inner))),
            Ty::Map(inner) => Type::Map(Box::new(Type::from_ty(*inner))),
            Ty::Struct(n) => Type::Struct(n),
            Ty::Counter(m) => Type::Counter(m),
        }
    }

    fn is(&self, other: &Type) -> bool {
        compatible(self, other)
    }
}

fn compatible(a: &Type, b: &Type) -> bool {
    match (a, b) {
        (Type::Dyn, _) | (_, Type::Dyn) => true,
        (Type::List(x), Type::List(y)) | (Type::Map(x), Type::Map(y)) => compatible(x, y),
        _ => a == b,
    }
}

impl fmt::Display for Type {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Type::Bool => f.write_str("bool"),
            Type::Int => f.write_str("int"),
            Type::Str => f.write_str("string"),
            Type::Timestamp => f.write_str("timestamp"),
            Type::Dyn => f.write_str("value"),
            Type::List(t) => write!(f, "list<{t}>"),
            Type::Map(t) => write!(f, "map<string, {t}>"),
            Type::Struct(n) => f.write_str(n),
            Type::Counter(m) => write!(f, "function {}", m.syntax()),
        }
    }
}

const LIST_FUNCTIONS: &[&str] = &["all", "any", "contains", "count", "filter"];
const GLOBAL_FUNCTIONS: &[&str] = &["Timestamp", "CronSpan"];

pub(crate) fn check(expr: &Expr, scope: Scope, src: &str) -> Result<Node, CompileError> {
    let mut c = Checker {
        src,
        scope,
        vars: Vec::new(),
    };
    let (node, ty) = c.expr(expr)?;
    if !ty.is(&Type::Bool) {
        return Err(CompileError::new(
            expr.span,
            format!(
                "a policy {} must be a bool expression, found `{ty}`",
                scope.name()
            ),
        )
        .help("compare the value, e.g. `… == 'x'`"));
    }
    Ok(node)
}

struct Checker<'a> {
    src: &'a str,
    scope: Scope,
    vars: Vec<(String, Type)>,
}

fn node(kind: NodeKind, span: Span) -> Node {
    Node { kind, span }
}

fn string_literal<'e>(e: &'e Expr, what: &str) -> Result<&'e str, CompileError> {
    match &e.kind {
        ExprKind::Str(s) => Ok(s),
        _ => Err(CompileError::new(
            e.span,
            format!("{what} must be a string literal"),
        )),
    }
}

impl Checker<'_> {
    fn expr(&mut self, e: &Expr) -> Result<(Node, Type), CompileError> {
        let span = e.span;
        Ok(match &e.kind {
            ExprKind::Bool(b) => (node(NodeKind::Const(Value::Bool(*b)), span), Type::Bool),
            ExprKind::Int(v) => (node(NodeKind::Const(Value::Int(*v)), span), Type::Int),
            ExprKind::Str(s) => (node(NodeKind::Const(Value::str(s)), span), Type::Str),
            ExprKind::List(items) => {
                let mut nodes = Vec::with_capacity(items.len());
                let mut elem = Type::Dyn;
                for item in items {
                    let (n, t) = self.expr(item)?;
                    if !t.is(&elem) {
                        return Err(CompileError::new(
                            item.span,
                            format!(
                                "list elements must have one type: expected `{elem}`, found `{t}`"
                            ),
                        ));
                    }
                    if elem == Type::Dyn {
                        elem = t;
                    }
                    nodes.push(n);
                }
                (
                    node(NodeKind::List(nodes), span),
                    Type::List(Box::new(elem)),
                )
            }
            ExprKind::Ident(name) => self.ident(name, span)?,
            ExprKind::Field { base, field } => self.field(base, field, span)?,
            ExprKind::Method { recv, method, args } => self.method(recv, method, args, span)?,
            ExprKind::Call { func, args } => self.call(func, args, span)?,
            ExprKind::Index { base, index } => {
                let (b, bt) = self.expr(base)?;
                let (i, it) = self.expr(index)?;
                let (want, out) = match &bt {
                    Type::List(t) => (Type::Int, (**t).clone()),
                    Type::Str => (Type::Int, Type::Str),
                    Type::Map(t) => (Type::Str, (**t).clone()),
                    Type::Dyn => (Type::Dyn, Type::Dyn),
                    Type::Struct(_) => {
                        return Err(CompileError::new(
                            index.span,
                            format!(
                                "`{}` is a struct and cannot be indexed",
                                base.span.text(self.src)
                            ),
                        )
                        .help("read a field with `.name`"));
                    }
                    other => {
                        return Err(CompileError::new(
                            span,
                            format!("cannot index a value of type `{other}`"),
                        ));
                    }
                };
                if !it.is(&want) {
                    return Err(CompileError::new(
                        index.span,
                        format!("index must be `{want}`, found `{it}`"),
                    ));
                }
                (
                    node(
                        NodeKind::Index {
                            base: Box::new(b),
                            index: Box::new(i),
                        },
                        span,
                    ),
                    out,
                )
            }
            ExprKind::Slice { base, start, end } => {
                let (b, bt) = self.expr(base)?;
                if !matches!(bt, Type::List(_) | Type::Str | Type::Dyn) {
                    return Err(CompileError::new(
                        span,
                        format!("only lists and strings can be sliced, found `{bt}`"),
                    ));
                }
                let (s, st) = self.expr(start)?;
                let (en, et) = self.expr(end)?;
                for (t, ex) in [(&st, start), (&et, end)] {
                    if !t.is(&Type::Int) {
                        return Err(CompileError::new(
                            ex.span,
                            format!("slice bounds must be `int`, found `{t}`"),
                        ));
                    }
                }
                (
                    node(
                        NodeKind::Slice {
                            base: Box::new(b),
                            start: Box::new(s),
                            end: Box::new(en),
                        },
                        span,
                    ),
                    bt,
                )
            }
            ExprKind::Unary {
                op,
                op_span,
                operand,
            } => {
                let (n, t) = self.expr(operand)?;
                let (want, kind) = match op {
                    UnOp::Not => (Type::Bool, NodeKind::Not(Box::new(n))),
                    UnOp::Neg => (Type::Int, NodeKind::Neg(Box::new(n))),
                };
                if !t.is(&want) {
                    let sym = if *op == UnOp::Not { "!" } else { "-" };
                    return Err(CompileError::new(
                        *op_span,
                        format!("`{sym}` needs a `{want}` operand, found `{t}`"),
                    ));
                }
                (node(kind, span), want)
            }
            ExprKind::Binary {
                op,
                op_span,
                lhs,
                rhs,
            } => self.binary(*op, *op_span, lhs, rhs, span)?,
            ExprKind::And(items) | ExprKind::Or(items) => {
                let is_and = matches!(e.kind, ExprKind::And(_));
                let mut nodes = Vec::with_capacity(items.len());
                for item in items {
                    let (n, t) = self.expr(item)?;
                    if !t.is(&Type::Bool) {
                        return Err(CompileError::new(
                            item.span,
                            format!(
                                "`{}` needs bool operands, found `{t}`",
                                if is_and { "&&" } else { "||" }
                            ),
                        ));
                    }
                    nodes.push(n);
                }
                let kind = if is_and {
                    NodeKind::And(nodes)
                } else {
                    NodeKind::Or(nodes)
                };
                (node(kind, span), Type::Bool)
            }
        })
    }

    fn ident(&self, name: &str, span: Span) -> Result<(Node, Type), CompileError> {
        if let Some((i, (_, t))) = self
            .vars
            .iter()
            .enumerate()
            .rev()
            .find(|(_, (n, _))| n == name)
        {
            return Ok((node(NodeKind::Var(i), span), t.clone()));
        }
        if let Some((ty, scope)) = schema::find_root(name) {
            if scope != self.scope {
                return Err(CompileError::new(
                    span,
                    format!("`{name}` cannot be used in a policy {}", self.scope.name()),
                )
                .help(format!(
                    "`{name}` is a keyword of the policy {}",
                    scope.name()
                )));
            }
            let root = schema::ROOTS
                .iter()
                .find(|(n, _, _)| *n == name)
                .map_or("", |(n, _, _)| *n);
            return Ok((node(NodeKind::Root(root), span), Type::from_ty(ty)));
        }
        let candidates = schema::ROOTS
            .iter()
            .filter(|(_, _, s)| *s == self.scope)
            .map(|(n, _, _)| *n)
            .chain(self.vars.iter().map(|(n, _)| n.as_str()));
        let help = schema::suggest(name, candidates).map(|s| format!("did you mean `{s}`?"));
        Err(CompileError::new(span, format!("unknown identifier `{name}`")).maybe_help(help))
    }

    fn field(
        &mut self,
        base: &Expr,
        field: &Name,
        span: Span,
    ) -> Result<(Node, Type), CompileError> {
        let (b, bt) = self.expr(base)?;
        let path: Arc<str> = Arc::from(span.text(self.src));
        let name: Arc<str> = Arc::from(field.name.as_str());
        let out = match &bt {
            Type::Struct(sname) => {
                let def = schema::find_struct(sname).ok_or_else(|| {
                    CompileError::new(field.span, format!("unknown struct `{sname}`"))
                })?;
                let Some((_, fty)) = def.fields.iter().find(|(n, _)| *n == field.name) else {
                    let help =
                        match schema::suggest(&field.name, def.fields.iter().map(|(n, _)| *n)) {
                            Some(s) => format!("did you mean `{s}`?"),
                            None => format!(
                                "`{}` has the fields {}",
                                base.span.text(self.src),
                                def.fields
                                    .iter()
                                    .map(|(n, _)| format!("`{n}`"))
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        };
                    return Err(
                        CompileError::new(field.span, format!("unknown field `{path}`")).help(help),
                    );
                };
                if let Ty::Counter(m) = fty {
                    return Err(CompileError::new(
                        field.span,
                        format!("`{path}` is a limits function and needs a window"),
                    )
                    .help(format!(
                        "call it with a window, e.g. `{}('24h')`",
                        m.syntax()
                    )));
                }
                Type::from_ty(*fty)
            }
            Type::List(_) if field.name == "count" => {
                // Turnkey's docs also write `list.count` without parentheses.
                return Ok((node(NodeKind::Count(Box::new(b)), span), Type::Int));
            }
            Type::Dyn => Type::Dyn,
            Type::Map(t) => (**t).clone(),
            other => {
                let help = if matches!(other, Type::List(_))
                    && LIST_FUNCTIONS.contains(&field.name.as_str())
                {
                    Some(format!(
                        "`{}` is a function: call it with parentheses",
                        field.name
                    ))
                } else {
                    None
                };
                return Err(CompileError::new(
                    field.span,
                    format!("a value of type `{other}` has no field `{}`", field.name),
                )
                .maybe_help(help));
            }
        };
        Ok((
            node(
                NodeKind::Field {
                    base: Box::new(b),
                    name,
                    path,
                },
                span,
            ),
            out,
        ))
    }

    fn arity(
        &self,
        method: &Name,
        args: &[Expr],
        n: usize,
        usage: &str,
    ) -> Result<(), CompileError> {
        if args.len() == n {
            return Ok(());
        }
        Err(CompileError::new(
            method.span,
            format!(
                "`{}` takes {n} argument{}, found {}",
                method.name,
                if n == 1 { "" } else { "s" },
                args.len()
            ),
        )
        .help(format!("write it as `{usage}`")))
    }

    fn method(
        &mut self,
        recv: &Expr,
        method: &Name,
        args: &[Expr],
        span: Span,
    ) -> Result<(Node, Type), CompileError> {
        let (r, rt) = self.expr(recv)?;
        // keyhold limits: `spend.eth.wei('24h')`, `signatures.count('1h')`.
        if let Type::Struct(sname) = &rt {
            let counter = schema::find_struct(sname).and_then(|def| {
                def.fields.iter().find_map(|(n, t)| match t {
                    Ty::Counter(m) if *n == method.name => Some(*m),
                    _ => None,
                })
            });
            if let Some(metric) = counter {
                let usage = format!("{}('24h')", metric.syntax());
                self.arity(method, args, 1, &usage)?;
                let arg = args
                    .first()
                    .ok_or_else(|| CompileError::new(span, "missing window"))?;
                let text = string_literal(arg, "a limits window")?;
                let window = Window::parse(text).map_err(|m| CompileError::new(arg.span, m))?;
                return Ok((
                    node(NodeKind::Counter(CounterKey { metric, window }), span),
                    Type::Int,
                ));
            }
        }
        let name = method.name.as_str();
        if let Type::Struct(sname) = &rt {
            let counters: Vec<&str> = schema::find_struct(sname)
                .map(|def| {
                    def.fields
                        .iter()
                        .filter(|(_, t)| matches!(t, Ty::Counter(_)))
                        .map(|(n, _)| *n)
                        .collect()
                })
                .unwrap_or_default();
            if !counters.is_empty() {
                let help = match schema::suggest(name, counters.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!(
                        "`{}` has the functions {}",
                        recv.span.text(self.src),
                        counters
                            .iter()
                            .map(|c| format!("`{c}`"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                };
                return Err(CompileError::new(
                    method.span,
                    format!("unknown function `{}.{name}`", recv.span.text(self.src)),
                )
                .help(help));
            }
        }
        if !LIST_FUNCTIONS.contains(&name) {
            let help = match schema::suggest(name, LIST_FUNCTIONS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None => "the list functions are `all`, `any`, `contains`, `count` and `filter`"
                    .to_owned(),
            };
            return Err(
                CompileError::new(method.span, format!("unknown function `{name}`")).help(help),
            );
        }
        let elem = match &rt {
            Type::List(t) => (**t).clone(),
            Type::Dyn => Type::Dyn,
            other => {
                return Err(CompileError::new(
                    method.span,
                    format!(
                        "`{name}` needs a list, but `{}` is `{other}`",
                        recv.span.text(self.src)
                    ),
                ));
            }
        };
        match name {
            "count" => {
                self.arity(method, args, 0, "list.count()")?;
                Ok((node(NodeKind::Count(Box::new(r)), span), Type::Int))
            }
            "contains" => {
                self.arity(method, args, 1, "list.contains(value)")?;
                let arg = args
                    .first()
                    .ok_or_else(|| CompileError::new(span, "missing argument"))?;
                let (a, at) = self.expr(arg)?;
                if !at.is(&elem) {
                    return Err(CompileError::new(
                        arg.span,
                        format!("`contains` on a `list<{elem}>` needs a `{elem}`, found `{at}`"),
                    ));
                }
                Ok((
                    node(
                        NodeKind::Contains {
                            list: Box::new(r),
                            item: Box::new(a),
                        },
                        span,
                    ),
                    Type::Bool,
                ))
            }
            _ => {
                let q = match name {
                    "any" => Quant::Any,
                    "all" => Quant::All,
                    _ => Quant::Filter,
                };
                let usage = format!("list.{name}(x, <predicate using x>)");
                self.arity(method, args, 2, &usage)?;
                let (Some(var), Some(body)) = (args.first(), args.get(1)) else {
                    return Err(CompileError::new(span, "missing argument"));
                };
                let ExprKind::Ident(var_name) = &var.kind else {
                    return Err(CompileError::new(
                        var.span,
                        format!("the first argument of `{name}` must be a variable name"),
                    )
                    .help(format!("write it as `{usage}`")));
                };
                if schema::find_root(var_name).is_some()
                    || self.vars.iter().any(|(n, _)| n == var_name)
                {
                    return Err(CompileError::new(
                        var.span,
                        format!("variable `{var_name}` shadows a keyword or another variable"),
                    )
                    .help("choose another name"));
                }
                let slot = self.vars.len();
                self.vars.push((var_name.clone(), elem.clone()));
                let checked = self.expr(body);
                self.vars.pop();
                let (b, bt) = checked?;
                if !bt.is(&Type::Bool) {
                    return Err(CompileError::new(
                        body.span,
                        format!(
                            "the predicate of `{name}` must be a bool expression, found `{bt}`"
                        ),
                    ));
                }
                let out = if q == Quant::Filter {
                    Type::List(Box::new(elem))
                } else {
                    Type::Bool
                };
                Ok((
                    node(
                        NodeKind::Quant {
                            q,
                            list: Box::new(r),
                            slot,
                            body: Box::new(b),
                        },
                        span,
                    ),
                    out,
                ))
            }
        }
    }

    fn call(
        &mut self,
        func: &Name,
        args: &[Expr],
        span: Span,
    ) -> Result<(Node, Type), CompileError> {
        let name = func.name.as_str();
        if !GLOBAL_FUNCTIONS.contains(&name) {
            let help = match schema::suggest(name, GLOBAL_FUNCTIONS.iter().copied()) {
                Some(s) => format!("did you mean `{s}`?"),
                None if LIST_FUNCTIONS.contains(&name) => {
                    format!("`{name}` is called on a list, e.g. `approvers.{name}(…)`")
                }
                None => "the functions are `Timestamp` and `CronSpan` in a policy time, and the list functions `all`, `any`, `contains`, `count` and `filter`".to_owned(),
            };
            return Err(
                CompileError::new(func.span, format!("unknown function `{name}`")).help(help),
            );
        }
        if self.scope != Scope::Time {
            return Err(CompileError::new(
                func.span,
                format!("`{name}` can only be used in a policy time"),
            )
            .help("put time restrictions in the policy's `time` field"));
        }
        if name == "Timestamp" {
            self.arity(func, args, 1, "Timestamp('2025-01-01T00:00:00Z')")?;
            let arg = args
                .first()
                .ok_or_else(|| CompileError::new(span, "missing argument"))?;
            let text = string_literal(arg, "the argument of `Timestamp`")?;
            let ts = Timestamp::parse_rfc3339(text).map_err(|m| {
                CompileError::new(arg.span, format!("invalid timestamp `{text}`: {m}"))
            })?;
            return Ok((
                node(NodeKind::Const(Value::Timestamp(ts)), span),
                Type::Timestamp,
            ));
        }
        self.arity(
            func,
            args,
            3,
            "CronSpan('0 9 * * 1-5', '8h', 'America/New_York')",
        )?;
        let mut texts = Vec::with_capacity(3);
        for a in args {
            texts.push(string_literal(a, "each argument of `CronSpan`")?);
        }
        let (Some(cron), Some(dur), Some(tz)) = (texts.first(), texts.get(1), texts.get(2)) else {
            return Err(CompileError::new(span, "missing argument"));
        };
        let arg_span = |i: usize| args.get(i).map_or(span, |a| a.span);
        if crate::time::zone(tz).is_none() {
            return Err(CompileError::new(
                arg_span(2),
                format!("time zone `{tz}` is not supported by keyhold"),
            )
            .help("see LANGUAGE.md for the built-in time zones, or use `Etc/GMT+N`"));
        }
        if let Err(m) = crate::time::parse_duration_minutes(dur) {
            return Err(CompileError::new(arg_span(1), m));
        }
        let spec = crate::time::parse_cron_span(cron, dur, tz).map_err(|m| {
            let i = if m.contains("duration") { 1 } else { 0 };
            CompileError::new(arg_span(i), m)
        })?;
        Ok((node(NodeKind::CronSpan(spec), span), Type::Bool))
    }

    fn binary(
        &mut self,
        op: BinOp,
        op_span: Span,
        lhs: &Expr,
        rhs: &Expr,
        span: Span,
    ) -> Result<(Node, Type), CompileError> {
        let (l, lt) = self.expr(lhs)?;
        let (r, rt) = self.expr(rhs)?;
        let sym = op.symbol();
        let (l, r) = (Box::new(l), Box::new(r));
        let (kind, ty) = match op {
            BinOp::Eq | BinOp::Ne => {
                if !matches!(
                    lt,
                    Type::Bool | Type::Int | Type::Str | Type::Timestamp | Type::Dyn
                ) {
                    return Err(CompileError::new(
                        op_span,
                        format!("values of type `{lt}` cannot be compared with `{sym}`"),
                    ));
                }
                if !lt.is(&rt) {
                    return Err(CompileError::new(
                        op_span,
                        format!("cannot compare `{lt}` with `{rt}`"),
                    )
                    .help(format!("both sides of `{sym}` must have the same type")));
                }
                let op = if op == BinOp::Eq {
                    CmpOp::Eq
                } else {
                    CmpOp::Ne
                };
                (NodeKind::Cmp { op, lhs: l, rhs: r }, Type::Bool)
            }
            BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                let ordered = |t: &Type| matches!(t, Type::Int | Type::Timestamp | Type::Dyn);
                if !ordered(&lt) || !ordered(&rt) || !lt.is(&rt) {
                    return Err(CompileError::new(
                        op_span,
                        format!("cannot compare `{lt}` with `{rt}` using `{sym}`"),
                    )
                    .help(format!(
                        "`{sym}` compares two `int` or two `timestamp` values"
                    )));
                }
                let op = match op {
                    BinOp::Lt => CmpOp::Lt,
                    BinOp::Le => CmpOp::Le,
                    BinOp::Gt => CmpOp::Gt,
                    _ => CmpOp::Ge,
                };
                (NodeKind::Cmp { op, lhs: l, rhs: r }, Type::Bool)
            }
            BinOp::In => {
                let elem = match &rt {
                    Type::List(t) => (**t).clone(),
                    Type::Dyn => Type::Dyn,
                    other => {
                        return Err(CompileError::new(
                            rhs.span,
                            format!("`in` needs a list on its right, found `{other}`"),
                        ));
                    }
                };
                if !lt.is(&elem) {
                    return Err(CompileError::new(
                        op_span,
                        format!("cannot look for `{lt}` in `{rt}`"),
                    ));
                }
                (NodeKind::In { item: l, list: r }, Type::Bool)
            }
            BinOp::Add | BinOp::Sub => {
                for (t, ex) in [(&lt, lhs), (&rt, rhs)] {
                    if !t.is(&Type::Int) {
                        return Err(CompileError::new(
                            ex.span,
                            format!("`{sym}` needs `int` operands, found `{t}`"),
                        ));
                    }
                }
                let op = if op == BinOp::Add {
                    ArithOp::Add
                } else {
                    ArithOp::Sub
                };
                (NodeKind::Arith { op, lhs: l, rhs: r }, Type::Int)
            }
        };
        Ok((node(kind, span), ty))
    }
}
