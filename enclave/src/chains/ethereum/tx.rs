//! Ethereum transactions: legacy (EIP-155 protected, or unprotected), EIP-2930 (type 1) and
//! EIP-1559 (type 2), parsed strictly from the unsigned serialisation viem and ethers send and
//! signed into the network form.

use k256::ecdsa::SigningKey;

use super::{keccak256, sign_digest};
use crate::chains::rlp::{self, Item};
use crate::error::{Error, Result};

/// A 256-bit unsigned integer, big-endian.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct U256(pub [u8; 32]);

impl U256 {
    fn from_rlp(field: &str, bytes: &[u8]) -> Result<Self> {
        if bytes.len() > 32 {
            return Err(Error::invalid(format!("{field} exceeds 256 bits")));
        }
        if bytes.first() == Some(&0) {
            return Err(Error::invalid(format!(
                "{field} has leading zero bytes (not canonical RLP)"
            )));
        }
        let mut out = [0u8; 32];
        out.get_mut(32 - bytes.len()..)
            .ok_or(Error::Internal("u256"))?
            .copy_from_slice(bytes);
        Ok(U256(out))
    }

    /// The value if it fits in a u128 (for display and policy comparisons).
    pub fn to_u128(&self) -> Option<u128> {
        let (high, low) = self.0.split_at(16);
        if high.iter().any(|b| *b != 0) {
            return None;
        }
        Some(u128::from_be_bytes(low.try_into().ok()?))
    }
}

/// The EVM transaction type, as the policy language names it (`eth.tx.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxType {
    Legacy,
    /// EIP-2930
    Type1,
    /// EIP-1559
    Type2,
}

impl TxType {
    pub fn policy_name(self) -> &'static str {
        match self {
            TxType::Legacy => "LEGACY",
            TxType::Type1 => "TYPE_1",
            TxType::Type2 => "TYPE_2",
        }
    }
}

/// The fields the policy engine sees as `eth.tx.*` (`from` is the signer's address, added by
/// the caller once the key is resolved).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EthereumTransaction {
    pub tx_type: TxType,
    /// `None` for an unprotected (pre-EIP-155) legacy transaction.
    pub chain_id: Option<u64>,
    pub nonce: U256,
    pub to: Option<[u8; 20]>,
    pub value: U256,
    pub data: Vec<u8>,
    pub gas: U256,
    /// Legacy and type 1: the gas price; type 2: equal to `max_fee_per_gas`, as Turnkey does.
    pub gas_price: U256,
    pub max_fee_per_gas: Option<U256>,
    pub max_priority_fee_per_gas: Option<U256>,
}

/// An unsigned transaction: its policy fields plus the exact fields to re-encode.
#[derive(Clone, Debug)]
pub struct UnsignedTransaction {
    pub fields: EthereumTransaction,
    /// The RLP fields that are signed, as they were sent (canonical, so re-encoding is exact).
    payload: Vec<Vec<u8>>,
}

fn to_address(bytes: &[u8]) -> Result<Option<[u8; 20]>> {
    match bytes.len() {
        0 => Ok(None),
        20 => Ok(Some(
            bytes.try_into().map_err(|_| Error::Internal("address"))?,
        )),
        n => Err(Error::invalid(format!(
            "`to` must be empty or 20 bytes, got {n}"
        ))),
    }
}

fn chain_id(bytes: &[u8]) -> Result<u64> {
    let value = U256::from_rlp("chainId", bytes)?;
    let id = value
        .to_u128()
        .and_then(|v| u64::try_from(v).ok())
        .ok_or_else(|| Error::invalid("chainId does not fit in 64 bits"))?;
    if id == 0 {
        return Err(Error::invalid("chainId must not be zero"));
    }
    Ok(id)
}

fn check_access_list(item: &Item<'_>) -> Result<()> {
    for entry in item.list()? {
        let [address, keys] = entry.list()? else {
            return Err(Error::invalid(
                "access list entries must be [address, storageKeys]",
            ));
        };
        if address.bytes()?.len() != 20 {
            return Err(Error::invalid("access list address must be 20 bytes"));
        }
        for key in keys.list()? {
            if key.bytes()?.len() != 32 {
                return Err(Error::invalid("access list storage keys must be 32 bytes"));
            }
        }
    }
    Ok(())
}

fn encoded(item: &Item<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    rlp::encode_item(&mut out, item);
    out
}

fn u256(items: &[Item<'_>], index: usize, field: &str) -> Result<U256> {
    let bytes = items
        .get(index)
        .ok_or(Error::Internal("field index"))?
        .bytes()?;
    U256::from_rlp(field, bytes)
}

fn bytes_at<'a>(items: &[Item<'a>], index: usize) -> Result<&'a [u8]> {
    items
        .get(index)
        .ok_or(Error::Internal("field index"))?
        .bytes()
}

impl UnsignedTransaction {
    pub fn parse(raw: &[u8]) -> Result<Self> {
        let (&first, rest) = raw
            .split_first()
            .ok_or_else(|| Error::invalid("empty transaction"))?;
        match first {
            0xc0..=0xff => Self::parse_legacy(raw),
            0x01 => Self::parse_typed(TxType::Type1, rest),
            0x02 => Self::parse_typed(TxType::Type2, rest),
            0x03 | 0x04 => Err(Error::Unsupported(format!(
                "Ethereum transaction type {first} (EIP-{})",
                if first == 3 { "4844" } else { "7702" }
            ))),
            other => Err(Error::invalid(format!(
                "unknown Ethereum transaction type byte 0x{other:02x}"
            ))),
        }
    }

    fn parse_legacy(raw: &[u8]) -> Result<Self> {
        let item = rlp::decode(raw)?;
        let items = item.list()?;
        let chain = match items.len() {
            6 => None,
            9 => {
                if !bytes_at(items, 7)?.is_empty() || !bytes_at(items, 8)?.is_empty() {
                    return Err(Error::invalid(
                        "transaction is already signed (r and s must be empty)",
                    ));
                }
                Some(chain_id(bytes_at(items, 6)?)?)
            }
            n => {
                return Err(Error::invalid(format!(
                    "a legacy transaction has 6 or 9 fields, got {n}"
                )));
            }
        };
        for i in 0..6 {
            bytes_at(items, i)?;
        }
        let gas_price = u256(items, 1, "gasPrice")?;
        let fields = EthereumTransaction {
            tx_type: TxType::Legacy,
            chain_id: chain,
            nonce: u256(items, 0, "nonce")?,
            gas_price,
            gas: u256(items, 2, "gas")?,
            to: to_address(bytes_at(items, 3)?)?,
            value: u256(items, 4, "value")?,
            data: bytes_at(items, 5)?.to_vec(),
            max_fee_per_gas: None,
            max_priority_fee_per_gas: None,
        };
        Ok(UnsignedTransaction {
            fields,
            payload: items.iter().take(6).map(encoded).collect(),
        })
    }

    fn parse_typed(tx_type: TxType, body: &[u8]) -> Result<Self> {
        let item = rlp::decode(body)?;
        let items = item.list()?;
        let (expected, name) = match tx_type {
            TxType::Type1 => (8, "an EIP-2930"),
            _ => (9, "an EIP-1559"),
        };
        if items.len() != expected {
            return Err(Error::invalid(format!(
                "{name} transaction has {expected} fields when unsigned, got {}",
                items.len()
            )));
        }
        let access_list = items.last().ok_or(Error::Internal("fields"))?;
        check_access_list(access_list)?;
        let chain = chain_id(bytes_at(items, 0)?)?;
        let nonce = u256(items, 1, "nonce")?;
        let fields = match tx_type {
            TxType::Type1 => EthereumTransaction {
                tx_type,
                chain_id: Some(chain),
                nonce,
                gas_price: u256(items, 2, "gasPrice")?,
                gas: u256(items, 3, "gas")?,
                to: to_address(bytes_at(items, 4)?)?,
                value: u256(items, 5, "value")?,
                data: bytes_at(items, 6)?.to_vec(),
                max_fee_per_gas: None,
                max_priority_fee_per_gas: None,
            },
            _ => {
                let max_fee = u256(items, 3, "maxFeePerGas")?;
                EthereumTransaction {
                    tx_type,
                    chain_id: Some(chain),
                    nonce,
                    max_priority_fee_per_gas: Some(u256(items, 2, "maxPriorityFeePerGas")?),
                    max_fee_per_gas: Some(max_fee),
                    gas_price: max_fee,
                    gas: u256(items, 4, "gas")?,
                    to: to_address(bytes_at(items, 5)?)?,
                    value: u256(items, 6, "value")?,
                    data: bytes_at(items, 7)?.to_vec(),
                }
            }
        };
        Ok(UnsignedTransaction {
            fields,
            payload: items.iter().map(encoded).collect(),
        })
    }

    fn list(parts: &[Vec<u8>], extra: &[&[u8]]) -> Vec<u8> {
        let mut payload: Vec<u8> = parts.concat();
        for e in extra {
            rlp::encode_bytes(&mut payload, e);
        }
        let mut out = Vec::with_capacity(payload.len() + 9);
        rlp::encode_list(&mut out, &payload);
        out
    }

    /// The digest that is signed.
    pub fn signing_hash(&self) -> Vec<u8> {
        match (self.fields.tx_type, self.fields.chain_id) {
            (TxType::Legacy, None) => Self::list(&self.payload, &[]),
            (TxType::Legacy, Some(id)) => Self::list(
                &self.payload,
                &[rlp::trim_leading_zeros(&id.to_be_bytes()), &[], &[]],
            ),
            (t, _) => {
                let mut out = vec![if t == TxType::Type1 { 1 } else { 2 }];
                out.extend(Self::list(&self.payload, &[]));
                out
            }
        }
    }

    /// Signs and returns the network serialisation.
    pub fn sign(&self, key: &SigningKey) -> Result<Vec<u8>> {
        let preimage = self.signing_hash();
        let sig = sign_digest(key, &keccak256(&preimage))?;
        let r = rlp::trim_leading_zeros(&sig.r);
        let s = rlp::trim_leading_zeros(&sig.s);
        Ok(match (self.fields.tx_type, self.fields.chain_id) {
            (TxType::Legacy, chain) => {
                let v: u128 = match chain {
                    None => 27 + u128::from(sig.v),
                    Some(id) => u128::from(id) * 2 + 35 + u128::from(sig.v),
                };
                let v = v.to_be_bytes();
                Self::list(&self.payload, &[rlp::trim_leading_zeros(&v), r, s])
            }
            (t, _) => {
                let parity = [sig.v];
                let mut out = vec![if t == TxType::Type1 { 1 } else { 2 }];
                out.extend(Self::list(
                    &self.payload,
                    &[rlp::trim_leading_zeros(&parity), r, s],
                ));
                out
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The EIP-155 example: nonce 9, gas price 20 gwei, gas 21000, to 0x3535…35, value 1 ether,
    /// chain id 1, private key 0x4646…46 (https://eips.ethereum.org/EIPS/eip-155#example).
    #[test]
    fn eip155_example() {
        let unsigned = hex::decode(
            "ec098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a764000080018080",
        )
        .unwrap();
        let tx = UnsignedTransaction::parse(&unsigned).unwrap();
        assert_eq!(tx.signing_hash(), unsigned);
        assert_eq!(
            hex::encode(keccak256(&tx.signing_hash())),
            "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
        );
        let key = SigningKey::from_slice(&[0x46; 32]).unwrap();
        assert_eq!(
            hex::encode(tx.sign(&key).unwrap()),
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
        );
        assert_eq!(tx.fields.chain_id, Some(1));
        assert_eq!(tx.fields.value.to_u128(), Some(1_000_000_000_000_000_000));
        assert_eq!(tx.fields.tx_type.policy_name(), "LEGACY");
    }

    #[test]
    fn typed_and_unprotected_transactions_sign_and_recover() {
        use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
        let key = SigningKey::from_slice(&[0x11; 32]).unwrap();
        let to = [0x22u8; 20];
        let mut cases = Vec::new();
        // unprotected legacy [nonce, gasPrice, gas, to, value, data]
        let mut p = Vec::new();
        for f in [&[1u8][..], &[2], &[0x52, 0x08], &to, &[5], &[]] {
            rlp::encode_bytes(&mut p, f);
        }
        let mut legacy = Vec::new();
        rlp::encode_list(&mut legacy, &p);
        cases.push(legacy);
        // EIP-1559 [chainId, nonce, tip, maxFee, gas, to, value, data, accessList]
        let mut p = Vec::new();
        for f in [
            &[1u8][..],
            &[],
            &[1],
            &[100],
            &[0x52, 0x08],
            &to,
            &[],
            &[0xab, 0xcd],
        ] {
            rlp::encode_bytes(&mut p, f);
        }
        rlp::encode_list(&mut p, &[]);
        let mut typed = vec![2u8];
        rlp::encode_list(&mut typed, &p);
        cases.push(typed);
        // EIP-2930 [chainId, nonce, gasPrice, gas, to, value, data, accessList]
        let mut p = Vec::new();
        for f in [&[5u8][..], &[], &[1], &[0x52, 0x08], &to, &[], &[]] {
            rlp::encode_bytes(&mut p, f);
        }
        let mut entry = Vec::new();
        rlp::encode_bytes(&mut entry, &to);
        let mut keys = Vec::new();
        rlp::encode_bytes(&mut keys, &[7u8; 32]);
        rlp::encode_list(&mut entry, &keys);
        let mut list = Vec::new();
        rlp::encode_list(&mut list, &entry);
        let mut access = Vec::new();
        rlp::encode_list(&mut access, &list);
        p.extend(access);
        let mut type1 = vec![1u8];
        rlp::encode_list(&mut type1, &p);
        cases.push(type1);

        for raw in cases {
            let tx = UnsignedTransaction::parse(&raw).unwrap();
            let signed = tx.sign(&key).unwrap();
            // signed form: the same fields plus v/yParity, r, s
            let body = if tx.fields.tx_type == TxType::Legacy {
                &signed[..]
            } else {
                &signed[1..]
            };
            let item = rlp::decode(body).unwrap();
            let items = item.list().unwrap();
            let n = items.len();
            let mut r = [0u8; 32];
            let rb = items[n - 2].bytes().unwrap();
            r[32 - rb.len()..].copy_from_slice(rb);
            let mut s = [0u8; 32];
            let sb = items[n - 1].bytes().unwrap();
            s[32 - sb.len()..].copy_from_slice(sb);
            let v = items[n - 3].bytes().unwrap().last().copied().unwrap_or(0);
            let recid = if tx.fields.tx_type == TxType::Legacy {
                v - 27
            } else {
                v
            };
            let digest = keccak256(&tx.signing_hash());
            let recovered = VerifyingKey::recover_from_prehash(
                &digest,
                &Signature::from_scalars(r, s).unwrap(),
                RecoveryId::from_byte(recid).unwrap(),
            )
            .unwrap();
            assert_eq!(&recovered, key.verifying_key());
        }
    }

    #[test]
    fn malformed_transactions_are_refused() {
        for bad in [
            "",
            "05c0",
            "02c0",
            "c0",
            "03c0",
            // signed legacy (r, s present)
            "f86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83",
            // `to` of 19 bytes
            "ea098504a817c8008252089235353535353535353535353535353535353535880de0b6b3a764000080",
            // leading zero in the nonce
            "ed82000985...",
        ] {
            let bytes = hex::decode(bad).unwrap_or_else(|_| vec![0xed, 0x82, 0x00, 0x09]);
            assert!(UnsignedTransaction::parse(&bytes).is_err(), "{bad}");
        }
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            let key = SigningKey::from_slice(&[0x11; 32]).unwrap();
            if let Ok(tx) = UnsignedTransaction::parse(&bytes) {
                tx.sign(&key).unwrap();
            }
        }
    }
}
