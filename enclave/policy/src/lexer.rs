//! Stage 1: text to tokens.

use std::fmt;

use crate::error::CompileError;
use crate::span::Span;
use crate::value::U256;

#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Tok {
    Ident(String),
    Int(U256),
    Str(String),
    LParen,
    RParen,
    LBracket,
    RBracket,
    Comma,
    Dot,
    DotDot,
    EqEq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    AndAnd,
    OrOr,
    Bang,
    Plus,
    Minus,
    Eof,
}

impl fmt::Display for Tok {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let s = match self {
            Tok::Ident(s) => return write!(f, "`{s}`"),
            Tok::Int(v) => return write!(f, "`{v}`"),
            Tok::Str(s) => return write!(f, "`'{s}'`"),
            Tok::LParen => "`(`",
            Tok::RParen => "`)`",
            Tok::LBracket => "`[`",
            Tok::RBracket => "`]`",
            Tok::Comma => "`,`",
            Tok::Dot => "`.`",
            Tok::DotDot => "`..`",
            Tok::EqEq => "`==`",
            Tok::Ne => "`!=`",
            Tok::Lt => "`<`",
            Tok::Le => "`<=`",
            Tok::Gt => "`>`",
            Tok::Ge => "`>=`",
            Tok::AndAnd => "`&&`",
            Tok::OrOr => "`||`",
            Tok::Bang => "`!`",
            Tok::Plus => "`+`",
            Tok::Minus => "`-`",
            Tok::Eof => "the end of the expression",
        };
        f.write_str(s)
    }
}

#[derive(Clone, PartialEq, Debug)]
pub(crate) struct Token {
    pub(crate) tok: Tok,
    pub(crate) span: Span,
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Splits `src` into tokens; the last token is always `Eof`.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, CompileError> {
    let mut out = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some((start, c)) = it.next() {
        let single = |tok: Tok| Token {
            tok,
            span: Span::new(start, start + c.len_utf8()),
        };
        let two = |tok: Tok| Token {
            tok,
            span: Span::new(start, start + 2),
        };
        let token = match c {
            c if c.is_whitespace() => continue,
            '(' => single(Tok::LParen),
            ')' => single(Tok::RParen),
            '[' => single(Tok::LBracket),
            ']' => single(Tok::RBracket),
            ',' => single(Tok::Comma),
            '+' => single(Tok::Plus),
            '-' => single(Tok::Minus),
            '.' => {
                if it.next_if(|&(_, c)| c == '.').is_some() {
                    two(Tok::DotDot)
                } else {
                    single(Tok::Dot)
                }
            }
            '=' => {
                if it.next_if(|&(_, c)| c == '=').is_some() {
                    two(Tok::EqEq)
                } else {
                    return Err(CompileError::new(
                        Span::new(start, start + 1),
                        "`=` is not a valid operator",
                    )
                    .help("use `==` to compare values"));
                }
            }
            '!' => {
                if it.next_if(|&(_, c)| c == '=').is_some() {
                    two(Tok::Ne)
                } else {
                    single(Tok::Bang)
                }
            }
            '<' => {
                if it.next_if(|&(_, c)| c == '=').is_some() {
                    two(Tok::Le)
                } else {
                    single(Tok::Lt)
                }
            }
            '>' => {
                if it.next_if(|&(_, c)| c == '=').is_some() {
                    two(Tok::Ge)
                } else {
                    single(Tok::Gt)
                }
            }
            '&' => {
                if it.next_if(|&(_, c)| c == '&').is_some() {
                    two(Tok::AndAnd)
                } else {
                    return Err(CompileError::new(
                        Span::new(start, start + 1),
                        "`&` is not a valid operator",
                    )
                    .help("use `&&` for a logical and"));
                }
            }
            '|' => {
                if it.next_if(|&(_, c)| c == '|').is_some() {
                    two(Tok::OrOr)
                } else {
                    return Err(CompileError::new(
                        Span::new(start, start + 1),
                        "`|` is not a valid operator",
                    )
                    .help("use `||` for a logical or"));
                }
            }
            '"' => {
                return Err(CompileError::new(
                    Span::new(start, start + 1),
                    "strings must be in single quotes",
                )
                .help("write `'abc'` instead of `\"abc\"`"));
            }
            '\'' => {
                let mut s = String::new();
                let mut end = None;
                while let Some((i, c)) = it.next() {
                    match c {
                        '\'' => {
                            end = Some(i + 1);
                            break;
                        }
                        '\\' => match it.next() {
                            Some((_, e @ ('\'' | '\\'))) => s.push(e),
                            Some((j, e)) => {
                                return Err(CompileError::new(
                                    Span::new(i, j + e.len_utf8()),
                                    format!("unknown escape `\\{e}` in string"),
                                )
                                .help("only `\\'` and `\\\\` are escapes"));
                            }
                            None => break,
                        },
                        c => s.push(c),
                    }
                }
                let Some(end) = end else {
                    return Err(CompileError::new(
                        Span::new(start, src.len()),
                        "unterminated string",
                    )
                    .help("close the string with `'`"));
                };
                Token {
                    tok: Tok::Str(s),
                    span: Span::new(start, end),
                }
            }
            c if c.is_ascii_digit() => {
                let mut end = start + 1;
                while let Some((i, d)) = it.next_if(|&(_, d)| is_ident_char(d)) {
                    end = i + d.len_utf8();
                }
                let span = Span::new(start, end);
                let text = span.text(src);
                let Some(v) = U256::from_dec_str(text) else {
                    if text.chars().all(|c| c.is_ascii_digit()) {
                        return Err(CompileError::new(
                            span,
                            format!("integer `{text}` is too large"),
                        )
                        .help("integers must be below 2^256"));
                    }
                    return Err(CompileError::new(span, format!("invalid number `{text}`"))
                        .help("integers are written in decimal digits only"));
                };
                Token {
                    tok: Tok::Int(v),
                    span,
                }
            }
            c if is_ident_start(c) => {
                let mut end = start + 1;
                while let Some((i, d)) = it.next_if(|&(_, d)| is_ident_char(d)) {
                    end = i + d.len_utf8();
                }
                let span = Span::new(start, end);
                Token {
                    tok: Tok::Ident(span.text(src).to_owned()),
                    span,
                }
            }
            other => {
                return Err(CompileError::new(
                    Span::new(start, start + other.len_utf8()),
                    format!("unexpected character `{other}`"),
                ));
            }
        };
        out.push(token);
    }
    out.push(Token {
        tok: Tok::Eof,
        span: Span::new(src.len(), src.len()),
    });
    Ok(out)
}
