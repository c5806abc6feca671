//! Resolves `signWith` to a key, checking everything the host claimed.
//!
//! The host says which wallet account (wallet, path, curve, address format) or private key
//! `signWith` names and hands over the sealed seed or key. The seal binds the blob to this
//! organization and that wallet or key id, and the key derived from it must produce exactly the
//! address the client signed (or, for a private key named by id, carry exactly that id).
//! Otherwise nothing is signed: a lying host gets the same "not found" as a wrong `signWith`.

use std::sync::Arc;

use keyhold_shared::PrivateKeyId;
use keyhold_shared::WalletId;
use keyhold_shared::msg::{ActivityContext, AddressFormat, Curve, SealedSeed};

use crate::enclave::Keys;
use crate::error::{Error, Result, clip};
use crate::keys::account::{AccountKey, Scheme};
use crate::keys::cache::cache_key;
use crate::keys::{Bip32Path, SeedMaterial, private_key};
use crate::org::OrgState;
use crate::seal::seed_aad;

/// The key behind `signWith`, and how it signs.
#[derive(Debug)]
pub struct Signer {
    pub key: Arc<AccountKey>,
    /// The address format `signWith` was given in (`None` for a private key named by id).
    pub format: Option<AddressFormat>,
}

impl Signer {
    pub fn scheme(&self) -> Scheme {
        Scheme::for_key(self.key.curve(), self.format)
    }
}

fn not_found(sign_with: &str) -> Error {
    Error::NotFound(format!(
        "no wallet account or private key `{}` in this organization",
        clip(sign_with)
    ))
}

/// Hex formats compare case-insensitively (EIP-55 is only a checksum); base58 and bech32
/// addresses are compared exactly.
fn same_address(format: AddressFormat, derived: &str, claimed: &str) -> bool {
    match format {
        AddressFormat::Ethereum | AddressFormat::Compressed | AddressFormat::Uncompressed => {
            derived.eq_ignore_ascii_case(claimed)
        }
        _ => derived == claimed,
    }
}

/// Opens a wallet's seed (through the cache), if the wallet still exists.
///
/// The seal proves the seed was made for this (organization, wallet id); only the sealed
/// organization state says whether the wallet has been deleted since. A host that keeps a
/// deleted wallet's sealed seed and hands it over again gets "not found" (checked after the
/// seal, so a forged or swapped blob is still reported as such).
pub fn wallet_seed(
    keys: &Keys,
    org: &OrgState,
    wallet_id: &WalletId,
    sealed: &SealedSeed,
) -> Result<Arc<SeedMaterial>> {
    let aad = seed_aad(&org.org_id, wallet_id);
    let id = cache_key(&[b"seed", &aad, &sealed.nonce, &sealed.ciphertext]);
    let seed = keys.cache.seed(id, || {
        let plaintext = keys
            .seed_seal
            .open(&sealed.nonce, &sealed.ciphertext, &aad)?;
        SeedMaterial::decode(&plaintext)
    })?;
    if !org.wallets.iter().any(|w| &w.id == wallet_id) {
        return Err(Error::NotFound(format!(
            "no wallet `{wallet_id}` in this organization"
        )));
    }
    Ok(seed)
}

/// Refuses a private key the sealed organization state no longer lists (deleted), even when
/// the host still holds and hands over its sealed key.
fn check_private_key_exists(org: &OrgState, id: &PrivateKeyId) -> Result<()> {
    if org.private_keys.iter().any(|k| &k.id == id) {
        Ok(())
    } else {
        Err(Error::NotFound(format!(
            "no private key `{id}` in this organization"
        )))
    }
}

fn curve_tag(curve: Curve) -> &'static [u8] {
    curve.as_turnkey().as_bytes()
}

pub fn resolve(
    keys: &Keys,
    org: &OrgState,
    sign_with: &str,
    context: &ActivityContext,
) -> Result<Signer> {
    let sign_with = sign_with.trim();
    match context {
        ActivityContext::WalletAccount {
            wallet_id,
            path,
            curve,
            address_format,
            sealed_seed,
        } => {
            let seed = wallet_seed(keys, org, wallet_id, sealed_seed)?;
            let parsed = Bip32Path::parse(path)?;
            let id = cache_key(&[
                b"key",
                &seed_aad(&org.org_id, wallet_id),
                &sealed_seed.nonce,
                &sealed_seed.ciphertext,
                curve_tag(*curve),
                path.as_bytes(),
            ]);
            let key = keys
                .cache
                .key(id, || AccountKey::derive(&seed, *curve, &parsed))?;
            let address = key.address(*address_format)?;
            if !same_address(*address_format, &address, sign_with) {
                return Err(not_found(sign_with));
            }
            Ok(Signer {
                key,
                format: Some(*address_format),
            })
        }
        ActivityContext::PrivateKey {
            private_key_id,
            address_format,
            sealed_key,
        } => {
            let id = cache_key(&[
                b"private-key",
                &private_key::private_key_aad(&org.org_id, private_key_id),
                &sealed_key.nonce,
                &sealed_key.ciphertext,
            ]);
            let key = keys.cache.key(id, || {
                private_key::open(&keys.seed_seal, &org.org_id, private_key_id, sealed_key)
            })?;
            check_private_key_exists(org, private_key_id)?;
            match address_format {
                None => {
                    let named: PrivateKeyId =
                        sign_with.parse().map_err(|_| not_found(sign_with))?;
                    if named != *private_key_id {
                        return Err(not_found(sign_with));
                    }
                }
                Some(format) => {
                    if !same_address(*format, &key.address(*format)?, sign_with) {
                        return Err(not_found(sign_with));
                    }
                }
            }
            Ok(Signer {
                key,
                format: *address_format,
            })
        }
        ActivityContext::None
        | ActivityContext::Wallet { .. }
        | ActivityContext::Approval(_)
        | ActivityContext::ImportKey { .. }
        | ActivityContext::WebhookEndpoint { .. } => Err(not_found(sign_with)),
    }
}
