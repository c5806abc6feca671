//! Where the ephemeral import key lives between `INIT_IMPORT_*` and `IMPORT_*`: sealed by the
//! enclave to (organization, user, kind) with its expiry inside, and stored by the host (one
//! per user and kind; a new init replaces it).
//!
//! Why sealed and host-stored rather than in enclave memory: it survives an enclave restart
//! and works when the import lands on another enclave of the deployment, and the enclave keeps
//! no per-user memory that a client could grow. What the host can do with it: nothing useful.
//! It cannot open it; moving it to another organization, user or kind breaks the seal; a stale
//! or swapped key does not decrypt the client's bundle (which is encrypted to the public key
//! the enclave signed); an expired one is refused.

use keyhold_shared::msg::{ImportKind, SealedSeed};
use keyhold_shared::{OrgId, UserId};
use zeroize::Zeroizing;

use super::hpke_p256::ReceiverKey;
use crate::error::{Error, Result};
use crate::seal::SealKey;

const FORMAT_VERSION: u8 = 1;
/// How long an import bundle can be used (as long as a stamped request stays fresh).
pub const TTL_MS: u64 = crate::activities::MAX_AGE_MS;

fn aad(org: &OrgId, user: &UserId, kind: ImportKind) -> Vec<u8> {
    let mut aad = b"keyhold/v1/import-key/".to_vec();
    aad.extend_from_slice(kind.as_str().as_bytes());
    aad.extend_from_slice(org.0.as_bytes());
    aad.extend_from_slice(user.0.as_bytes());
    aad
}

pub fn seal(
    seal_key: &SealKey,
    org: &OrgId,
    user: &UserId,
    kind: ImportKind,
    key: &ReceiverKey,
    expires_at_ms: u64,
) -> Result<SealedSeed> {
    let mut plaintext = Zeroizing::new(Vec::with_capacity(41));
    plaintext.push(FORMAT_VERSION);
    plaintext.extend_from_slice(&expires_at_ms.to_be_bytes());
    plaintext.extend_from_slice(key.secret_bytes()?.as_ref());
    let (nonce, ciphertext) = seal_key.seal(&plaintext, &aad(org, user, kind))?;
    Ok(SealedSeed { nonce, ciphertext })
}

/// Opens the import key, refusing a forged, moved or expired one.
pub fn open(
    seal_key: &SealKey,
    org: &OrgId,
    user: &UserId,
    kind: ImportKind,
    sealed: &SealedSeed,
    now_ms: u64,
) -> Result<ReceiverKey> {
    let plaintext = seal_key.open(&sealed.nonce, &sealed.ciphertext, &aad(org, user, kind))?;
    let Some((&FORMAT_VERSION, rest)) = plaintext.split_first() else {
        return Err(Error::Unseal);
    };
    let (expiry, secret) = rest.split_at_checked(8).ok_or(Error::Unseal)?;
    let expires_at_ms = u64::from_be_bytes(expiry.try_into().map_err(|_| Error::Unseal)?);
    if now_ms >= expires_at_ms {
        return Err(Error::invalid(format!(
            "the import bundle expired (it is valid for {} minutes); start again with init_import",
            TTL_MS / 60_000
        )));
    }
    let secret: Zeroizing<[u8; 32]> = Zeroizing::new(secret.try_into().map_err(|_| Error::Unseal)?);
    ReceiverKey::from_secret(&secret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secrets::QuorumKey;
    use keyhold_shared::Uuid;

    #[test]
    fn bound_to_org_user_kind_and_time() {
        let seal_key = SealKey::derive(&QuorumKey::generate().unwrap(), b"k").unwrap();
        let org = OrgId(Uuid::from_bytes([1; 16]));
        let user = UserId(Uuid::from_bytes([2; 16]));
        let key = ReceiverKey::generate().unwrap();
        let sealed = seal(&seal_key, &org, &user, ImportKind::Wallet, &key, 1_000).unwrap();
        let back = open(&seal_key, &org, &user, ImportKind::Wallet, &sealed, 999).unwrap();
        assert_eq!(back.public_uncompressed(), key.public_uncompressed());
        let other_org = OrgId(Uuid::from_bytes([3; 16]));
        let other_user = UserId(Uuid::from_bytes([4; 16]));
        for (o, u, k) in [
            (&other_org, &user, ImportKind::Wallet),
            (&org, &other_user, ImportKind::Wallet),
            (&org, &user, ImportKind::PrivateKey),
        ] {
            assert!(matches!(
                open(&seal_key, o, u, k, &sealed, 999),
                Err(Error::Unseal)
            ));
        }
        assert!(matches!(
            open(&seal_key, &org, &user, ImportKind::Wallet, &sealed, 1_000),
            Err(Error::InvalidRequest(m)) if m.contains("expired")
        ));
        let mut forged = sealed.clone();
        forged.ciphertext[0] ^= 1;
        assert!(open(&seal_key, &org, &user, ImportKind::Wallet, &forged, 0).is_err());
    }
}
