//! Borsh vectors are written out by hand from the Borsh specification (little-endian integers,
//! u32 lengths, one-byte option and enum tags); the discriminator of `initialize` is the one
//! every Anchor program's `initialize` has (`afaf6d1f0d989bed`).

use super::*;

const LEGACY: &str = r#"{"version":"0.1.0","name":"vault","instructions":[
 {"name":"initialize","accounts":[{"name":"vault","isMut":true,"isSigner":false},{"name":"owner","isMut":false,"isSigner":true}],"args":[]},
 {"name":"withdrawFunds","accounts":[{"name":"vault","isMut":true,"isSigner":false},{"name":"auth","accounts":[{"name":"owner","isMut":false,"isSigner":true},{"name":"systemProgram","isMut":false,"isSigner":false}]}],
  "args":[{"name":"amount","type":"u64"},{"name":"memo","type":"string"},{"name":"to","type":"publicKey"},{"name":"delta","type":"i32"},
          {"name":"tip","type":{"option":"u16"}},{"name":"none","type":{"option":"u8"}},{"name":"hops","type":{"vec":"u8"}},
          {"name":"pair","type":{"array":["bool",2]}},{"name":"mode","type":{"defined":"Mode"}},{"name":"limits","type":{"defined":"Limits"}}]}],
 "types":[{"name":"Mode","type":{"kind":"enum","variants":[{"name":"Fast"},{"name":"Capped","fields":[{"name":"max","type":"u128"}]}]}},
          {"name":"Limits","type":{"kind":"struct","fields":[{"name":"daily","type":"i64"},{"name":"raw","type":"bytes"}]}}]}"#;

/// Anchor 0.30+: explicit discriminators, `pubkey`, `{"defined": {"name": …}}`.
const MODERN: &str = r#"{"address":"Vau1t11111111111111111111111111111111111111","metadata":{"name":"vault","version":"0.1.0","spec":"0.1.0"},
 "instructions":[{"name":"set_owner","discriminator":[1,2,3,4,5,6,7,8],"accounts":[{"name":"vault","writable":true}],
   "args":[{"name":"owner","type":"pubkey"},{"name":"cfg","type":{"defined":{"name":"Cfg"}}}]}],
 "types":[{"name":"Cfg","type":{"kind":"struct","fields":["u8",{"vec":"string"}]}}]}"#;

fn withdraw_data() -> Vec<u8> {
    let mut d = Sha256::digest(b"global:withdraw_funds")[..8].to_vec();
    d.extend(1_000_000u64.to_le_bytes());
    d.extend(2u32.to_le_bytes());
    d.extend(b"hi");
    d.extend([9u8; 32]);
    d.extend((-5i32).to_le_bytes());
    d.extend([1, 0x34, 0x12]); // Some(0x1234)
    d.push(0); // None
    d.extend(3u32.to_le_bytes());
    d.extend([1, 2, 3]);
    d.extend([1, 0]);
    d.push(1); // Mode::Capped
    d.extend(u128::MAX.to_le_bytes());
    d.extend(i64::MIN.to_le_bytes());
    d.extend(2u32.to_le_bytes());
    d.extend([0xca, 0xfe]);
    d
}

#[test]
fn legacy_discriminators_are_anchors() {
    let idl = Idl::parse(LEGACY).unwrap();
    let ix = &idl.instructions()[0];
    assert_eq!(hex::encode(&ix.discriminator), "afaf6d1f0d989bed");
    assert_eq!(snake_case("withdrawFunds"), "withdraw_funds");
    assert_eq!(snake_case("setV2Owner"), "set_v2_owner");
    assert_eq!(snake_case("already_snake"), "already_snake");
    // composite accounts are flattened in order
    assert_eq!(
        idl.instructions()[1].accounts,
        vec!["vault", "owner", "systemProgram"]
    );
}

#[test]
fn decodes_every_supported_type() {
    let idl = Idl::parse(LEGACY).unwrap();
    let accounts: Vec<String> = ["A", "B", "C", "D"].map(String::from).to_vec();
    let p = idl.decode(&withdraw_data(), &accounts).unwrap();
    assert_eq!(p.instruction_name, "withdrawFunds");
    assert_eq!(
        p.discriminator,
        hex::encode(&Sha256::digest(b"global:withdraw_funds")[..8])
    );
    assert_eq!(p.named_accounts.get("auth"), None);
    assert_eq!(
        p.named_accounts.get("systemProgram").map(String::as_str),
        Some("C")
    );
    assert_eq!(
        p.named_accounts.len(),
        3,
        "an extra (remaining) account has no name"
    );
    let a = &p.args;
    assert_eq!(a["amount"], Value::int(1_000_000i64));
    assert_eq!(a["memo"], Value::str("hi"));
    assert_eq!(a["to"], Value::str(bs58::encode([9u8; 32]).into_string()));
    assert_eq!(a["delta"], Value::int(-5i64));
    assert_eq!(a["tip"], Value::int(0x1234i64));
    assert!(!a.contains_key("none"), "an absent option is left out");
    assert_eq!(a["hops"], Value::list([1i64, 2, 3].map(Value::int)));
    assert_eq!(
        a["pair"],
        Value::list([Value::Bool(true), Value::Bool(false)])
    );
    assert_eq!(
        a["mode"],
        Value::record([("Capped", Value::record([("max", Value::int(u128::MAX))]))])
    );
    assert_eq!(
        a["limits"],
        Value::record([
            ("daily", Value::int(i128::from(i64::MIN))),
            ("raw", Value::str("cafe")),
        ])
    );
}

#[test]
fn decodes_modern_idls() {
    let idl = Idl::parse(MODERN).unwrap();
    let mut data = vec![1, 2, 3, 4, 5, 6, 7, 8];
    data.extend([4u8; 32]);
    data.push(7);
    data.extend(1u32.to_le_bytes());
    data.extend(1u32.to_le_bytes());
    data.push(b'x');
    let p = idl.decode(&data, &["V".to_owned()]).unwrap();
    assert_eq!(p.instruction_name, "set_owner");
    assert_eq!(p.discriminator, "0102030405060708");
    assert_eq!(p.named_accounts["vault"], "V");
    assert_eq!(
        p.args["cfg"],
        Value::list([Value::int(7i64), Value::strings(["x"])])
    );
}

#[test]
fn refuses_what_does_not_decode() {
    let idl = Idl::parse(LEGACY).unwrap();
    let good = withdraw_data();
    // unknown discriminator, truncated data
    assert!(idl.decode(&[0; 8], &[]).is_err());
    for cut in [8, 20, good.len() - 1] {
        assert!(idl.decode(&good[..cut], &[]).is_err(), "cut at {cut}");
    }
    // a bool of 2 (the first of `pair`)
    let pair_at = 8 + 8 + 4 + 2 + 32 + 4 + 3 + 1 + 4 + 3;
    let mut bad = good.clone();
    bad[pair_at] = 2;
    assert!(idl.decode(&bad, &[]).is_err());
    // an enum variant the IDL does not have
    let mut bad = good;
    bad[pair_at + 2] = 9;
    assert!(idl.decode(&bad, &[]).is_err());
    // a vec claiming 2^32-1 elements runs out of data, not memory
    let big = Idl::parse(r#"{"instructions":[{"name":"f","discriminator":[1],"args":[{"name":"v","type":{"vec":{"vec":"u8"}}}]}]}"#).unwrap();
    assert!(big.decode(&[1, 0xff, 0xff, 0xff, 0xff], &[]).is_err());
    // a vec of empty structs: every element costs a value from the budget
    let empty = Idl::parse(r#"{"instructions":[{"name":"f","discriminator":[1],"args":[{"name":"v","type":{"vec":{"defined":"E"}}}]}],"types":[{"name":"E","type":{"kind":"struct","fields":[]}}]}"#).unwrap();
    assert!(empty.decode(&[1, 0xff, 0xff, 0xff, 0xff], &[]).is_err());
    assert!(empty.decode(&[1, 3, 0, 0, 0], &[]).is_ok());
    // a type that contains itself stops at the depth limit
    let rec = Idl::parse(r#"{"instructions":[{"name":"f","discriminator":[1],"args":[{"name":"n","type":{"defined":"N"}}]}],"types":[{"name":"N","type":{"kind":"struct","fields":[{"name":"next","type":{"option":{"defined":"N"}}}]}}]}"#).unwrap();
    assert!(rec.decode(&[1; 64], &[]).is_err());
    assert!(rec.decode(&[1, 1, 1, 0], &[]).is_ok());
}

#[test]
fn refuses_malformed_idls() {
    for (idl, why) in [
        ("[]", "not an object"),
        ("{}", "no instructions"),
        (r#"{"instructions":[{"args":[]}]}"#, "no name"),
        (
            r#"{"instructions":[{"name":"f","args":[{"name":"a","type":"f64"}]}]}"#,
            "float",
        ),
        (
            r#"{"instructions":[{"name":"f","args":[{"name":"a","type":"u7"}]}]}"#,
            "u7",
        ),
        (
            r#"{"instructions":[{"name":"f","discriminator":[256]}]}"#,
            "byte out of range",
        ),
        (
            r#"{"instructions":[{"name":"f","discriminator":[]}]}"#,
            "empty discriminator",
        ),
        (
            r#"{"instructions":[{"name":"f","args":[{"name":"a","type":{"array":["u8"]}}]}]}"#,
            "array without length",
        ),
        (
            r#"{"instructions":[{"name":"f","accounts":{}}]}"#,
            "accounts not an array",
        ),
        (
            r#"{"instructions":[],"types":[{"type":{"kind":"struct","fields":[]}}]}"#,
            "type without name",
        ),
    ] {
        assert!(Idl::parse(idl).is_err(), "{why}: {idl}");
    }
}
