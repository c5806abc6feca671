//! Passkeys (WebAuthn authenticators): what `create_authenticators`, `delete_authenticators`,
//! users' `authenticators` and the authenticator queries accept and return. The registration is
//! verified in the enclave (`enclave/src/activities/authenticators.rs`,
//! `enclave/src/auth/webauthn/`); its read-out shape is `org_view.rs`'s `authenticator`.

use serde_json::Value;

use super::{
    array, described, enumeration, object, query_request, reference, string, strings, timestamp,
};

/// The transports keyhold accepts and lists (all of Turnkey's).
const TRANSPORTS: &[&str] = &[
    "AUTHENTICATOR_TRANSPORT_BLE",
    "AUTHENTICATOR_TRANSPORT_INTERNAL",
    "AUTHENTICATOR_TRANSPORT_NFC",
    "AUTHENTICATOR_TRANSPORT_USB",
    "AUTHENTICATOR_TRANSPORT_HYBRID",
];

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("v1AuthenticatorTransport", enumeration(TRANSPORTS)),
        (
            "v1Attestation",
            described(
                object(vec![
                    ("credentialId!", described(string(), "base64url")),
                    ("clientDataJson!", described(string(), "base64url")),
                    (
                        "attestationObject!",
                        described(
                            string(),
                            "base64url CBOR; ES256 (P-256) credentials, attestation format \
                             `none` or `packed` (its signature is verified)",
                        ),
                    ),
                    (
                        "transports",
                        described(
                            array(reference("v1AuthenticatorTransport")),
                            "keyhold: may be absent (no transports)",
                        ),
                    ),
                ]),
                "as @turnkey/http's getWebAuthnAttestation returns it",
            ),
        ),
        (
            "v1AuthenticatorParamsV2",
            object(vec![
                ("authenticatorName!", string()),
                (
                    "challenge!",
                    described(
                        string(),
                        "base64url; must be the challenge the client data was made for",
                    ),
                ),
                ("attestation!", reference("v1Attestation")),
            ]),
        ),
        (
            "v1Authenticator",
            object(vec![
                ("transports!", array(reference("v1AuthenticatorTransport"))),
                (
                    "attestationType!",
                    described(string(), "the registration's attestation format"),
                ),
                ("aaguid!", string()),
                ("credentialId!", described(string(), "base64url")),
                (
                    "model!",
                    described(string(), "always empty: keyhold keeps no table of models"),
                ),
                ("credential!", reference("externaldatav1Credential")),
                ("authenticatorId!", string()),
                ("authenticatorName!", string()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
            ]),
        ),
        (
            "v1CreateAuthenticatorsIntentV2",
            object(vec![
                (
                    "authenticators!",
                    described(array(reference("v1AuthenticatorParamsV2")), "not empty"),
                ),
                ("userId!", string()),
            ]),
        ),
        (
            "v1DeleteAuthenticatorsIntent",
            object(vec![
                ("userId!", string()),
                ("authenticatorIds!", strings()),
            ]),
        ),
        (
            "v1CreateAuthenticatorsResult",
            object(vec![("authenticatorIds!", strings())]),
        ),
        (
            "v1DeleteAuthenticatorsResult",
            object(vec![("authenticatorIds!", strings())]),
        ),
        (
            "v1GetAuthenticatorsRequest",
            query_request(vec![("userId!", string())]),
        ),
        (
            "v1GetAuthenticatorRequest",
            query_request(vec![("authenticatorId!", string())]),
        ),
        (
            "v1GetAuthenticatorsResponse",
            object(vec![(
                "authenticators!",
                array(reference("v1Authenticator")),
            )]),
        ),
        (
            "v1GetAuthenticatorResponse",
            object(vec![("authenticator!", reference("v1Authenticator"))]),
        ),
    ]
}
