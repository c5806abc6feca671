//! Client request bodies as text, so that the fuzzer mutates the JSON itself (in a postcard
//! `RequestFrame` most insertions break a length prefix). The first line says how the body is
//! sent, the rest is the body, with the placeholders of [`crate::world`]:
//!
//! ```text
//! <stamp> [<context>]
//! {"type": "ACTIVITY_TYPE_…", "organizationId": "$ORG", …}
//! ```
//!
//! `<stamp>` is `$ROOT` or `$BOB` (stamped with that user's key) or any other header value;
//! `<context>` is what the host adds: `none` (the default), `wallet`, `pk` (by id),
//! `pk:<address format>` (by address) or `account:<path>:<curve>:<address format>`, in
//! Turnkey's names; or `query` / `read` to send the
//! body as an authenticated query / an organization read instead of an activity.

use keyhold_shared::msg::{
    ActivityContext, ActivityRequest, AddressFormat, AuthenticateRequest, Curve, Request,
    RequestFrame, SealedOrgState, SealedSeed, SignedRequest, Stamp,
};
use keyhold_shared::{OrgId, PrivateKeyId, RequestId, Uuid, WalletId};

pub fn run(data: &[u8]) {
    if let Some(request) = request(data) {
        let frame = RequestFrame {
            id: RequestId(0),
            request,
        };
        if let Ok(bytes) = postcard::to_allocvec(&frame) {
            crate::request::run(&bytes);
        }
    }
}

/// The request an input describes.
pub fn request(data: &[u8]) -> Option<Request> {
    let text = std::str::from_utf8(data).ok()?;
    let (head, body) = text.split_once('\n').unwrap_or((text, ""));
    let mut words = head.split_whitespace();
    let stamp = words.next().unwrap_or("");
    let context = words.next().unwrap_or("none");
    let signed = SignedRequest {
        body: body.as_bytes().to_vec(),
        stamp: Stamp::ApiKey(stamp.to_owned()),
    };
    let nil = Uuid::from_bytes([0; 16]);
    // Empty sealed material and nil ids are the template's (see crate::world).
    let org = SealedOrgState {
        org_id: OrgId(nil),
        version: 0,
        nonce: [0; 24],
        ciphertext: Vec::new(),
    };
    let seed = SealedSeed {
        nonce: [0; 24],
        ciphertext: Vec::new(),
    };
    let context = match context {
        "query" => {
            return Some(Request::Authenticate(AuthenticateRequest {
                parent: None,
                request: signed,
                org,
            }));
        }
        "read" => {
            return Some(Request::ReadOrg(AuthenticateRequest {
                parent: None,
                request: signed,
                org,
            }));
        }
        "wallet" => ActivityContext::Wallet {
            wallet_id: WalletId(nil),
            sealed_seed: seed,
        },
        "pk" => ActivityContext::PrivateKey {
            private_key_id: PrivateKeyId(nil),
            address_format: None,
            sealed_key: seed,
        },
        other => match other.split_once(':') {
            Some(("pk", format)) => ActivityContext::PrivateKey {
                private_key_id: PrivateKeyId(nil),
                address_format: Some(AddressFormat::from_turnkey(format)?),
                sealed_key: seed,
            },
            Some(("account", rest)) => {
                let mut parts = rest.split(':');
                let path = parts.next()?.to_owned();
                let curve = Curve::from_turnkey(parts.next()?)?;
                let address_format = AddressFormat::from_turnkey(parts.next()?)?;
                ActivityContext::WalletAccount {
                    wallet_id: WalletId(nil),
                    path,
                    curve,
                    address_format,
                    sealed_seed: seed,
                }
            }
            _ => ActivityContext::None,
        },
    };
    Some(Request::Activity(ActivityRequest {
        parent: None,
        request: signed,
        org,
        context,
    }))
}

/// The first line of an input for `request`, if it can be written in this form.
pub fn head(request: &Request) -> Option<(String, Vec<u8>)> {
    let stamp = |s: &SignedRequest| match &s.stamp {
        Stamp::ApiKey(h) if !h.contains(char::is_whitespace) => Some(h.clone()),
        _ => None,
    };
    match request {
        Request::Authenticate(a) => Some((
            format!("{} query", stamp(&a.request)?),
            a.request.body.clone(),
        )),
        Request::ReadOrg(a) => Some((
            format!("{} read", stamp(&a.request)?),
            a.request.body.clone(),
        )),
        Request::Activity(a) => {
            let context = match &a.context {
                ActivityContext::None => "none".to_owned(),
                ActivityContext::ImportKey { .. } => "import".to_owned(),
                ActivityContext::WebhookEndpoint { .. } => "webhook".to_owned(),
                ActivityContext::Wallet { .. } => "wallet".to_owned(),
                ActivityContext::PrivateKey {
                    address_format: None,
                    ..
                } => "pk".to_owned(),
                ActivityContext::PrivateKey {
                    address_format: Some(format),
                    ..
                } => format!("pk:{}", format.as_turnkey()),
                ActivityContext::WalletAccount {
                    path,
                    curve,
                    address_format,
                    ..
                } => format!(
                    "account:{path}:{}:{}",
                    curve.as_turnkey(),
                    address_format.as_turnkey()
                ),
                ActivityContext::Approval(_) => return None,
            };
            Some((
                format!("{} {context}", stamp(&a.request)?),
                a.request.body.clone(),
            ))
        }
        _ => None,
    }
}
