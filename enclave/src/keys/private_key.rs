//! Standalone private keys (`create_private_keys`): a random key on one curve, sealed to
//! (organization, private key id) so the host can neither read it nor present it as another
//! key or another organization's.

use keyhold_shared::msg::{Curve, SealedSeed};
use keyhold_shared::{OrgId, PrivateKeyId};
use zeroize::Zeroizing;

use super::account::AccountKey;
use crate::error::{Error, Result};
use crate::seal::SealKey;

const FORMAT_VERSION: u8 = 1;

/// Associated data of a sealed private key.
pub fn private_key_aad(org: &OrgId, key: &PrivateKeyId) -> Vec<u8> {
    let mut aad = b"keyhold/v1/private-key".to_vec();
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(key.0.as_bytes());
    aad
}

fn curve_byte(curve: Curve) -> u8 {
    match curve {
        Curve::Secp256k1 => 1,
        Curve::Ed25519 => 2,
        Curve::P256 => 3,
    }
}

pub fn seal(
    seal_key: &SealKey,
    org: &OrgId,
    id: &PrivateKeyId,
    key: &AccountKey,
) -> Result<SealedSeed> {
    let mut plaintext = Zeroizing::new(Vec::with_capacity(34));
    plaintext.push(FORMAT_VERSION);
    plaintext.push(curve_byte(key.curve()));
    plaintext.extend_from_slice(key.secret_bytes().as_ref());
    let (nonce, ciphertext) = seal_key.seal(&plaintext, &private_key_aad(org, id))?;
    Ok(SealedSeed { nonce, ciphertext })
}

pub fn open(
    seal_key: &SealKey,
    org: &OrgId,
    id: &PrivateKeyId,
    sealed: &SealedSeed,
) -> Result<AccountKey> {
    let plaintext = seal_key.open(&sealed.nonce, &sealed.ciphertext, &private_key_aad(org, id))?;
    let [version, curve, secret @ ..] = plaintext.as_slice() else {
        return Err(Error::Unseal);
    };
    if *version != FORMAT_VERSION {
        return Err(Error::Unseal);
    }
    let curve = Curve::ALL
        .into_iter()
        .find(|c| curve_byte(*c) == *curve)
        .ok_or(Error::Unseal)?;
    let secret: Zeroizing<[u8; 32]> = Zeroizing::new(secret.try_into().map_err(|_| Error::Unseal)?);
    AccountKey::from_secret(curve, &secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::QuorumKey;
    use keyhold_shared::Uuid;

    #[test]
    fn sealed_keys_are_bound_to_org_and_id() {
        let seal_key = SealKey::derive(&QuorumKey::generate().unwrap(), b"k").unwrap();
        let org = OrgId(Uuid::from_bytes([1; 16]));
        let id = PrivateKeyId(Uuid::from_bytes([2; 16]));
        for curve in Curve::ALL {
            let key = AccountKey::generate(curve).unwrap();
            let sealed = seal(&seal_key, &org, &id, &key).unwrap();
            assert_eq!(
                open(&seal_key, &org, &id, &sealed).unwrap().public(),
                key.public()
            );
            let other_org = OrgId(Uuid::from_bytes([3; 16]));
            let other_id = PrivateKeyId(Uuid::from_bytes([4; 16]));
            assert!(matches!(
                open(&seal_key, &other_org, &id, &sealed),
                Err(Error::Unseal)
            ));
            assert!(matches!(
                open(&seal_key, &org, &other_id, &sealed),
                Err(Error::Unseal)
            ));
        }
    }
}
