//! PSBT version 0 (BIP-174): parse, sign every input the key owns, serialise.
//!
//! Signed: P2WPKH inputs (BIP-143 sighash, ECDSA, a `partial_sig`) and P2TR key-path inputs of
//! BIP-86 outputs (BIP-341 sighash, tweaked BIP-340 Schnorr, a `tap_key_sig`). Both need the
//! input's `witness_utxo` (taproot: every input's), which is where the amount being spent —
//! and so the fee — is committed to. Inputs the key does not own are left untouched; a PSBT in
//! which it owns none is refused. Unknown fields are kept byte for byte.

use k256::ecdsa::SigningKey;
use zeroize::Zeroizing;

use super::{
    hash160, p2tr_script, p2wpkh_script, sha256, sha256d, tagged_hash, taproot_signing_key,
};
use crate::chains::ethereum::sign_digest;
use crate::error::{Error, Result};
use crate::secrets::random;

const MAGIC: &[u8; 5] = b"psbt\xff";
const MAX_ENTRIES: usize = 1000;
const MAX_INPUTS: usize = 1000;

const SIGHASH_DEFAULT: u32 = 0;
const SIGHASH_ALL: u32 = 1;

// Key types (BIP-174, BIP-371).
const GLOBAL_UNSIGNED_TX: u8 = 0x00;
const GLOBAL_VERSION: u8 = 0xfb;
const IN_WITNESS_UTXO: u8 = 0x01;
const IN_PARTIAL_SIG: u8 = 0x02;
const IN_SIGHASH_TYPE: u8 = 0x03;
const IN_FINAL_SCRIPTSIG: u8 = 0x07;
const IN_FINAL_WITNESS: u8 = 0x08;
const IN_TAP_KEY_SIG: u8 = 0x13;

fn bad(msg: &str) -> Error {
    Error::invalid(format!("malformed PSBT: {msg}"))
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        self.take(N)?.try_into().map_err(|_| bad("truncated"))
    }

    fn u32(&mut self) -> Result<u32> {
        Ok(u32::from_le_bytes(self.array()?))
    }

    /// Bitcoin's CompactSize, canonical only.
    fn compact(&mut self) -> Result<u64> {
        let [first] = self.array::<1>()?;
        let (value, min) = match first {
            0xfd => (u64::from(u16::from_le_bytes(self.array()?)), 0xfd),
            0xfe => (u64::from(u32::from_le_bytes(self.array()?)), 0x1_0000),
            0xff => (u64::from_le_bytes(self.array()?), 0x1_0000_0000),
            n => return Ok(u64::from(n)),
        };
        if value < min {
            return Err(bad("non-canonical CompactSize"));
        }
        Ok(value)
    }

    fn compact_bytes(&mut self) -> Result<&'a [u8]> {
        let n = usize::try_from(self.compact()?).map_err(|_| bad("length too large"))?;
        if n > self.0.len() {
            return Err(bad("length beyond the end of the data"));
        }
        self.take(n)
    }
}

fn write_compact(out: &mut Vec<u8>, n: usize) {
    match n {
        0..=0xfc => out.push(n as u8),
        0xfd..=0xffff => {
            out.push(0xfd);
            out.extend_from_slice(&(n as u16).to_le_bytes());
        }
        0x1_0000..=0xffff_ffff => {
            out.push(0xfe);
            out.extend_from_slice(&(n as u32).to_le_bytes());
        }
        _ => {
            out.push(0xff);
            out.extend_from_slice(&(n as u64).to_le_bytes());
        }
    }
}

fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_compact(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// One key-value map, in the order it arrived.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct Map(Vec<(Vec<u8>, Vec<u8>)>);

impl Map {
    fn read(r: &mut Reader<'_>) -> Result<Self> {
        let mut entries: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
        loop {
            let key = r.compact_bytes()?;
            if key.is_empty() {
                return Ok(Map(entries));
            }
            if entries.len() >= MAX_ENTRIES {
                return Err(bad("too many fields in a map"));
            }
            if entries.iter().any(|(k, _)| k == key) {
                return Err(bad("duplicate key in a map"));
            }
            let value = r.compact_bytes()?;
            entries.push((key.to_vec(), value.to_vec()));
        }
    }

    fn write(&self, out: &mut Vec<u8>) {
        for (k, v) in &self.0 {
            write_bytes(out, k);
            write_bytes(out, v);
        }
        out.push(0);
    }

    fn get(&self, key: &[u8]) -> Option<&[u8]> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_slice())
    }

    fn set(&mut self, key: Vec<u8>, value: Vec<u8>) {
        match self.0.iter_mut().find(|(k, _)| *k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key, value)),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxIn {
    /// Previous transaction id, in internal byte order.
    pub txid: [u8; 32],
    pub vout: u32,
    pub sequence: u32,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TxOut {
    pub value: u64,
    pub script_pubkey: Vec<u8>,
}

/// The unsigned transaction: what the policy engine sees as `bitcoin.tx.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BitcoinTransaction {
    pub version: u32,
    pub inputs: Vec<TxIn>,
    pub outputs: Vec<TxOut>,
    pub locktime: u32,
}

impl BitcoinTransaction {
    fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        let version = r.u32()?;
        let n_in = r.compact()?;
        if n_in == 0 {
            return Err(bad(
                "the unsigned transaction must be in non-witness form with inputs",
            ));
        }
        if n_in > MAX_INPUTS as u64 {
            return Err(bad("too many inputs"));
        }
        let mut inputs = Vec::new();
        for _ in 0..n_in {
            let txid = r.array()?;
            let vout = r.u32()?;
            if !r.compact_bytes()?.is_empty() {
                return Err(bad("the unsigned transaction has a non-empty scriptSig"));
            }
            inputs.push(TxIn {
                txid,
                vout,
                sequence: r.u32()?,
            });
        }
        let n_out = r.compact()?;
        if n_out > MAX_INPUTS as u64 {
            return Err(bad("too many outputs"));
        }
        let mut outputs = Vec::new();
        for _ in 0..n_out {
            let value = u64::from_le_bytes(r.array()?);
            outputs.push(TxOut {
                value,
                script_pubkey: r.compact_bytes()?.to_vec(),
            });
        }
        let locktime = r.u32()?;
        if !r.0.is_empty() {
            return Err(bad("trailing bytes after the unsigned transaction"));
        }
        Ok(BitcoinTransaction {
            version,
            inputs,
            outputs,
            locktime,
        })
    }

    fn outpoint(input: &TxIn) -> Vec<u8> {
        let mut out = input.txid.to_vec();
        out.extend_from_slice(&input.vout.to_le_bytes());
        out
    }

    fn serialized_outputs(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for o in &self.outputs {
            out.extend_from_slice(&o.value.to_le_bytes());
            write_bytes(&mut out, &o.script_pubkey);
        }
        out
    }

    /// BIP-143 signature hash (SIGHASH_ALL) of a P2WPKH input.
    fn segwit_v0_sighash(
        &self,
        index: usize,
        pubkey_hash: &[u8; 20],
        amount: u64,
    ) -> Result<[u8; 32]> {
        let input = self
            .inputs
            .get(index)
            .ok_or(Error::Internal("input index"))?;
        let prevouts: Vec<u8> = self.inputs.iter().flat_map(Self::outpoint).collect();
        let sequences: Vec<u8> = self
            .inputs
            .iter()
            .flat_map(|i| i.sequence.to_le_bytes())
            .collect();
        let mut pre = Vec::with_capacity(200);
        pre.extend_from_slice(&self.version.to_le_bytes());
        pre.extend_from_slice(&sha256d(&prevouts));
        pre.extend_from_slice(&sha256d(&sequences));
        pre.extend_from_slice(&Self::outpoint(input));
        pre.extend_from_slice(&[0x19, 0x76, 0xa9, 0x14]);
        pre.extend_from_slice(pubkey_hash);
        pre.extend_from_slice(&[0x88, 0xac]);
        pre.extend_from_slice(&amount.to_le_bytes());
        pre.extend_from_slice(&input.sequence.to_le_bytes());
        pre.extend_from_slice(&sha256d(&self.serialized_outputs()));
        pre.extend_from_slice(&self.locktime.to_le_bytes());
        pre.extend_from_slice(&SIGHASH_ALL.to_le_bytes());
        Ok(sha256d(&pre))
    }

    /// BIP-341 signature hash of a key-path spend (no annex), SIGHASH_DEFAULT or ALL.
    fn taproot_sighash(&self, index: usize, spent: &[TxOut], hash_type: u8) -> Result<[u8; 32]> {
        let prevouts: Vec<u8> = self.inputs.iter().flat_map(Self::outpoint).collect();
        let amounts: Vec<u8> = spent.iter().flat_map(|o| o.value.to_le_bytes()).collect();
        let mut scripts = Vec::new();
        for o in spent {
            write_bytes(&mut scripts, &o.script_pubkey);
        }
        let sequences: Vec<u8> = self
            .inputs
            .iter()
            .flat_map(|i| i.sequence.to_le_bytes())
            .collect();
        let mut msg = vec![0x00, hash_type];
        msg.extend_from_slice(&self.version.to_le_bytes());
        msg.extend_from_slice(&self.locktime.to_le_bytes());
        msg.extend_from_slice(&sha256(&prevouts));
        msg.extend_from_slice(&sha256(&amounts));
        msg.extend_from_slice(&sha256(&scripts));
        msg.extend_from_slice(&sha256(&sequences));
        msg.extend_from_slice(&sha256(&self.serialized_outputs()));
        msg.push(0x00); // spend type: key path, no annex
        let index = u32::try_from(index).map_err(|_| Error::Internal("input index"))?;
        msg.extend_from_slice(&index.to_le_bytes());
        Ok(tagged_hash("TapSighash", &[&msg]))
    }
}

#[derive(Clone, Debug)]
pub struct Psbt {
    pub tx: BitcoinTransaction,
    global: Map,
    inputs: Vec<Map>,
    outputs: Vec<Map>,
}

fn parse_witness_utxo(bytes: &[u8]) -> Result<TxOut> {
    let mut r = Reader(bytes);
    let value = u64::from_le_bytes(r.array()?);
    let script_pubkey = r.compact_bytes()?.to_vec();
    if !r.0.is_empty() {
        return Err(bad("trailing bytes in a witness_utxo"));
    }
    Ok(TxOut {
        value,
        script_pubkey,
    })
}

impl Psbt {
    /// The amount each input spends, from its `witness_utxo`; `None` when an input lacks one
    /// (then the fee cannot be known).
    pub fn input_amounts(&self) -> Option<Vec<u64>> {
        self.inputs
            .iter()
            .map(|map| {
                map.get(&[IN_WITNESS_UTXO])
                    .and_then(|utxo| parse_witness_utxo(utxo).ok())
                    .map(|out| out.value)
            })
            .collect()
    }

    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        if r.take(5).ok() != Some(MAGIC.as_slice()) {
            return Err(bad(
                "missing the `psbt\\xff` magic (is it base64? send hex)",
            ));
        }
        let global = Map::read(&mut r)?;
        if let Some(version) = global.get(&[GLOBAL_VERSION])
            && version != [0, 0, 0, 0]
        {
            return Err(Error::Unsupported("PSBT version 2".into()));
        }
        let tx = BitcoinTransaction::parse(
            global
                .get(&[GLOBAL_UNSIGNED_TX])
                .ok_or_else(|| bad("no unsigned transaction"))?,
        )?;
        let inputs = (0..tx.inputs.len())
            .map(|_| Map::read(&mut r))
            .collect::<Result<Vec<_>>>()?;
        let outputs = (0..tx.outputs.len())
            .map(|_| Map::read(&mut r))
            .collect::<Result<Vec<_>>>()?;
        if !r.0.is_empty() {
            return Err(bad("trailing bytes after the last map"));
        }
        for map in &inputs {
            if let Some(utxo) = map.get(&[IN_WITNESS_UTXO]) {
                parse_witness_utxo(utxo)?;
            }
        }
        Ok(Psbt {
            tx,
            global,
            inputs,
            outputs,
        })
    }

    pub fn serialize(&self) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        self.global.write(&mut out);
        for m in self.inputs.iter().chain(&self.outputs) {
            m.write(&mut out);
        }
        out
    }

    fn sighash_type(map: &Map, default: u32) -> Result<u32> {
        match map.get(&[IN_SIGHASH_TYPE]) {
            None => Ok(default),
            Some(bytes) => {
                let t = u32::from_le_bytes(
                    bytes
                        .try_into()
                        .map_err(|_| bad("sighash type must be 4 bytes"))?,
                );
                if t == default || t == SIGHASH_ALL {
                    Ok(t)
                } else {
                    Err(Error::Unsupported(format!("PSBT sighash type {t}")))
                }
            }
        }
    }

    /// Signs every input `key` can spend; returns how many it signed.
    pub fn sign(&mut self, key: &SigningKey) -> Result<usize> {
        let public = key.verifying_key();
        let wpkh = p2wpkh_script(public);
        let tr = p2tr_script(public)?;
        let pubkey = public.to_sec1_point(true).as_bytes().to_vec();
        let pubkey_hash = hash160(&pubkey);
        let utxos: Vec<Option<TxOut>> = self
            .inputs
            .iter()
            .map(|m| {
                m.get(&[IN_WITNESS_UTXO])
                    .map(parse_witness_utxo)
                    .transpose()
            })
            .collect::<Result<_>>()?;
        let mut signed = 0;
        for (index, utxo) in utxos.iter().enumerate() {
            let Some(utxo) = utxo else { continue };
            let map = self.inputs.get(index).ok_or(Error::Internal("input map"))?;
            if map.get(&[IN_FINAL_SCRIPTSIG]).is_some() || map.get(&[IN_FINAL_WITNESS]).is_some() {
                continue;
            }
            if utxo.script_pubkey == wpkh {
                let hash_type = Self::sighash_type(map, SIGHASH_ALL)?;
                let digest = self.tx.segwit_v0_sighash(index, &pubkey_hash, utxo.value)?;
                let sig = sign_digest(key, &digest)?;
                let signature = k256::ecdsa::Signature::from_scalars(sig.r, sig.s)
                    .map_err(|_| Error::Internal("signature"))?;
                let mut value = signature.to_der().as_bytes().to_vec();
                value.push(hash_type as u8);
                let mut k = vec![IN_PARTIAL_SIG];
                k.extend_from_slice(&pubkey);
                self.inputs
                    .get_mut(index)
                    .ok_or(Error::Internal("input map"))?
                    .set(k, value);
                signed += 1;
            } else if utxo.script_pubkey == tr {
                let hash_type = Self::sighash_type(map, SIGHASH_DEFAULT)?;
                let spent = utxos
                    .iter()
                    .cloned()
                    .collect::<Option<Vec<_>>>()
                    .ok_or_else(|| {
                        Error::invalid(
                            "signing a taproot input needs the witness_utxo of every input",
                        )
                    })?;
                let digest = self.tx.taproot_sighash(index, &spent, hash_type as u8)?;
                let tweaked = taproot_signing_key(key)?;
                let aux = Zeroizing::new(random::<32>()?);
                let mut value = tweaked
                    .sign_raw(&digest, &aux)
                    .map_err(|_| Error::Internal("schnorr signing"))?
                    .to_bytes()
                    .to_vec();
                if hash_type != SIGHASH_DEFAULT {
                    value.push(hash_type as u8);
                }
                self.inputs
                    .get_mut(index)
                    .ok_or(Error::Internal("input map"))?
                    .set(vec![IN_TAP_KEY_SIG], value);
                signed += 1;
            }
        }
        if signed == 0 {
            return Err(Error::invalid(
                "no input of this PSBT spends a P2WPKH or P2TR output of signWith (each input \
                 to sign needs its witness_utxo)",
            ));
        }
        Ok(signed)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// BIP-143's "Native P2WPKH" example: the unsigned transaction, the second input's key and
    /// amount, and the expected sighash
    /// (https://github.com/bitcoin/bips/blob/master/bip-0143.mediawiki#native-p2wpkh).
    #[test]
    fn bip143_native_p2wpkh_sighash() {
        let unsigned = hex::decode("0100000002fff7f7881a8099afa6940d42d1e7f6362bec38171ea3edf433541db4e4ad969f0000000000eeffffffef51e1b804cc89d182d279655c3aa89e815b1b309fe287d9b2b55d57b90ec68a0100000000ffffffff02202cb206000000001976a9148280b37df378db99f66f85c95a783a76ac7a6d5988ac9093510d000000001976a9143bde42dbee7e4dbe6a21b2d50ce2f0167faa815988ac11000000").unwrap();
        let tx = BitcoinTransaction::parse(&unsigned).unwrap();
        let key = SigningKey::from_slice(
            &hex::decode("619c335025c7f4012e556c2a58b2506e30b8511b53ade95ea316fd8c3286feb9")
                .unwrap(),
        )
        .unwrap();
        let pubkey = key.verifying_key().to_sec1_point(true);
        assert_eq!(
            hex::encode(pubkey.as_bytes()),
            "025476c2e83188368da1ff3e292e7acafcdb3566bb0ad253f62fc70f07aeee6357"
        );
        let digest = tx
            .segwit_v0_sighash(1, &hash160(pubkey.as_bytes()), 600_000_000)
            .unwrap();
        assert_eq!(
            hex::encode(digest),
            "c37af31116d1b27caf68aae9e3ac82f1477929014d5b917657d0eb49478cb670"
        );
    }

    /// A PSBT spending one `value`-sat output locked by `script`, paying 9000 sats to a
    /// P2WPKH of 0x01..0x14.
    pub(crate) fn psbt_for(script: Vec<u8>, value: u64) -> Vec<u8> {
        let mut tx = vec![2, 0, 0, 0, 1];
        tx.extend_from_slice(&[7; 32]);
        tx.extend_from_slice(&[0, 0, 0, 0, 0, 0xfd, 0xff, 0xff, 0xff, 1]);
        tx.extend_from_slice(&9000u64.to_le_bytes());
        write_bytes(
            &mut tx,
            &[
                0x00, 0x14, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20,
            ],
        );
        tx.extend_from_slice(&[0, 0, 0, 0]);
        let mut out = MAGIC.to_vec();
        write_bytes(&mut out, &[GLOBAL_UNSIGNED_TX]);
        write_bytes(&mut out, &tx);
        out.push(0);
        let mut utxo = value.to_le_bytes().to_vec();
        write_bytes(&mut utxo, &script);
        write_bytes(&mut out, &[IN_WITNESS_UTXO]);
        write_bytes(&mut out, &utxo);
        out.push(0);
        out.push(0);
        out
    }

    #[test]
    fn signs_p2wpkh_and_p2tr_inputs_it_owns() {
        use k256::ecdsa::signature::hazmat::PrehashVerifier;
        let key = SigningKey::from_slice(&[0x33; 32]).unwrap();
        // P2WPKH
        let raw = psbt_for(p2wpkh_script(key.verifying_key()), 10_000);
        let mut psbt = Psbt::parse(&raw).unwrap();
        assert_eq!(psbt.serialize(), raw);
        assert_eq!(psbt.sign(&key).unwrap(), 1);
        let back = Psbt::parse(&psbt.serialize()).unwrap();
        let pubkey = key.verifying_key().to_sec1_point(true).as_bytes().to_vec();
        let mut k = vec![IN_PARTIAL_SIG];
        k.extend_from_slice(&pubkey);
        let sig = back.inputs[0].get(&k).unwrap();
        assert_eq!(*sig.last().unwrap(), 1);
        let der = k256::ecdsa::Signature::from_der(&sig[..sig.len() - 1]).unwrap();
        let digest = back
            .tx
            .segwit_v0_sighash(0, &hash160(&pubkey), 10_000)
            .unwrap();
        key.verifying_key().verify_prehash(&digest, &der).unwrap();
        // P2TR
        let script = p2tr_script(key.verifying_key()).unwrap();
        let raw = psbt_for(script.clone(), 10_000);
        let mut psbt = Psbt::parse(&raw).unwrap();
        psbt.sign(&key).unwrap();
        let sig = psbt.inputs[0].get(&[IN_TAP_KEY_SIG]).unwrap().to_vec();
        assert_eq!(sig.len(), 64);
        let spent = [TxOut {
            value: 10_000,
            script_pubkey: script.clone(),
        }];
        let digest = psbt.tx.taproot_sighash(0, &spent, 0).unwrap();
        let vk = k256::schnorr::VerifyingKey::from_slice(&script[2..]).unwrap();
        vk.verify_raw(
            &digest,
            &k256::schnorr::Signature::from_slice(&sig).unwrap(),
        )
        .unwrap();
        // another key owns nothing here
        let other = SigningKey::from_slice(&[0x44; 32]).unwrap();
        assert!(Psbt::parse(&raw).unwrap().sign(&other).is_err());
    }

    #[test]
    fn malformed_psbts_are_refused() {
        let good = psbt_for(vec![0x51, 0x20], 1);
        let mut trailing = good.clone();
        trailing.push(0);
        let mut no_magic = good.clone();
        no_magic[0] = b'x';
        for bad in [&[][..], &good[..20], &trailing, &no_magic, b"psbt\xff\x00"] {
            assert!(Psbt::parse(bad).is_err(), "{}", hex::encode(bad));
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(any::<u8>(), 0..300)) {
            let mut bytes = MAGIC.to_vec();
            bytes.extend(tail);
            if let Ok(mut psbt) = Psbt::parse(&bytes) {
                let _ = psbt.sign(&SigningKey::from_slice(&[0x33; 32]).unwrap());
                let _ = psbt.serialize();
            }
        }
    }
}
