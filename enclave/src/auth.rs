//! Authentication of client requests: the stamp is verified here, inside the enclave, over the
//! exact body bytes the client sent, against credentials from the sealed organization state —
//! API keys (`X-Stamp`, four schemes) and passkeys (`X-Stamp-Webauthn`).

pub mod parent;
pub mod schemes;
pub mod session;
pub mod stamp;
pub mod webauthn;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_shared::msg::{SignedRequest, Stamp};

use crate::error::{Error, Result};
use crate::org::{ApiKey, Authenticator, OrgState, User};

/// The credential a request was stamped with.
#[derive(Clone, Copy, Debug)]
pub enum Credential<'a> {
    ApiKey(&'a ApiKey),
    Authenticator(&'a Authenticator),
    /// A read-only session token (`X-Session`): reads only, never an activity.
    ReadOnlySession,
}

impl Credential<'_> {
    /// The API key's or authenticator's id.
    pub fn id(&self) -> String {
        match self {
            Credential::ApiKey(k) => k.id.to_string(),
            Credential::Authenticator(a) => a.id.to_string(),
            Credential::ReadOnlySession => String::new(),
        }
    }

    /// Turnkey's `CREDENTIAL_TYPE_*`.
    pub fn credential_type(&self) -> &'static str {
        match self {
            Credential::ApiKey(k) => k.curve.credential_type(),
            Credential::Authenticator(_) => "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR",
            Credential::ReadOnlySession => "",
        }
    }

    pub fn public_key_hex(&self) -> String {
        match self {
            Credential::ApiKey(k) => hex::encode(&k.public_key),
            Credential::Authenticator(a) => hex::encode(&a.public_key),
            Credential::ReadOnlySession => String::new(),
        }
    }

    /// A passkey's credential id (base64url), as policies see it.
    pub fn credential_id(&self) -> Option<String> {
        match self {
            Credential::ApiKey(_) | Credential::ReadOnlySession => None,
            Credential::Authenticator(a) => Some(URL_SAFE_NO_PAD.encode(&a.credential_id)),
        }
    }
}

/// Proof that a request's stamp verified against a credential of `org`. Only this module
/// makes one, so code that needs an authenticated caller cannot be reached without it.
#[derive(Debug)]
#[expect(
    clippy::manual_non_exhaustive,
    reason = "the private field keeps construction inside this module, which `non_exhaustive` would not"
)]
pub struct Authenticated<'a> {
    /// The organization the signing user belongs to: the one the request targets or, for a
    /// read by a parent user ([`authenticate_reader`]), its parent.
    pub org: &'a OrgState,
    pub user: &'a User,
    pub credential: Credential<'a>,
    _proof: (),
}

impl<'a> Authenticated<'a> {
    /// The same proof again (a caller that was authenticated once is still authenticated).
    pub fn again(other: &Authenticated<'a>) -> Self {
        Authenticated {
            org: other.org,
            user: other.user,
            credential: other.credential,
            _proof: (),
        }
    }
}

/// Authenticates a request against the users of `org` itself (what every activity requires).
pub fn authenticate<'a>(
    org: &'a OrgState,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Authenticated<'a>> {
    match &request.stamp {
        Stamp::Missing => Err(Error::SignatureMissing),
        Stamp::Session(_) => Err(Error::PermissionDenied(
            "a read-only session (X-Session) may only read; stamp activities with X-Stamp or X-Stamp-Webauthn",
        )),
        Stamp::ApiKey(header) => {
            let stamp = stamp::ApiKeyStamp::parse(header)?;
            let (user, api_key) = org
                .find_api_key(stamp.public_key())
                .ok_or(Error::PublicKeyNotFound)?;
            if api_key.curve != stamp.scheme().curve() {
                return Err(Error::MalformedStamp(
                    "the stamp's scheme does not match the API key's curve",
                ));
            }
            if api_key.expires_at_ms.is_some_and(|expiry| now_ms >= expiry) {
                return Err(Error::ApiKeyExpired);
            }
            stamp.verify(&request.body)?;
            Ok(Authenticated {
                org,
                user,
                credential: Credential::ApiKey(api_key),
                _proof: (),
            })
        }
        Stamp::Webauthn(header) => {
            let stamp = webauthn::WebauthnStamp::parse(header)?;
            let (user, authenticator) = org
                .find_authenticator(stamp.credential_id())
                .ok_or(Error::CredentialNotFound)?;
            stamp.verify(authenticator, &request.body, &org.features)?;
            Ok(Authenticated {
                org,
                user,
                credential: Credential::Authenticator(authenticator),
                _proof: (),
            })
        }
    }
}

/// Authenticates a read: against `org`'s users, or else against its parent's, as Turnkey lets
/// a parent organization's users read (never change) its sub-organizations. `parent` is checked
/// to be `org`'s parent by the id sealed inside `org`. A read may also come with a read-only
/// session token instead of a stamp ([`read_only_session`]).
pub fn authenticate_reader<'a>(
    sessions: &session::SessionSigner,
    org: &'a OrgState,
    parent: Option<&'a OrgState>,
    request: &SignedRequest,
    now_ms: u64,
) -> Result<Authenticated<'a>> {
    if let Stamp::Session(token) = &request.stamp {
        return read_only_session(sessions, org, parent, token, now_ms);
    }
    let Some(parent) = parent else {
        return authenticate(org, request, now_ms);
    };
    parent::check(org, parent)?;
    match authenticate(org, request, now_ms) {
        Err(Error::PublicKeyNotFound | Error::CredentialNotFound) => {
            authenticate(parent, request, now_ms).map_err(|e| match e {
                Error::PublicKeyNotFound => Error::PublicKeyNotFoundWithParent,
                Error::CredentialNotFound => Error::CredentialNotFoundWithParent,
                other => other,
            })
        }
        other => other,
    }
}

/// A read by the holder of a read-only session token: a bearer credential (as in Turnkey) for
/// the user it names, in its organization — `org`, or `org`'s parent (checked as for stamps).
/// The user must still exist: deleting the user ends their sessions.
fn read_only_session<'a>(
    sessions: &session::SessionSigner,
    org: &'a OrgState,
    parent: Option<&'a OrgState>,
    token: &str,
    now_ms: u64,
) -> Result<Authenticated<'a>> {
    let claims = sessions.verify(token)?;
    if claims.session_type != session::READ_ONLY {
        return Err(Error::SessionInvalid(
            "only a read-only session may be sent as X-Session",
        ));
    }
    if now_ms / 1000 >= claims.exp {
        return Err(Error::SessionExpired);
    }
    let home = if claims.organization_id == org.org_id.to_string() {
        org
    } else {
        match parent {
            Some(parent) if claims.organization_id == parent.org_id.to_string() => {
                parent::check(org, parent)?;
                parent
            }
            // Without the parent's state, as for a stamp by a key the organization does not
            // hold: the host asks again with it when the organization has a parent.
            None => return Err(Error::PublicKeyNotFound),
            Some(_) => {
                return Err(Error::OrganizationMismatch(
                    "the read-only session belongs to another organization".into(),
                ));
            }
        }
    };
    let user = home
        .users
        .iter()
        .find(|u| u.id.to_string() == claims.user_id)
        .ok_or(Error::SessionInvalid("the session's user no longer exists"))?;
    Ok(Authenticated {
        org: home,
        user,
        credential: Credential::ReadOnlySession,
        _proof: (),
    })
}
