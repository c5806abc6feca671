//! The enclave's socket address: `unix:/path/to/socket` in dev, `vsock:CID:PORT` on Nitro.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// Where the enclave listens and the host connects. One type for both sides so that a value
/// printed by one parses in the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Address {
    /// A Unix domain socket (dev mode, tests).
    Unix(PathBuf),
    /// An AF_VSOCK address (Nitro enclaves: the enclave's CID and a port).
    Vsock { cid: u32, port: u32 },
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AddressError {
    #[error("address `{0}` must start with `unix:` or `vsock:`")]
    UnknownScheme(String),
    #[error("unix address has an empty path")]
    EmptyPath,
    #[error("vsock address `{0}` must be `vsock:CID:PORT` with decimal numbers")]
    BadVsock(String),
}

impl FromStr for Address {
    type Err = AddressError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some(path) = s.strip_prefix("unix:") {
            if path.is_empty() {
                return Err(AddressError::EmptyPath);
            }
            return Ok(Address::Unix(PathBuf::from(path)));
        }
        if let Some(rest) = s.strip_prefix("vsock:") {
            let bad = || AddressError::BadVsock(s.to_owned());
            let (cid, port) = rest.split_once(':').ok_or_else(bad)?;
            let cid = cid.parse::<u32>().map_err(|_| bad())?;
            let port = port.parse::<u32>().map_err(|_| bad())?;
            return Ok(Address::Vsock { cid, port });
        }
        Err(AddressError::UnknownScheme(s.to_owned()))
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Address::Unix(path) => write!(f, "unix:{}", path.display()),
            Address::Vsock { cid, port } => write!(f, "vsock:{cid}:{port}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_both_forms() {
        for text in [
            "unix:/tmp/keyhold.sock",
            "vsock:16:5005",
            "vsock:4294967295:1",
        ] {
            let addr: Address = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
        }
    }

    #[test]
    fn refuses_malformed_addresses() {
        assert_eq!("unix:".parse::<Address>(), Err(AddressError::EmptyPath));
        assert!(matches!(
            "tcp:1.2.3.4:5".parse::<Address>(),
            Err(AddressError::UnknownScheme(_))
        ));
        for bad in [
            "vsock:16",
            "vsock:x:1",
            "vsock:1:-2",
            "vsock:1:2:3",
            "vsock:99999999999:1",
        ] {
            assert!(
                matches!(bad.parse::<Address>(), Err(AddressError::BadVsock(_))),
                "{bad}"
            );
        }
    }
}
