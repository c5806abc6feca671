//! Property tests: no input makes parsing or verification panic, and no single-bit change to a
//! valid document is accepted.

use std::sync::LazyLock;

use keyhold_attestation::builder::MapEncoding;
use keyhold_attestation::{Document, Policy, UnixTime, verify};
use proptest::prelude::*;

use crate::common::{issuer, policy_for, real_docs, spec};

/// Valid documents to mutate, each with a policy that accepts it.
static SEEDS: LazyLock<Vec<(Vec<u8>, Policy)>> = LazyLock::new(|| {
    let dev = issuer(b"fuzz");
    let mut seeds = Vec::new();
    for encoding in [MapEncoding::Definite, MapEncoding::Indefinite] {
        let mut s = spec();
        s.map_encoding = encoding;
        s.nonce = Some(vec![9; 40]);
        seeds.push((dev.sign(&s).unwrap(), policy_for(&dev)));
    }
    for doc in real_docs("fuzz seeds").unwrap_or_default() {
        let policy = Policy::new(UnixTime::from_secs(doc.timestamp_ms / 1000)).allow_debug(true);
        seeds.push((doc.bytes, policy));
    }
    for (bytes, policy) in &seeds {
        verify(bytes, policy).unwrap();
    }
    seeds
});

#[derive(Clone, Debug)]
enum Mutation {
    Flip(usize, u8),
    Set(usize, u8),
    Truncate(usize),
    Insert(usize, Vec<u8>),
    Remove(usize, usize),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        (any::<usize>(), 0u8..8).prop_map(|(i, b)| Mutation::Flip(i, b)),
        (any::<usize>(), any::<u8>()).prop_map(|(i, v)| Mutation::Set(i, v)),
        any::<usize>().prop_map(Mutation::Truncate),
        (
            any::<usize>(),
            proptest::collection::vec(any::<u8>(), 1..16)
        )
            .prop_map(|(i, v)| Mutation::Insert(i, v)),
        (any::<usize>(), 1usize..64).prop_map(|(i, n)| Mutation::Remove(i, n)),
    ]
}

fn apply(bytes: &mut Vec<u8>, m: &Mutation) {
    let len = bytes.len();
    match m {
        Mutation::Flip(i, b) => bytes[i % len] ^= 1 << b,
        Mutation::Set(i, v) => bytes[i % len] = *v,
        Mutation::Truncate(i) => bytes.truncate(i % len),
        Mutation::Insert(i, v) => {
            let at = i % (len + 1);
            bytes.splice(at..at, v.iter().copied());
        }
        Mutation::Remove(i, n) => {
            let at = i % len;
            bytes.drain(at..(at + n).min(len));
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let _ = Document::parse(&bytes);
        let _ = verify(&bytes, &Policy::new(UnixTime::from_secs(1_700_000_000)));
    }

    #[test]
    fn cbor_shaped_bytes_never_panic(
        head in prop_oneof![Just(vec![0x84u8]), Just(vec![0xd2, 0x84]), Just(vec![0x84, 0x44, 0xa1, 0x01, 0x38, 0x22, 0xa0])],
        tail in proptest::collection::vec(any::<u8>(), 0..2048),
    ) {
        let bytes = [head, tail].concat();
        let _ = verify(&bytes, &Policy::new(UnixTime::from_secs(1_700_000_000)));
    }

    #[test]
    fn mutated_documents_never_panic(
        seed in any::<prop::sample::Index>(),
        mutations in proptest::collection::vec(mutation(), 1..6),
    ) {
        let (original, policy) = seed.get(&SEEDS);
        let mut bytes = original.clone();
        for m in &mutations {
            if bytes.is_empty() {
                break;
            }
            apply(&mut bytes, m);
        }
        let result = verify(&bytes, policy);
        // Inserting then removing can restore the original; anything else must be refused.
        if bytes != *original {
            prop_assert!(result.is_err(), "accepted a mutated document: {mutations:?}");
        }
    }

    #[test]
    fn single_bit_flips_are_refused(
        seed in any::<prop::sample::Index>(),
        index in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let (original, policy) = seed.get(&SEEDS);
        let mut bytes = original.clone();
        bytes[index.index(original.len())] ^= 1 << bit;
        prop_assert!(verify(&bytes, policy).is_err());
    }
}
