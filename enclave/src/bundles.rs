//! Turnkey's export/import artefacts (spec §7): the HPKE suite clients encrypt to and decrypt
//! with ([`hpke_p256`]), the envelope signed by the deployment's bundle signing key
//! ([`signed`]), the ephemeral import key kept sealed between `INIT_IMPORT_*` and `IMPORT_*`
//! ([`import_key`]) and the base58check credential bundle of sessions ([`credential`]).

pub mod credential;
pub mod hpke_p256;
pub mod import_key;
pub mod signed;
