//! SLIP-10 derivation for Ed25519 and P-256 (`nist256p1`)
//! (https://github.com/satoshilabs/slips/blob/master/slip-0010.md). secp256k1 uses BIP-32
//! (the `bip32` crate), which SLIP-10 defines to be identical.
//!
//! Ed25519 has only hardened derivation: a path with a non-hardened step is refused with a clear
//! error rather than silently hardened (as some wallets do), so an address never depends on
//! which library interpreted the path.

use hmac::{Hmac, KeyInit, Mac};
use p256::elliptic_curve::ff::{Field, PrimeField};
use sha2::Sha512;
use zeroize::Zeroizing;

use super::Bip32Path;
use crate::error::{Error, Result};

const HARDENED: u32 = 0x8000_0000;

/// A private key and chain code; both secret, both wiped on drop.
struct Node {
    key: Zeroizing<[u8; 32]>,
    chain_code: Zeroizing<[u8; 32]>,
}

fn hmac_sha512(key: &[u8], parts: &[&[u8]]) -> Result<Zeroizing<[u8; 64]>> {
    let mut mac =
        Hmac::<Sha512>::new_from_slice(key).map_err(|_| Error::Internal("hmac key length"))?;
    for part in parts {
        mac.update(part);
    }
    let mut out = Zeroizing::new([0u8; 64]);
    out.copy_from_slice(&mac.finalize().into_bytes());
    Ok(out)
}

fn split(i: &[u8; 64]) -> Node {
    let mut key = Zeroizing::new([0u8; 32]);
    let mut chain_code = Zeroizing::new([0u8; 32]);
    let (left, right) = i.split_at(32);
    key.copy_from_slice(left);
    chain_code.copy_from_slice(right);
    Node { key, chain_code }
}

/// Ed25519 key at `path`; every step must be hardened.
pub fn derive_ed25519(seed: &[u8], path: &Bip32Path) -> Result<ed25519_dalek::SigningKey> {
    let node = ed25519_node(seed, path)?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&node.key))
}

fn ed25519_node(seed: &[u8], path: &Bip32Path) -> Result<Node> {
    let master = hmac_sha512(b"ed25519 seed", &[seed])?;
    let mut node = split(&master);
    for index in path.indices() {
        if index & HARDENED == 0 {
            return Err(Error::invalid(format!(
                "Ed25519 derivation (SLIP-10) supports only hardened path steps; `{}` is not \
                 hardened (write `{}'`)",
                index, index
            )));
        }
        let i = hmac_sha512(
            node.chain_code.as_ref(),
            &[&[0u8], node.key.as_ref(), &index.to_be_bytes()],
        )?;
        node = split(&i);
    }
    Ok(node)
}

/// P-256 key at `path` (hardened and non-hardened steps).
pub fn derive_p256(seed: &[u8], path: &Bip32Path) -> Result<p256::ecdsa::SigningKey> {
    let node = p256_node(seed, path)?;
    p256::ecdsa::SigningKey::from_slice(node.key.as_ref())
        .map_err(|_| Error::Internal("slip10 p256 key"))
}

/// `parse256(bytes)` as a scalar if it is below the group order.
fn scalar(bytes: &[u8; 32]) -> Option<p256::Scalar> {
    Option::from(p256::Scalar::from_repr((*bytes).into()))
}

fn p256_node(seed: &[u8], path: &Bip32Path) -> Result<Node> {
    // Master: retry with I as the new data while IL is zero or not below n.
    let mut i = hmac_sha512(b"Nist256p1 seed", &[seed])?;
    loop {
        let node = split(&i);
        match scalar(&node.key) {
            Some(k) if !bool::from(k.is_zero()) => break,
            _ => i = hmac_sha512(b"Nist256p1 seed", &[i.as_ref()])?,
        }
    }
    let mut node = split(&i);
    for index in path.indices() {
        let parent = scalar(&node.key).ok_or(Error::Internal("slip10 parent key"))?;
        let mut data: Zeroizing<Vec<u8>> = Zeroizing::new(Vec::with_capacity(37));
        if index & HARDENED != 0 {
            data.push(0);
            data.extend_from_slice(node.key.as_ref());
        } else {
            let secret = p256::ecdsa::SigningKey::from_slice(node.key.as_ref())
                .map_err(|_| Error::Internal("slip10 parent key"))?;
            data.extend_from_slice(secret.verifying_key().to_sec1_point(true).as_bytes());
        }
        data.extend_from_slice(&index.to_be_bytes());
        // Bounded: each retry has probability ~2^-32; give up (an internal error) after 8.
        let mut child = None;
        for _ in 0..8 {
            let i = hmac_sha512(node.chain_code.as_ref(), &[data.as_slice()])?;
            let candidate = split(&i);
            if let Some(il) = scalar(&candidate.key) {
                let k = il + parent;
                if !bool::from(k.is_zero()) {
                    let mut key = Zeroizing::new([0u8; 32]);
                    key.copy_from_slice(&k.to_repr());
                    child = Some(Node {
                        key,
                        chain_code: candidate.chain_code,
                    });
                    break;
                }
            }
            // SLIP-10 retry: data = 0x01 || IR || ser32(i)
            data.clear();
            data.push(1);
            data.extend_from_slice(candidate.chain_code.as_ref());
            data.extend_from_slice(&index.to_be_bytes());
        }
        node = child.ok_or(Error::Internal("slip10 derivation did not converge"))?;
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SEED1: &str = "000102030405060708090a0b0c0d0e0f";
    const SEED2: &str = "fffcf9f6f3f0edeae7e4e1dedbd8d5d2cfccc9c6c3c0bdbab7b4b1aeaba8a5a29f9c999693908d8a8784817e7b7875726f6c696663605d5a5754514e4b484542";

    fn check(node: Node, chain_code: &str, key: &str) {
        assert_eq!(hex::encode(node.chain_code.as_ref()), chain_code);
        assert_eq!(hex::encode(node.key.as_ref()), key);
    }

    /// SLIP-10 "Test vector 1 for ed25519" and "Test vector 2 for ed25519" (spec, see module
    /// docs): chain code, private key and public key (the spec prefixes it with 00) per step.
    #[test]
    fn ed25519_vectors() {
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            (
                SEED1,
                "m",
                "90046a93de5380a72b5e45010748567d5ea02bbf6522f979e05c0d8d8ca9fffb",
                "2b4be7f19ee27bbf30c667b642d5f4aa69fd169872f8fc3059c08ebae2eb19e7",
                "a4b2856bfec510abab89753fac1ac0e1112364e7d250545963f135f2a33188ed",
            ),
            (
                SEED1,
                "m/0'",
                "8b59aa11380b624e81507a27fedda59fea6d0b779a778918a2fd3590e16e9c69",
                "68e0fe46dfb67e368c75379acec591dad19df3cde26e63b93a8e704f1dade7a3",
                "8c8a13df77a28f3445213a0f432fde644acaa215fc72dcdf300d5efaa85d350c",
            ),
            (
                SEED1,
                "m/0'/1'",
                "a320425f77d1b5c2505a6b1b27382b37368ee640e3557c315416801243552f14",
                "b1d0bad404bf35da785a64ca1ac54b2617211d2777696fbffaf208f746ae84f2",
                "1932a5270f335bed617d5b935c80aedb1a35bd9fc1e31acafd5372c30f5c1187",
            ),
            (
                SEED1,
                "m/0'/1'/2'",
                "2e69929e00b5ab250f49c3fb1c12f252de4fed2c1db88387094a0f8c4c9ccd6c",
                "92a5b23c0b8a99e37d07df3fb9966917f5d06e02ddbd909c7e184371463e9fc9",
                "ae98736566d30ed0e9d2f4486a64bc95740d89c7db33f52121f8ea8f76ff0fc1",
            ),
            (
                SEED1,
                "m/0'/1'/2'/2'",
                "8f6d87f93d750e0efccda017d662a1b31a266e4a6f5993b15f5c1f07f74dd5cc",
                "30d1dc7e5fc04c31219ab25a27ae00b50f6fd66622f6e9c913253d6511d1e662",
                "8abae2d66361c879b900d204ad2cc4984fa2aa344dd7ddc46007329ac76c429c",
            ),
            (
                SEED1,
                "m/0'/1'/2'/2'/1000000000'",
                "68789923a0cac2cd5a29172a475fe9e0fb14cd6adb5ad98a3fa70333e7afa230",
                "8f94d394a8e8fd6b1bc2f3f49f5c47e385281d5c17e65324b0f62483e37e8793",
                "3c24da049451555d51a7014a37337aa4e12d41e485abccfa46b47dfb2af54b7a",
            ),
            (
                SEED2,
                "m",
                "ef70a74db9c3a5af931b5fe73ed8e1a53464133654fd55e7a66f8570b8e33c3b",
                "171cb88b1b3c1db25add599712e36245d75bc65a1a5c9e18d76f9f2b1eab4012",
                "8fe9693f8fa62a4305a140b9764c5ee01e455963744fe18204b4fb948249308a",
            ),
            (
                SEED2,
                "m/0'",
                "0b78a3226f915c082bf118f83618a618ab6dec793752624cbeb622acb562862d",
                "1559eb2bbec5790b0c65d8693e4d0875b1747f4970ae8b650486ed7470845635",
                "86fab68dcb57aa196c77c5f264f215a112c22a912c10d123b0d03c3c28ef1037",
            ),
            (
                SEED2,
                "m/0'/2147483647'",
                "138f0b2551bcafeca6ff2aa88ba8ed0ed8de070841f0c4ef0165df8181eaad7f",
                "ea4f5bfe8694d8bb74b7b59404632fd5968b774ed545e810de9c32a4fb4192f4",
                "5ba3b9ac6e90e83effcd25ac4e58a1365a9e35a3d3ae5eb07b9e4d90bcf7506d",
            ),
            (
                SEED2,
                "m/0'/2147483647'/1'",
                "73bd9fff1cfbde33a1b846c27085f711c0fe2d66fd32e139d3ebc28e5a4a6b90",
                "3757c7577170179c7868353ada796c839135b3d30554bbb74a4b1e4a5a58505c",
                "2e66aa57069c86cc18249aecf5cb5a9cebbfd6fadeab056254763874a9352b45",
            ),
            (
                SEED2,
                "m/0'/2147483647'/1'/2147483646'",
                "0902fe8a29f9140480a00ef244bd183e8a13288e4412d8389d140aac1794825a",
                "5837736c89570de861ebc173b1086da4f505d4adb387c6a1b1342d5e4ac9ec72",
                "e33c0f7d81d843c572275f287498e8d408654fdf0d1e065b84e2e6f157aab09b",
            ),
            (
                SEED2,
                "m/0'/2147483647'/1'/2147483646'/2'",
                "5d70af781f3a37b829f0d060924d5e960bdc02e85423494afc0b1a41bbe196d4",
                "551d333177df541ad876a60ea71f00447931c0a9da16f227c11ea080d7391b8d",
                "47150c75db263559a70d5778bf36abbab30fb061ad69f69ece61a72b0cfa4fc0",
            ),
        ];
        for (seed, path, chain_code, key, public) in cases {
            let seed = hex::decode(seed).unwrap();
            let path = Bip32Path::parse(path).unwrap();
            check(ed25519_node(&seed, &path).unwrap(), chain_code, key);
            let signing = derive_ed25519(&seed, &path).unwrap();
            assert_eq!(hex::encode(signing.verifying_key().to_bytes()), *public);
        }
    }

    #[test]
    fn ed25519_refuses_non_hardened_steps() {
        let seed = hex::decode(SEED1).unwrap();
        let err = derive_ed25519(&seed, &Bip32Path::parse("m/44'/501'/0'/0").unwrap())
            .err()
            .unwrap();
        assert!(err.to_string().contains("only hardened"), "{err}");
    }

    /// SLIP-10 "Test vector 1 for nist256p1", "Test vector 2 for nist256p1" and the two retry
    /// cases ("Test derivation retry for nist256p1", "Test seed retry for nist256p1").
    #[test]
    fn p256_vectors() {
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                SEED1,
                "m",
                "beeb672fe4621673f722f38529c07392fecaa61015c80c34f29ce8b41b3cb6ea",
                "612091aaa12e22dd2abef664f8a01a82cae99ad7441b7ef8110424915c268bc2",
            ),
            (
                SEED1,
                "m/0'",
                "3460cea53e6a6bb5fb391eeef3237ffd8724bf0a40e94943c98b83825342ee11",
                "6939694369114c67917a182c59ddb8cafc3004e63ca5d3b84403ba8613debc0c",
            ),
            (
                SEED1,
                "m/0'/1",
                "4187afff1aafa8445010097fb99d23aee9f599450c7bd140b6826ac22ba21d0c",
                "284e9d38d07d21e4e281b645089a94f4cf5a5a81369acf151a1c3a57f18b2129",
            ),
            (
                SEED1,
                "m/0'/1/2'",
                "98c7514f562e64e74170cc3cf304ee1ce54d6b6da4f880f313e8204c2a185318",
                "694596e8a54f252c960eb771a3c41e7e32496d03b954aeb90f61635b8e092aa7",
            ),
            (
                SEED1,
                "m/0'/1/2'/2",
                "ba96f776a5c3907d7fd48bde5620ee374d4acfd540378476019eab70790c63a0",
                "5996c37fd3dd2679039b23ed6f70b506c6b56b3cb5e424681fb0fa64caf82aaa",
            ),
            (
                SEED1,
                "m/0'/1/2'/2/1000000000",
                "b9b7b82d326bb9cb5b5b121066feea4eb93d5241103c9e7a18aad40f1dde8059",
                "21c4f269ef0a5fd1badf47eeacebeeaa3de22eb8e5b0adcd0f27dd99d34d0119",
            ),
            (
                SEED2,
                "m",
                "96cd4465a9644e31528eda3592aa35eb39a9527769ce1855beafc1b81055e75d",
                "eaa31c2e46ca2962227cf21d73a7ef0ce8b31c756897521eb6c7b39796633357",
            ),
            (
                SEED2,
                "m/0",
                "84e9c258bb8557a40e0d041115b376dd55eda99c0042ce29e81ebe4efed9b86a",
                "d7d065f63a62624888500cdb4f88b6d59c2927fee9e6d0cdff9cad555884df6e",
            ),
            (
                SEED2,
                "m/0/2147483647'",
                "f235b2bc5c04606ca9c30027a84f353acf4e4683edbd11f635d0dcc1cd106ea6",
                "96d2ec9316746a75e7793684ed01e3d51194d81a42a3276858a5b7376d4b94b9",
            ),
            (
                SEED2,
                "m/0/2147483647'/1",
                "7c0b833106235e452eba79d2bdd58d4086e663bc8cc55e9773d2b5eeda313f3b",
                "974f9096ea6873a915910e82b29d7c338542ccde39d2064d1cc228f371542bbc",
            ),
            (
                SEED2,
                "m/0/2147483647'/1/2147483646'",
                "5794e616eadaf33413aa309318a26ee0fd5163b70466de7a4512fd4b1a5c9e6a",
                "da29649bbfaff095cd43819eda9a7be74236539a29094cd8336b07ed8d4eff63",
            ),
            (
                SEED2,
                "m/0/2147483647'/1/2147483646'/2",
                "3bfb29ee8ac4484f09db09c2079b520ea5616df7820f071a20320366fbe226a7",
                "bb0a77ba01cc31d77205d51d08bd313b979a71ef4de9b062f8958297e746bd67",
            ),
            (
                SEED1,
                "m/28578'",
                "e94c8ebe30c2250a14713212f6449b20f3329105ea15b652ca5bdfc68f6c65c2",
                "06f0db126f023755d0b8d86d4591718a5210dd8d024e3e14b6159d63f53aa669",
            ),
            (
                SEED1,
                "m/28578'/33941",
                "9e87fe95031f14736774cd82f25fd885065cb7c358c1edf813c72af535e83071",
                "092154eed4af83e078ff9b84322015aefe5769e31270f62c3f66c33888335f3a",
            ),
            (
                "a7305bc8df8d0951f0cb224c0e95d7707cbdf2c6ce7e8d481fec69c7ff5e9446",
                "m",
                "7762f9729fed06121fd13f326884c82f59aa95c57ac492ce8c9654e60efd130c",
                "3b8c18469a4634517d6d0b65448f8e6c62091b45540a1743c5846be55d47d88f",
            ),
        ];
        for (seed, path, chain_code, key) in cases {
            let seed = hex::decode(seed).unwrap();
            let path = Bip32Path::parse(path).unwrap();
            check(p256_node(&seed, &path).unwrap(), chain_code, key);
        }
        let seed = hex::decode(SEED1).unwrap();
        let key = derive_p256(&seed, &Bip32Path::parse("m/0'").unwrap()).unwrap();
        assert_eq!(
            hex::encode(key.verifying_key().to_sec1_point(true).as_bytes()),
            "0384610f5ecffe8fda089363a41f56a5c7ffc1d81b59a612d0d649b2d22355590c"
        );
    }
}
