//! Integration tests for keyhold-policy, as one binary.

#[cfg(test)]
mod authorize;
#[cfg(test)]
mod common;
#[cfg(test)]
mod docs;
#[cfg(test)]
mod errors;
#[cfg(test)]
mod limits;
#[cfg(test)]
mod props;
