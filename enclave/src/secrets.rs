//! Secret key types. Every one zeroizes on drop and prints nothing but its type name.

use std::fmt;

use hkdf::Hkdf;
use sha2::Sha256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Fills an array from the operating system's CSPRNG (the NSM-seeded kernel RNG on Nitro).
pub fn random<const N: usize>() -> Result<[u8; N]> {
    let mut out = [0u8; N];
    getrandom::fill(&mut out).map_err(|_| Error::Internal("random number generator failed"))?;
    Ok(out)
}

/// A secret from the CSPRNG, held in zeroizing memory from the start.
pub fn random_secret<const N: usize>() -> Result<Zeroizing<[u8; N]>> {
    let mut out = Zeroizing::new([0u8; N]);
    getrandom::fill(out.as_mut()).map_err(|_| Error::Internal("random number generator failed"))?;
    Ok(out)
}

/// The deployment's 32-byte quorum key. Exists only in enclave memory; every other key the
/// enclave uses is derived from it with HKDF-SHA256 and a distinct label.
pub struct QuorumKey(Zeroizing<[u8; 32]>);

impl QuorumKey {
    pub fn generate() -> Result<Self> {
        Ok(QuorumKey(random_secret()?))
    }

    pub fn from_bytes(bytes: Zeroizing<[u8; 32]>) -> Self {
        QuorumKey(bytes)
    }

    pub fn expose(&self) -> &[u8; 32] {
        &self.0
    }

    /// Derives a 32-byte subkey for `label`.
    pub fn derive(&self, label: &[u8]) -> Result<Zeroizing<[u8; 32]>> {
        let hk = Hkdf::<Sha256>::new(Some(b"keyhold/v1/quorum"), self.0.as_ref());
        let mut out = Zeroizing::new([0u8; 32]);
        hk.expand(label, out.as_mut())
            .map_err(|_| Error::Internal("hkdf expand"))?;
        Ok(out)
    }
}

impl fmt::Debug for QuorumKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("QuorumKey").finish_non_exhaustive()
    }
}
