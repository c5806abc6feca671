//! Authentication of client requests: the stamp is verified here, inside the enclave, over the
//! exact body bytes the client sent, against credentials from the sealed organization state.

pub mod stamp;

use keyhold_shared::msg::{SignedRequest, Stamp};

use crate::error::{Error, Result};
use crate::org::{ApiKey, OrgState, User};

/// Proof that a request's stamp verified against a credential of `org`. Only [`authenticate`]
/// makes one, so code that needs an authenticated caller cannot be reached without it.
#[derive(Debug)]
#[expect(
    clippy::manual_non_exhaustive,
    reason = "the private field keeps construction inside this module, which `non_exhaustive` would not"
)]
pub struct Authenticated<'a> {
    pub user: &'a User,
    pub api_key: &'a ApiKey,
    _proof: (),
}

impl<'a> Authenticated<'a> {
    /// The same proof again (a caller that was authenticated once is still authenticated).
    pub fn again(other: &Authenticated<'a>) -> Self {
        Authenticated {
            user: other.user,
            api_key: other.api_key,
            _proof: (),
        }
    }
}

pub fn authenticate<'a>(
    org: &'a OrgState,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Authenticated<'a>> {
    let header = match &request.stamp {
        Stamp::Missing => return Err(Error::SignatureMissing),
        Stamp::ApiKey(header) => header,
        Stamp::Webauthn(_) => {
            return Err(Error::Unsupported(
                "the X-Stamp-Webauthn passkey stamp".into(),
            ));
        }
    };
    let stamp = stamp::ApiKeyStamp::parse(header)?;
    let (user, api_key) = org
        .find_api_key(stamp.public_key())
        .ok_or(Error::PublicKeyNotFound)?;
    if api_key.expires_at_ms.is_some_and(|expiry| now_ms >= expiry) {
        return Err(Error::ApiKeyExpired);
    }
    stamp.verify(&request.body)?;
    Ok(Authenticated {
        user,
        api_key,
        _proof: (),
    })
}
