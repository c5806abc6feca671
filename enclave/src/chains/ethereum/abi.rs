//! Ethereum contract ABIs (the JSON format `solc --abi` and ethers read) and the decoding of
//! calldata against them, for the policy fields `eth.tx.function_name`,
//! `eth.tx.function_signature` and `eth.tx.contract_call_args`.
//!
//! Written here rather than taken from a crate: the enclave needs a small subset (function
//! inputs only), strict checks (an address with dirty upper bytes or a `bool` of 2 is refused,
//! as Solidity's decoder refuses it, so a policy never reads a value the contract would not),
//! and hard bounds. Types nest at most [`MAX_DEPTH`] deep; a decode produces at most
//! [`MAX_VALUES`] values and [`MAX_OUTPUT_BYTES`] of text, however the offsets in the calldata
//! alias each other (many heads may point at one tail, which would otherwise multiply output).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use keyhold_policy::{Int, U256, Value};
use serde_json::Value as Json;

use super::keccak256;
use crate::error::{Error, Result, clip};

/// Deepest nesting of arrays and tuples in one parameter type.
pub const MAX_DEPTH: usize = 16;
/// Most functions one ABI may declare.
pub const MAX_FUNCTIONS: usize = 1024;
/// Most components of one tuple (or inputs of one function).
pub const MAX_PARAMS: usize = 256;
/// Most values one calldata decodes to.
pub const MAX_VALUES: usize = 8192;
/// Most bytes of text (hex and strings) one calldata decodes to.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;
/// Largest static encoding of one type: no calldata holds more (a request body is ≤ 1 MiB).
const MAX_STATIC_SIZE: usize = 1 << 20;

/// One ABI type.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Kind {
    Address,
    Bool,
    /// `uintN`, N bits.
    Uint(u16),
    /// `intN`, N bits.
    Int(u16),
    /// `bytesN`, N bytes.
    FixedBytes(u8),
    Bytes,
    String,
    /// `T[]`.
    Array(Box<Kind>),
    /// `T[k]`, k ≥ 1.
    FixedArray(Box<Kind>, usize),
    /// `(T1,T2,…)`, at least one component.
    Tuple(Vec<Param>),
}

/// A named parameter or tuple component (the name may be empty).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Param {
    pub name: String,
    pub kind: Kind,
}

/// A function of an ABI: its name, inputs and 4-byte selector.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Function {
    pub name: String,
    pub inputs: Vec<Param>,
    pub selector: [u8; 4],
}

/// A parsed ABI: its functions (events, errors and constructors are checked, then dropped).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Abi {
    functions: Vec<Function>,
}

fn invalid(msg: impl Into<String>) -> Error {
    Error::invalid(msg)
}

impl Kind {
    /// The type as it appears in a canonical signature (`uint256`, `(address,bool)[]`).
    fn canonical(&self, out: &mut String) {
        // Writing to a String cannot fail.
        let _ = match self {
            Kind::Address => write!(out, "address"),
            Kind::Bool => write!(out, "bool"),
            Kind::Uint(n) => write!(out, "uint{n}"),
            Kind::Int(n) => write!(out, "int{n}"),
            Kind::FixedBytes(n) => write!(out, "bytes{n}"),
            Kind::Bytes => write!(out, "bytes"),
            Kind::String => write!(out, "string"),
            Kind::Array(inner) => {
                inner.canonical(out);
                write!(out, "[]")
            }
            Kind::FixedArray(inner, k) => {
                inner.canonical(out);
                write!(out, "[{k}]")
            }
            Kind::Tuple(params) => {
                out.push('(');
                canonical_list(params, out);
                write!(out, ")")
            }
        };
    }

    /// Whether the encoding has a tail (a length or offsets), i.e. its head is an offset.
    fn is_dynamic(&self) -> bool {
        match self {
            Kind::Bytes | Kind::String | Kind::Array(_) => true,
            Kind::FixedArray(inner, _) => inner.is_dynamic(),
            Kind::Tuple(params) => params.iter().any(|p| p.kind.is_dynamic()),
            _ => false,
        }
    }

    /// Bytes the type takes in its enclosing head: 32 for an offset, else its static size.
    /// Never 0 (tuples and fixed arrays are non-empty), which bounds every loop by the input.
    fn head_size(&self) -> Option<usize> {
        if self.is_dynamic() {
            return Some(32);
        }
        match self {
            Kind::FixedArray(inner, k) => inner.head_size()?.checked_mul(*k),
            Kind::Tuple(params) => params
                .iter()
                .try_fold(0usize, |acc, p| acc.checked_add(p.kind.head_size()?)),
            _ => Some(32),
        }
    }
}

fn canonical_list(params: &[Param], out: &mut String) {
    for (i, p) in params.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        p.kind.canonical(out);
    }
}

/// `uintN`/`intN` bit widths: 8 to 256 in steps of 8; a bare `uint` is `uint256`.
fn int_bits(digits: &str) -> Option<u16> {
    if digits.is_empty() {
        return Some(256);
    }
    if digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: u16 = digits.parse().ok()?;
    (n.is_multiple_of(8) && (8..=256).contains(&n)).then_some(n)
}

fn base_kind(base: &str, components: Option<&Json>, depth: usize) -> Result<Kind> {
    let bad = || invalid(format!("unsupported ABI type `{}`", clip(base)));
    Ok(match base {
        "address" => Kind::Address,
        "bool" => Kind::Bool,
        "string" => Kind::String,
        "bytes" => Kind::Bytes,
        "tuple" => {
            let list = components
                .and_then(Json::as_array)
                .ok_or_else(|| invalid("an ABI tuple needs a `components` array"))?;
            if list.is_empty() {
                return Err(invalid("an ABI tuple needs at least one component"));
            }
            Kind::Tuple(params(list, depth.saturating_add(1))?)
        }
        _ => {
            if let Some(d) = base.strip_prefix("uint") {
                Kind::Uint(int_bits(d).ok_or_else(bad)?)
            } else if let Some(d) = base.strip_prefix("int") {
                Kind::Int(int_bits(d).ok_or_else(bad)?)
            } else if let Some(d) = base.strip_prefix("bytes") {
                let n: u8 = (!d.starts_with('0') && d.bytes().all(|b| b.is_ascii_digit()))
                    .then(|| d.parse().ok())
                    .flatten()
                    .filter(|n| (1..=32).contains(n))
                    .ok_or_else(bad)?;
                Kind::FixedBytes(n)
            } else {
                return Err(bad());
            }
        }
    })
}

/// Parses a type string (`uint256[2][]`, `tuple[]` with `components`). Suffixes wrap left to
/// right: `T[2][]` is a dynamic array of `T[2]`.
fn kind(ty: &str, components: Option<&Json>, depth: usize) -> Result<Kind> {
    let (base, mut suffixes) = match ty.find('[') {
        Some(i) => (ty.get(..i).unwrap_or(""), ty.get(i..).unwrap_or("")),
        None => (ty, ""),
    };
    // Each array layer is a level of nesting, also for a tuple's components below it (the
    // loop below consumes one `[` per layer, so it never goes deeper than this).
    let depth = depth.saturating_add(suffixes.matches('[').count());
    if depth > MAX_DEPTH {
        return Err(invalid(format!(
            "ABI types nest at most {MAX_DEPTH} levels deep"
        )));
    }
    let mut out = base_kind(base, components, depth)?;
    while !suffixes.is_empty() {
        let rest = suffixes
            .strip_prefix('[')
            .ok_or_else(|| invalid(format!("malformed ABI type `{}`", clip(ty))))?;
        let (size, after) = rest
            .split_once(']')
            .ok_or_else(|| invalid(format!("malformed ABI type `{}`", clip(ty))))?;
        out = if size.is_empty() {
            Kind::Array(Box::new(out))
        } else {
            let k: usize = (!size.starts_with('0') && size.bytes().all(|b| b.is_ascii_digit()))
                .then(|| size.parse().ok())
                .flatten()
                .ok_or_else(|| invalid(format!("malformed ABI array size in `{}`", clip(ty))))?;
            Kind::FixedArray(Box::new(out), k)
        };
        suffixes = after;
    }
    match out.head_size() {
        Some(n) if n <= MAX_STATIC_SIZE => Ok(out),
        _ => Err(invalid(format!("ABI type `{}` is too large", clip(ty)))),
    }
}

fn params(list: &[Json], depth: usize) -> Result<Vec<Param>> {
    if list.len() > MAX_PARAMS {
        return Err(invalid(format!(
            "an ABI entry or tuple has at most {MAX_PARAMS} parameters"
        )));
    }
    list.iter()
        .map(|p| {
            let ty = p
                .get("type")
                .and_then(Json::as_str)
                .ok_or_else(|| invalid("every ABI parameter needs a string `type`"))?;
            let name = match p.get("name") {
                None | Some(Json::Null) => String::new(),
                Some(Json::String(s)) => s.clone(),
                Some(_) => return Err(invalid("an ABI parameter `name` must be a string")),
            };
            Ok(Param {
                name,
                kind: kind(ty, p.get("components"), depth)?,
            })
        })
        .collect()
}

fn inputs(entry: &serde_json::Map<String, Json>) -> Result<Vec<Param>> {
    match entry.get("inputs") {
        None => Ok(Vec::new()),
        Some(Json::Array(list)) => params(list, 0),
        Some(_) => Err(invalid("ABI `inputs` must be an array")),
    }
}

/// A Solidity identifier: `[A-Za-z_$][A-Za-z0-9_$]*`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '$')
}

impl Function {
    /// The canonical signature, `name(type1,type2,…)`, whose Keccak-256 starts with the selector.
    pub fn signature(&self) -> String {
        let mut out = self.name.clone();
        out.push('(');
        canonical_list(&self.inputs, &mut out);
        out.push(')');
        out
    }

    /// Decodes the arguments (the calldata after the selector) into named values: parameter
    /// name, or its position when it has none.
    pub fn decode(&self, args: &[u8]) -> Result<BTreeMap<String, Value>> {
        let mut budget = Budget {
            values: MAX_VALUES,
            bytes: MAX_OUTPUT_BYTES,
        };
        let values = tuple(&self.inputs, args, &mut budget)?;
        Ok(named(&self.inputs, values))
    }
}

fn named(params: &[Param], values: Vec<Value>) -> BTreeMap<String, Value> {
    params
        .iter()
        .enumerate()
        .zip(values)
        .map(|((i, p), v)| {
            let key = if p.name.is_empty() {
                i.to_string()
            } else {
                p.name.clone()
            };
            (key, v)
        })
        .collect()
}

impl Abi {
    /// Parses and checks an ABI's JSON: an array of entries; functions need a name and inputs
    /// of supported types, and the inputs of events, errors and constructors must parse too.
    pub fn parse(text: &str) -> Result<Abi> {
        let json: Json = serde_json::from_str(text)
            .map_err(|_| invalid("the smart contract interface is not valid JSON"))?;
        let entries = json
            .as_array()
            .ok_or_else(|| invalid("an Ethereum ABI must be a JSON array"))?;
        let mut functions = Vec::new();
        for entry in entries {
            let entry = entry
                .as_object()
                .ok_or_else(|| invalid("every ABI entry must be a JSON object"))?;
            let ty = match entry.get("type") {
                None => "function",
                Some(Json::String(s)) => s.as_str(),
                Some(_) => return Err(invalid("an ABI entry `type` must be a string")),
            };
            match ty {
                "function" => {
                    let name = entry
                        .get("name")
                        .and_then(Json::as_str)
                        .filter(|n| is_identifier(n))
                        .ok_or_else(|| invalid("every ABI function needs a valid `name`"))?;
                    if functions.len() >= MAX_FUNCTIONS {
                        return Err(invalid(format!(
                            "an ABI declares at most {MAX_FUNCTIONS} functions"
                        )));
                    }
                    let mut f = Function {
                        name: name.to_owned(),
                        inputs: inputs(entry)?,
                        selector: [0; 4],
                    };
                    let hash = keccak256(f.signature().as_bytes());
                    f.selector = *hash.first_chunk::<4>().unwrap_or(&[0; 4]);
                    functions.push(f);
                }
                "constructor" | "event" | "error" => {
                    inputs(entry)?;
                }
                "fallback" | "receive" => {}
                other => {
                    return Err(invalid(format!("unknown ABI entry type `{}`", clip(other))));
                }
            }
        }
        Ok(Abi { functions })
    }

    /// The function `selector` calls (the first one declared, should two collide).
    pub fn function(&self, selector: &[u8; 4]) -> Option<&Function> {
        self.functions.iter().find(|f| &f.selector == selector)
    }

    pub fn functions(&self) -> &[Function] {
        &self.functions
    }
}

/// What one decode may still produce.
struct Budget {
    values: usize,
    bytes: usize,
}

impl Budget {
    fn take(&mut self, bytes: usize) -> Result<()> {
        self.values = self
            .values
            .checked_sub(1)
            .ok_or_else(|| invalid("calldata decodes to too many values"))?;
        self.bytes = self
            .bytes
            .checked_sub(bytes)
            .ok_or_else(|| invalid("calldata decodes to too much text"))?;
        Ok(())
    }
}

fn short() -> Error {
    invalid("calldata is shorter than its ABI encoding")
}

fn word(data: &[u8], at: usize) -> Result<&[u8; 32]> {
    data.get(at..)
        .and_then(|d| d.first_chunk::<32>())
        .ok_or_else(short)
}

/// A length or an offset: a uint256 that must fit the input (so it fits `usize`).
fn small(w: &[u8; 32], limit: usize) -> Result<usize> {
    let (high, low) = w.split_at(24);
    let low: [u8; 8] = low.try_into().map_err(|_| short())?;
    let n = usize::try_from(u64::from_be_bytes(low)).map_err(|_| short())?;
    if high.iter().any(|b| *b != 0) || n > limit {
        return Err(short());
    }
    Ok(n)
}

/// One item of a head layout: its type, whether its head is an offset, and the head's size.
type Head<'k> = (&'k Kind, bool, usize);

fn head(k: &Kind) -> Result<Head<'_>> {
    Ok((k, k.is_dynamic(), k.head_size().ok_or_else(short)?))
}

/// The components of a tuple, decoded (see [`sequence`]).
fn tuple(params: &[Param], data: &[u8], budget: &mut Budget) -> Result<Vec<Value>> {
    let heads = params
        .iter()
        .map(|p| head(&p.kind))
        .collect::<Result<Vec<_>>>()?;
    let total = heads
        .iter()
        .try_fold(0usize, |acc, (_, _, size)| acc.checked_add(*size))
        .ok_or_else(short)?;
    sequence(heads.into_iter(), total, data, budget)
}

/// `len` elements of `inner`, decoded (see [`sequence`]). The element's layout is worked out
/// once, so a long array costs its length, not its length times its type's size.
fn array(inner: &Kind, len: usize, data: &[u8], budget: &mut Budget) -> Result<Vec<Value>> {
    let item = head(inner)?;
    let total = len.checked_mul(item.2).ok_or_else(short)?;
    sequence(std::iter::repeat_n(item, len), total, data, budget)
}

/// Decodes consecutive values whose heads (`total` bytes in all) start at `data[0]`: a tuple's
/// components or an array's elements. A dynamic value's head is its offset from `data[0]`.
fn sequence<'k>(
    items: impl ExactSizeIterator<Item = Head<'k>>,
    total: usize,
    data: &[u8],
    budget: &mut Budget,
) -> Result<Vec<Value>> {
    // Every head takes at least 32 bytes, so the heads must fit before anything is allocated.
    if total > data.len() {
        return Err(short());
    }
    let mut out = Vec::with_capacity(items.len().min(budget.values));
    let mut at = 0usize;
    for (k, dynamic, size) in items {
        let value = if dynamic {
            let offset = small(word(data, at)?, data.len())?;
            value(k, data.get(offset..).ok_or_else(short)?, budget)?
        } else {
            value(k, data.get(at..).ok_or_else(short)?, budget)?
        };
        out.push(value);
        at = at.saturating_add(size);
    }
    Ok(out)
}

fn hex_value(bytes: &[u8], budget: &mut Budget) -> Result<Value> {
    budget.take(bytes.len().saturating_mul(2).saturating_add(2))?;
    Ok(Value::str(format!("0x{}", hex::encode(bytes))))
}

/// Bits above `bits` of a 256-bit word: the bytes that must be padding.
fn pad_len(bits: u16) -> usize {
    32usize.saturating_sub(usize::from(bits / 8))
}

/// Decodes one value encoded at `data[0]` (for a dynamic type: its tail).
fn value(k: &Kind, data: &[u8], budget: &mut Budget) -> Result<Value> {
    let bad = |what: &str| invalid(format!("calldata holds an invalid {what}"));
    match k {
        Kind::Address => {
            let w = word(data, 0)?;
            let (pad, address) = w.split_at(12);
            if pad.iter().any(|b| *b != 0) {
                return Err(bad("address"));
            }
            hex_value(address, budget)
        }
        Kind::Bool => {
            let w = word(data, 0)?;
            budget.take(0)?;
            match U256::from_be_bytes(*w).to_u128() {
                Some(0) => Ok(Value::Bool(false)),
                Some(1) => Ok(Value::Bool(true)),
                _ => Err(bad("bool")),
            }
        }
        Kind::Uint(bits) => {
            let w = word(data, 0)?;
            if w.iter().take(pad_len(*bits)).any(|b| *b != 0) {
                return Err(bad("unsigned integer"));
            }
            budget.take(0)?;
            Ok(Value::Int(Int::from_u256(U256::from_be_bytes(*w))))
        }
        Kind::Int(bits) => {
            let w = word(data, 0)?;
            let pad = pad_len(*bits);
            let negative = w.get(pad).is_some_and(|b| b & 0x80 != 0);
            let fill = if negative { 0xff } else { 0 };
            if w.iter().take(pad).any(|b| *b != fill) {
                return Err(bad("signed integer"));
            }
            budget.take(0)?;
            if !negative {
                return Ok(Value::Int(Int::from_u256(U256::from_be_bytes(*w))));
            }
            // Two's complement: the magnitude is !w + 1 (at most 2^255, which fits).
            let mut mag = w.map(|b| !b);
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
        Kind::FixedBytes(n) => {
            let w = word(data, 0)?;
            let (bytes, pad) = w.split_at(usize::from(*n).min(32));
            if pad.iter().any(|b| *b != 0) {
                return Err(bad("fixed-size bytes value"));
            }
            hex_value(bytes, budget)
        }
        Kind::Bytes | Kind::String => {
            let len = small(word(data, 0)?, data.len())?;
            let bytes = data
                .get(32..)
                .and_then(|d| d.get(..len))
                .ok_or_else(short)?;
            if *k == Kind::Bytes {
                return hex_value(bytes, budget);
            }
            let text = std::str::from_utf8(bytes).map_err(|_| bad("string (not UTF-8)"))?;
            budget.take(text.len())?;
            Ok(Value::str(text))
        }
        Kind::Array(inner) => {
            let len = small(word(data, 0)?, data.len())?;
            let rest = data.get(32..).ok_or_else(short)?;
            budget.take(0)?;
            Ok(Value::list(array(inner, len, rest, budget)?))
        }
        Kind::FixedArray(inner, len) => {
            budget.take(0)?;
            Ok(Value::list(array(inner, *len, data, budget)?))
        }
        Kind::Tuple(params) => {
            budget.take(0)?;
            let values = tuple(params, data, budget)?;
            Ok(Value::Record(std::sync::Arc::new(named(params, values))))
        }
    }
}

#[cfg(test)]
mod tests;
