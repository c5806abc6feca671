//! Stage 2: tokens to a syntax tree (recursive descent).
//!
//! Precedence, lowest first: `||`, `&&`, comparisons (`== != < <= > >= in`, not chainable),
//! `+ -`, prefix `! -`, postfix (`.field`, `.method(…)`, `[i]`, `[a..b]`).
//!
//! Hardening: the source is limited to [`MAX_SOURCE_LEN`] bytes, and every node's nesting depth
//! to [`MAX_DEPTH`]; the parser's own recursion is counted as well, so `((((…` is an error and
//! never a stack overflow. `&&` and `||` chains are n-ary nodes, so a long allowlist written as
//! `a || b || c …` stays shallow.

use crate::ast::{BinOp, Expr, ExprKind, Name, UnOp};
use crate::error::CompileError;
use crate::lexer::{Tok, Token, lex};
use crate::span::Span;
use crate::value::Int;

/// The longest expression accepted, in bytes.
pub const MAX_SOURCE_LEN: usize = 16 * 1024;
/// The deepest nesting accepted (parentheses, operators, postfix chains, lambdas).
pub const MAX_DEPTH: usize = 64;
/// The most elements in a list literal.
pub const MAX_LIST_LITERAL: usize = 1024;

pub(crate) fn parse(src: &str) -> Result<Expr, CompileError> {
    if src.len() > MAX_SOURCE_LEN {
        return Err(CompileError::new(
            Span::new(0, 0),
            format!(
                "expression is too long ({} bytes, the maximum is {MAX_SOURCE_LEN})",
                src.len()
            ),
        )
        .help("split it into several policies"));
    }
    let toks = lex(src)?;
    let mut p = Parser {
        src,
        toks,
        pos: 0,
        recursion: 0,
    };
    if p.peek() == &Tok::Eof {
        return Err(CompileError::new(p.span(), "empty expression"));
    }
    let e = p.expr()?;
    let t = p.next();
    if t.tok != Tok::Eof {
        let help = match t.tok {
            Tok::RParen => Some("this `)` has no matching `(`".to_owned()),
            Tok::RBracket => Some("this `]` has no matching `[`".to_owned()),
            _ => None,
        };
        return Err(CompileError::new(t.span, format!("unexpected {}", t.tok)).maybe_help(help));
    }
    Ok(e)
}

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    pos: usize,
    recursion: usize,
}

fn too_deep(span: Span) -> CompileError {
    CompileError::new(
        span,
        format!("expression is nested too deeply (the maximum is {MAX_DEPTH})"),
    )
    .help("split it into several policies")
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.toks.get(self.pos).map_or(&Tok::Eof, |t| &t.tok)
    }

    fn span(&self) -> Span {
        self.toks
            .get(self.pos)
            .or(self.toks.last())
            .map_or(Span::default(), |t| t.span)
    }

    fn next(&mut self) -> Token {
        let t = self
            .toks
            .get(self.pos)
            .or(self.toks.last())
            .cloned()
            .unwrap_or(Token {
                tok: Tok::Eof,
                span: Span::default(),
            });
        if self.pos < self.toks.len() {
            self.pos += 1;
        }
        t
    }

    fn eat(&mut self, tok: &Tok) -> Option<Span> {
        if self.peek() == tok {
            Some(self.next().span)
        } else {
            None
        }
    }

    fn expect(&mut self, tok: &Tok, open: Option<(Span, &str)>) -> Result<Span, CompileError> {
        if let Some(s) = self.eat(tok) {
            return Ok(s);
        }
        let t = self.next();
        let mut err = CompileError::new(t.span, format!("expected {tok}, found {}", t.tok));
        if let Some((open_span, what)) = open {
            let (line, col) = open_span.line_col(self.src);
            err = err.help(format!("the {what} opened at {line}:{col} is not closed"));
        }
        Err(err)
    }

    /// Counts the parser's own recursion, independently of node depth.
    fn enter(&mut self) -> Result<(), CompileError> {
        self.recursion += 1;
        if self.recursion > MAX_DEPTH {
            return Err(too_deep(self.span()));
        }
        Ok(())
    }

    fn leave(&mut self) {
        self.recursion = self.recursion.saturating_sub(1);
    }

    fn expr(&mut self) -> Result<Expr, CompileError> {
        self.enter()?;
        let r = self.or();
        self.leave();
        r
    }

    fn or(&mut self) -> Result<Expr, CompileError> {
        let first = self.and()?;
        if self.peek() != &Tok::OrOr {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::OrOr).is_some() {
            items.push(self.and()?);
        }
        n_ary(items, ExprKind::Or)
    }

    fn and(&mut self) -> Result<Expr, CompileError> {
        let first = self.cmp()?;
        if self.peek() != &Tok::AndAnd {
            return Ok(first);
        }
        let mut items = vec![first];
        while self.eat(&Tok::AndAnd).is_some() {
            items.push(self.cmp()?);
        }
        n_ary(items, ExprKind::And)
    }

    fn cmp_op(&self) -> Option<BinOp> {
        Some(match self.peek() {
            Tok::EqEq => BinOp::Eq,
            Tok::Ne => BinOp::Ne,
            Tok::Lt => BinOp::Lt,
            Tok::Le => BinOp::Le,
            Tok::Gt => BinOp::Gt,
            Tok::Ge => BinOp::Ge,
            Tok::Ident(s) if s == "in" => BinOp::In,
            _ => return None,
        })
    }

    fn cmp(&mut self) -> Result<Expr, CompileError> {
        let lhs = self.add()?;
        let Some(op) = self.cmp_op() else {
            return Ok(lhs);
        };
        let op_span = self.next().span;
        let rhs = self.add()?;
        if let Some(op2) = self.cmp_op() {
            return Err(CompileError::new(
                self.span(),
                format!(
                    "comparison operators cannot be chained (`{}` after `{}`)",
                    op2.symbol(),
                    op.symbol()
                ),
            )
            .help("combine comparisons with `&&` or use parentheses"));
        }
        let span = lhs.span.to(rhs.span);
        let depth = 1 + lhs.depth.max(rhs.depth);
        if depth > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(Expr {
            kind: ExprKind::Binary {
                op,
                op_span,
                lhs: Box::new(lhs),
                rhs: Box::new(rhs),
            },
            span,
            depth,
        })
    }

    fn add(&mut self) -> Result<Expr, CompileError> {
        let mut lhs = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Plus => BinOp::Add,
                Tok::Minus => BinOp::Sub,
                _ => return Ok(lhs),
            };
            let op_span = self.next().span;
            let rhs = self.unary()?;
            let span = lhs.span.to(rhs.span);
            let depth = 1 + lhs.depth.max(rhs.depth);
            if depth > MAX_DEPTH {
                return Err(too_deep(span));
            }
            lhs = Expr {
                kind: ExprKind::Binary {
                    op,
                    op_span,
                    lhs: Box::new(lhs),
                    rhs: Box::new(rhs),
                },
                span,
                depth,
            };
        }
    }

    fn unary(&mut self) -> Result<Expr, CompileError> {
        let op = match self.peek() {
            Tok::Bang => UnOp::Not,
            Tok::Minus => UnOp::Neg,
            _ => return self.postfix(),
        };
        let op_span = self.next().span;
        self.enter()?;
        let operand = self.unary();
        self.leave();
        let operand = operand?;
        let span = op_span.to(operand.span);
        // Fold `-<literal>` so that negative literals are constants.
        if let (UnOp::Neg, ExprKind::Int(v)) = (op, &operand.kind) {
            return Ok(Expr {
                kind: ExprKind::Int(v.negate()),
                span,
                depth: operand.depth,
            });
        }
        let depth = operand.depth + 1;
        if depth > MAX_DEPTH {
            return Err(too_deep(span));
        }
        Ok(Expr {
            kind: ExprKind::Unary {
                op,
                op_span,
                operand: Box::new(operand),
            },
            span,
            depth,
        })
    }

    fn args(&mut self, open: Span, what: &str) -> Result<(Vec<Expr>, Span), CompileError> {
        let mut args = Vec::new();
        if let Some(close) = self.eat(&Tok::RParen) {
            return Ok((args, close));
        }
        loop {
            args.push(self.expr()?);
            if self.eat(&Tok::Comma).is_some() {
                continue;
            }
            let close = self.expect(&Tok::RParen, Some((open, what)))?;
            return Ok((args, close));
        }
    }

    fn postfix(&mut self) -> Result<Expr, CompileError> {
        let mut e = self.primary()?;
        loop {
            match self.peek() {
                Tok::Dot => {
                    self.next();
                    let t = self.next();
                    let Tok::Ident(name) = t.tok else {
                        return Err(CompileError::new(
                            t.span,
                            format!(
                                "expected a field or function name after `.`, found {}",
                                t.tok
                            ),
                        ));
                    };
                    let name = Name { name, span: t.span };
                    if let Some(open) = self.eat(&Tok::LParen) {
                        let (args, close) = self.args(open, "argument list")?;
                        let span = e.span.to(close);
                        let depth =
                            1 + args.iter().map(|a| a.depth).max().unwrap_or(0).max(e.depth);
                        if depth > MAX_DEPTH {
                            return Err(too_deep(span));
                        }
                        e = Expr {
                            kind: ExprKind::Method {
                                recv: Box::new(e),
                                method: name,
                                args,
                            },
                            span,
                            depth,
                        };
                    } else {
                        let span = e.span.to(name.span);
                        let depth = 1 + e.depth;
                        if depth > MAX_DEPTH {
                            return Err(too_deep(span));
                        }
                        e = Expr {
                            kind: ExprKind::Field {
                                base: Box::new(e),
                                field: name,
                            },
                            span,
                            depth,
                        };
                    }
                }
                Tok::LBracket => {
                    let open = self.next().span;
                    let first = self.expr()?;
                    let (kind_end, children_depth) = if self.eat(&Tok::DotDot).is_some() {
                        let end = self.expr()?;
                        let d = first.depth.max(end.depth);
                        (Some(end), d)
                    } else {
                        (None, first.depth)
                    };
                    let close = self.expect(&Tok::RBracket, Some((open, "index")))?;
                    let span = e.span.to(close);
                    let depth = 1 + children_depth.max(e.depth);
                    if depth > MAX_DEPTH {
                        return Err(too_deep(span));
                    }
                    let kind = match kind_end {
                        Some(end) => ExprKind::Slice {
                            base: Box::new(e),
                            start: Box::new(first),
                            end: Box::new(end),
                        },
                        None => ExprKind::Index {
                            base: Box::new(e),
                            index: Box::new(first),
                        },
                    };
                    e = Expr { kind, span, depth };
                }
                _ => return Ok(e),
            }
        }
    }

    fn primary(&mut self) -> Result<Expr, CompileError> {
        let t = self.next();
        let span = t.span;
        match t.tok {
            Tok::Int(v) => Ok(Expr {
                kind: ExprKind::Int(Int::from_u256(v)),
                span,
                depth: 1,
            }),
            Tok::Str(s) => Ok(Expr {
                kind: ExprKind::Str(s),
                span,
                depth: 1,
            }),
            Tok::Ident(name) => match name.as_str() {
                "true" => Ok(Expr {
                    kind: ExprKind::Bool(true),
                    span,
                    depth: 1,
                }),
                "false" => Ok(Expr {
                    kind: ExprKind::Bool(false),
                    span,
                    depth: 1,
                }),
                "in" => Err(CompileError::new(
                    span,
                    "expected an expression, found `in`",
                )),
                _ => {
                    if let Some(open) = self.eat(&Tok::LParen) {
                        let (args, close) = self.args(open, "argument list")?;
                        let all = span.to(close);
                        let depth = 1 + args.iter().map(|a| a.depth).max().unwrap_or(0);
                        if depth > MAX_DEPTH {
                            return Err(too_deep(all));
                        }
                        Ok(Expr {
                            kind: ExprKind::Call {
                                func: Name { name, span },
                                args,
                            },
                            span: all,
                            depth,
                        })
                    } else {
                        Ok(Expr {
                            kind: ExprKind::Ident(name),
                            span,
                            depth: 1,
                        })
                    }
                }
            },
            Tok::LParen => {
                let e = self.expr()?;
                let close = self.expect(&Tok::RParen, Some((span, "parenthesis")))?;
                Ok(Expr {
                    span: span.to(close),
                    ..e
                })
            }
            Tok::LBracket => {
                let mut items = Vec::new();
                if let Some(close) = self.eat(&Tok::RBracket) {
                    return Ok(Expr {
                        kind: ExprKind::List(items),
                        span: span.to(close),
                        depth: 1,
                    });
                }
                loop {
                    if items.len() >= MAX_LIST_LITERAL {
                        return Err(CompileError::new(
                            self.span(),
                            format!("list literal has more than {MAX_LIST_LITERAL} elements"),
                        ));
                    }
                    items.push(self.expr()?);
                    if self.eat(&Tok::Comma).is_some() {
                        // Allow a trailing comma.
                        if let Some(close) = self.eat(&Tok::RBracket) {
                            return list(items, span.to(close));
                        }
                        continue;
                    }
                    let close = self.expect(&Tok::RBracket, Some((span, "list")))?;
                    return list(items, span.to(close));
                }
            }
            Tok::Eof => Err(CompileError::new(span, "unexpected end of the expression")
                .help("an operand is missing")),
            other => Err(CompileError::new(
                span,
                format!("expected an expression, found {other}"),
            )),
        }
    }
}

fn list(items: Vec<Expr>, span: Span) -> Result<Expr, CompileError> {
    let depth = 1 + items.iter().map(|a| a.depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(too_deep(span));
    }
    Ok(Expr {
        kind: ExprKind::List(items),
        span,
        depth,
    })
}

fn n_ary(items: Vec<Expr>, make: fn(Vec<Expr>) -> ExprKind) -> Result<Expr, CompileError> {
    let span = match (items.first(), items.last()) {
        (Some(a), Some(b)) => a.span.to(b.span),
        _ => Span::default(),
    };
    let depth = 1 + items.iter().map(|a| a.depth).max().unwrap_or(0);
    if depth > MAX_DEPTH {
        return Err(too_deep(span));
    }
    Ok(Expr {
        kind: make(items),
        span,
        depth,
    })
}
