//! Address formats and chain-specific parsing and signing.

pub mod address;
pub mod bitcoin;
pub mod eip712;
pub mod ethereum;
pub mod rlp;
pub mod solana;
