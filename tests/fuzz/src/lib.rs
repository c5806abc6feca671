//! Fuzz targets for everything keyhold's enclave parses: frames and messages from the host,
//! client request bodies and stamps, policies, and the chains' transaction formats.
//!
//! Each target is a plain `fn(&[u8])` here, so that the libFuzzer binaries in `fuzz_targets/`
//! stay one line each and `tests/corpus.rs` can replay the seed corpora on a normal (stable,
//! uninstrumented) build. A target panics when it finds a bug: a panic in the code under test,
//! or a broken invariant it checks (a decoded message that does not encode back to itself, a
//! parsed transaction that does not re-parse). `scripts/fuzz` runs them.

pub mod activity;
pub mod attestation;
pub mod chains;
pub mod frame;
pub mod policy;
pub mod request;
pub mod samples;
pub mod seeds;
pub mod stamp;
mod world;

/// A fuzz target: its name (the binary in `fuzz_targets/`, the folder under `corpus/`), what it
/// covers, and the function libFuzzer calls.
pub struct Target {
    pub name: &'static str,
    pub about: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order `scripts/fuzz` runs them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "frame",
        about: "frame headers, a byte stream cut into frames, and every message type decoded from a payload",
        run: frame::run,
    },
    Target {
        name: "request",
        about: "a RequestFrame decoded with postcard and handled by a provisioned in-process enclave",
        run: request::run,
    },
    Target {
        name: "activity",
        about: "client request bodies as text, stamped and sent as activities, queries or reads",
        run: activity::run,
    },
    Target {
        name: "policy",
        about: "policy expressions compiled in every scope and evaluated against realistic contexts",
        run: policy::run,
    },
    Target {
        name: "eth_tx",
        about: "Ethereum transactions (legacy, EIP-155, EIP-2930, EIP-1559): parse, hash, sign",
        run: chains::eth_tx,
    },
    Target {
        name: "solana_tx",
        about: "Solana transactions and messages (legacy and v0): parse, transfers, sign",
        run: chains::solana_tx,
    },
    Target {
        name: "psbt",
        about: "Bitcoin PSBTs: parse, serialize back, sign",
        run: chains::psbt,
    },
    Target {
        name: "eip712",
        about: "EIP-712 typed data JSON: parse and hash",
        run: chains::eip712,
    },
    Target {
        name: "abi",
        about: "smart contract interfaces: Ethereum ABIs and calldata, Anchor IDLs and instruction data",
        run: chains::abi,
    },
    Target {
        name: "attestation",
        about: "Nitro attestation documents (COSE, CBOR, certificate chain): parse and verify",
        run: attestation::run,
    },
    Target {
        name: "stamp",
        about: "X-Stamp headers (API key stamps): parse and verify",
        run: stamp::run,
    },
];

/// The target called `name`.
pub fn target(name: &str) -> Option<&'static Target> {
    TARGETS.iter().find(|t| t.name == name)
}
