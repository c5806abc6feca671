//! K-of-N secret sharing of the 32-byte quorum key over GF(256), by the audited `vsss-rs`
//! (`sharks` has an advisory). A share is `[x] ++ y-bytes`. With K = 1 every share is the key
//! itself under its own x (a degree-0 polynomial), which vsss-rs does not do, so it is done here.

use rand_core::UnwrapErr;
use vsss_rs::Gf256;
use zeroize::Zeroizing;

use crate::error::{Error, Result};

/// Splits `secret` into `n` shares, any `k` of which rebuild it.
pub fn split(secret: &[u8; 32], k: u8, n: usize) -> Result<Vec<Zeroizing<Vec<u8>>>> {
    if k == 0 || usize::from(k) > n || n > 255 {
        return Err(Error::invalid(
            "threshold must be between 1 and the number of operators",
        ));
    }
    if k == 1 {
        return Ok((1..=n)
            .map(|x| {
                let mut share = Zeroizing::new(Vec::with_capacity(33));
                share.push(x as u8);
                share.extend_from_slice(secret);
                share
            })
            .collect());
    }
    // The RNG is the OS CSPRNG; UnwrapErr panics only if the kernel cannot give randomness, where
    // carrying on would be worse.
    let shares = Gf256::split_bytes(usize::from(k), n, secret, UnwrapErr(getrandom::SysRng))
        .map_err(|_| Error::Internal("shamir split"))?;
    Ok(shares.into_iter().map(Zeroizing::new).collect())
}

/// Rebuilds the secret from at least K shares (more are fine: any K of them would do).
pub fn combine(shares: &[&[u8]]) -> Result<Zeroizing<[u8; 32]>> {
    let bad = || Error::Provisioning("shares do not combine");
    if shares.iter().any(|s| s.len() != 33) {
        return Err(bad());
    }
    let secret: Zeroizing<Vec<u8>> = match shares {
        [] => return Err(bad()),
        [one] => Zeroizing::new(one.get(1..).ok_or_else(bad)?.to_vec()),
        many => {
            let owned: Vec<Zeroizing<Vec<u8>>> =
                many.iter().map(|s| Zeroizing::new(s.to_vec())).collect();
            let plain: Vec<Vec<u8>> = owned.iter().map(|s| s.to_vec()).collect();
            let result = Gf256::combine_bytes(&plain).map_err(|_| bad());
            for mut p in plain {
                zeroize::Zeroize::zeroize(&mut p);
            }
            Zeroizing::new(result?)
        }
    };
    let mut out = Zeroizing::new([0u8; 32]);
    out.copy_from_slice(secret.get(..32).ok_or_else(bad)?);
    if secret.len() != 32 {
        return Err(bad());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_k_of_n_rebuild_the_secret() {
        let secret = [0x5a; 32];
        let shares = split(&secret, 2, 3).unwrap();
        for (a, b) in [(0, 1), (0, 2), (1, 2)] {
            let got = combine(&[&shares[a], &shares[b]]).unwrap();
            assert_eq!(*got, secret);
        }
        // one share alone reveals nothing: it does not combine to the secret
        assert!(combine(&[&shares[0]]).map(|s| *s != secret).unwrap_or(true));
        let three = split(&secret, 3, 5).unwrap();
        assert_eq!(
            *combine(&[&three[4], &three[0], &three[2]]).unwrap(),
            secret
        );
        assert_ne!(*combine(&[&three[4], &three[0]]).unwrap(), secret);
    }

    #[test]
    fn one_of_n_shares_are_the_key() {
        let secret = [7u8; 32];
        for share in split(&secret, 1, 3).unwrap() {
            assert_eq!(*combine(&[&share]).unwrap(), secret);
        }
        assert!(split(&secret, 0, 3).is_err());
        assert!(split(&secret, 4, 3).is_err());
        assert!(combine(&[&[1u8, 2, 3][..]]).is_err());
    }
}
