//! Users after creation (`update_user*`), API-only users, the organization's name and
//! deletion, and the sessions answered with a session JWT (`create_read_only_session`,
//! `stamp_login`). Parsed in the enclave by `activities/user_updates.rs`,
//! `activities/org_lifecycle.rs` and `activities/login_sessions.rs`.

use serde_json::Value;

use super::{array, boolean, described, int64, object, reference, string, strings};

fn user_id_result() -> Value {
    object(vec![("userId!", string())])
}

fn verification_token() -> Value {
    described(
        string(),
        "not supported by keyhold (no OTP provider): must be absent or empty; without it the \
         contact is updated unverified, as in Turnkey",
    )
}

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "v1UpdateUserIntent",
            object(vec![
                ("userId!", string()),
                (
                    "userName",
                    described(string(), "absent or empty: unchanged"),
                ),
                (
                    "userEmail",
                    described(string(), "absent: unchanged; empty: removed"),
                ),
                (
                    "userTagIds",
                    described(
                        strings(),
                        "user tag ids replacing the user's; absent or empty: unchanged",
                    ),
                ),
                (
                    "userPhoneNumber",
                    described(string(), "absent: unchanged; empty: removed"),
                ),
            ]),
        ),
        ("v1UpdateUserResult", user_id_result()),
        (
            "v1UpdateUserNameIntent",
            object(vec![("userId!", string()), ("userName!", string())]),
        ),
        ("v1UpdateUserNameResult", user_id_result()),
        (
            "v1UpdateUserEmailIntent",
            object(vec![
                ("userId!", string()),
                ("userEmail!", described(string(), "empty: removed")),
                ("verificationToken", verification_token()),
            ]),
        ),
        ("v1UpdateUserEmailResult", user_id_result()),
        (
            "v1UpdateUserPhoneNumberIntent",
            object(vec![
                ("userId!", string()),
                ("userPhoneNumber!", described(string(), "empty: removed")),
                ("verificationToken", verification_token()),
            ]),
        ),
        ("v1UpdateUserPhoneNumberResult", user_id_result()),
        (
            "apiApiKeyParams",
            object(vec![
                ("apiKeyName!", string()),
                (
                    "publicKey!",
                    described(string(), "hex: a compressed SEC1 P-256 point"),
                ),
                ("expirationSeconds", int64()),
            ]),
        ),
        (
            "v1ApiOnlyUserParams",
            object(vec![
                ("userName!", string()),
                ("userEmail", string()),
                ("userTags!", described(strings(), "user tag ids")),
                ("apiKeys!", array(reference("apiApiKeyParams"))),
            ]),
        ),
        (
            "v1CreateApiOnlyUsersIntent",
            object(vec![(
                "apiOnlyUsers!",
                array(reference("v1ApiOnlyUserParams")),
            )]),
        ),
        (
            "v1CreateApiOnlyUsersResult",
            object(vec![("userIds!", strings())]),
        ),
        (
            "v1UpdateOrganizationNameIntent",
            object(vec![(
                "organizationName!",
                described(string(), "root quorum only; 1 to 256 bytes"),
            )]),
        ),
        (
            "v1UpdateOrganizationNameResult",
            object(vec![
                ("organizationId!", string()),
                ("organizationName!", string()),
            ]),
        ),
        (
            "v1DeleteSubOrganizationIntent",
            object(vec![(
                "deleteWithoutExport",
                described(
                    boolean(),
                    "default false: refused while a wallet or private key of the \
                     sub-organization was never exported",
                ),
            )]),
        ),
        (
            "v1DeleteSubOrganizationResult",
            object(vec![("subOrganizationUuid!", string())]),
        ),
        (
            "v1CreateReadOnlySessionIntent",
            described(object(vec![]), "no parameters: a session for the caller"),
        ),
        (
            "v1CreateReadOnlySessionResult",
            object(vec![
                ("organizationId!", string()),
                ("organizationName!", string()),
                ("userId!", string()),
                ("username!", string()),
                (
                    "session!",
                    described(
                        string(),
                        "a session JWT (SESSION_TYPE_READ_ONLY), valid for an hour: send it \
                         as the X-Session header instead of a stamp on queries",
                    ),
                ),
                (
                    "sessionExpiry!",
                    described(
                        json_uint64(),
                        "seconds since the epoch when the session expires",
                    ),
                ),
            ]),
        ),
        (
            "v1StampLoginIntent",
            object(vec![
                (
                    "publicKey!",
                    described(
                        string(),
                        "the client's P-256 session key, hex (compressed or uncompressed); \
                         it becomes an expiring API key of the caller",
                    ),
                ),
                (
                    "expirationSeconds",
                    described(int64(), "1 to 31536000 (a year); default 900"),
                ),
                (
                    "invalidateExisting",
                    described(
                        boolean(),
                        "also remove the caller's other expiring API keys",
                    ),
                ),
                (
                    "sessionProfileId",
                    described(
                        string(),
                        "not supported by keyhold: must be absent or empty",
                    ),
                ),
            ]),
        ),
        (
            "v1StampLoginResult",
            object(vec![(
                "session!",
                described(
                    string(),
                    "a session JWT (SESSION_TYPE_READ_WRITE) naming the session key, signed \
                     by the key at /enclave/v1/session-signer",
                ),
            )]),
        ),
        (
            "keyholdSessionSignerResponse",
            object(vec![
                (
                    "sessionSignerPublicKey!",
                    described(
                        string(),
                        "uncompressed P-256 public key, hex: pass it to @turnkey/crypto's \
                         verifySessionJwtSignature as the notarizer key",
                    ),
                ),
                (
                    "endorsement!",
                    described(
                        string(),
                        "DER ECDSA signature by the quorum key over the session signer key \
                         (domain keyhold/v1/session-signer-key), hex",
                    ),
                ),
                ("quorumPublicKey", string()),
            ]),
        ),
    ]
}

fn json_uint64() -> Value {
    serde_json::json!({"type": "string", "format": "uint64"})
}
