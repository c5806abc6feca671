//! Property tests: the parser and checker never panic on any input, deep nesting is an error
//! and not a stack overflow, and the evaluator never panics on well-typed expressions.

use keyhold_policy::{Env, Expression, Scope};
use proptest::prelude::*;

use crate::common::*;

const SCOPES: [Scope; 3] = [Scope::Condition, Scope::Consensus, Scope::Time];

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_strings_never_panic(s in "\\PC{0,200}") {
        for scope in SCOPES {
            let _ = Expression::compile(&s, scope);
        }
    }

    #[test]
    fn token_soup_never_panics_and_compiled_soup_evaluates(
        toks in prop::collection::vec(prop::sample::select(vec![
            "(", ")", "[", "]", ",", ".", "..", "==", "!=", "<", "<=", ">", ">=", "&&", "||", "!",
            "+", "-", "in", "true", "false", "0", "1", "115792089237316195423570985008687907853269984665640564039457584007913129639935",
            "'a'", "'0xa9059cbb'", "eth", "tx", "value", "to", "data", "wallet", "id", "activity",
            "params", "type", "approvers", "any", "all", "filter", "count", "contains", "x", "tags",
            "solana", "transfers", "amount", "spend", "wei", "'1h'", "time", "now", "Timestamp",
        ]), 0..40)
    ) {
        let s = toks.join(" ");
        let ctx = eth_sign();
        let env = Env::new(&ctx).unwrap();
        for scope in SCOPES {
            if let Ok(e) = Expression::compile(&s, scope) {
                let _ = e.evaluate(&env);
            }
        }
    }

    #[test]
    fn well_typed_expressions_evaluate_without_panicking(e in bool_expr()) {
        let compiled = Expression::compile(&e, Scope::Condition);
        prop_assert!(compiled.is_ok(), "{e}: {:?}", compiled.err().map(|x| x.report()));
        for ctx in [eth_sign(), eth_send_with_key("115792089237316195423570985008687907853269984665640564039457584007913129639935"), solana_spl(5, 1), bitcoin_send()] {
            let env = Env::new(&ctx).unwrap();
            if let Ok(c) = &compiled {
                let _ = c.evaluate(&env);
            }
        }
    }
}

fn int_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        any::<i64>().prop_map(|v| v.to_string()),
        Just(
            "115792089237316195423570985008687907853269984665640564039457584007913129639935"
                .to_owned()
        ),
        Just("eth.tx.value".to_owned()),
        Just("eth.tx.chain_id".to_owned()),
        Just("solana.tx.transfers.count()".to_owned()),
        Just("solana.tx.spl_transfers[0].amount".to_owned()),
        Just("bitcoin.tx.fee".to_owned()),
        Just("[1, 2, 3][5]".to_owned()),
        Just("eth.tx.contract_call_args['value']".to_owned()),
    ];
    leaf.prop_recursive(4, 24, 2, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} + {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} - {b})")),
            inner.prop_map(|a| format!("-({a})")),
        ]
    })
}

fn str_expr() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("'abc'".to_owned()),
        Just("eth.tx.to".to_owned()),
        Just("eth.tx.data[0..10]".to_owned()),
        Just("eth.tx.data[70..2]".to_owned()),
        Just("wallet.id".to_owned()),
        Just("private_key.id".to_owned()),
        Just("activity.params.type".to_owned()),
        Just("'héllo'[1]".to_owned()),
        Just("solana.tx.account_keys[1]".to_owned()),
    ]
}

fn bool_expr() -> impl Strategy<Value = String> {
    let leaf = prop_oneof![
        Just("true".to_owned()),
        (int_expr(), int_expr()).prop_map(|(a, b)| format!("{a} < {b}")),
        (int_expr(), int_expr()).prop_map(|(a, b)| format!("{a} == {b}")),
        (str_expr(), str_expr()).prop_map(|(a, b)| format!("{a} != {b}")),
        str_expr().prop_map(|a| format!("{a} in ['x', 'abc']")),
        int_expr().prop_map(|a| format!("solana.tx.spl_transfers.any(t, t.amount > {a})")),
        int_expr().prop_map(|a| format!("[1, 2, 3].filter(x, x >= {a}).count() == 2")),
        Just("eth.eip_712.message['permitted'].all(p, p['token'] == 'x')".to_owned()),
        Just("solana.tx.address_table_lookups.count == 0".to_owned()),
    ];
    leaf.prop_recursive(4, 32, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} && {b})")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("({a} || {b})")),
            inner.prop_map(|a| format!("!({a})")),
        ]
    })
}

#[test]
fn deep_nesting_is_an_error_not_a_stack_overflow() {
    let n = 100_000;
    let inputs = [
        format!("{}true{}", "(".repeat(n), ")".repeat(n)),
        format!("{}true", "!".repeat(n)),
        format!("{}1 == 1", "-".repeat(n)),
        format!("{}1{} == 1", "[".repeat(n), "]".repeat(n)),
        format!("wallet{} == 'x'", ".id".repeat(n / 4)),
        format!("[1]{} == 1", "[0]".repeat(n / 4)),
        format!("1{} == 1", " + 1".repeat(n / 8)),
        format!("{}true{}", "[1].any(x, ".repeat(n / 16), ")".repeat(n / 16)),
        "(".repeat(n),
        "[".repeat(n),
    ];
    for s in inputs {
        let e = Expression::compile(&s, Scope::Condition);
        assert!(e.is_err(), "{} bytes accepted", s.len());
    }
    // Just under the limit still works, and evaluates.
    let ok = format!("{}true{}", "(".repeat(60), ")".repeat(60));
    let env = Env::new(&eth_sign()).unwrap();
    assert_eq!(
        Expression::compile(&ok, Scope::Condition)
            .unwrap()
            .evaluate(&env),
        Ok(true)
    );
    let nested = "[1].any(x0, true)";
    assert!(Expression::compile(nested, Scope::Condition).is_ok());
}
