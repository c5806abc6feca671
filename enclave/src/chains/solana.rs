//! Solana: addresses are the base58 Ed25519 public key; transactions are parsed from the wire
//! form `@turnkey/solana` sends (legacy or v0 message, zero-filled signature slots), signed at
//! the signer's slot among the required signers, and returned in wire form.

pub mod idl;

use ed25519_dalek::Signer as _;

use crate::error::{Error, Result};

/// The System Program's id (all zeros): its instruction 2 is a SOL transfer.
const SYSTEM_PROGRAM: [u8; 32] = [0; 32];
/// Largest transaction Solana accepts on the wire (the packet size).
pub const MAX_TRANSACTION_LEN: usize = 1232;

fn bad(msg: &str) -> Error {
    Error::invalid(format!("malformed Solana transaction: {msg}"))
}

/// A byte cursor that never reads past its end (rustls' `Reader` pattern).
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        let (head, rest) = self.0.split_at_checked(n).ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8> {
        let (&b, rest) = self.0.split_first().ok_or_else(|| bad("truncated"))?;
        self.0 = rest;
        Ok(b)
    }

    fn key(&mut self) -> Result<[u8; 32]> {
        self.take(32)?.try_into().map_err(|_| bad("truncated key"))
    }

    /// Solana's compact-u16 ("shortvec"): 1–3 bytes, 7 bits each, canonical.
    fn compact_u16(&mut self) -> Result<usize> {
        let mut value: usize = 0;
        for i in 0..3 {
            let byte = self.u8()?;
            let bits = usize::from(byte & 0x7f);
            if i == 2 && byte > 0x03 {
                return Err(bad("compact-u16 overflows"));
            }
            value |= bits << (7 * i);
            if byte & 0x80 == 0 {
                if i > 0 && byte == 0 {
                    return Err(bad("compact-u16 not canonical"));
                }
                return Ok(value);
            }
        }
        Err(bad("compact-u16 too long"))
    }

    fn compact_bytes(&mut self) -> Result<&'a [u8]> {
        let n = self.compact_u16()?;
        self.take(n)
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Instruction {
    pub program_index: u8,
    pub accounts: Vec<u8>,
    pub data: Vec<u8>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AddressTableLookup {
    pub account: [u8; 32],
    pub writable_indexes: Vec<u8>,
    pub readonly_indexes: Vec<u8>,
}

/// A SOL transfer by the System Program (`solana.tx.transfers`); an account loaded through an
/// address table is reported as `None` (Turnkey's `ADDRESS_TABLE_LOOKUP` placeholder).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transfer {
    pub from: Option<[u8; 32]>,
    pub to: Option<[u8; 32]>,
    pub lamports: u64,
}

/// The parsed message: what the policy engine sees as `solana.tx.*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SolanaMessage {
    /// `None` for a legacy message, `Some(0)` for v0.
    pub version: Option<u8>,
    pub num_required_signatures: u8,
    pub num_readonly_signed: u8,
    pub num_readonly_unsigned: u8,
    pub account_keys: Vec<[u8; 32]>,
    pub recent_blockhash: [u8; 32],
    pub instructions: Vec<Instruction>,
    pub address_table_lookups: Vec<AddressTableLookup>,
}

impl SolanaMessage {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        let mut r = Reader(bytes);
        let first = *bytes.first().ok_or_else(|| bad("empty message"))?;
        let version = if first & 0x80 != 0 {
            r.u8()?;
            let v = first & 0x7f;
            if v != 0 {
                return Err(Error::Unsupported(format!("Solana message version {v}")));
            }
            Some(0)
        } else {
            None
        };
        let num_required_signatures = r.u8()?;
        let num_readonly_signed = r.u8()?;
        let num_readonly_unsigned = r.u8()?;
        let n_keys = r.compact_u16()?;
        let account_keys = (0..n_keys).map(|_| r.key()).collect::<Result<Vec<_>>>()?;
        let recent_blockhash = r.key()?;
        let n_instructions = r.compact_u16()?;
        let mut instructions = Vec::new();
        for _ in 0..n_instructions {
            let program_index = r.u8()?;
            let accounts = r.compact_bytes()?.to_vec();
            let data = r.compact_bytes()?.to_vec();
            instructions.push(Instruction {
                program_index,
                accounts,
                data,
            });
        }
        let mut address_table_lookups = Vec::new();
        if version.is_some() {
            let n = r.compact_u16()?;
            for _ in 0..n {
                address_table_lookups.push(AddressTableLookup {
                    account: r.key()?,
                    writable_indexes: r.compact_bytes()?.to_vec(),
                    readonly_indexes: r.compact_bytes()?.to_vec(),
                });
            }
        }
        if !r.0.is_empty() {
            return Err(bad("trailing bytes after the message"));
        }
        let message = SolanaMessage {
            version,
            num_required_signatures,
            num_readonly_signed,
            num_readonly_unsigned,
            account_keys,
            recent_blockhash,
            instructions,
            address_table_lookups,
        };
        message.check()?;
        Ok(message)
    }

    fn loaded_accounts(&self) -> usize {
        self.address_table_lookups
            .iter()
            .map(|l| l.writable_indexes.len() + l.readonly_indexes.len())
            .sum()
    }

    fn check(&self) -> Result<()> {
        let keys = self.account_keys.len();
        let required = usize::from(self.num_required_signatures);
        if required == 0 || required > keys {
            return Err(bad("header names more signers than account keys"));
        }
        if usize::from(self.num_readonly_signed) >= required {
            return Err(bad("the fee payer must be writable"));
        }
        if usize::from(self.num_readonly_unsigned) > keys - required {
            return Err(bad("header names more read-only accounts than there are"));
        }
        let total = keys + self.loaded_accounts();
        if total > 256 {
            return Err(bad("more than 256 accounts"));
        }
        for ix in &self.instructions {
            if usize::from(ix.program_index) >= keys {
                return Err(bad("instruction program index out of range"));
            }
            if ix.accounts.iter().any(|a| usize::from(*a) >= total) {
                return Err(bad("instruction account index out of range"));
            }
        }
        Ok(())
    }

    fn account(&self, index: u8) -> Option<[u8; 32]> {
        self.account_keys.get(usize::from(index)).copied()
    }

    /// Top-level System Program transfers.
    pub fn transfers(&self) -> Vec<Transfer> {
        self.instructions
            .iter()
            .filter(|ix| self.account(ix.program_index) == Some(SYSTEM_PROGRAM))
            .filter_map(|ix| {
                let (tag, rest) = ix.data.split_first_chunk::<4>()?;
                let lamports: [u8; 8] = rest.try_into().ok()?;
                if u32::from_le_bytes(*tag) != 2 {
                    return None;
                }
                Some(Transfer {
                    from: ix.accounts.first().and_then(|i| self.account(*i)),
                    to: ix.accounts.get(1).and_then(|i| self.account(*i)),
                    lamports: u64::from_le_bytes(lamports),
                })
            })
            .collect()
    }
}

/// A wire transaction: signature slots and the message they sign.
#[derive(Clone, Debug)]
pub struct Transaction {
    pub signatures: Vec<[u8; 64]>,
    pub message: SolanaMessage,
    message_bytes: Vec<u8>,
}

impl Transaction {
    pub fn parse(bytes: &[u8]) -> Result<Self> {
        if bytes.len() > MAX_TRANSACTION_LEN {
            return Err(bad("longer than a Solana packet (1232 bytes)"));
        }
        let mut r = Reader(bytes);
        let n = r.compact_u16()?;
        let signatures = (0..n)
            .map(|_| {
                r.take(64)?
                    .try_into()
                    .map_err(|_| bad("truncated signature"))
            })
            .collect::<Result<Vec<[u8; 64]>>>()?;
        let message_bytes = r.0.to_vec();
        let message = SolanaMessage::parse(&message_bytes)?;
        if signatures.len() != usize::from(message.num_required_signatures) {
            return Err(bad(
                "signature count differs from the message's required signers",
            ));
        }
        Ok(Transaction {
            signatures,
            message,
            message_bytes,
        })
    }

    /// Signs the message and puts the signature in `key`'s slot.
    pub fn sign(mut self, key: &ed25519_dalek::SigningKey) -> Result<Vec<u8>> {
        let public = key.verifying_key().to_bytes();
        let required = usize::from(self.message.num_required_signatures);
        let slot = self
            .message
            .account_keys
            .iter()
            .take(required)
            .position(|k| *k == public)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{} is not a required signer of this transaction",
                    bs58::encode(public).into_string()
                ))
            })?;
        let signature = key.sign(&self.message_bytes).to_bytes();
        *self
            .signatures
            .get_mut(slot)
            .ok_or(Error::Internal("signature slot"))? = signature;
        let mut out = Vec::with_capacity(1 + 64 * self.signatures.len() + self.message_bytes.len());
        let n = self.signatures.len();
        // compact-u16 of n (n ≤ 255 here: it equals a u8 header field)
        if n < 0x80 {
            out.push(n as u8);
        } else {
            out.push((n as u8 & 0x7f) | 0x80);
            out.push((n >> 7) as u8);
        }
        for s in &self.signatures {
            out.extend_from_slice(s);
        }
        out.extend_from_slice(&self.message_bytes);
        Ok(out)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// A legacy transfer of 1000 lamports from `payer` to `to`, unsigned, as web3.js serialises it.
    pub(crate) fn transfer(payer: [u8; 32], to: [u8; 32], versioned: bool) -> Vec<u8> {
        let mut m = Vec::new();
        if versioned {
            m.push(0x80);
        }
        m.extend_from_slice(&[1, 0, 1, 3]);
        m.extend_from_slice(&payer);
        m.extend_from_slice(&to);
        m.extend_from_slice(&SYSTEM_PROGRAM);
        m.extend_from_slice(&[9; 32]);
        m.push(1);
        m.push(2); // program index
        m.extend_from_slice(&[2, 0, 1]);
        let mut data = 2u32.to_le_bytes().to_vec();
        data.extend_from_slice(&1000u64.to_le_bytes());
        m.push(data.len() as u8);
        m.extend_from_slice(&data);
        if versioned {
            m.push(0);
        }
        let mut tx = vec![1];
        tx.extend_from_slice(&[0; 64]);
        tx.extend(m);
        tx
    }

    #[test]
    fn signs_at_the_signer_slot_and_verifies() {
        let key = ed25519_dalek::SigningKey::from_bytes(&[3; 32]);
        let payer = key.verifying_key().to_bytes();
        for versioned in [false, true] {
            let raw = transfer(payer, [5; 32], versioned);
            let tx = Transaction::parse(&raw).unwrap();
            assert_eq!(
                tx.message.transfers(),
                vec![Transfer {
                    from: Some(payer),
                    to: Some([5; 32]),
                    lamports: 1000
                }]
            );
            let signed = tx.sign(&key).unwrap();
            let back = Transaction::parse(&signed).unwrap();
            let sig = ed25519_dalek::Signature::from_bytes(&back.signatures[0]);
            key.verifying_key()
                .verify_strict(&back.message_bytes, &sig)
                .unwrap();
            assert_eq!(signed[65..], raw[65..]);
        }
        // a key that is not a required signer
        let other = ed25519_dalek::SigningKey::from_bytes(&[4; 32]);
        let tx = Transaction::parse(&transfer(payer, [5; 32], false)).unwrap();
        assert!(
            tx.sign(&other)
                .unwrap_err()
                .to_string()
                .contains("not a required signer")
        );
        // the recipient is an account but not a signer
        let to = ed25519_dalek::SigningKey::from_bytes(&[5; 32]);
        let tx =
            Transaction::parse(&transfer(payer, to.verifying_key().to_bytes(), false)).unwrap();
        assert!(tx.sign(&to).is_err());
    }

    #[test]
    fn malformed_transactions_are_refused() {
        let good = transfer([1; 32], [2; 32], false);
        assert!(Transaction::parse(&good).is_ok());
        let mut trailing = good.clone();
        trailing.push(0);
        let mut two_sigs = good.clone();
        two_sigs[0] = 2;
        let mut bad_program = good.clone();
        let at = good.len() - 12 - 1 - 3 - 1;
        bad_program[at] = 9;
        let mut v1 = transfer([1; 32], [2; 32], true);
        v1[65] = 0x81;
        for bad in [
            &[][..],
            &good[..60],
            &trailing,
            &two_sigs,
            &bad_program,
            &[0x80, 0x80, 0x80, 0x01][..],
        ] {
            assert!(Transaction::parse(bad).is_err(), "{}", hex::encode(bad));
        }
        assert!(matches!(
            Transaction::parse(&v1),
            Err(Error::Unsupported(_))
        ));
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
            if let Ok(tx) = Transaction::parse(&bytes) {
                let _ = tx.message.transfers();
                let _ = tx.sign(&ed25519_dalek::SigningKey::from_bytes(&[1; 32]));
            }
        }
    }
}
