//! The stateful limits extension.

use keyhold_policy::{
    CounterKey, Counters, Decision, Effect, Metric, Policy, Reason, RootQuorum, Window, authorize,
};

use crate::common::*;

const DAILY: &str = "spend.eth.wei('24h') + eth.tx.value <= 10000000000000000000";

fn key(metric: Metric, w: &str) -> CounterKey {
    CounterKey {
        metric,
        window: Window::parse(w).unwrap(),
    }
}

#[test]
fn policies_report_the_counters_they_read() {
    let p = Policy::new(
        "p",
        Effect::Allow,
        &format!("{DAILY} && signatures.count('1h') < 100"),
        "",
    )
    .unwrap();
    let want: Vec<CounterKey> = vec![key(Metric::EthWei, "1d"), key(Metric::Signatures, "60m")];
    assert_eq!(p.counters().into_iter().collect::<Vec<_>>(), want);
    assert_eq!(want[0].to_string(), "spend.eth.wei('1440m')");
}

#[test]
fn daily_spend_limit() {
    let limit = Policy::new("daily", Effect::Allow, DAILY, "").unwrap();
    let root = RootQuorum {
        user_ids: vec![ROOT.into()],
        threshold: 1,
    };
    let run = |spent: &str, value: &str| {
        let mut ctx = eth_send_with_key(value);
        let mut c = Counters::new();
        c.set(key(Metric::EthWei, "24h"), wei(spent));
        ctx.counters = c;
        authorize(std::slice::from_ref(&limit), &root, &ctx).decision()
    };
    // 9 ETH spent + 1 ETH = exactly the limit.
    assert_eq!(
        run("9000000000000000000", "1000000000000000000"),
        Decision::Allow
    );
    assert_eq!(
        run("9000000000000000000", "1000000000000000001"),
        Decision::Deny
    );
    assert_eq!(run("0", "10000000000000000001"), Decision::Deny);
    // Counter missing: the allow errors and does not allow.
    let ctx = eth_send_with_key("1");
    let a = authorize(std::slice::from_ref(&limit), &root, &ctx);
    assert_eq!(a.decision(), Decision::Deny);
    assert_eq!(*a.reason(), Reason::NoPolicyAllows);
}

#[test]
fn velocity_limit_as_a_deny() {
    let p = Policy::new(
        "velocity",
        Effect::Deny,
        "signatures.count('1h') >= 100",
        "",
    )
    .unwrap();
    let allow = Policy::new("sign", Effect::Allow, "activity.action == 'SIGN'", "").unwrap();
    let root = RootQuorum {
        user_ids: vec![ROOT.into()],
        threshold: 1,
    };
    let mut ctx = eth_sign();
    let policies = [allow, p];
    // Missing counter: the deny errors and denies.
    assert_eq!(authorize(&policies, &root, &ctx).decision(), Decision::Deny);
    ctx.counters.set(key(Metric::Signatures, "1h"), 99u64);
    assert_eq!(
        authorize(&policies, &root, &ctx).decision(),
        Decision::Allow
    );
    ctx.counters.set(key(Metric::Signatures, "1h"), 100u64);
    assert_eq!(authorize(&policies, &root, &ctx).decision(), Decision::Deny);
}

#[test]
fn other_chains() {
    let root = RootQuorum {
        user_ids: vec![ROOT.into()],
        threshold: 1,
    };
    let p = Policy::new(
        "sol",
        Effect::Allow,
        "spend.solana.lamports('7d') + solana.tx.transfers.count() <= 1000000000",
        "",
    )
    .unwrap();
    let mut ctx = solana_lookup_transfer();
    ctx.counters.set(key(Metric::SolanaLamports, "7d"), 5u64);
    assert_eq!(authorize(&[p], &root, &ctx).decision(), Decision::Allow);
    let p = Policy::new(
        "btc",
        Effect::Allow,
        "spend.bitcoin.sats('30d') < 100000000",
        "",
    )
    .unwrap();
    let mut ctx = bitcoin_send();
    ctx.counters
        .set(key(Metric::BitcoinSats, "30d"), 99_999_999u64);
    assert_eq!(authorize(&[p], &root, &ctx).decision(), Decision::Allow);
}
