//! Test helpers (shared with benches and fuzzing in `crate::testing`).

pub use crate::testing::*;
