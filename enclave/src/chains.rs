//! Address formats and chain-specific signing.

pub mod ethereum;
