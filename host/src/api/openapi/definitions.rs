//! The JSON shapes keyhold accepts and returns, as Swagger 2.0 definitions. Written for keyhold
//! from its own parsers (the enclave's intent structs, `format.rs`, `org_view.rs`); names and
//! enum spellings follow Turnkey's public API (its swagger, `public_api.swagger.json`) so a
//! definition here can be compared with Turnkey's one of the same name. Enums list what keyhold
//! accepts, which may be fewer values than Turnkey's. The activity envelope, `v1Intent`,
//! `v1Result` and `v1ActivityType` are generated from the endpoint table in `openapi.rs`.

mod contracts;
mod evaluations;
mod features;
mod operator;
mod passkeys;
mod transfer;
mod users;
mod wallets;
mod webhooks;

use keyhold_shared::msg::{AddressFormat, Curve};
use serde_json::{Map, Value, json};

fn string() -> Value {
    json!({"type": "string"})
}

fn described(mut schema: Value, description: &str) -> Value {
    schema["description"] = json!(description);
    schema
}

fn int64() -> Value {
    json!({"type": "string", "format": "int64"})
}

fn integer() -> Value {
    json!({"type": "integer", "format": "int64"})
}

fn boolean() -> Value {
    json!({"type": "boolean"})
}

fn reference(name: &str) -> Value {
    json!({"$ref": format!("#/definitions/{name}")})
}

fn array(items: Value) -> Value {
    json!({"type": "array", "items": items})
}

fn strings() -> Value {
    array(string())
}

fn timestamp() -> Value {
    reference("externaldatav1Timestamp")
}

fn enumeration(values: &[&str]) -> Value {
    json!({"type": "string", "enum": values})
}

/// An object; `!` after a property name marks it required.
fn object(properties: Vec<(&str, Value)>) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    for (name, schema) in properties {
        let name = match name.strip_suffix('!') {
            Some(name) => {
                required.push(name.to_owned());
                name
            }
            None => name,
        };
        props.insert(name.to_owned(), schema);
    }
    let mut object = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        object["required"] = json!(required);
    }
    object
}

fn query_request(fields: Vec<(&str, Value)>) -> Value {
    let mut all = vec![("organizationId!", string())];
    all.extend(fields);
    object(all)
}

/// Every hand-written definition, by name.
pub fn all() -> Vec<(&'static str, Value)> {
    let mut all = core();
    all.extend(passkeys::all());
    all.extend(transfer::all());
    all.extend(wallets::all());
    all.extend(operator::all());
    all.extend(users::all());
    all.extend(features::all());
    all.extend(evaluations::all());
    all.extend(contracts::all());
    all.extend(webhooks::all());
    all
}

/// Shared shapes, records, and the activities and queries of wallets, signing, users, API keys,
/// tags, policies, organizations and consensus.
fn core() -> Vec<(&'static str, Value)> {
    let curves: Vec<&str> = Curve::ALL.iter().map(|c| c.as_turnkey()).collect();
    let formats: Vec<&str> = AddressFormat::ALL.iter().map(|f| f.as_turnkey()).collect();
    let user = object(vec![
        ("userId!", string()),
        ("userName!", string()),
        ("userEmail", string()),
        ("userPhoneNumber", string()),
        ("authenticators!", array(reference("v1Authenticator"))),
        ("apiKeys!", array(reference("v1ApiKey"))),
        ("userTags!", described(strings(), "user tag ids")),
        (
            "oauthProviders!",
            described(array(json!({"type": "object"})), "always empty"),
        ),
        ("createdAt!", timestamp()),
        ("updatedAt!", timestamp()),
        (
            "mfaPolicies!",
            described(array(json!({"type": "object"})), "always empty"),
        ),
    ]);
    let user_params = object(vec![
        ("userName!", string()),
        ("userEmail", string()),
        ("userPhoneNumber", string()),
        ("apiKeys", array(reference("v1ApiKeyParamsV2"))),
        (
            "authenticators",
            array(reference("v1AuthenticatorParamsV2")),
        ),
        (
            "oauthProviders",
            described(
                array(json!({"type": "object"})),
                "must be empty: OAuth is not supported by keyhold",
            ),
        ),
        ("userTags", described(strings(), "user tag ids")),
    ]);
    let policy_params = object(vec![
        ("policyName!", string()),
        ("effect!", reference("v1Effect")),
        (
            "condition",
            described(string(), "policy language expression, compiled on submit"),
        ),
        ("consensus", string()),
        ("notes", string()),
        ("time", string()),
    ]);
    let sub_org_result = object(vec![
        ("subOrganizationId!", string()),
        ("wallet", reference("v1WalletResult")),
        ("rootUserIds", strings()),
    ]);
    vec![
        // Shared shapes.
        (
            "externaldatav1Timestamp",
            described(
                object(vec![("seconds!", int64()), ("nanos!", int64())]),
                "proto3 JSON timestamp: int64s as decimal strings",
            ),
        ),
        (
            "rpcStatus",
            described(
                object(vec![
                    ("code!", json!({"type": "integer", "format": "int32"})),
                    ("message!", string()),
                    ("details!", array(reference("keyholdTurnkeyErrorDetail"))),
                ]),
                "Turnkey's error body; `code` is the gRPC status code",
            ),
        ),
        (
            "keyholdTurnkeyErrorDetail",
            object(vec![
                (
                    "@type!",
                    enumeration(&["type.googleapis.com/errors.v1.TurnkeyErrorDetail"]),
                ),
                ("turnkeyErrorCode!", string()),
            ]),
        ),
        (
            "v1Pagination",
            object(vec![
                ("limit", described(string(), "1 to 100, as a string")),
                ("before", string()),
                ("after", string()),
            ]),
        ),
        // Enums: what keyhold accepts.
        ("v1Curve", enumeration(&curves)),
        ("v1AddressFormat", enumeration(&formats)),
        ("v1PathFormat", enumeration(&["PATH_FORMAT_BIP32"])),
        (
            "v1PayloadEncoding",
            enumeration(&[
                "PAYLOAD_ENCODING_HEXADECIMAL",
                "PAYLOAD_ENCODING_TEXT_UTF8",
                "PAYLOAD_ENCODING_EIP712",
            ]),
        ),
        (
            "v1HashFunction",
            enumeration(&[
                "HASH_FUNCTION_NO_OP",
                "HASH_FUNCTION_SHA256",
                "HASH_FUNCTION_KECCAK256",
                "HASH_FUNCTION_NOT_APPLICABLE",
            ]),
        ),
        (
            "v1TransactionType",
            enumeration(&[
                "TRANSACTION_TYPE_ETHEREUM",
                "TRANSACTION_TYPE_SOLANA",
                "TRANSACTION_TYPE_BITCOIN",
            ]),
        ),
        ("v1Effect", enumeration(&["EFFECT_ALLOW", "EFFECT_DENY"])),
        (
            "v1ApiKeyCurve",
            enumeration(&[
                "API_KEY_CURVE_P256",
                "API_KEY_CURVE_SECP256K1",
                "API_KEY_CURVE_ED25519",
            ]),
        ),
        (
            "v1CredentialType",
            enumeration(&[
                "CREDENTIAL_TYPE_WEBAUTHN_AUTHENTICATOR",
                "CREDENTIAL_TYPE_API_KEY_P256",
                "CREDENTIAL_TYPE_API_KEY_SECP256K1",
                "CREDENTIAL_TYPE_API_KEY_ED25519",
            ]),
        ),
        (
            "v1TagType",
            enumeration(&["TAG_TYPE_USER", "TAG_TYPE_PRIVATE_KEY"]),
        ),
        (
            "v1ActivityStatus",
            enumeration(&[
                "ACTIVITY_STATUS_COMPLETED",
                "ACTIVITY_STATUS_CONSENSUS_NEEDED",
                "ACTIVITY_STATUS_REJECTED",
            ]),
        ),
        // Records.
        (
            "v1Wallet",
            object(vec![
                ("walletId!", string()),
                ("walletName!", string()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
                ("exported!", boolean()),
                ("imported!", boolean()),
            ]),
        ),
        (
            "v1WalletAccount",
            object(vec![
                ("walletAccountId!", string()),
                ("organizationId!", string()),
                ("walletId!", string()),
                ("curve!", reference("v1Curve")),
                ("pathFormat!", reference("v1PathFormat")),
                ("path!", string()),
                ("addressFormat!", reference("v1AddressFormat")),
                ("address!", string()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
                ("publicKey", string()),
                ("walletDetails", reference("v1Wallet")),
                (
                    "caip2Prefix",
                    described(string(), "`eip155` for Ethereum accounts"),
                ),
            ]),
        ),
        (
            "externaldatav1Address",
            object(vec![
                ("format", reference("v1AddressFormat")),
                ("address", string()),
            ]),
        ),
        (
            "v1PrivateKey",
            object(vec![
                ("privateKeyId!", string()),
                ("publicKey!", string()),
                ("privateKeyName!", string()),
                ("curve!", reference("v1Curve")),
                ("addresses!", array(reference("externaldatav1Address"))),
                ("privateKeyTags!", strings()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
                ("exported!", boolean()),
                ("imported!", boolean()),
            ]),
        ),
        (
            "externaldatav1Credential",
            object(vec![
                ("publicKey!", string()),
                ("type!", reference("v1CredentialType")),
            ]),
        ),
        (
            "v1ApiKey",
            object(vec![
                ("credential!", reference("externaldatav1Credential")),
                ("apiKeyId!", string()),
                ("apiKeyName!", string()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
                ("expirationSeconds", int64()),
            ]),
        ),
        ("v1User", user),
        (
            "v1Policy",
            object(vec![
                ("policyId!", string()),
                ("policyName!", string()),
                ("effect!", reference("v1Effect")),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
                ("notes!", string()),
                ("consensus!", string()),
                ("condition!", string()),
                ("time", string()),
            ]),
        ),
        (
            "datav1Tag",
            object(vec![
                ("tagId!", string()),
                ("tagName!", string()),
                ("tagType!", reference("v1TagType")),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
            ]),
        ),
        (
            "externaldatav1Quorum",
            object(vec![("threshold!", integer()), ("userIds!", strings())]),
        ),
        (
            "v1OrganizationData",
            object(vec![
                ("organizationId", string()),
                ("name", string()),
                ("users", array(reference("v1User"))),
                ("policies", array(reference("v1Policy"))),
                (
                    "privateKeys",
                    described(
                        array(reference("v1PrivateKey")),
                        "always empty (list_private_keys has them)",
                    ),
                ),
                ("invitations", array(json!({"type": "object"}))),
                ("tags", array(reference("datav1Tag"))),
                ("rootQuorum", reference("externaldatav1Quorum")),
                ("features", array(reference("v1Feature"))),
                ("wallets", array(reference("v1Wallet"))),
                (
                    "smartContractInterfaceReferences",
                    array(json!({"type": "object"})),
                ),
                (
                    "parentOrganizationId",
                    described(string(), "keyhold: set on sub-organizations"),
                ),
            ]),
        ),
        (
            "v1Config",
            object(vec![
                ("features", array(reference("v1Feature"))),
                ("quorum", reference("externaldatav1Quorum")),
            ]),
        ),
        (
            "v1Vote",
            object(vec![
                ("id!", string()),
                ("userId!", string()),
                ("user!", reference("v1User")),
                ("activityId!", string()),
                (
                    "selection!",
                    enumeration(&["VOTE_SELECTION_APPROVED", "VOTE_SELECTION_REJECTED"]),
                ),
                ("message!", described(string(), "the signed request body")),
                ("publicKey!", string()),
                ("signature!", string()),
                ("scheme!", string()),
                ("createdAt!", timestamp()),
            ]),
        ),
        // Activity parameters (intents), newest versions.
        (
            "v1WalletAccountParams",
            object(vec![
                ("curve!", reference("v1Curve")),
                ("pathFormat!", reference("v1PathFormat")),
                ("path!", string()),
                ("addressFormat!", reference("v1AddressFormat")),
            ]),
        ),
        (
            "v1CreateWalletIntent",
            object(vec![
                ("walletName!", string()),
                ("accounts!", array(reference("v1WalletAccountParams"))),
                (
                    "mnemonicLength",
                    described(integer(), "12, 15, 18, 21 or 24 (default 12)"),
                ),
            ]),
        ),
        (
            "v1CreateWalletAccountsIntent",
            object(vec![
                ("walletId!", string()),
                ("accounts!", array(reference("v1WalletAccountParams"))),
                ("persist", described(boolean(), "default true")),
            ]),
        ),
        (
            "v1PrivateKeyParams",
            object(vec![
                ("privateKeyName!", string()),
                ("curve!", reference("v1Curve")),
                ("privateKeyTags", strings()),
                ("addressFormats!", array(reference("v1AddressFormat"))),
            ]),
        ),
        (
            "v1CreatePrivateKeysIntentV2",
            object(vec![(
                "privateKeys!",
                array(reference("v1PrivateKeyParams")),
            )]),
        ),
        (
            "v1SignRawPayloadIntentV2",
            object(vec![
                (
                    "signWith!",
                    described(
                        string(),
                        "a wallet account address, a private key id or one of its addresses",
                    ),
                ),
                ("payload!", string()),
                ("encoding!", reference("v1PayloadEncoding")),
                ("hashFunction!", reference("v1HashFunction")),
            ]),
        ),
        (
            "v1SignRawPayloadsIntent",
            object(vec![
                ("signWith!", string()),
                ("payloads!", strings()),
                ("encoding!", reference("v1PayloadEncoding")),
                ("hashFunction!", reference("v1HashFunction")),
            ]),
        ),
        (
            "v1SignTransactionIntentV2",
            object(vec![
                ("signWith!", string()),
                (
                    "unsignedTransaction!",
                    described(
                        string(),
                        "hex: RLP (Ethereum), message (Solana), PSBT (Bitcoin)",
                    ),
                ),
                ("type!", reference("v1TransactionType")),
            ]),
        ),
        (
            "v1ApiKeyParamsV2",
            object(vec![
                ("apiKeyName!", string()),
                (
                    "publicKey!",
                    described(
                        string(),
                        "hex: a compressed SEC1 point (P-256, secp256k1) or a 32-byte Ed25519 key",
                    ),
                ),
                (
                    "curveType",
                    described(
                        reference("v1ApiKeyCurve"),
                        "keyhold: optional, P-256 when absent",
                    ),
                ),
                ("expirationSeconds", int64()),
            ]),
        ),
        ("v1UserParamsV4", user_params.clone()),
        (
            "v1CreateUsersIntentV4",
            object(vec![("users!", array(reference("v1UserParamsV4")))]),
        ),
        ("v1DeleteUsersIntent", object(vec![("userIds!", strings())])),
        (
            "v1CreateApiKeysIntentV2",
            object(vec![
                ("apiKeys!", array(reference("v1ApiKeyParamsV2"))),
                ("userId!", string()),
            ]),
        ),
        (
            "v1DeleteApiKeysIntent",
            object(vec![("userId!", string()), ("apiKeyIds!", strings())]),
        ),
        (
            "v1CreateUserTagIntent",
            object(vec![("userTagName!", string()), ("userIds", strings())]),
        ),
        (
            "v1UpdateUserTagIntent",
            object(vec![
                ("userTagId!", string()),
                ("newUserTagName", string()),
                ("addUserIds", strings()),
                ("removeUserIds", strings()),
            ]),
        ),
        (
            "v1DeleteUserTagsIntent",
            object(vec![("userTagIds!", strings())]),
        ),
        (
            "v1UpdateRootQuorumIntent",
            object(vec![("threshold!", integer()), ("userIds!", strings())]),
        ),
        ("v1RootUserParams", user_params),
        (
            "v1WalletParams",
            object(vec![
                ("walletName!", string()),
                ("accounts", array(reference("v1WalletAccountParams"))),
                ("mnemonicLength", integer()),
            ]),
        ),
        (
            "v1CreateSubOrganizationIntentV8",
            object(vec![
                ("subOrganizationName!", string()),
                ("rootUsers!", array(reference("v1RootUserParams"))),
                ("rootQuorumThreshold!", integer()),
                ("wallet", reference("v1WalletParams")),
            ]),
        ),
        ("v1CreatePolicyIntentV3", policy_params),
        (
            "v1CreatePoliciesIntent",
            object(vec![(
                "policies!",
                array(reference("v1CreatePolicyIntentV3")),
            )]),
        ),
        (
            "v1UpdatePolicyIntentV2",
            object(vec![
                ("policyId!", string()),
                ("policyName", string()),
                ("policyEffect", reference("v1Effect")),
                ("policyCondition", string()),
                ("policyConsensus", string()),
                ("policyNotes", string()),
                ("time", string()),
            ]),
        ),
        (
            "v1DeletePolicyIntent",
            object(vec![("policyId!", string())]),
        ),
        (
            "v1DeletePoliciesIntent",
            object(vec![("policyIds!", strings())]),
        ),
        (
            "v1ApproveActivityIntent",
            object(vec![("fingerprint!", string())]),
        ),
        (
            "v1RejectActivityIntent",
            object(vec![("fingerprint!", string())]),
        ),
        // Activity results.
        (
            "v1CreateWalletResult",
            object(vec![("walletId!", string()), ("addresses!", strings())]),
        ),
        (
            "v1CreateWalletAccountsResult",
            object(vec![("addresses!", strings())]),
        ),
        (
            "v1PrivateKeyResult",
            object(vec![
                ("privateKeyId", string()),
                ("addresses", array(reference("externaldatav1Address"))),
            ]),
        ),
        (
            "v1CreatePrivateKeysResultV2",
            object(vec![(
                "privateKeys!",
                array(reference("v1PrivateKeyResult")),
            )]),
        ),
        (
            "v1SignRawPayloadResult",
            described(
                object(vec![("r!", string()), ("s!", string()), ("v!", string())]),
                "r and s: 64 hex digits; v: \"00\" or \"01\" (Ed25519 and Schnorr: v is \"00\")",
            ),
        ),
        (
            "v1SignRawPayloadsResult",
            object(vec![(
                "signatures",
                array(reference("v1SignRawPayloadResult")),
            )]),
        ),
        (
            "v1SignTransactionResult",
            object(vec![("signedTransaction!", string())]),
        ),
        ("v1CreateUsersResult", object(vec![("userIds!", strings())])),
        ("v1DeleteUsersResult", object(vec![("userIds!", strings())])),
        (
            "v1CreateApiKeysResult",
            object(vec![("apiKeyIds!", strings())]),
        ),
        (
            "v1DeleteApiKeysResult",
            object(vec![("apiKeyIds!", strings())]),
        ),
        (
            "v1CreateUserTagResult",
            object(vec![("userTagId!", string()), ("userIds!", strings())]),
        ),
        (
            "v1UpdateUserTagResult",
            object(vec![("userTagId!", string())]),
        ),
        (
            "v1DeleteUserTagsResult",
            object(vec![("userTagIds!", strings()), ("userIds!", strings())]),
        ),
        ("v1UpdateRootQuorumResult", object(vec![])),
        (
            "v1WalletResult",
            object(vec![("walletId!", string()), ("addresses!", strings())]),
        ),
        ("v1CreateSubOrganizationResultV8", sub_org_result.clone()),
        ("v1CreateSubOrganizationResultV7", sub_org_result),
        (
            "v1CreatePolicyResult",
            object(vec![("policyId!", string())]),
        ),
        (
            "v1CreatePoliciesResult",
            object(vec![("policyIds!", strings())]),
        ),
        (
            "v1UpdatePolicyResult",
            object(vec![("policyId!", string())]),
        ),
        (
            "v1UpdatePolicyResultV2",
            object(vec![("policyId!", string())]),
        ),
        (
            "v1DeletePolicyResult",
            object(vec![("policyId!", string())]),
        ),
        (
            "v1DeletePoliciesResult",
            object(vec![("policyIds!", strings())]),
        ),
        // Query requests.
        ("v1GetWhoamiRequest", query_request(vec![])),
        ("v1GetWalletsRequest", query_request(vec![])),
        (
            "v1GetWalletRequest",
            query_request(vec![("walletId!", string())]),
        ),
        (
            "v1GetWalletAccountRequest",
            query_request(vec![
                ("walletId!", string()),
                ("address", string()),
                ("path", string()),
            ]),
        ),
        (
            "v1GetWalletAccountsRequest",
            query_request(vec![
                ("walletId", string()),
                ("includeWalletDetails", boolean()),
                ("paginationOptions", reference("v1Pagination")),
            ]),
        ),
        (
            "v1GetActivityRequest",
            query_request(vec![("activityId!", string())]),
        ),
        (
            "v1GetPrivateKeyRequest",
            query_request(vec![("privateKeyId!", string())]),
        ),
        ("v1GetPrivateKeysRequest", query_request(vec![])),
        (
            "v1GetUserRequest",
            query_request(vec![("userId!", string())]),
        ),
        ("v1GetUsersRequest", query_request(vec![])),
        (
            "v1GetApiKeyRequest",
            query_request(vec![("apiKeyId!", string())]),
        ),
        (
            "v1GetApiKeysRequest",
            query_request(vec![("userId", string())]),
        ),
        (
            "v1GetPolicyRequest",
            query_request(vec![("policyId!", string())]),
        ),
        ("v1GetPoliciesRequest", query_request(vec![])),
        ("v1ListUserTagsRequest", query_request(vec![])),
        ("v1GetOrganizationRequest", query_request(vec![])),
        ("v1GetOrganizationConfigsRequest", query_request(vec![])),
        (
            "v1GetActivitiesRequest",
            query_request(vec![
                (
                    "filterByStatus",
                    array(enumeration(super::super::org_queries::ACTIVITY_STATUSES)),
                ),
                ("paginationOptions", reference("v1Pagination")),
                ("filterByType", array(reference("v1ActivityType"))),
            ]),
        ),
        (
            "v1GetSubOrgIdsRequest",
            query_request(vec![("paginationOptions", reference("v1Pagination"))]),
        ),
        // Query responses.
        (
            "v1GetWhoamiResponse",
            object(vec![
                ("organizationId!", string()),
                ("organizationName!", string()),
                ("userId!", string()),
                ("username!", string()),
            ]),
        ),
        (
            "v1GetWalletsResponse",
            object(vec![("wallets!", array(reference("v1Wallet")))]),
        ),
        (
            "v1GetWalletResponse",
            object(vec![("wallet!", reference("v1Wallet"))]),
        ),
        (
            "v1GetWalletAccountResponse",
            object(vec![("account!", reference("v1WalletAccount"))]),
        ),
        (
            "v1GetWalletAccountsResponse",
            object(vec![("accounts!", array(reference("v1WalletAccount")))]),
        ),
        (
            "v1GetPrivateKeyResponse",
            object(vec![("privateKey!", reference("v1PrivateKey"))]),
        ),
        (
            "v1GetPrivateKeysResponse",
            object(vec![("privateKeys!", array(reference("v1PrivateKey")))]),
        ),
        (
            "v1GetUserResponse",
            object(vec![("user!", reference("v1User"))]),
        ),
        (
            "v1GetUsersResponse",
            object(vec![("users!", array(reference("v1User")))]),
        ),
        (
            "v1GetApiKeyResponse",
            object(vec![("apiKey!", reference("v1ApiKey"))]),
        ),
        (
            "v1GetApiKeysResponse",
            object(vec![("apiKeys!", array(reference("v1ApiKey")))]),
        ),
        (
            "v1GetPolicyResponse",
            object(vec![("policy!", reference("v1Policy"))]),
        ),
        (
            "v1GetPoliciesResponse",
            object(vec![("policies!", array(reference("v1Policy")))]),
        ),
        (
            "v1ListUserTagsResponse",
            object(vec![("userTags!", array(reference("datav1Tag")))]),
        ),
        (
            "v1GetOrganizationResponse",
            object(vec![("organizationData!", reference("v1OrganizationData"))]),
        ),
        (
            "v1GetOrganizationConfigsResponse",
            object(vec![("configs!", reference("v1Config"))]),
        ),
        (
            "v1GetActivitiesResponse",
            object(vec![("activities!", array(reference("v1Activity")))]),
        ),
        (
            "v1GetSubOrgIdsResponse",
            object(vec![("organizationIds!", strings())]),
        ),
    ]
}
