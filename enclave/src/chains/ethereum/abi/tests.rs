//! Vectors from ethers 6.17 (`Interface.encodeFunctionData`, `fragment.selector`) for the ABI
//! below; `sam`, `f` and `g` are also the examples of the Solidity ABI specification.

use super::*;

const ABI: &str = r#"[{"type":"function","name":"transfer","constant":false,"payable":false,"inputs":[{"type":"address","name":"_to"},{"type":"uint256","name":"_value"}],"outputs":[]},{"type":"function","name":"sam","constant":false,"payable":false,"inputs":[{"type":"bytes","name":""},{"type":"bool","name":""},{"type":"uint256[]","name":""}],"outputs":[]},{"type":"function","name":"f","constant":false,"payable":false,"inputs":[{"type":"uint256","name":"a"},{"type":"uint32[]","name":"b"},{"type":"bytes10","name":"c"},{"type":"bytes","name":"d"}],"outputs":[]},{"type":"function","name":"g","constant":false,"payable":false,"inputs":[{"type":"uint256[][]","name":"a"},{"type":"string[]","name":"b"}],"outputs":[]},{"type":"function","name":"neg","constant":false,"payable":false,"inputs":[{"type":"int8","name":"a"},{"type":"int256","name":"b"},{"type":"int128","name":"c"}],"outputs":[]},{"type":"function","name":"swap","constant":false,"payable":false,"inputs":[{"type":"tuple","name":"p","components":[{"type":"address","name":"token"},{"type":"uint24","name":"fee"},{"type":"tuple[2]","name":"legs","components":[{"type":"bool","name":"on"},{"type":"bytes4","name":"tag"}]}]},{"type":"string","name":"memo"}],"outputs":[]},{"type":"event","name":"Transfer","inputs":[{"name":"from","type":"address","indexed":true}],"anonymous":false},{"type":"error","name":"Nope","inputs":[]},{"type":"constructor","inputs":[{"name":"x","type":"uint8"}]},{"type":"fallback"},{"type":"receive","stateMutability":"payable"}]"#;

const TRANSFER: &str = "a9059cbb00000000000000000000000008d2b0a37f869ff76bacb5bab3278e26ab7067b700000000000000000000000000000000000000000000000000000000000003e7";
const SAM: &str = "a5643bf20000000000000000000000000000000000000000000000000000000000000060000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000464617665000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000020000000000000000000000000000000000000000000000000000000000000003";
const F: &str = "8be6524600000000000000000000000000000000000000000000000000000000000001230000000000000000000000000000000000000000000000000000000000000080313233343536373839300000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e0000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000004560000000000000000000000000000000000000000000000000000000000000789000000000000000000000000000000000000000000000000000000000000000d48656c6c6f2c20776f726c642100000000000000000000000000000000000000";
const G: &str = "2289b18c000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000001400000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000030000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000000000e000000000000000000000000000000000000000000000000000000000000000036f6e650000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000374776f000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000057468726565000000000000000000000000000000000000000000000000000000";
const NEG: &str = "bb56f49effffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff80000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000005";
const SWAP: &str = "8674e61c00000000000000000000000000000000000000000000000000000000000000aa0000000000000000000000000000000000000000000000000000000000000bb80000000000000000000000000000000000000000000000000000000000000001deadbeef000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000010203040000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000e0000000000000000000000000000000000000000000000000000000000000000668c3a96c6c6f0000000000000000000000000000000000000000000000000000";

/// Finds the function of `calldata` (hex) and decodes its arguments.
fn decode(abi: &Abi, calldata: &str) -> (String, BTreeMap<String, Value>) {
    let bytes = hex::decode(calldata).unwrap();
    let (selector, args) = bytes.split_first_chunk::<4>().unwrap();
    let f = abi.function(selector).expect("selector in the ABI");
    (f.signature(), f.decode(args).unwrap())
}

fn int(v: i128) -> Value {
    Value::int(v)
}

fn s(v: &str) -> Value {
    Value::str(v)
}

#[test]
fn selectors_and_canonical_signatures_match_ethers() {
    let abi = Abi::parse(ABI).unwrap();
    let got: Vec<(String, String)> = abi
        .functions()
        .iter()
        .map(|f| (f.signature(), hex::encode(f.selector)))
        .collect();
    let want = [
        ("transfer(address,uint256)", "a9059cbb"),
        ("sam(bytes,bool,uint256[])", "a5643bf2"),
        ("f(uint256,uint32[],bytes10,bytes)", "8be65246"),
        ("g(uint256[][],string[])", "2289b18c"),
        ("neg(int8,int256,int128)", "bb56f49e"),
        ("swap((address,uint24,(bool,bytes4)[2]),string)", "8674e61c"),
    ];
    assert_eq!(
        got,
        want.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec()
    );
}

#[test]
fn decodes_an_erc20_transfer() {
    let abi = Abi::parse(ABI).unwrap();
    let (sig, args) = decode(&abi, TRANSFER);
    assert_eq!(sig, "transfer(address,uint256)");
    assert_eq!(
        args.get("_to"),
        Some(&s("0x08d2b0a37f869ff76bacb5bab3278e26ab7067b7"))
    );
    assert_eq!(args.get("_value"), Some(&int(999)));
    assert_eq!(args.len(), 2);
}

#[test]
fn decodes_the_solidity_specification_examples() {
    let abi = Abi::parse(ABI).unwrap();
    // unnamed parameters are keyed by position
    let (_, sam) = decode(&abi, SAM);
    assert_eq!(sam.get("0"), Some(&s("0x64617665")));
    assert_eq!(sam.get("1"), Some(&Value::Bool(true)));
    assert_eq!(sam.get("2"), Some(&Value::list([int(1), int(2), int(3)])));

    let (_, f) = decode(&abi, F);
    assert_eq!(f.get("a"), Some(&int(0x123)));
    assert_eq!(f.get("b"), Some(&Value::list([int(0x456), int(0x789)])));
    assert_eq!(f.get("c"), Some(&s("0x31323334353637383930")));
    assert_eq!(f.get("d"), Some(&s("0x48656c6c6f2c20776f726c6421")));

    let (_, g) = decode(&abi, G);
    assert_eq!(
        g.get("a"),
        Some(&Value::list([
            Value::list([int(1), int(2)]),
            Value::list([int(3)])
        ]))
    );
    assert_eq!(g.get("b"), Some(&Value::strings(["one", "two", "three"])));
}

#[test]
fn decodes_negative_integers_and_the_int256_minimum() {
    let abi = Abi::parse(ABI).unwrap();
    let (_, args) = decode(&abi, NEG);
    assert_eq!(args.get("a"), Some(&int(-1)));
    let min = Int::from_u256(U256::from_be_bytes({
        let mut b = [0u8; 32];
        b[0] = 0x80;
        b
    }))
    .negate();
    assert_eq!(args.get("b"), Some(&Value::Int(min)));
    assert_eq!(args.get("c"), Some(&int(5)));
}

#[test]
fn decodes_nested_tuples_and_fixed_arrays_of_tuples() {
    let abi = Abi::parse(ABI).unwrap();
    let (_, args) = decode(&abi, SWAP);
    let leg = |on: bool, tag: &str| Value::record([("on", Value::Bool(on)), ("tag", s(tag))]);
    assert_eq!(
        args.get("p"),
        Some(&Value::record([
            ("token", s("0x00000000000000000000000000000000000000aa")),
            ("fee", int(3000)),
            (
                "legs",
                Value::list([leg(true, "0xdeadbeef"), leg(false, "0x01020304")])
            ),
        ]))
    );
    assert_eq!(args.get("memo"), Some(&s("héllo")));
}

#[test]
fn refuses_values_solidity_would_refuse() {
    let abi = Abi::parse(ABI).unwrap();
    let transfer = abi.function(&[0xa9, 0x05, 0x9c, 0xbb]).unwrap();
    let args = hex::decode(TRANSFER.get(8..).unwrap()).unwrap();
    // a dirty byte above the 20-byte address
    let mut dirty = args.clone();
    dirty[0] = 1;
    assert!(transfer.decode(&dirty).is_err());
    // truncated
    assert!(transfer.decode(&args[..63]).is_err());
    // extra bytes after the arguments are ignored (as the EVM does)
    let mut longer = args.clone();
    longer.extend([0u8; 7]);
    assert!(transfer.decode(&longer).is_ok());

    let neg = abi.function(&[0xbb, 0x56, 0xf4, 0x9e]).unwrap();
    let mut bad = hex::decode(NEG.get(8..).unwrap()).unwrap();
    bad[0] = 0; // int8 -1 with a broken sign extension
    assert!(neg.decode(&bad).is_err());

    let sam = abi.function(&[0xa5, 0x64, 0x3b, 0xf2]).unwrap();
    let good = hex::decode(SAM.get(8..).unwrap()).unwrap();
    let mut b = good.clone();
    b[63] = 2; // bool 2
    assert!(sam.decode(&b).is_err());
    let mut b = good.clone();
    b[31] = 0xff; // offset past the end
    assert!(sam.decode(&b).is_err());
    let mut b = good;
    b[0] = 1; // an offset above 2^248
    assert!(sam.decode(&b).is_err());
}

#[test]
fn a_huge_array_length_is_refused_before_allocating() {
    let abi = Abi::parse(
        r#"[{"type":"function","name":"h","inputs":[{"name":"x","type":"uint256[]"}]}]"#,
    )
    .unwrap();
    let f = &abi.functions()[0];
    let mut args = vec![0u8; 64];
    args[31] = 0x20;
    args[32..64].fill(0xff);
    assert!(f.decode(&args).is_err());
    // a length that fits a usize but not the data
    args[32..56].fill(0);
    assert!(f.decode(&args).is_err());
}

#[test]
fn aliased_offsets_cannot_multiply_the_output() {
    // bytes[] whose 4000 heads all point at one 2000-byte tail: 8 MB of hex if unbounded
    let abi =
        Abi::parse(r#"[{"type":"function","name":"h","inputs":[{"name":"x","type":"bytes[]"}]}]"#)
            .unwrap();
    let f = &abi.functions()[0];
    let n = 4000usize;
    let word = |v: usize| {
        let mut w = [0u8; 32];
        w[24..].copy_from_slice(&(v as u64).to_be_bytes());
        w
    };
    let mut args = Vec::new();
    args.extend(word(0x20));
    args.extend(word(n));
    for _ in 0..n {
        args.extend(word(n * 32));
    }
    args.extend(word(2000));
    args.extend(vec![0xab; 2016]);
    let err = f.decode(&args).unwrap_err();
    assert!(err.to_string().contains("too much"), "{err}");
}

#[test]
fn refuses_malformed_abis() {
    for (abi, why) in [
        ("{}", "not an array"),
        ("not json", "not JSON"),
        ("[1]", "entry not an object"),
        (r#"[{"type":"function","inputs":[]}]"#, "no name"),
        (r#"[{"type":"function","name":"a b"}]"#, "bad name"),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint7"}]}]"#,
            "uint7",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint264"}]}]"#,
            "uint264",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"bytes33"}]}]"#,
            "bytes33",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"bytes0"}]}]"#,
            "bytes0",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint256[0]"}]}]"#,
            "empty fixed array",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint256[01]"}]}]"#,
            "leading zero",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint256[2"}]}]"#,
            "unclosed",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint256[99999999999]"}]}]"#,
            "huge",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"tuple"}]}]"#,
            "no components",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"tuple","components":[]}]}]"#,
            "empty tuple",
        ),
        (
            r#"[{"type":"function","name":"f","inputs":[{"type":"fixed128x18"}]}]"#,
            "fixed",
        ),
        (
            r#"[{"type":"event","name":"E","inputs":[{"type":"wat"}]}]"#,
            "bad event input",
        ),
        (r#"[{"type":"gizmo"}]"#, "unknown entry"),
    ] {
        assert!(Abi::parse(abi).is_err(), "{why}: {abi}");
    }
    let deep = format!(
        r#"[{{"type":"function","name":"f","inputs":[{{"type":"uint8{}"}}]}}]"#,
        "[]".repeat(MAX_DEPTH + 1)
    );
    assert!(Abi::parse(&deep).is_err());
    let ok = format!(
        r#"[{{"type":"function","name":"f","inputs":[{{"type":"uint8{}"}}]}}]"#,
        "[]".repeat(MAX_DEPTH)
    );
    assert!(Abi::parse(&ok).is_ok());
    // array layers around tuples count towards the nesting too
    let nested = |levels: usize| {
        let mut ty = r#"{"type":"uint8","name":"x"}"#.to_owned();
        for _ in 0..levels {
            ty = format!(r#"{{"type":"tuple[][][][]","name":"t","components":[{ty}]}}"#);
        }
        format!(r#"[{{"type":"function","name":"f","inputs":[{ty}]}}]"#)
    };
    assert!(Abi::parse(&nested(3)).is_ok());
    assert!(Abi::parse(&nested(4)).is_err());
    // an empty ABI and a bare `uint` are fine
    assert!(Abi::parse("[]").is_ok());
    let bare = Abi::parse(r#"[{"name":"f","inputs":[{"type":"uint"},{"type":"int"}]}]"#).unwrap();
    assert_eq!(bare.functions()[0].signature(), "f(uint256,int256)");
}
