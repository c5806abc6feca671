//! Every example in Turnkey's policy language reference (`turnkey-policy-language.mdx`) and in
//! the example policies quoted in `turnkey-api.md` §8.4 parses, type checks, and evaluates as
//! documented. Each case names the section it was taken from; placeholders such as
//! `<USER_ID>` are filled with concrete ids.

use keyhold_policy::{Context, Scope};

use crate::common::*;

enum Expect {
    Holds,
    Fails,
    /// Evaluation error, rendered as `line:col: message`.
    Error(&'static str),
}

struct Case {
    section: &'static str,
    scope: Scope,
    src: String,
    ctx: Context,
    expect: Expect,
}

fn case(
    section: &'static str,
    scope: Scope,
    src: impl Into<String>,
    ctx: Context,
    expect: Expect,
) -> Case {
    Case {
        section,
        scope,
        src: src.into(),
        ctx,
        expect,
    }
}

use Expect::{Error, Fails, Holds};
use Scope::{Condition, Consensus, Time};

fn cases() -> Vec<Case> {
    let any = eth_sign;
    let permit2 = "eth.eip_712.domain.name == 'Permit2' && eth.eip_712.primary_type == 'PermitBatchTransferFrom' \
                   && eth.eip_712.message['permitted'].all(p, p['token'] == '0xa0b86991c6218b36c1d19d4a2e9eb0ce3606eb48') \
                   && activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2'";
    let sol_one = "solana.tx.instructions.count() == 1 && solana.tx.spl_transfers.count() == 1 \
                   && solana.tx.spl_transfers.all(t, t.amount < 1000000)";
    vec![
        // mdx "Grammar": the operator table, one row each (non-bool examples compared to their value).
        case(
            "mdx Grammar: logical",
            Condition,
            "true && false",
            any(),
            Fails,
        ),
        case(
            "mdx Grammar: logical",
            Condition,
            "true || false",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: comparison (int)",
            Condition,
            "1 < 2",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: comparison (int)",
            Condition,
            "1 >= 2 || 2 <= 2 && 3 > 2 && 1 != 2 && 1 == 1",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: comparison (string)",
            Condition,
            "'a' != 'b'",
            any(),
            Holds,
        ),
        case("mdx Grammar: in", Condition, "1 in [1, 2, 3]", any(), Holds),
        case("mdx Grammar: in", Condition, "4 in [1, 2, 3]", any(), Fails),
        case(
            "mdx Grammar: list index",
            Condition,
            "[1,2,3][0] == 1",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: string index",
            Condition,
            "'abc'[0] == 'a'",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: list slice",
            Condition,
            "[1,2,3][0..2].count() == 2 && [1,2,3][0..2][1] == 2",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: string slice",
            Condition,
            "'abc'[0..2] == 'ab'",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: field access",
            Consensus,
            format!("approvers.any(user, '{TAG}' in user.tags)"),
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: all",
            Condition,
            "[1,1,1].all(x, x == 1)",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: any",
            Condition,
            "[1,2,3].any(x, x == 1)",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: contains",
            Condition,
            "[1,2,3].contains(1)",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: count",
            Condition,
            "[1,2,3].count() == 3",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: filter",
            Condition,
            "[1,2,3].filter(x, x == 1).count() == 1",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: Timestamp",
            Time,
            "time.now > Timestamp('2025-01-01T00:00:00Z')",
            any(),
            Holds,
        ),
        case(
            "mdx Grammar: CronSpan",
            Time,
            "CronSpan('0 9 * * 1-5', '8h', 'America/New_York')",
            any(),
            Holds,
        ),
        // mdx "Types": the uint example is a valid literal.
        case(
            "mdx Types: uint literal",
            Condition,
            "170141183460469231731687303715884105728 > 170141183460469231731687303715884105727",
            any(),
            Holds,
        ),
        // mdx "Time expressions" > Timestamp.
        case(
            "mdx Time expressions: Timestamp window",
            Time,
            "time.now >= Timestamp('2025-01-01T00:00:00Z') && time.now < Timestamp('2025-02-01T00:00:00Z')",
            any(),
            Holds,
        ),
        case(
            "mdx Time expressions: zero offsets",
            Time,
            "Timestamp('2025-01-01T00:00:00z') == Timestamp('2025-01-01T00:00:00+00:00') && Timestamp('2025-01-01T00:00:00-00:00') == Timestamp('2025-01-01T00:00:00Z')",
            any(),
            Holds,
        ),
        // mdx "Time expressions" > CronSpan: Wednesday 2025-01-15 15:00Z is 10:00 in New York.
        case(
            "mdx Time expressions: CronSpan",
            Time,
            "CronSpan('0 9 * * 1-5', '8h', 'America/New_York')",
            {
                let mut c = any();
                c.now =
                    Some(keyhold_policy::Timestamp::parse_rfc3339("2025-01-18T15:00:00Z").unwrap());
                c
            },
            Fails,
        ),
        // mdx "Activity parameters" > Examples.
        case(
            "mdx Activity parameters: deny NO_OP hash signing",
            Condition,
            "activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2' && activity.params.hash_function == 'HASH_FUNCTION_NO_OP' && activity.params.encoding != 'PAYLOAD_ENCODING_EIP712'",
            {
                let mut c = eip712_permit2(USDC);
                c.activity
                    .params
                    .insert("encoding".into(), "PAYLOAD_ENCODING_HEXADECIMAL".into());
                c
            },
            Holds,
        ),
        case(
            "mdx Activity parameters: deny NO_OP hash signing (EIP-712 exempt)",
            Condition,
            "activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2' && activity.params.hash_function == 'HASH_FUNCTION_NO_OP' && activity.params.encoding != 'PAYLOAD_ENCODING_EIP712'",
            eip712_permit2(USDC),
            Fails,
        ),
        case(
            "mdx Activity parameters: allow self-deletion (condition)",
            Condition,
            format!(
                "activity.type == 'ACTIVITY_TYPE_DELETE_USERS' && activity.params.user_ids.count() == 1 && '{ALICE}' in activity.params.user_ids"
            ),
            delete_users(&[ALICE], ALICE),
            Holds,
        ),
        case(
            "mdx Activity parameters: allow self-deletion (condition, other user)",
            Condition,
            format!(
                "activity.type == 'ACTIVITY_TYPE_DELETE_USERS' && activity.params.user_ids.count() == 1 && '{ALICE}' in activity.params.user_ids"
            ),
            delete_users(&[BOB], ALICE),
            Fails,
        ),
        case(
            "mdx Activity parameters: allow self-deletion (consensus)",
            Consensus,
            format!("approvers.any(user, user.id == '{ALICE}')"),
            delete_users(&[ALICE], ALICE),
            Holds,
        ),
        case(
            "mdx Activity parameters: unavailable field is MissingField",
            Condition,
            "activity.params.hash_function == 'HASH_FUNCTION_NO_OP'",
            delete_users(&[ALICE], ALICE),
            Error("1:1: missing field `activity.params.hash_function`"),
        ),
        case(
            "mdx Activity parameters: SIGN_TRANSACTION_V2 type / mdx Tempo",
            Condition,
            "activity.params.type == 'TRANSACTION_TYPE_TEMPO'",
            tempo_send(),
            Holds,
        ),
        // mdx "Policy evaluation": no short-circuit.
        case(
            "mdx Policy evaluation: no short circuit (signing with a wallet)",
            Condition,
            format!("wallet.id == '{WALLET_ID}' || private_key.id == '{KEY_ID}'"),
            eth_sign(),
            Error("1:56: `private_key` is not available for this activity"),
        ),
        case(
            "mdx Policy evaluation: no short circuit (signing with a private key)",
            Condition,
            format!("wallet.id == '{WALLET_ID}' || private_key.id == '{KEY_ID}'"),
            eth_send_with_key("1"),
            Error("1:1: `wallet` is not available for this activity"),
        ),
        case(
            "mdx Policy evaluation: split into separate policies",
            Condition,
            format!("private_key.id == '{KEY_ID}'"),
            eth_send_with_key("1"),
            Holds,
        ),
        // mdx "Activity kinds" / "Choosing between type, kind, resource + action".
        case(
            "mdx Activity kinds",
            Condition,
            "activity.kind == 'SIGN_TRANSACTION'",
            eth_sign(),
            Holds,
        ),
        case(
            "mdx Choosing between type, kind, resource + action",
            Condition,
            "activity.resource == 'PRIVATE_KEY' && activity.action == 'SIGN' && activity.type == 'ACTIVITY_TYPE_SIGN_TRANSACTION_V2'",
            eth_sign(),
            Holds,
        ),
        // mdx "Ethereum": contract_call_args access.
        case(
            "mdx Types: EthereumTransaction.contract_call_args",
            Condition,
            format!(
                "eth.tx.function_name == 'transfer' && eth.tx.contract_call_args['to'] == '{RECIPIENT}' && eth.tx.contract_call_args['value'] <= 1000000"
            ),
            eth_sign(),
            Holds,
        ),
        case(
            "mdx Types: function_name is populated only with an ABI",
            Condition,
            "eth.tx.function_name == 'transfer'",
            eth_send_with_key("1"),
            Error("1:1: missing field `eth.tx.function_name`"),
        ),
        case(
            "mdx Ethereum: eth.tx on a Solana transaction",
            Condition,
            "eth.tx.chain_id == 1",
            solana_spl(1, 0),
            Error("1:1: `eth.tx` is not available for this activity"),
        ),
        // mdx "Solana" > Account address lookups.
        case(
            "mdx Solana: lookups guard",
            Condition,
            "solana.tx.address_table_lookups.count == 0",
            solana_spl(1, 0),
            Holds,
        ),
        case(
            "mdx Solana: lookups guard",
            Condition,
            "solana.tx.address_table_lookups.count == 0",
            solana_spl(1, 2),
            Fails,
        ),
        case(
            "mdx Solana: deny ADDRESS_TABLE_LOOKUP recipients",
            Condition,
            "solana.tx.transfers.any(t, t.to == 'ADDRESS_TABLE_LOOKUP')",
            solana_lookup_transfer(),
            Holds,
        ),
        case(
            "mdx Solana: exactly one transfer to one recipient",
            Condition,
            format!(
                "solana.tx.spl_transfers.count() == 1 && solana.tx.spl_transfers.all(t, t.to == '{SOL_TO}' && t.token_mint == '{MINT}')"
            ),
            solana_spl(10, 0),
            Holds,
        ),
        // mdx "Tron": `tron.tx.contract[0].field_name`.
        case(
            "mdx Tron: contract[0]",
            Condition,
            "tron.tx.contract[0].type == 'TransferContract' && tron.tx.contract[0].amount < 5000000",
            tron_send(),
            Holds,
        ),
        case(
            "mdx Tron: field only on other contract types",
            Condition,
            "tron.tx.contract[0].call_value == 0",
            tron_send(),
            Error("1:1: missing field `tron.tx.contract[0].call_value`"),
        ),
        // mdx "Bitcoin".
        case(
            "mdx Bitcoin: outputs and fee",
            Condition,
            "bitcoin.tx.outputs.all(o, o.value <= 100000 && o.address_type == 'p2wpkh') && bitcoin.tx.fee < 5000 && bitcoin.tx.locktime.type == 'Blocks'",
            bitcoin_send(),
            Holds,
        ),
        // mdx "Tempo" / "Nested structs" TempoCall.input slicing.
        case(
            "mdx Nested structs: TempoCall.input slicing",
            Condition,
            format!(
                "tempo.tx.calls.count() == 1 && tempo.tx.calls[0].function_signature == '0xa9059cbb' && tempo.tx.calls[0].input[34..74] == '{}'",
                RECIPIENT.trim_start_matches("0x")
            ),
            tempo_send(),
            Holds,
        ),
        // api.md §8.4, in order.
        case(
            "api §8.4 #1 one user to one address (consensus)",
            Consensus,
            format!("approvers.any(user, user.id == '{ALICE}')"),
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #1 one user to one address (condition)",
            Condition,
            format!("eth.tx.to == '{USDC}'"),
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #1 one user to one address (other address)",
            Condition,
            format!("eth.tx.to == '{USDC}'"),
            eth_send_with_key("5"),
            Fails,
        ),
        case(
            "api §8.4 #2 two tagged approvers (consensus, one)",
            Consensus,
            format!("approvers.filter(user, user.tags.contains('{TAG}')).count() >= 2"),
            create_policy(&[user(ALICE, &[TAG]), user(BOB, &[])]),
            Fails,
        ),
        case(
            "api §8.4 #2 two tagged approvers (consensus, two)",
            Consensus,
            format!("approvers.filter(user, user.tags.contains('{TAG}')).count() >= 2"),
            create_policy(&[user(ALICE, &[TAG]), user(BOB, &[TAG])]),
            Holds,
        ),
        case(
            "api §8.4 #2 (condition)",
            Condition,
            "activity.resource == 'POLICY' && activity.action == 'CREATE'",
            create_policy(&[]),
            Holds,
        ),
        case(
            "api §8.4 #3 sign with one wallet",
            Condition,
            format!("activity.action == 'SIGN' && wallet.id == '{WALLET_ID}'"),
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #5 ERC-20 transfer selector",
            Condition,
            format!("eth.tx.to == '{USDC}' && eth.tx.data[0..10] == '0xa9059cbb'"),
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #6 Permit2 batch",
            Condition,
            permit2,
            eip712_permit2(USDC),
            Holds,
        ),
        case(
            "api §8.4 #6 Permit2 batch (other token)",
            Condition,
            permit2,
            eip712_permit2("0xdac17f958d2ee523a2206206994597c13d831ec7"),
            Fails,
        ),
        case(
            "api §8.4 #7 one small SPL transfer",
            Condition,
            sol_one,
            solana_spl(999_999, 0),
            Holds,
        ),
        case(
            "api §8.4 #7 one small SPL transfer (too large)",
            Condition,
            sol_one,
            solana_spl(1_000_000, 0),
            Fails,
        ),
        case(
            "api §8.4 #8 deny lookups",
            Condition,
            "solana.tx.address_table_lookups.count() > 0",
            solana_spl(1, 1),
            Holds,
        ),
        case(
            "api §8.4 #9 passkey approvals",
            Consensus,
            "credentials.any(c, c.type == 'CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR')",
            {
                let mut c = eth_sign();
                c.credentials.push(passkey(BOB));
                c
            },
            Holds,
        ),
        case(
            "api §8.4 #9 passkey approvals (API key only)",
            Consensus,
            "credentials.any(c, c.type == 'CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR')",
            eth_sign(),
            Fails,
        ),
        case(
            "api §8.4 #9 (condition)",
            Condition,
            "activity.kind == 'SIGN_TRANSACTION'",
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #10 business hours (time)",
            Time,
            "CronSpan('0 9 * * 1-5', '8h', 'America/New_York')",
            eth_sign(),
            Holds,
        ),
        case(
            "api §8.4 #10 (condition)",
            Condition,
            "activity.action == 'SIGN'",
            eth_sign(),
            Holds,
        ),
    ]
}

#[test]
fn documented_examples_evaluate_as_documented() {
    let mut failures = Vec::new();
    let all = cases();
    for c in &all {
        let got = eval(&c.src, c.scope, &c.ctx);
        let ok = match (&c.expect, &got) {
            (Holds, Ok(true)) | (Fails, Ok(false)) => true,
            (Error(want), Err(msg)) => msg == want,
            _ => false,
        };
        if !ok {
            failures.push(format!("[{}] `{}` gave {got:?}", c.section, c.src));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        all.len(),
        failures.join("\n")
    );
}

/// api.md §8.4 #4 is the same policy as the mdx NO_OP example; checked here as a whole policy
/// through the authorizer, together with the JSON-shaped policies.
#[test]
fn documented_policies_compile_as_turnkey_json() {
    use keyhold_policy::{Effect, Policy};
    let policies = [
        (
            "EFFECT_ALLOW",
            "eth.tx.to == '<ALLOWED_ADDRESS>'",
            "approvers.any(user, user.id == '4b894565-fa11-42fc-b813-5bf4ea3d53f9')",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "activity.resource == 'POLICY' && activity.action == 'CREATE'",
            "approvers.filter(user, user.tags.contains('<USER_TAG_ID>')).count() >= 2",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "activity.action == 'SIGN' && wallet.id == '<WALLET_ID>'",
            "approvers.any(user, user.id == '<USER_ID>')",
            "",
        ),
        (
            "EFFECT_DENY",
            "activity.type == 'ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2' && activity.params.hash_function == 'HASH_FUNCTION_NO_OP' && activity.params.encoding != 'PAYLOAD_ENCODING_EIP712'",
            "",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "eth.tx.to == '<CONTRACT_ADDRESS>' && eth.tx.data[0..10] == '0xa9059cbb'",
            "",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "solana.tx.instructions.count() == 1 && solana.tx.spl_transfers.count() == 1 && solana.tx.spl_transfers.all(t, t.amount < 1000000)",
            "approvers.any(user, user.id == '<USER_ID>')",
            "",
        ),
        (
            "EFFECT_DENY",
            "solana.tx.address_table_lookups.count() > 0",
            "",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "activity.kind == 'SIGN_TRANSACTION'",
            "credentials.any(c, c.type == 'CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR')",
            "",
        ),
        (
            "EFFECT_ALLOW",
            "activity.action == 'SIGN'",
            "",
            "CronSpan('0 9 * * 1-5', '8h', 'America/New_York')",
        ),
    ];
    for (effect, condition, consensus, time) in policies {
        let effect = Effect::from_turnkey(effect).unwrap();
        let p = Policy::new("p", effect, condition, consensus).and_then(|p| p.with_time(time));
        assert!(
            p.is_ok(),
            "{condition}: {:?}",
            p.err().map(|e| e.to_string())
        );
    }
}
