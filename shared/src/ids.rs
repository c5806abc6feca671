//! Typed identifiers. Turnkey's ids are UUID strings; on the wire between host and enclave they
//! travel as 16 raw bytes, so any value postcard can decode is a well-formed id, and a wallet id
//! can never be passed where an organization id is expected.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A UUID, stored as its 16 bytes.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Uuid([u8; 16]);

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("`{0}` is not a valid UUID (expected 8-4-4-4-12 hex digits)")]
pub struct InvalidUuid(pub String);

impl Uuid {
    /// Builds a version-4 (random) UUID from 16 random bytes.
    pub fn new_v4(mut bytes: [u8; 16]) -> Self {
        bytes[6] = (bytes[6] & 0x0f) | 0x40;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }

    /// Builds a version-7 UUID (RFC 9562): the Unix time in milliseconds in the first 48 bits,
    /// then 74 bits of `random`. Ids made in time order sort in time order, so the stores'
    /// indexes on them grow at one end instead of rewriting a random B-tree page per insert.
    pub fn new_v7(unix_ms: u64, random: [u8; 10]) -> Self {
        let [_, _, t0, t1, t2, t3, t4, t5] = unix_ms.to_be_bytes();
        let [r0, r1, r2, r3, r4, r5, r6, r7, r8, r9] = random;
        let mut bytes = [
            t0, t1, t2, t3, t4, t5, r0, r1, r2, r3, r4, r5, r6, r7, r8, r9,
        ];
        bytes[6] = (bytes[6] & 0x0f) | 0x70;
        bytes[8] = (bytes[8] & 0x3f) | 0x80;
        Uuid(bytes)
    }

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Uuid(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl Uuid {
    /// Where the hyphens go in the 36-character form.
    const HYPHENS: [usize; 4] = [8, 13, 18, 23];

    /// The hyphenated lowercase form, written into a buffer: ids are formatted several times
    /// per request, and sixteen `write!` calls per id showed in the host's profile.
    fn hyphenated(&self) -> [u8; 36] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        {
            let mut digits = out
                .iter_mut()
                .enumerate()
                .filter(|(i, _)| !Self::HYPHENS.contains(i))
                .map(|(_, slot)| slot);
            for byte in self.0 {
                for nibble in [byte >> 4, byte & 0x0f] {
                    if let (Some(slot), Some(digit)) = (digits.next(), HEX.get(usize::from(nibble)))
                    {
                        *slot = *digit;
                    }
                }
            }
        }
        out
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.hyphenated();
        f.write_str(std::str::from_utf8(&text).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl FromStr for Uuid {
    type Err = InvalidUuid;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidUuid(s.chars().take(64).collect());
        let bytes = s.as_bytes();
        if bytes.len() != 36 {
            return Err(invalid());
        }
        let mut digits = [0u8; 32];
        let mut n = 0;
        for (i, c) in bytes.iter().enumerate() {
            if Self::HYPHENS.contains(&i) {
                if *c != b'-' {
                    return Err(invalid());
                }
            } else {
                let slot = digits.get_mut(n).ok_or_else(invalid)?;
                *slot = *c;
                n += 1;
            }
        }
        let mut out = [0u8; 16];
        hex::decode_to_slice(digits, &mut out).map_err(|_| invalid())?;
        Ok(Uuid(out))
    }
}

macro_rules! typed_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub struct $name(pub Uuid);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }

        impl FromStr for $name {
            type Err = InvalidUuid;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                s.parse().map($name)
            }
        }
    };
}

typed_id!(
    /// An organization (or sub-organization).
    OrgId
);
typed_id!(
    /// A user inside an organization.
    UserId
);
typed_id!(
    /// An API key credential.
    ApiKeyId
);
typed_id!(
    /// A passkey (WebAuthn authenticator) credential.
    AuthenticatorId
);
typed_id!(
    /// An HD wallet (one seed).
    WalletId
);
typed_id!(
    /// An activity (one submitted, authenticated request).
    ActivityId
);
typed_id!(
    /// A standalone private key (not derived from a wallet seed).
    PrivateKeyId
);

/// Correlates a request with its response on one connection; chosen by the host, echoed by the
/// enclave, meaningless to anyone else.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RequestId(pub u64);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_text_round_trip() {
        let text = "0b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6d7e";
        let id: Uuid = text.parse().unwrap();
        assert_eq!(id.to_string(), text);
        let upper: Uuid = text.to_uppercase().parse().unwrap();
        assert_eq!(upper, id);
    }

    #[test]
    fn uuid_rejects_malformed_text() {
        for bad in [
            "",
            "0b6ae5a08b1e4f0c9d6e2f3a4b5c6d7e",
            "0b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6d7",
            "0b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6d7g",
            "0b6ae5a0-8b1e-4f0c-9d6e2-f3a4b5c6d7e",
            "+b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6d7e",
        ] {
            assert!(bad.parse::<Uuid>().is_err(), "{bad}");
        }
    }

    #[test]
    fn uuid_text_matches_the_reference_layout() {
        for seed in [0u8, 0x0f, 0x5a, 0xa5, 0xf0, 0xff] {
            let bytes: [u8; 16] =
                core::array::from_fn(|i| seed.wrapping_mul(31).wrapping_add(i as u8 * 17));
            let part = |range: std::ops::Range<usize>| hex::encode(bytes.get(range).unwrap());
            let reference = format!(
                "{}-{}-{}-{}-{}",
                part(0..4),
                part(4..6),
                part(6..8),
                part(8..10),
                part(10..16)
            );
            assert_eq!(Uuid(bytes).to_string(), reference);
            assert_eq!(reference.parse::<Uuid>().unwrap(), Uuid(bytes));
        }
        // 36 bytes, but not 36 ASCII characters
        assert!(
            "0b6ae5a0-8b1e-4f0c-9d6e-2f3a4b5c6dé"
                .parse::<Uuid>()
                .is_err()
        );
    }

    #[test]
    fn v4_sets_version_and_variant() {
        let id = Uuid::new_v4([0xff; 16]).to_string();
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }

    #[test]
    fn v7_matches_rfc_9562_example() {
        // RFC 9562, appendix A.6: unix_ts_ms 0x017F22E279B0, rand_a 0xCC3, rand_b 0x18C4DC0C0C07398F.
        let random = [0x0c, 0xc3, 0x98, 0xc4, 0xdc, 0x0c, 0x0c, 0x07, 0x39, 0x8f];
        let id = Uuid::new_v7(0x017F_22E2_79B0, random);
        assert_eq!(id.to_string(), "017f22e2-79b0-7cc3-98c4-dc0c0c07398f");
    }

    #[test]
    fn v7_ids_sort_in_time_order() {
        let earlier = Uuid::new_v7(1_700_000_000_000, [0xff; 10]);
        let later = Uuid::new_v7(1_700_000_000_001, [0x00; 10]);
        assert!(earlier < later);
        assert!(earlier.to_string() < later.to_string());
    }
}
