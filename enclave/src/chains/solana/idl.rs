//! Anchor IDLs (the JSON `anchor build` writes, legacy and 0.30+) and the decoding of an
//! instruction's data against them, for the policy field
//! `solana.tx.instructions[i].parsed_instruction_data`: the instruction's name and discriminator,
//! its accounts by the IDL's names, and its arguments (Borsh).
//!
//! The discriminator is the IDL's `discriminator` (0.30+) or, for a legacy IDL, the first 8
//! bytes of SHA-256(`global:` + the snake_case name), as Anchor derives it. Decoding is bounded
//! as the ABI decoder is ([`MAX_DEPTH`], [`MAX_VALUES`], [`MAX_OUTPUT_BYTES`]); floats are not
//! supported (the policy language has no float), so an instruction with one does not decode.

use std::collections::BTreeMap;

use keyhold_policy::{Int, U256, Value};
use serde_json::Value as Json;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result, clip};

/// Deepest nesting of types (including through defined types) while decoding.
pub const MAX_DEPTH: usize = 16;
/// Most values one instruction decodes to.
pub const MAX_VALUES: usize = 4096;
/// Most bytes of text one instruction decodes to.
pub const MAX_OUTPUT_BYTES: usize = 64 * 1024;

/// One IDL type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ty {
    Bool,
    /// `u8` … `u256`: unsigned, this many bytes, little-endian.
    Unsigned(u8),
    /// `i8` … `i256`.
    Signed(u8),
    Bytes,
    String,
    Pubkey,
    Vec(Box<Ty>),
    Option(Box<Ty>),
    Array(Box<Ty>, usize),
    /// A type of the IDL's `types`, by name.
    Defined(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fields {
    Named(Vec<(String, Ty)>),
    Tuple(Vec<Ty>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TypeDef {
    Struct(Fields),
    /// Variants: name and fields (none for a unit variant).
    Enum(Vec<(String, Option<Fields>)>),
    /// A kind keyhold does not decode (a type alias): an argument of this type does not decode.
    Other,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub name: String,
    pub discriminator: Vec<u8>,
    /// Account names in order (composite accounts flattened).
    pub accounts: Vec<String>,
    pub args: Vec<(String, Ty)>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Idl {
    instructions: Vec<Instruction>,
    types: BTreeMap<String, TypeDef>,
}

/// An instruction decoded against an IDL.
#[derive(Clone, Debug, PartialEq)]
pub struct Parsed {
    pub instruction_name: String,
    /// Lowercase hex.
    pub discriminator: String,
    pub named_accounts: BTreeMap<String, String>,
    pub args: BTreeMap<String, Value>,
}

fn bad(why: impl std::fmt::Display) -> Error {
    Error::invalid(format!("the Solana IDL is invalid: {why}"))
}

/// Anchor's snake_case of a (camelCase) instruction name: `_` before an uppercase letter that
/// follows a lowercase letter or a digit, everything lowercase.
fn snake_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len() + 4);
    let mut prev: Option<char> = None;
    for c in name.chars() {
        if c.is_ascii_uppercase()
            && prev.is_some_and(|p| p.is_ascii_lowercase() || p.is_ascii_digit())
        {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
        prev = Some(c);
    }
    out
}

fn ty(json: &Json, depth: usize) -> Result<Ty> {
    if depth > MAX_DEPTH {
        return Err(bad(format!("types nest at most {MAX_DEPTH} levels deep")));
    }
    let inner = |v: &Json| ty(v, depth.saturating_add(1)).map(Box::new);
    Ok(match json {
        Json::String(name) => match name.as_str() {
            "bool" => Ty::Bool,
            "u8" | "u16" | "u32" | "u64" | "u128" | "u256" | "i8" | "i16" | "i32" | "i64"
            | "i128" | "i256" => {
                let bits: u16 = name.get(1..).and_then(|b| b.parse().ok()).unwrap_or(8);
                let bytes = u8::try_from(bits / 8).unwrap_or(32);
                if name.starts_with('u') {
                    Ty::Unsigned(bytes)
                } else {
                    Ty::Signed(bytes)
                }
            }
            "bytes" => Ty::Bytes,
            "string" => Ty::String,
            "publicKey" | "pubkey" => Ty::Pubkey,
            other => return Err(bad(format!("unsupported type `{}`", clip(other)))),
        },
        Json::Object(o) => {
            if let Some(v) = o.get("vec") {
                Ty::Vec(inner(v)?)
            } else if let Some(v) = o.get("option").or_else(|| o.get("coption")) {
                Ty::Option(inner(v)?)
            } else if let Some(Json::Array(pair)) = o.get("array") {
                let (Some(item), Some(len)) = (pair.first(), pair.get(1).and_then(Json::as_u64))
                else {
                    return Err(bad("an `array` type is [type, length]"));
                };
                let len = usize::try_from(len)
                    .ok()
                    .filter(|n| *n <= 1 << 16)
                    .ok_or_else(|| bad("array too long"))?;
                Ty::Array(inner(item)?, len)
            } else if let Some(d) = o.get("defined") {
                // Legacy: `{"defined": "Name"}`; 0.30+: `{"defined": {"name": "Name"}}`.
                let name = d
                    .as_str()
                    .or_else(|| d.get("name").and_then(Json::as_str))
                    .ok_or_else(|| bad("a `defined` type needs a name"))?;
                Ty::Defined(name.to_owned())
            } else {
                return Err(bad("unsupported type object"));
            }
        }
        _ => return Err(bad("a type is a string or an object")),
    })
}

fn named_fields(list: &[Json]) -> Result<Vec<(String, Ty)>> {
    list.iter()
        .map(|f| {
            let name = f
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("every field and argument needs a string `name`"))?;
            let t = f
                .get("type")
                .ok_or_else(|| bad("every field and argument needs a `type`"))?;
            Ok((name.to_owned(), ty(t, 0)?))
        })
        .collect()
}

/// Struct or variant fields: named (`[{name, type}]`) or a tuple (`[type, …]`).
fn fields(list: &[Json]) -> Result<Fields> {
    if list.iter().all(|f| f.get("name").is_some()) {
        Ok(Fields::Named(named_fields(list)?))
    } else {
        Ok(Fields::Tuple(
            list.iter().map(|t| ty(t, 0)).collect::<Result<_>>()?,
        ))
    }
}

fn type_def(json: &Json) -> Result<TypeDef> {
    let t = json
        .get("type")
        .ok_or_else(|| bad("a type definition needs `type`"))?;
    let list = |key: &str| t.get(key).and_then(Json::as_array).map(Vec::as_slice);
    match t.get("kind").and_then(Json::as_str) {
        Some("struct") => Ok(TypeDef::Struct(fields(list("fields").unwrap_or_default())?)),
        Some("enum") => {
            let variants = list("variants").ok_or_else(|| bad("an enum needs `variants`"))?;
            if variants.len() > 256 {
                return Err(bad("an enum has at most 256 variants"));
            }
            Ok(TypeDef::Enum(
                variants
                    .iter()
                    .map(|v| {
                        let name = v
                            .get("name")
                            .and_then(Json::as_str)
                            .ok_or_else(|| bad("every enum variant needs a `name`"))?;
                        let f = match v.get("fields").and_then(Json::as_array) {
                            Some(list) => Some(fields(list)?),
                            None => None,
                        };
                        Ok((name.to_owned(), f))
                    })
                    .collect::<Result<_>>()?,
            ))
        }
        _ => Ok(TypeDef::Other),
    }
}

/// Account names in order; composite accounts (`accounts` inside an account) flattened.
fn account_names(list: &[Json], out: &mut Vec<String>, depth: usize) -> Result<()> {
    if depth > MAX_DEPTH {
        return Err(bad("accounts nest too deep"));
    }
    for a in list {
        match a.get("accounts").and_then(Json::as_array) {
            Some(inner) => account_names(inner, out, depth.saturating_add(1))?,
            None => out.push(
                a.get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("every account needs a string `name`"))?
                    .to_owned(),
            ),
        }
    }
    Ok(())
}

impl Idl {
    /// Parses and checks an IDL: a JSON object whose `instructions` have a name, accounts and
    /// arguments of supported types (and whose `types` do too).
    pub fn parse(text: &str) -> Result<Idl> {
        let json: Json = serde_json::from_str(text).map_err(|_| bad("not JSON"))?;
        let list = json
            .get("instructions")
            .and_then(Json::as_array)
            .ok_or_else(|| bad("it needs an `instructions` array"))?;
        let mut instructions = Vec::with_capacity(list.len());
        for ix in list {
            let name = ix
                .get("name")
                .and_then(Json::as_str)
                .ok_or_else(|| bad("every instruction needs a string `name`"))?;
            let discriminator = match ix.get("discriminator") {
                Some(Json::Array(bytes)) => bytes
                    .iter()
                    .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                    .collect::<Option<Vec<u8>>>()
                    .filter(|d| !d.is_empty() && d.len() <= 32)
                    .ok_or_else(|| bad("a `discriminator` is 1 to 32 bytes"))?,
                Some(_) => return Err(bad("a `discriminator` is an array of bytes")),
                None => {
                    let hash = Sha256::digest(format!("global:{}", snake_case(name)).as_bytes());
                    hash.get(..8).unwrap_or_default().to_vec()
                }
            };
            let mut accounts = Vec::new();
            match ix.get("accounts") {
                None => {}
                Some(Json::Array(list)) => account_names(list, &mut accounts, 0)?,
                Some(_) => return Err(bad("instruction `accounts` must be an array")),
            }
            let args = match ix.get("args") {
                None => Vec::new(),
                Some(Json::Array(list)) => named_fields(list)?,
                Some(_) => return Err(bad("instruction `args` must be an array")),
            };
            instructions.push(Instruction {
                name: name.to_owned(),
                discriminator,
                accounts,
                args,
            });
        }
        let mut types = BTreeMap::new();
        if let Some(list) = json.get("types").and_then(Json::as_array) {
            for t in list {
                let name = t
                    .get("name")
                    .and_then(Json::as_str)
                    .ok_or_else(|| bad("every type needs a string `name`"))?;
                types.insert(name.to_owned(), type_def(t)?);
            }
        }
        Ok(Idl {
            instructions,
            types,
        })
    }

    pub fn instructions(&self) -> &[Instruction] {
        &self.instructions
    }

    /// Decodes an instruction's `data` (the instruction whose discriminator it starts with),
    /// naming `accounts` (the instruction's account keys, in order) by the IDL.
    pub fn decode(&self, data: &[u8], accounts: &[String]) -> Result<Parsed> {
        let ix = self
            .instructions
            .iter()
            .find(|ix| data.starts_with(&ix.discriminator))
            .ok_or_else(|| Error::invalid("no instruction of the IDL matches the data"))?;
        let mut reader = Borsh {
            data: data.get(ix.discriminator.len()..).unwrap_or_default(),
            values: MAX_VALUES,
            bytes: MAX_OUTPUT_BYTES,
            types: &self.types,
        };
        let mut args = BTreeMap::new();
        for (name, t) in &ix.args {
            if let Some(v) = reader.value(t, 0)? {
                args.insert(name.clone(), v);
            }
        }
        Ok(Parsed {
            instruction_name: ix.name.clone(),
            discriminator: hex::encode(&ix.discriminator),
            named_accounts: ix
                .accounts
                .iter()
                .cloned()
                .zip(accounts.iter().cloned())
                .collect(),
            args,
        })
    }
}

/// A Borsh reader with an output budget.
struct Borsh<'a> {
    data: &'a [u8],
    values: usize,
    bytes: usize,
    types: &'a BTreeMap<String, TypeDef>,
}

fn short() -> Error {
    Error::invalid("instruction data is shorter than its IDL encoding")
}

impl<'a> Borsh<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self.data.split_at_checked(n).ok_or_else(short)?;
        self.data = rest;
        Ok(head)
    }

    fn spend(&mut self, bytes: usize) -> Result<()> {
        self.values = self.values.checked_sub(1).ok_or_else(short)?;
        self.bytes = self.bytes.checked_sub(bytes).ok_or_else(short)?;
        Ok(())
    }

    fn len(&mut self) -> Result<usize> {
        let b: [u8; 4] = self.take(4)?.try_into().map_err(|_| short())?;
        usize::try_from(u32::from_le_bytes(b)).map_err(|_| short())
    }

    fn int(&mut self, bytes: u8, signed: bool) -> Result<Value> {
        let le = self.take(usize::from(bytes))?;
        let negative = signed && le.last().is_some_and(|b| b & 0x80 != 0);
        // Sign- or zero-extend to 32 big-endian bytes.
        let mut be = [if negative { 0xff } else { 0 }; 32];
        for (dst, src) in be.iter_mut().rev().zip(le) {
            *dst = *src;
        }
        if !negative {
            return Ok(Value::Int(Int::from_u256(U256::from_be_bytes(be))));
        }
        let mut mag = be.map(|b| !b);
        for b in mag.iter_mut().rev() {
            let (sum, carry) = b.overflowing_add(1);
            *b = sum;
            if !carry {
                break;
            }
        }
        Ok(Value::Int(
            Int::from_u256(U256::from_be_bytes(mag)).negate(),
        ))
    }

    /// One value; `None` for an absent option.
    fn value(&mut self, t: &Ty, depth: usize) -> Result<Option<Value>> {
        if depth > MAX_DEPTH {
            return Err(Error::invalid("IDL types nest too deep"));
        }
        let next = depth.saturating_add(1);
        self.spend(0)?;
        Ok(Some(match t {
            Ty::Bool => match self.take(1)? {
                [0] => Value::Bool(false),
                [1] => Value::Bool(true),
                _ => return Err(Error::invalid("instruction data holds an invalid bool")),
            },
            Ty::Unsigned(n) => self.int(*n, false)?,
            Ty::Signed(n) => self.int(*n, true)?,
            Ty::Bytes => {
                let n = self.len()?;
                let b = self.take(n)?;
                self.spend(n.saturating_mul(2))?;
                Value::str(hex::encode(b))
            }
            Ty::String => {
                let n = self.len()?;
                let b = self.take(n)?;
                let s = std::str::from_utf8(b).map_err(|_| {
                    Error::invalid("instruction data holds a string that is not UTF-8")
                })?;
                self.spend(n)?;
                Value::str(s)
            }
            Ty::Pubkey => {
                let key = self.take(32)?;
                self.spend(44)?;
                Value::str(bs58::encode(key).into_string())
            }
            Ty::Vec(inner) => {
                let n = self.len()?;
                self.list(inner, n, next)?
            }
            Ty::Array(inner, n) => self.list(inner, *n, next)?,
            Ty::Option(inner) => match self.take(1)? {
                [0] => return Ok(None),
                [1] => return self.value(inner, next),
                _ => return Err(Error::invalid("instruction data holds an invalid option")),
            },
            Ty::Defined(name) => {
                let def = self.types.get(name).ok_or_else(|| {
                    Error::invalid(format!("IDL type `{}` is not defined", clip(name)))
                })?;
                match def {
                    TypeDef::Other => {
                        return Err(Error::invalid(format!(
                            "IDL type `{}` is of a kind keyhold does not decode",
                            clip(name)
                        )));
                    }
                    TypeDef::Struct(f) => self.fields(f, next)?,
                    TypeDef::Enum(variants) => {
                        let [index] = self.take(1)? else {
                            return Err(short());
                        };
                        let (variant, f) = variants.get(usize::from(*index)).ok_or_else(|| {
                            Error::invalid("instruction data holds an unknown enum variant")
                        })?;
                        match f {
                            None => Value::str(variant),
                            Some(f) => Value::record([(variant.clone(), self.fields(f, next)?)]),
                        }
                    }
                }
            }
        }))
    }

    fn list(&mut self, inner: &Ty, n: usize, depth: usize) -> Result<Value> {
        // Every element takes a value from the budget, so the list is bounded by it.
        let mut out = Vec::with_capacity(n.min(self.values));
        for _ in 0..n {
            // An absent option inside a list has no place to be left out of: refuse it.
            out.push(self.value(inner, depth)?.ok_or_else(|| {
                Error::invalid("an absent option inside a list or tuple is not supported")
            })?);
        }
        Ok(Value::list(out))
    }

    fn fields(&mut self, f: &Fields, depth: usize) -> Result<Value> {
        Ok(match f {
            Fields::Named(list) => {
                let mut out = BTreeMap::new();
                for (name, t) in list {
                    if let Some(v) = self.value(t, depth)? {
                        out.insert(name.clone(), v);
                    }
                }
                Value::Record(std::sync::Arc::new(out))
            }
            Fields::Tuple(list) => {
                let mut out = Vec::with_capacity(list.len());
                for t in list {
                    out.push(self.value(t, depth)?.ok_or_else(|| {
                        Error::invalid("an absent option inside a list or tuple is not supported")
                    })?);
                }
                Value::list(out)
            }
        })
    }
}

#[cfg(test)]
mod tests;
