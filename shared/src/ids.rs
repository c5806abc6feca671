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

    pub const fn from_bytes(bytes: [u8; 16]) -> Self {
        Uuid(bytes)
    }

    pub const fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }
}

impl fmt::Display for Uuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
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
        let groups: Vec<&str> = s.split('-').collect();
        let lens: Vec<usize> = groups.iter().map(|g| g.len()).collect();
        if lens != [8, 4, 4, 4, 12] {
            return Err(invalid());
        }
        let joined: String = groups.concat();
        let mut out = [0u8; 16];
        hex::decode_to_slice(&joined, &mut out).map_err(|_| invalid())?;
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
    fn v4_sets_version_and_variant() {
        let id = Uuid::new_v4([0xff; 16]).to_string();
        assert_eq!(id.as_bytes()[14], b'4');
        assert!(matches!(id.as_bytes()[19], b'8' | b'9' | b'a' | b'b'));
    }
}
