//! Valid transactions of each chain, built from the formats' definitions: seeds for the
//! parsers' corpora, and the transactions the policy target's contexts are parsed from.

use keyhold_enclave::chains::rlp;

/// The EIP-155 example transaction (nonce 9, 20 gwei, 21000 gas, 1 ether to 0x3535…35,
/// chain id 1), unsigned.
pub const EIP155_EXAMPLE: &str =
    "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080";

fn rlp_list(fields: &[&[u8]], tail: &[Vec<u8>]) -> Vec<u8> {
    let mut payload = Vec::new();
    for field in fields {
        rlp::encode_bytes(&mut payload, field);
    }
    for item in tail {
        payload.extend_from_slice(item);
    }
    let mut out = Vec::new();
    rlp::encode_list(&mut out, &payload);
    out
}

fn typed(tx_type: u8, list: Vec<u8>) -> Vec<u8> {
    let mut out = vec![tx_type];
    out.extend(list);
    out
}

/// An access list with one address and one storage key.
fn access_list() -> Vec<u8> {
    let mut keys = Vec::new();
    rlp::encode_bytes(&mut keys, &[0x11; 32]);
    let mut key_list = Vec::new();
    rlp::encode_list(&mut key_list, &keys);
    let mut entry = Vec::new();
    rlp::encode_bytes(&mut entry, &[0x22; 20]);
    entry.extend(key_list);
    let mut entries = Vec::new();
    rlp::encode_list(&mut entries, &entry);
    let mut out = Vec::new();
    rlp::encode_list(&mut out, &entries);
    out
}

fn empty_list() -> Vec<u8> {
    let mut out = Vec::new();
    rlp::encode_list(&mut out, &[]);
    out
}

/// ERC-20 `transfer(0x08d2…b7, 1_000_000)` calldata.
pub fn erc20_transfer() -> Vec<u8> {
    let mut data = hex::decode("a9059cbb").unwrap_or_default();
    data.extend_from_slice(&[0; 12]);
    data.extend_from_slice(&[0x08; 20]);
    data.extend_from_slice(&[0; 28]);
    data.extend_from_slice(&1_000_000u32.to_be_bytes());
    data
}

/// Ethereum transactions of every type keyhold parses, unsigned.
pub fn ethereum() -> Vec<(&'static str, Vec<u8>)> {
    let to = [0x35u8; 20];
    let usdc = hex::decode("a0b86991c6218b36c1d19d4a2e9eb0ce3606eb48").unwrap_or_default();
    let transfer = erc20_transfer();
    vec![
        ("eip155", hex::decode(EIP155_EXAMPLE).unwrap_or_default()),
        (
            "legacy_unprotected",
            rlp_list(&[&[1], &[2], &[0x52, 0x08], &to, &[5], &[]], &[]),
        ),
        (
            "eip2930",
            typed(
                1,
                rlp_list(
                    &[&[1], &[], &[100], &[0x52, 0x08], &to, &[7], &[0xab]],
                    &[access_list()],
                ),
            ),
        ),
        (
            "eip1559",
            typed(
                2,
                rlp_list(
                    &[
                        &[1],
                        &[3],
                        &[1],
                        &[100],
                        &[0x52, 0x08],
                        &to,
                        &[0x0d, 0xe0],
                        &[],
                    ],
                    &[empty_list()],
                ),
            ),
        ),
        (
            "eip1559_erc20",
            typed(
                2,
                rlp_list(
                    &[
                        &[1],
                        &[],
                        &[1],
                        &[100],
                        &[0xfd, 0xe8],
                        &usdc,
                        &[],
                        &transfer,
                    ],
                    &[access_list()],
                ),
            ),
        ),
        (
            "eip1559_create",
            typed(
                2,
                rlp_list(
                    &[
                        &[0x89],
                        &[],
                        &[1],
                        &[100],
                        &[0xfd, 0xe8],
                        &[],
                        &[],
                        &[0x60, 0x80],
                    ],
                    &[empty_list()],
                ),
            ),
        ),
    ]
}

/// The System Program.
const SYSTEM_PROGRAM: [u8; 32] = [0; 32];

/// A transfer of `lamports` from `payer` to `to`, unsigned (legacy or v0 message).
pub fn solana_transfer(payer: [u8; 32], to: [u8; 32], lamports: u64, versioned: bool) -> Vec<u8> {
    let mut m = Vec::new();
    if versioned {
        m.push(0x80);
    }
    // header: 1 signer, 0 read-only signed, 1 read-only unsigned; 3 account keys
    m.extend_from_slice(&[1, 0, 1, 3]);
    m.extend_from_slice(&payer);
    m.extend_from_slice(&to);
    m.extend_from_slice(&SYSTEM_PROGRAM);
    m.extend_from_slice(&[9; 32]); // recent blockhash
    m.push(1); // one instruction
    m.push(2); // program: the System Program
    m.extend_from_slice(&[2, 0, 1]); // accounts: payer, to
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    m.push(12);
    m.extend_from_slice(&data);
    if versioned {
        m.push(0); // no address table lookups
    }
    let mut tx = vec![1];
    tx.extend_from_slice(&[0; 64]);
    tx.extend(m);
    tx
}

/// A v0 transfer that also reads an account through an address lookup table.
pub fn solana_lookup(payer: [u8; 32]) -> Vec<u8> {
    let mut tx = solana_transfer(payer, [5; 32], 1000, true);
    tx.pop();
    tx.push(1); // one lookup
    tx.extend_from_slice(&[6; 32]);
    tx.extend_from_slice(&[1, 0]); // writable: [0]
    tx.extend_from_slice(&[1, 1]); // read-only: [1]
    tx
}

fn compact(out: &mut Vec<u8>, bytes: &[u8]) {
    // Only short items here: one length byte.
    out.push(u8::try_from(bytes.len()).unwrap_or(0));
    out.extend_from_slice(bytes);
}

/// A PSBT spending one `value`-sat output locked by `script`, paying 9000 sats to a P2WPKH
/// and, when `change`, 500 sats back to `script`.
pub fn psbt(script: &[u8], value: u64, change: bool) -> Vec<u8> {
    let mut tx = vec![2, 0, 0, 0, 1];
    tx.extend_from_slice(&[7; 32]);
    tx.extend_from_slice(&[0, 0, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff]);
    tx.push(if change { 2 } else { 1 });
    tx.extend_from_slice(&9000u64.to_le_bytes());
    let mut wpkh = vec![0x00, 0x14];
    wpkh.extend_from_slice(&[0x42; 20]);
    compact(&mut tx, &wpkh);
    if change {
        tx.extend_from_slice(&500u64.to_le_bytes());
        compact(&mut tx, script);
    }
    tx.extend_from_slice(&[0, 0, 0, 0]);
    let mut out = b"psbt\xff".to_vec();
    compact(&mut out, &[0x00]); // PSBT_GLOBAL_UNSIGNED_TX
    compact(&mut out, &tx);
    out.push(0);
    let mut utxo = value.to_le_bytes().to_vec();
    compact(&mut utxo, script);
    compact(&mut out, &[0x01]); // PSBT_IN_WITNESS_UTXO
    compact(&mut out, &utxo);
    out.push(0);
    out.push(0);
    if change {
        out.push(0);
    }
    out
}

/// The P2WPKH script of a secp256k1 key.
pub fn p2wpkh_script(key: &k256::ecdsa::SigningKey) -> Vec<u8> {
    keyhold_enclave::chains::bitcoin::p2wpkh_script(key.verifying_key())
}

/// The P2TR (key path) script of a secp256k1 key.
pub fn p2tr_script(key: &k256::ecdsa::SigningKey) -> Vec<u8> {
    keyhold_enclave::chains::bitcoin::p2tr_script(key.verifying_key()).unwrap_or_default()
}

/// EIP-712 typed data (the specification's `Mail` example, as viem sends it).
pub const EIP712_MAIL: &str = r#"{"domain":{"name":"Ether Mail","version":"1","chainId":1,"verifyingContract":"0xcccccccccccccccccccccccccccccccccccccccc"},"message":{"from":{"name":"Cow","wallet":"0xcd2a3d9f938e13cd947ec05abc7fe734df8dd826"},"to":{"name":"Bob","wallet":"0xbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"},"contents":"Hello, Bob!"},"primaryType":"Mail","types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"version","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"}],"Person":[{"name":"name","type":"string"},{"name":"wallet","type":"address"}],"Mail":[{"name":"from","type":"Person"},{"name":"to","type":"Person"},{"name":"contents","type":"string"}]}}"#;

/// EIP-712 typed data with arrays, bytes, nested structs and every integer width class.
pub const EIP712_PERMIT: &str = r#"{"types":{"EIP712Domain":[{"name":"name","type":"string"},{"name":"chainId","type":"uint256"},{"name":"verifyingContract","type":"address"},{"name":"salt","type":"bytes32"}],"Permit":[{"name":"owner","type":"address"},{"name":"spender","type":"address"},{"name":"value","type":"uint256"},{"name":"nonce","type":"uint8"},{"name":"deadline","type":"int64"},{"name":"data","type":"bytes"},{"name":"ok","type":"bool"},{"name":"hops","type":"Hop[]"},{"name":"grid","type":"uint16[2][]"}],"Hop":[{"name":"to","type":"address"},{"name":"memo","type":"string"}]},"primaryType":"Permit","domain":{"name":"USD Coin","chainId":"0x1","verifyingContract":"0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48","salt":"0x0000000000000000000000000000000000000000000000000000000000000001"},"message":{"owner":"0x08d2b0a37f869ff76bacb5bab3278e26ab7067b7","spender":"0x2a9e8fa175f45b235efddd97d2727741ef4eee63","value":"1000000","nonce":3,"deadline":-1,"data":"0xdeadbeef","ok":true,"hops":[{"to":"0x0000000000000000000000000000000000000001","memo":"a"}],"grid":[[1,2],[3,4]]}}"#;

/// An ABI with every kind of type the decoder reads: ERC-20 `transfer`, dynamic and fixed arrays,
/// nested tuples, strings and bytes (the `abi` target decodes calldata against it).
pub const ABI: &str = r#"[{"type":"function","name":"transfer","inputs":[{"name":"_to","type":"address"},{"name":"_value","type":"uint256"}]},{"type":"function","name":"sam","inputs":[{"name":"","type":"bytes"},{"name":"","type":"bool"},{"name":"","type":"uint256[]"}]},{"type":"function","name":"g","inputs":[{"name":"a","type":"uint256[][]"},{"name":"b","type":"string[]"}]},{"type":"function","name":"neg","inputs":[{"name":"a","type":"int8"},{"name":"b","type":"int256"},{"name":"c","type":"int128"}]},{"type":"function","name":"swap","inputs":[{"name":"p","type":"tuple","components":[{"name":"token","type":"address"},{"name":"fee","type":"uint24"},{"name":"legs","type":"tuple[2]","components":[{"name":"on","type":"bool"},{"name":"tag","type":"bytes4"}]}]},{"name":"memo","type":"string"}]},{"type":"function","name":"many","inputs":[{"name":"t","type":"tuple[]","components":[{"name":"x","type":"bytes[]"},{"name":"y","type":"uint8[3]"}]}]},{"type":"event","name":"Transfer","inputs":[{"name":"from","type":"address","indexed":true}]}]"#;

/// `g([[1,2],[3]], ["one","two","three"])` against [`ABI`], from the Solidity ABI specification.
pub const ABI_CALL_G: &str = "2289b18c000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000001400000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000004000000000000000000000000000000000000000000000000000000000000000a0000000000000000000000000000000000000000000000000000000000000000200000000000000000000000000000000000000000000000000000000000000010000000000000000000000000000000000000000000000000000000000000002000000000000000000000000000000000000000000000000000000000000000100000000000000000000000000000000000000000000000000000000000000030000000000000000000000000000000000000000000000000000000000000003000000000000000000000000000000000000000000000000000000000000006000000000000000000000000000000000000000000000000000000000000000a000000000000000000000000000000000000000000000000000000000000000e000000000000000000000000000000000000000000000000000000000000000036f6e650000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000374776f000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000000057468726565000000000000000000000000000000000000000000000000000000";

/// An ERC-20 `transfer(0x08d2…b7, 999)`.
pub const ABI_CALL_TRANSFER: &str = "a9059cbb00000000000000000000000008d2b0a37f869ff76bacb5bab3278e26ab7067b700000000000000000000000000000000000000000000000000000000000003e7";

/// A legacy Anchor IDL with every kind of type the decoder reads (the `abi` target decodes
/// instruction data against it).
pub const IDL: &str = r#"{"version":"0.1.0","name":"vault","instructions":[{"name":"initialize","accounts":[{"name":"vault","isMut":true,"isSigner":false}],"args":[]},{"name":"withdraw","discriminator":[7],"accounts":[{"name":"vault","isMut":true,"isSigner":false},{"name":"auth","accounts":[{"name":"owner","isMut":false,"isSigner":true}]}],"args":[{"name":"amount","type":"u64"},{"name":"memo","type":"string"},{"name":"to","type":"publicKey"},{"name":"tip","type":{"option":"i16"}},{"name":"hops","type":{"vec":{"vec":"u8"}}},{"name":"pair","type":{"array":["bool",2]}},{"name":"mode","type":{"defined":"Mode"}},{"name":"node","type":{"defined":"Node"}}]}],"types":[{"name":"Mode","type":{"kind":"enum","variants":[{"name":"Fast"},{"name":"Capped","fields":[{"name":"max","type":"u128"}]}]}},{"name":"Node","type":{"kind":"struct","fields":[{"name":"raw","type":"bytes"},{"name":"next","type":{"option":{"defined":"Node"}}}]}}]}"#;
