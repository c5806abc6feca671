//! Shared helpers: locating real vectors, a standard generated issuer, bit flips.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use keyhold_attestation::builder::{DevIssuer, DocumentSpec};
use keyhold_attestation::{Policy, UnixTime};

/// Where the shared real-document vectors live, relative to this crate.
const REAL_VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/vectors/nitro");

/// [`REAL_VECTORS`], or `$KEYHOLD_NITRO_VECTORS` when set (point it at a missing directory to
/// check that the tests skip cleanly).
pub fn vectors_dir() -> PathBuf {
    std::env::var_os("KEYHOLD_NITRO_VECTORS")
        .map_or_else(|| PathBuf::from(REAL_VECTORS), PathBuf::from)
}

/// One real document and what its README says about it.
pub struct RealDoc {
    pub file: &'static str,
    pub timestamp_ms: u64,
    pub debug: bool,
    pub leaf_not_before: &'static str,
    pub leaf_not_after: &'static str,
    pub bytes: Vec<u8>,
}

/// The table from `shared/vectors/nitro/README.md`.
const TABLE: [(&str, u64, bool, &str, &str); 5] = [
    (
        "qos_2022-07-06_prod_rsa-pubkey.cose",
        1_657_117_102_484,
        false,
        "2022-07-06T14:18:19Z",
        "2022-07-06T17:18:22Z",
    ),
    (
        "evervault_2022-10-12_debug.cose",
        1_665_582_606_081,
        true,
        "2022-10-12T13:49:51Z",
        "2022-10-12T16:49:54Z",
    ),
    (
        "evervault_2022-10-13_prod_nonce256.cose",
        1_665_651_482_136,
        false,
        "2022-10-13T08:57:59Z",
        "2022-10-13T11:58:02Z",
    ),
    (
        "evervault_2023-09-18_debug_nonce256.b64",
        1_695_049_410_860,
        true,
        "2023-09-18T14:37:09Z",
        "2023-09-18T17:37:12Z",
    ),
    (
        "blocky_2024-09-07_prod_max1024fields.b64",
        1_725_719_859_545,
        false,
        "2024-09-07T14:37:36Z",
        "2024-09-07T17:37:39Z",
    ),
];

/// The real documents, or `None` (with a note on stderr) when the shared vectors are absent.
pub fn real_docs(test: &str) -> Option<Vec<RealDoc>> {
    let dir = vectors_dir();
    if !dir.is_dir() {
        eprintln!("note: {test}: skipped, {} not present", dir.display());
        return None;
    }
    Some(
        TABLE
            .iter()
            .map(|&(file, timestamp_ms, debug, nb, na)| RealDoc {
                file,
                timestamp_ms,
                debug,
                leaf_not_before: nb,
                leaf_not_after: na,
                bytes: read_vector(&dir.join(file)),
            })
            .collect(),
    )
}

/// Reads a `.cose` (raw) or `.b64` (standard base64, maybe wrapped) vector.
pub fn read_vector(path: &Path) -> Vec<u8> {
    let raw = std::fs::read(path).unwrap();
    if path.extension().is_some_and(|e| e == "b64") {
        let text: Vec<u8> = raw
            .into_iter()
            .filter(|b| !b.is_ascii_whitespace())
            .collect();
        base64::engine::general_purpose::STANDARD
            .decode(text)
            .unwrap()
    } else {
        raw
    }
}

/// Verification time used for generated documents.
pub fn gen_time() -> UnixTime {
    UnixTime::parse("2025-06-01T12:00:05Z").unwrap()
}

/// A dev issuer whose 3-hour leaf window contains [`gen_time`].
pub fn issuer(seed: &[u8]) -> DevIssuer {
    let t = gen_time();
    DevIssuer::new(seed, t.saturating_sub(5), t.saturating_add(3 * 3600 - 5)).unwrap()
}

pub fn spec() -> DocumentSpec {
    DocumentSpec::new(gen_time().as_secs() * 1000 + 123)
}

pub fn policy_for(issuer: &DevIssuer) -> Policy {
    Policy::new(gen_time()).with_root(issuer.trust_anchor().unwrap())
}

pub fn flip_bit(bytes: &[u8], index: usize, bit: u8) -> Vec<u8> {
    let mut out = bytes.to_vec();
    out[index] ^= 1 << bit;
    out
}

/// Byte offset of `needle` in `haystack`.
pub fn find(haystack: &[u8], needle: &[u8]) -> usize {
    haystack
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle not found")
}

/// A fresh, per-test scratch directory under the system temp dir.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir =
        std::env::temp_dir().join(format!("keyhold-attest-test-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
