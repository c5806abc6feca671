//! Invalid expressions are refused at create time with a position and a helpful message. The
//! messages are part of the API (clients see them), so they are tested exactly.

use keyhold_policy::{Effect, Expression, Policy, Scope};

const CASES: &[(Scope, &str, &str)] = &[
    // Unknown fields, with and without a suggestion.
    (
        Scope::Condition,
        "eth.tx.vlaue == 1",
        "1:8: unknown field `eth.tx.vlaue` (did you mean `value`?)",
    ),
    (
        Scope::Condition,
        "wallet.colour == 'red'",
        "1:8: unknown field `wallet.colour` (`wallet` has the fields `id`, `imported`, `exported`, `label`)",
    ),
    (
        Scope::Condition,
        "activity.params.hash_fn == 'X'",
        "1:17: unknown field `activity.params.hash_fn` (`activity.params` has the fields `hash_function`, `encoding`, `type`, `user_ids`, `user_id`, `api_key_ids`, `target_public_key`, `wallet_id`, `otp_length`, `session_profile_id`, `endpoint_id`, `sign_with`, `signatures`, `transfer`, `claim`, `lightning_receive`)",
    ),
    (
        Scope::Condition,
        "activity.type == 'X' &&\n  eth.tx.vlue == 1",
        "2:10: unknown field `eth.tx.vlue` (did you mean `value`?)",
    ),
    // Type mismatches.
    (
        Scope::Condition,
        "eth.tx.value == 'abc'",
        "1:14: cannot compare `int` with `string` (both sides of `==` must have the same type)",
    ),
    (
        Scope::Condition,
        "eth.tx.to < 'abc'",
        "1:11: cannot compare `string` with `string` using `<` (`<` compares two `int` or two `timestamp` values)",
    ),
    (
        Scope::Condition,
        "'a' in activity.type",
        "1:8: `in` needs a list on its right, found `string`",
    ),
    (
        Scope::Condition,
        "1 in ['a', 'b']",
        "1:3: cannot look for `int` in `list<string>`",
    ),
    (
        Scope::Condition,
        "[1, 'a'].count() == 2",
        "1:5: list elements must have one type: expected `int`, found `string`",
    ),
    (
        Scope::Condition,
        "eth.tx.value + 'x' > 1",
        "1:16: `+` needs `int` operands, found `string`",
    ),
    (
        Scope::Condition,
        "wallet.imported && 1",
        "1:20: `&&` needs bool operands, found `int`",
    ),
    (
        Scope::Condition,
        "!eth.tx.value",
        "1:1: `!` needs a `bool` operand, found `int`",
    ),
    (
        Scope::Condition,
        "solana.tx.transfers.any(t, t.amount)",
        "1:28: the predicate of `any` must be a bool expression, found `int`",
    ),
    (
        Scope::Condition,
        "solana.tx.account_keys.contains(1)",
        "1:33: `contains` on a `list<string>` needs a `string`, found `int`",
    ),
    (
        Scope::Condition,
        "wallet['id'] == 'x'",
        "1:8: `wallet` is a struct and cannot be indexed (read a field with `.name`)",
    ),
    // Not a bool.
    (
        Scope::Condition,
        "eth.tx.value",
        "1:1: a policy condition must be a bool expression, found `int` (compare the value, e.g. `… == 'x'`)",
    ),
    (
        Scope::Consensus,
        "approvers.count()",
        "1:1: a policy consensus must be a bool expression, found `int` (compare the value, e.g. `… == 'x'`)",
    ),
    // Syntax.
    (
        Scope::Condition,
        "(eth.tx.value == 1",
        "1:19: expected `)`, found the end of the expression (the parenthesis opened at 1:1 is not closed)",
    ),
    (
        Scope::Condition,
        "eth.tx.value == 1)",
        "1:18: unexpected `)` (this `)` has no matching `(`)",
    ),
    (
        Scope::Condition,
        "[1, 2",
        "1:6: expected `]`, found the end of the expression (the list opened at 1:1 is not closed)",
    ),
    (
        Scope::Condition,
        "eth.tx.value = 1",
        "1:14: `=` is not a valid operator (use `==` to compare values)",
    ),
    (
        Scope::Condition,
        "wallet.id == \"abc\"",
        "1:14: strings must be in single quotes (write `'abc'` instead of `\"abc\"`)",
    ),
    (
        Scope::Condition,
        "wallet.id == 'abc",
        "1:14: unterminated string (close the string with `'`)",
    ),
    (
        Scope::Condition,
        "wallet.imported & true",
        "1:17: `&` is not a valid operator (use `&&` for a logical and)",
    ),
    (
        Scope::Condition,
        "1 < 2 < 3",
        "1:7: comparison operators cannot be chained (`<` after `<`) (combine comparisons with `&&` or use parentheses)",
    ),
    (
        Scope::Condition,
        "eth.tx.value ==",
        "1:16: unexpected end of the expression (an operand is missing)",
    ),
    (Scope::Condition, "", "1:1: empty expression"),
    (
        Scope::Condition,
        "eth.tx.value == 1 # comment",
        "1:19: unexpected character `#`",
    ),
    (
        Scope::Condition,
        "eth.tx.value > 115792089237316195423570985008687907853269984665640564039457584007913129639936",
        "1:16: integer `115792089237316195423570985008687907853269984665640564039457584007913129639936` is too large (integers must be below 2^256)",
    ),
    // Unknown functions and identifiers, wrong arity, lambda misuse.
    (
        Scope::Consensus,
        "approvers.some(u, u.id == 'x')",
        "1:11: unknown function `some` (the list functions are `all`, `any`, `contains`, `count` and `filter`)",
    ),
    (
        Scope::Consensus,
        "approvers.cont() > 1",
        "1:11: unknown function `cont` (did you mean `count`?)",
    ),
    (
        Scope::Condition,
        "Now() > 1",
        "1:1: unknown function `Now` (the functions are `Timestamp` and `CronSpan` in a policy time, and the list functions `all`, `any`, `contains`, `count` and `filter`)",
    ),
    (
        Scope::Condition,
        "walet.id == 'x'",
        "1:1: unknown identifier `walet` (did you mean `wallet`?)",
    ),
    (
        Scope::Consensus,
        "approvers.any(u)",
        "1:11: `any` takes 2 arguments, found 1 (write it as `list.any(x, <predicate using x>)`)",
    ),
    (
        Scope::Consensus,
        "approvers.any('u', true)",
        "1:15: the first argument of `any` must be a variable name (write it as `list.any(x, <predicate using x>)`)",
    ),
    (
        Scope::Consensus,
        "approvers.any(approvers, true)",
        "1:15: variable `approvers` shadows a keyword or another variable (choose another name)",
    ),
    (
        Scope::Condition,
        "wallet.id.count() == 1",
        "1:11: `count` needs a list, but `wallet.id` is `string`",
    ),
    (
        Scope::Condition,
        "solana.tx.transfers.all == true",
        "1:21: a value of type `list<Transfer>` has no field `all` (`all` is a function: call it with parentheses)",
    ),
    // Keywords in the wrong field.
    (
        Scope::Condition,
        "approvers.count() >= 2",
        "1:1: `approvers` cannot be used in a policy condition (`approvers` is a keyword of the policy consensus)",
    ),
    (
        Scope::Consensus,
        "activity.type == 'X'",
        "1:1: `activity` cannot be used in a policy consensus (`activity` is a keyword of the policy condition)",
    ),
    (
        Scope::Condition,
        "time.now > Timestamp('2025-01-01T00:00:00Z')",
        "1:1: `time` cannot be used in a policy condition (`time` is a keyword of the policy time)",
    ),
    // Time functions.
    (
        Scope::Time,
        "time.now > Timestamp('2025-01-01T00:00:00-05:00')",
        "1:22: invalid timestamp `2025-01-01T00:00:00-05:00`: timestamps must have a zero UTC offset (`Z` or `+00:00`)",
    ),
    (
        Scope::Time,
        "time.now > Timestamp('yesterday')",
        "1:22: invalid timestamp `yesterday`: expected an RFC 3339 timestamp such as `2025-01-01T00:00:00Z`",
    ),
    (
        Scope::Time,
        "CronSpan('*/5 * * * *', '1h', 'UTC')",
        "1:10: invalid cron minute `*/5`: only numbers, ranges `a-b`, lists `a,b` and `*` are supported",
    ),
    (
        Scope::Time,
        "CronSpan('0 9 * * 1-5', '8d', 'UTC')",
        "1:25: a CronSpan duration must be at most 7 days",
    ),
    (
        Scope::Time,
        "CronSpan('0 9 * * 1-5', '8h', 'Mars/Olympus')",
        "1:31: time zone `Mars/Olympus` is not supported by keyhold (see LANGUAGE.md for the built-in time zones, or use `Etc/GMT+N`)",
    ),
    (
        Scope::Time,
        "CronSpan('0 9 * * 1-5', '8h')",
        "1:1: `CronSpan` takes 3 arguments, found 2 (write it as `CronSpan('0 9 * * 1-5', '8h', 'America/New_York')`)",
    ),
    (
        Scope::Time,
        "time.now > Timestamp(activity.type)",
        "1:22: the argument of `Timestamp` must be a string literal",
    ),
    // Limits extension.
    (
        Scope::Condition,
        "spend.eth.wei < 1",
        "1:11: `spend.eth.wei` is a limits function and needs a window (call it with a window, e.g. `spend.eth.wei('24h')`)",
    ),
    (
        Scope::Condition,
        "spend.eth.wei('2 days') < 1",
        "1:15: invalid duration `2 days`: expected whole days, hours and minutes such as `8h`, `90m` or `1d12h`",
    ),
    (
        Scope::Condition,
        "spend.eth.wei('32d') < 1",
        "1:15: a window must be at most 31 days",
    ),
    (
        Scope::Condition,
        "spend.eth.wei() < 1",
        "1:11: `wei` takes 1 argument, found 0 (write it as `spend.eth.wei('24h')`)",
    ),
    (
        Scope::Condition,
        "spend.eth.gwei('1h') < 1",
        "1:11: unknown function `spend.eth.gwei` (did you mean `wei`?)",
    ),
];

#[test]
fn invalid_expressions_are_refused_with_position_and_help() {
    let mut failures = Vec::new();
    for (scope, src, want) in CASES {
        match Expression::compile(src, *scope) {
            Ok(_) => failures.push(format!("`{src}` compiled")),
            Err(e) if e.report() == *want => {}
            Err(e) => failures.push(format!(
                "    (Scope::{scope:?}, {src:?}, {:?}),",
                e.report()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn policy_errors_name_the_field_like_turnkey() {
    let err = Policy::new("p", Effect::Allow, "eth.tx.vlaue == 1", "").unwrap_err();
    assert_eq!(
        err.to_string(),
        "invalid policy condition: 1:8: unknown field `eth.tx.vlaue` (did you mean `value`?)"
    );
    let err = Policy::new("p", Effect::Allow, "", "approvers.count() >= '2'").unwrap_err();
    assert_eq!(err.field, Scope::Consensus);
    assert!(
        err.to_string()
            .starts_with("invalid policy consensus: 1:19: "),
        "{err}"
    );
    let (line, col) = err.error.position();
    assert_eq!((line, col), (1, 19));
    assert_eq!(
        err.error.help_text(),
        Some("`>=` compares two `int` or two `timestamp` values")
    );
}

#[test]
fn limits_are_enforced_at_create_time() {
    let long = format!(
        "wallet.id == '{}'",
        "a".repeat(keyhold_policy::MAX_SOURCE_LEN)
    );
    let e = Expression::compile(&long, Scope::Condition).unwrap_err();
    assert!(
        e.report().starts_with("1:1: expression is too long"),
        "{}",
        e.report()
    );
    let deep = format!("{}true{}", "(".repeat(65), ")".repeat(65));
    let e = Expression::compile(&deep, Scope::Condition).unwrap_err();
    assert!(e.message().contains("nested too deeply"), "{}", e.report());
    let ok = format!("{}true{}", "(".repeat(40), ")".repeat(40));
    assert!(Expression::compile(&ok, Scope::Condition).is_ok());
    // Long `||` allowlists are n-ary and do not count as nesting.
    let allow: Vec<String> = (0..250)
        .map(|i| format!("eth.tx.to == '0x{i:040x}'"))
        .collect();
    assert!(Expression::compile(&allow.join(" || "), Scope::Condition).is_ok());
    let list: Vec<String> = (0..=keyhold_policy::MAX_LIST_LITERAL)
        .map(|i| format!("'{i}'"))
        .collect();
    let e = Expression::compile(
        &format!("eth.tx.to in [{}]", list.join(",")),
        Scope::Condition,
    )
    .unwrap_err();
    assert!(
        e.message()
            .contains("list literal has more than 1024 elements"),
        "{}",
        e.report()
    );
}
