//! Smart contract interfaces: created and deleted through the policy engine like every other
//! activity, bounded, validated on upload, and read by policies on the transactions they
//! decode (`eth.tx.function_name`, `eth.tx.contract_call_args`). The host cannot drop or swap
//! an interface to change a decision: it lives in the sealed state.

use keyhold_shared::msg::{AuthenticateRequest, Request, Response, SealedOrgState};
use keyhold_shared::{ErrorCode, WireError};
use p256::ecdsa::SigningKey;
use serde_json::{Value, json};

use super::limits::{Wallet, sign, wallet};
use super::orgs::{body, change, create_policy, create_user, new_key, run};
use super::support::{Fixture, fixture, signed};
use crate::chains::rlp::{encode_bytes, encode_list};

const TOKEN: &str = "0x6b175474e89094c44da98b954eedeac495271d0f";

/// The ERC-20 functions and events, as `solc --abi` writes them (names as in the brief's policy).
const ERC20: &str = r#"[
 {"type":"function","name":"transfer","stateMutability":"nonpayable","inputs":[{"name":"_to","type":"address","internalType":"address"},{"name":"_value","type":"uint256","internalType":"uint256"}],"outputs":[{"name":"","type":"bool"}]},
 {"type":"function","name":"approve","stateMutability":"nonpayable","inputs":[{"name":"_spender","type":"address"},{"name":"_value","type":"uint256"}],"outputs":[{"name":"","type":"bool"}]},
 {"type":"function","name":"balanceOf","stateMutability":"view","inputs":[{"name":"_owner","type":"address"}],"outputs":[{"name":"balance","type":"uint256"}]},
 {"type":"event","name":"Transfer","anonymous":false,"inputs":[{"name":"from","type":"address","indexed":true},{"name":"to","type":"address","indexed":true},{"name":"value","type":"uint256","indexed":false}]}
]"#;

fn create_body(f: &Fixture, address: &str, kind: &str, interface: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_CREATE_SMART_CONTRACT_INTERFACE",
        json!({"smartContractAddress": address, "smartContractInterface": interface,
               "type": kind, "label": "token", "notes": "erc-20"}),
    )
}

fn create(
    f: &Fixture,
    state: &SealedOrgState,
    key: &SigningKey,
    address: &str,
    interface: &str,
) -> Result<(SealedOrgState, String), WireError> {
    let b = create_body(
        f,
        address,
        "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM",
        interface,
    );
    let out = run(f, state, key, &b)?;
    let keyhold_shared::msg::ActivityResult::Organization { result_json, .. } = out.result else {
        panic!("not an organization result")
    };
    let result: Value = serde_json::from_str(&result_json).unwrap();
    let id = result["createSmartContractInterfaceResult"]["smartContractInterfaceId"]
        .as_str()
        .unwrap()
        .to_owned();
    Ok((out.new_org_state.unwrap(), id))
}

fn delete_body(f: &Fixture, id: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_DELETE_SMART_CONTRACT_INTERFACE",
        json!({"smartContractInterfaceId": id}),
    )
}

fn read_org(f: &Fixture, state: &SealedOrgState) -> Result<Value, WireError> {
    let query = json!({"organizationId": f.org_id.to_string()}).to_string();
    match f.enclave.handle(Request::ReadOrg(AuthenticateRequest {
        request: signed(&f.api_key, &query),
        org: state.clone(),
        parent: None,
    }))? {
        Response::ReadOrg(r) => Ok(serde_json::from_str(&r.organization_json).unwrap()),
        other => panic!("unexpected answer {other:?}"),
    }
}

/// An EIP-1559 transaction (chain 1) calling `transfer(to, value)` on `token`.
fn transfer_tx(token: &str, to: [u8; 20], value: u64) -> String {
    let mut data = hex::decode("a9059cbb").unwrap();
    data.extend([0u8; 12]);
    data.extend(to);
    data.extend([0u8; 24]);
    data.extend(value.to_be_bytes());
    let token = hex::decode(token.trim_start_matches("0x")).unwrap();
    let mut payload = Vec::new();
    for field in [
        &[1u8][..],
        &[],
        &[1],
        &[0x77, 0x35, 0x94, 0x00],
        &[0xea, 0x60],
        &token,
        &[],
        &data,
    ] {
        encode_bytes(&mut payload, field);
    }
    encode_list(&mut payload, &[]); // access list
    let mut out = vec![2u8];
    encode_list(&mut out, &payload);
    hex::encode(out)
}

fn sign_body(f: &Fixture, w: &Wallet, tx: &str) -> String {
    body(
        &f.org_id,
        "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
        json!({"signWith": w.address, "unsignedTransaction": tx, "type": "TRANSACTION_TYPE_ETHEREUM"}),
    )
}

#[test]
fn create_read_and_delete_an_interface() {
    let f = fixture();
    let (state, id) = create(&f, &f.org, &f.api_key, TOKEN, ERC20).unwrap();
    let data = read_org(&f, &state).unwrap();
    let listed = data["smartContractInterfaces"].as_array().unwrap();
    assert_eq!(listed.len(), 1);
    let i = &listed[0];
    assert_eq!(i["smartContractInterfaceId"], json!(id));
    assert_eq!(i["smartContractAddress"], json!(TOKEN));
    assert_eq!(i["smartContractInterface"], json!(ERC20));
    assert_eq!(i["type"], json!("SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM"));
    assert_eq!(i["organizationId"], json!(f.org_id.to_string()));
    assert_eq!(
        (&i["label"], &i["notes"]),
        (&json!("token"), &json!("erc-20"))
    );
    let refs = data["smartContractInterfaceReferences"].as_array().unwrap();
    assert_eq!(refs[0]["smartContractInterfaceId"], json!(id));
    assert_eq!(refs[0]["digest"].as_str().unwrap().len(), 64);

    // a second interface for the same contract (in another case) is refused
    let err = create(
        &f,
        &state,
        &f.api_key,
        &TOKEN.to_uppercase().replace("0X", "0x"),
        ERC20,
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");

    let (state, result) = change(&f, &state, &f.api_key, &delete_body(&f, &id));
    assert_eq!(
        result,
        json!({"deleteSmartContractInterfaceResult": {"smartContractInterfaceId": id}})
    );
    assert!(
        read_org(&f, &state).unwrap()["smartContractInterfaces"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let err = run(&f, &state, &f.api_key, &delete_body(&f, &id)).unwrap_err();
    assert_eq!(err.code, ErrorCode::NotFound, "{err:?}");
    let err = run(&f, &state, &f.api_key, &delete_body(&f, "not-a-uuid")).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
}

#[test]
fn a_solana_idl_is_stored_and_checked() {
    let f = fixture();
    let program = "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5DA";
    let idl = r#"{"version":"0.1.0","name":"p","instructions":[{"name":"initialize","accounts":[],"args":[]}]}"#;
    let kind = "SMART_CONTRACT_INTERFACE_TYPE_SOLANA";
    let (state, _) = change(&f, &f.org, &f.api_key, &create_body(&f, program, kind, idl));
    let data = read_org(&f, &state).unwrap();
    assert_eq!(data["smartContractInterfaces"][0]["type"], json!(kind));
    for (address, idl, why) in [
        (
            program,
            r#"{"instructions":[{"args":[]}]}"#,
            "instruction without a name",
        ),
        (program, r#"[]"#, "not an object with instructions"),
        (program, "{", "not JSON"),
        (TOKEN, idl, "an Ethereum address for a Solana program"),
        (
            "TokenkegQfeZyiNwAJbNbGKPFXCWuBvf9Ss623VQ5D0",
            idl,
            "not base58",
        ),
    ] {
        let err = run(&f, &state, &f.api_key, &create_body(&f, address, kind, idl)).unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{why}: {err:?}");
    }
}

#[test]
fn uploads_are_validated_and_bounded() {
    let f = fixture();
    let eth = "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM";
    for (address, kind, interface, why) in [
        (TOKEN, eth, "{\"abi\": []}", "an object, not an ABI array"),
        (
            TOKEN,
            eth,
            r#"[{"type":"function","name":"f","inputs":[{"type":"uint7"}]}]"#,
            "bad type",
        ),
        ("0x1234", eth, ERC20, "short address"),
        (
            TOKEN,
            "SMART_CONTRACT_INTERFACE_TYPE_TRON",
            ERC20,
            "unknown type",
        ),
    ] {
        let err = run(
            &f,
            &f.org,
            &f.api_key,
            &create_body(&f, address, kind, interface),
        )
        .unwrap_err();
        assert_eq!(err.code, ErrorCode::InvalidRequest, "{why}: {err:?}");
    }
    // one interface is at most 64 KiB of JSON (whitespace pads a valid ABI)
    let padded = |len: usize| format!("{ERC20}{}", " ".repeat(len - ERC20.len()));
    let max = 64 * 1024;
    let err = run(
        &f,
        &f.org,
        &f.api_key,
        &create_body(&f, TOKEN, eth, &padded(max + 1)),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
    // and an organization holds at most 512 KiB of them: eight of 64 KiB fill it
    let address = |n: usize| format!("0x{n:040x}");
    let mut state = f.org.clone();
    for n in 0..8 {
        state = create(&f, &state, &f.api_key, &address(n), &padded(max))
            .unwrap()
            .0;
    }
    let err = create(&f, &state, &f.api_key, &address(8), ERC20).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
    assert!(err.message.contains("bytes of JSON"), "{err:?}");
    // the full organization still seals and opens (and answers queries)
    assert_eq!(
        read_org(&f, &state).unwrap()["smartContractInterfaces"]
            .as_array()
            .unwrap()
            .len(),
        8
    );
    assert!(state.ciphertext.len() < keyhold_shared::msg::MAX_SEALED_LEN);
}

#[test]
fn an_organization_holds_at_most_100_interfaces() {
    let f = fixture();
    let small = r#"[{"type":"function","name":"f","inputs":[]}]"#;
    let mut state = f.org.clone();
    for n in 0..100 {
        state = create(&f, &state, &f.api_key, &format!("0x{n:040x}"), small)
            .unwrap()
            .0;
    }
    let err = create(&f, &state, &f.api_key, &format!("0x{:040x}", 100), small).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
    assert!(err.message.contains("at most 100"), "{err:?}");
}

#[test]
fn policies_govern_interfaces_and_replays_are_refused() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    // no policy: implicit deny for a non-root user
    let err = create(&f, &state, &bob, TOKEN, ERC20).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "activity.resource == 'SMART_CONTRACT_INTERFACE' && activity.action == 'CREATE'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let b = create_body(&f, TOKEN, "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM", ERC20);
    let out = run(&f, &state, &bob, &b).unwrap();
    let created = out.new_org_state.unwrap();
    // the same signed request again, on the new state: a replay
    let err = run(&f, &created, &bob, &b).unwrap_err();
    assert_eq!(err.code, ErrorCode::InvalidRequest, "{err:?}");
    assert!(err.message.contains("replayed"), "{err:?}");
    // CREATE does not cover DELETE
    let id =
        read_org(&f, &created).unwrap()["smartContractInterfaces"][0]["smartContractInterfaceId"]
            .as_str()
            .unwrap()
            .to_owned();
    let err = run(&f, &created, &bob, &delete_body(&f, &id)).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
}

#[test]
fn a_policy_reads_the_decoded_call_and_the_host_cannot_drop_or_swap_the_abi() {
    let f = fixture();
    let bob = new_key();
    let (state, bob_id) = create_user(&f, &f.org, "bob", &bob);
    let (state, w) = wallet(&f, &state);
    let (state, _) = create_policy(
        &f,
        &state,
        "EFFECT_ALLOW",
        "eth.tx.function_name == 'transfer' && eth.tx.function_signature == '0xa9059cbb' \
         && eth.tx.contract_call_args['_value'] < 1000 \
         && eth.tx.contract_call_args['_to'] == '0x7777777777777777777777777777777777777777'",
        &format!("approvers.any(u, u.id == '{bob_id}')"),
    );
    let to = [0x77u8; 20];
    // without the ABI the policy cannot read the call: it fails closed
    let err = sign(
        &f,
        &state,
        &bob,
        &w,
        &sign_body(&f, &w, &transfer_tx(TOKEN, to, 10)),
    )
    .unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");

    let before_upload = state.clone();
    let (state, _) = create(&f, &state, &f.api_key, TOKEN, ERC20).unwrap();
    assert!(
        sign(
            &f,
            &state,
            &bob,
            &w,
            &sign_body(&f, &w, &transfer_tx(TOKEN, to, 999))
        )
        .is_ok()
    );
    for (tx, why) in [
        (transfer_tx(TOKEN, to, 1000), "amount at the limit"),
        (transfer_tx(TOKEN, [0x78; 20], 1), "another recipient"),
        (
            transfer_tx("0x6b175474e89094c44da98b954eedeac495271d0e", to, 1),
            "another contract",
        ),
    ] {
        let err = sign(&f, &state, &bob, &w, &sign_body(&f, &w, &tx)).unwrap_err();
        assert_eq!(err.code, ErrorCode::PermissionDenied, "{why}: {err:?}");
    }

    // The host hides the upload by presenting the state from before it: refused as stale.
    let small = sign_body(&f, &w, &transfer_tx(TOKEN, to, 5));
    let err = sign(&f, &before_upload, &bob, &w, &small).unwrap_err();
    assert_eq!(err.code, ErrorCode::StaleState, "{err:?}");
    // It swaps in another organization's state with a different ABI: not this organization.
    let g = fixture();
    let (other, _) = create(&g, &g.org, &g.api_key, TOKEN, ERC20).unwrap();
    let mut swapped = other.clone();
    swapped.org_id = state.org_id;
    let err = sign(&f, &swapped, &bob, &w, &small).unwrap_err();
    assert_eq!(err.code, ErrorCode::SealedDataInvalid, "{err:?}");
    // It edits the sealed bytes: they no longer open.
    let mut edited = state.clone();
    let last = edited.ciphertext.len() - 1;
    edited.ciphertext[last] ^= 1;
    let err = sign(&f, &edited, &bob, &w, &small).unwrap_err();
    assert_eq!(err.code, ErrorCode::SealedDataInvalid, "{err:?}");
    // The real state still signs.
    assert!(sign(&f, &state, &bob, &w, &small).is_ok());

    // Deleting the interface takes the decoded fields away again.
    let id =
        read_org(&f, &state).unwrap()["smartContractInterfaces"][0]["smartContractInterfaceId"]
            .as_str()
            .unwrap()
            .to_owned();
    let (state, _) = change(&f, &state, &f.api_key, &delete_body(&f, &id));
    let again = sign_body(&f, &w, &transfer_tx(TOKEN, to, 6));
    let err = sign(&f, &state, &bob, &w, &again).unwrap_err();
    assert_eq!(err.code, ErrorCode::PermissionDenied, "{err:?}");
}
