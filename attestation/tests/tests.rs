//! Integration tests for `keyhold-attestation`, as one test binary.
//!
//! Real AWS Nitro documents are read from `../shared/vectors/nitro` when that directory exists
//! (tests that need them print a note and pass otherwise); everything else runs on documents the
//! crate's own builder generates, plus the small generated vectors in `tests/data/`.

// clippy.toml allows these inside `#[test]` functions only; the helpers and fixtures these tests
// share are test code too, and a failed unwrap there is simply a failed test.
#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    reason = "test helpers: a panic is a test failure"
)]

mod cli;
mod committed_data;
mod common;
mod fuzz;
mod generated;
mod real_vectors;
