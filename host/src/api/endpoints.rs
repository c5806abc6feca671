//! Every endpoint keyhold serves, in one table. It drives dispatch (which activity types a
//! `submit/*` path accepts, which handler answers a `query/*` path) and the OpenAPI document at
//! `/openapi.json`, so the two cannot drift apart; a test checks the router's fixed routes
//! against it. To add an endpoint: add its row here, its request and response definitions in
//! `openapi/definitions.rs` (or the module of its area under `openapi/definitions/`), a request
//! recipe in tests/compat/test/swagger_shapes.test.mjs, then rerun scripts/extract-turnkey-shapes
//! and scripts/compat-matrix.

/// HTTP method of an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "get",
            Method::Post => "post",
        }
    }
}

/// An activity type a `submit/*` path accepts, and the key of its result in `activity.result`.
#[derive(Clone, Copy, Debug)]
pub struct Accepts {
    pub activity_type: &'static str,
    /// `None` when the result is another activity's (approve/reject answer with the voted-on
    /// activity).
    pub result_key: Option<&'static str>,
}

/// Which code answers a `query/*` path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QueryHandler {
    /// `query.rs`: from the host's own records (wallets, accounts, keys, activities).
    Records,
    /// `org_queries.rs`: from the organization's sealed state, read out by the enclave.
    Org,
}

#[derive(Clone, Copy, Debug)]
pub enum Kind {
    /// `POST /public/v1/submit/{name}`: the types it accepts, newest first.
    Activity(&'static [Accepts]),
    /// `POST /public/v1/query/{name}`.
    Query(QueryHandler),
    /// Anything else (operator, metrics, this document): its own route in `api::routes`.
    Fixed,
}

#[derive(Clone, Copy, Debug)]
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    pub kind: Kind,
    /// Grouping in the document; Turnkey's tag name for Turnkey's endpoints.
    pub tag: &'static str,
    pub summary: &'static str,
    /// Definition of the JSON request body (Turnkey's name for Turnkey's endpoints).
    pub request: Option<&'static str>,
    /// Definition of the 200 response body; `None` for a non-JSON answer.
    pub response: Option<&'static str>,
}

pub const SUBMIT_PREFIX: &str = "/public/v1/submit/";
pub const QUERY_PREFIX: &str = "/public/v1/query/";

const fn accepts(activity_type: &'static str, result_key: &'static str) -> Accepts {
    Accepts {
        activity_type,
        result_key: Some(result_key),
    }
}

const fn activity(
    path: &'static str,
    tag: &'static str,
    summary: &'static str,
    request: &'static str,
    types: &'static [Accepts],
) -> Endpoint {
    Endpoint {
        method: Method::Post,
        path,
        kind: Kind::Activity(types),
        tag,
        summary,
        request: Some(request),
        response: Some("v1ActivityResponse"),
    }
}

const fn query(
    path: &'static str,
    handler: QueryHandler,
    tag: &'static str,
    summary: &'static str,
    request: &'static str,
    response: &'static str,
) -> Endpoint {
    Endpoint {
        method: Method::Post,
        path,
        kind: Kind::Query(handler),
        tag,
        summary,
        request: Some(request),
        response: Some(response),
    }
}

const fn fixed(
    method: Method,
    path: &'static str,
    summary: &'static str,
    request: Option<&'static str>,
    response: Option<&'static str>,
) -> Endpoint {
    Endpoint {
        method,
        path,
        kind: Kind::Fixed,
        tag: "keyhold",
        summary,
        request,
        response,
    }
}

use QueryHandler::{Org, Records};

pub const ENDPOINTS: &[Endpoint] = &[
    // Wallets, signing, private keys.
    activity(
        "/public/v1/submit/create_wallet",
        "Wallets",
        "Create a wallet",
        "v1CreateWalletRequest",
        &[accepts("ACTIVITY_TYPE_CREATE_WALLET", "createWalletResult")],
    ),
    activity(
        "/public/v1/submit/create_wallet_accounts",
        "Wallets",
        "Derive wallet accounts",
        "v1CreateWalletAccountsRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_WALLET_ACCOUNTS",
            "createWalletAccountsResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_private_keys",
        "Private Keys",
        "Create private keys",
        "v1CreatePrivateKeysRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2",
            "createPrivateKeysResultV2",
        )],
    ),
    activity(
        "/public/v1/submit/sign_raw_payload",
        "Signing",
        "Sign a raw payload",
        "v1SignRawPayloadRequest",
        &[accepts(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOAD_V2",
            "signRawPayloadResult",
        )],
    ),
    activity(
        "/public/v1/submit/sign_raw_payloads",
        "Signing",
        "Sign raw payloads",
        "v1SignRawPayloadsRequest",
        &[accepts(
            "ACTIVITY_TYPE_SIGN_RAW_PAYLOADS",
            "signRawPayloadsResult",
        )],
    ),
    activity(
        "/public/v1/submit/sign_transaction",
        "Signing",
        "Sign a transaction",
        "v1SignTransactionRequest",
        &[accepts(
            "ACTIVITY_TYPE_SIGN_TRANSACTION_V2",
            "signTransactionResult",
        )],
    ),
    // Renaming and deleting wallets, accounts and private keys; private key tags.
    activity(
        "/public/v1/submit/update_wallet",
        "Wallets",
        "Update wallet",
        "v1UpdateWalletRequest",
        &[accepts("ACTIVITY_TYPE_UPDATE_WALLET", "updateWalletResult")],
    ),
    activity(
        "/public/v1/submit/delete_wallets",
        "Wallets",
        "Delete wallets",
        "v1DeleteWalletsRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_WALLETS",
            "deleteWalletsResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_wallet_accounts",
        "Wallets",
        "Delete wallet accounts",
        "v1DeleteWalletAccountsRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_WALLET_ACCOUNTS",
            "deleteWalletAccountsResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_private_keys",
        "Private Keys",
        "Delete private keys",
        "v1DeletePrivateKeysRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEYS",
            "deletePrivateKeysResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_private_key_tag",
        "Private Key Tags",
        "Create private key tag",
        "v1CreatePrivateKeyTagRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_PRIVATE_KEY_TAG",
            "createPrivateKeyTagResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_private_key_tag",
        "Private Key Tags",
        "Update private key tag",
        "v1UpdatePrivateKeyTagRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_PRIVATE_KEY_TAG",
            "updatePrivateKeyTagResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_private_key_tags",
        "Private Key Tags",
        "Delete private key tags",
        "v1DeletePrivateKeyTagsRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_PRIVATE_KEY_TAGS",
            "deletePrivateKeyTagsResult",
        )],
    ),
    query(
        "/public/v1/query/list_private_key_tags",
        Org,
        "Private Key Tags",
        "List private key tags",
        "v1ListPrivateKeyTagsRequest",
        "v1ListPrivateKeyTagsResponse",
    ),
    // Users, API keys, user tags.
    activity(
        "/public/v1/submit/create_users",
        "Users",
        "Create users",
        "v1CreateUsersRequest",
        &[
            accepts("ACTIVITY_TYPE_CREATE_USERS_V4", "createUsersResult"),
            accepts("ACTIVITY_TYPE_CREATE_USERS_V3", "createUsersResult"),
            accepts("ACTIVITY_TYPE_CREATE_USERS_V2", "createUsersResult"),
        ],
    ),
    activity(
        "/public/v1/submit/delete_users",
        "Users",
        "Delete users",
        "v1DeleteUsersRequest",
        &[accepts("ACTIVITY_TYPE_DELETE_USERS", "deleteUsersResult")],
    ),
    activity(
        "/public/v1/submit/create_api_keys",
        "API Keys",
        "Create API keys",
        "v1CreateApiKeysRequest",
        &[
            accepts("ACTIVITY_TYPE_CREATE_API_KEYS_V2", "createApiKeysResult"),
            accepts("ACTIVITY_TYPE_CREATE_API_KEYS", "createApiKeysResult"),
        ],
    ),
    activity(
        "/public/v1/submit/delete_api_keys",
        "API Keys",
        "Delete API keys",
        "v1DeleteApiKeysRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_API_KEYS",
            "deleteApiKeysResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_user_tag",
        "User Tags",
        "Create a user tag",
        "v1CreateUserTagRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_USER_TAG",
            "createUserTagResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_user_tag",
        "User Tags",
        "Update a user tag",
        "v1UpdateUserTagRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_USER_TAG",
            "updateUserTagResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_user_tags",
        "User Tags",
        "Delete user tags",
        "v1DeleteUserTagsRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_USER_TAGS",
            "deleteUserTagsResult",
        )],
    ),
    // Organizations, policies, consensus.
    activity(
        "/public/v1/submit/update_root_quorum",
        "Organizations",
        "Set the root quorum",
        "v1UpdateRootQuorumRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_ROOT_QUORUM",
            "updateRootQuorumResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_sub_organization",
        "Organizations",
        "Create a sub-organization",
        "v1CreateSubOrganizationRequest",
        &[
            accepts(
                "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V8",
                "createSubOrganizationResultV8",
            ),
            accepts(
                "ACTIVITY_TYPE_CREATE_SUB_ORGANIZATION_V7",
                "createSubOrganizationResultV7",
            ),
        ],
    ),
    activity(
        "/public/v1/submit/create_policy",
        "Policies",
        "Create a policy",
        "v1CreatePolicyRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_POLICY_V3",
            "createPolicyResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_policies",
        "Policies",
        "Create policies",
        "v1CreatePoliciesRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_POLICIES",
            "createPoliciesResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_policy",
        "Policies",
        "Update a policy",
        "v1UpdatePolicyRequest",
        &[
            accepts("ACTIVITY_TYPE_UPDATE_POLICY_V2", "updatePolicyResultV2"),
            accepts("ACTIVITY_TYPE_UPDATE_POLICY", "updatePolicyResult"),
        ],
    ),
    activity(
        "/public/v1/submit/delete_policy",
        "Policies",
        "Delete a policy",
        "v1DeletePolicyRequest",
        &[accepts("ACTIVITY_TYPE_DELETE_POLICY", "deletePolicyResult")],
    ),
    activity(
        "/public/v1/submit/delete_policies",
        "Policies",
        "Delete policies",
        "v1DeletePoliciesRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_POLICIES",
            "deletePoliciesResult",
        )],
    ),
    activity(
        "/public/v1/submit/approve_activity",
        "Consensus",
        "Approve an activity",
        "v1ApproveActivityRequest",
        &[Accepts {
            activity_type: "ACTIVITY_TYPE_APPROVE_ACTIVITY",
            result_key: None,
        }],
    ),
    activity(
        "/public/v1/submit/reject_activity",
        "Consensus",
        "Reject an activity",
        "v1RejectActivityRequest",
        &[Accepts {
            activity_type: "ACTIVITY_TYPE_REJECT_ACTIVITY",
            result_key: None,
        }],
    ),
    // Queries answered from the host's records.
    query(
        "/public/v1/query/whoami",
        Records,
        "Sessions",
        "Who am I?",
        "v1GetWhoamiRequest",
        "v1GetWhoamiResponse",
    ),
    query(
        "/public/v1/query/list_wallets",
        Records,
        "Wallets",
        "List wallets",
        "v1GetWalletsRequest",
        "v1GetWalletsResponse",
    ),
    query(
        "/public/v1/query/get_wallet",
        Records,
        "Wallets",
        "Get a wallet",
        "v1GetWalletRequest",
        "v1GetWalletResponse",
    ),
    query(
        "/public/v1/query/get_wallet_account",
        Records,
        "Wallets",
        "Get a wallet account",
        "v1GetWalletAccountRequest",
        "v1GetWalletAccountResponse",
    ),
    query(
        "/public/v1/query/list_wallet_accounts",
        Records,
        "Wallets",
        "List wallet accounts",
        "v1GetWalletAccountsRequest",
        "v1GetWalletAccountsResponse",
    ),
    query(
        "/public/v1/query/get_activity",
        Records,
        "Activities",
        "Get an activity",
        "v1GetActivityRequest",
        "v1ActivityResponse",
    ),
    query(
        "/public/v1/query/get_policy_evaluations",
        Records,
        "Activities",
        "Get policy evaluations",
        "v1GetPolicyEvaluationsRequest",
        "v1GetPolicyEvaluationsResponse",
    ),
    query(
        "/public/v1/query/get_private_key",
        Records,
        "Private Keys",
        "Get a private key",
        "v1GetPrivateKeyRequest",
        "v1GetPrivateKeyResponse",
    ),
    query(
        "/public/v1/query/list_private_keys",
        Records,
        "Private Keys",
        "List private keys",
        "v1GetPrivateKeysRequest",
        "v1GetPrivateKeysResponse",
    ),
    // Queries answered from the sealed organization state.
    query(
        "/public/v1/query/get_user",
        Org,
        "Users",
        "Get a user",
        "v1GetUserRequest",
        "v1GetUserResponse",
    ),
    query(
        "/public/v1/query/list_users",
        Org,
        "Users",
        "List users",
        "v1GetUsersRequest",
        "v1GetUsersResponse",
    ),
    query(
        "/public/v1/query/get_api_key",
        Org,
        "API keys",
        "Get an API key",
        "v1GetApiKeyRequest",
        "v1GetApiKeyResponse",
    ),
    query(
        "/public/v1/query/get_api_keys",
        Org,
        "API keys",
        "List API keys",
        "v1GetApiKeysRequest",
        "v1GetApiKeysResponse",
    ),
    query(
        "/public/v1/query/get_policy",
        Org,
        "Policies",
        "Get a policy",
        "v1GetPolicyRequest",
        "v1GetPolicyResponse",
    ),
    query(
        "/public/v1/query/list_policies",
        Org,
        "Policies",
        "List policies",
        "v1GetPoliciesRequest",
        "v1GetPoliciesResponse",
    ),
    query(
        "/public/v1/query/list_user_tags",
        Org,
        "User Tags",
        "List user tags",
        "v1ListUserTagsRequest",
        "v1ListUserTagsResponse",
    ),
    query(
        "/public/v1/query/get_organization",
        Org,
        "Organizations",
        "Get the organization",
        "v1GetOrganizationRequest",
        "v1GetOrganizationResponse",
    ),
    query(
        "/public/v1/query/get_organization_configs",
        Org,
        "Organizations",
        "Get the organization's configs",
        "v1GetOrganizationConfigsRequest",
        "v1GetOrganizationConfigsResponse",
    ),
    query(
        "/public/v1/query/list_activities",
        Org,
        "Activities",
        "List activities",
        "v1GetActivitiesRequest",
        "v1GetActivitiesResponse",
    ),
    query(
        "/public/v1/query/list_suborgs",
        Org,
        "Organizations",
        "List sub-organizations",
        "v1GetSubOrgIdsRequest",
        "v1GetSubOrgIdsResponse",
    ),
    // Smart contract interfaces (enclave: contract_interfaces.rs; definitions:
    // openapi/definitions/contracts.rs).
    activity(
        "/public/v1/submit/create_smart_contract_interface",
        "Policies",
        "Create smart contract interface",
        "v1CreateSmartContractInterfaceRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_SMART_CONTRACT_INTERFACE",
            "createSmartContractInterfaceResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_smart_contract_interface",
        "Policies",
        "Delete smart contract interface",
        "v1DeleteSmartContractInterfaceRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_SMART_CONTRACT_INTERFACE",
            "deleteSmartContractInterfaceResult",
        )],
    ),
    query(
        "/public/v1/query/get_smart_contract_interface",
        Org,
        "Policies",
        "Get smart contract interface",
        "v1GetSmartContractInterfaceRequest",
        "v1GetSmartContractInterfaceResponse",
    ),
    query(
        "/public/v1/query/list_smart_contract_interfaces",
        Org,
        "Policies",
        "List smart contract interfaces",
        "v1GetSmartContractInterfacesRequest",
        "v1GetSmartContractInterfacesResponse",
    ),
    // Passkeys (authenticators).
    activity(
        "/public/v1/submit/create_authenticators",
        "Authenticators",
        "Create authenticators",
        "v1CreateAuthenticatorsRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_AUTHENTICATORS_V2",
            "createAuthenticatorsResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_authenticators",
        "Authenticators",
        "Delete authenticators",
        "v1DeleteAuthenticatorsRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_AUTHENTICATORS",
            "deleteAuthenticatorsResult",
        )],
    ),
    query(
        "/public/v1/query/get_authenticators",
        Org,
        "Authenticators",
        "Get authenticators",
        "v1GetAuthenticatorsRequest",
        "v1GetAuthenticatorsResponse",
    ),
    query(
        "/public/v1/query/get_authenticator",
        Org,
        "Authenticators",
        "Get authenticator",
        "v1GetAuthenticatorRequest",
        "v1GetAuthenticatorResponse",
    ),
    // Export, import, sessions.
    activity(
        "/public/v1/submit/export_wallet",
        "Wallets",
        "Export wallet",
        "v1ExportWalletRequest",
        &[accepts("ACTIVITY_TYPE_EXPORT_WALLET", "exportWalletResult")],
    ),
    activity(
        "/public/v1/submit/export_wallet_account",
        "Wallets",
        "Export wallet account",
        "v1ExportWalletAccountRequest",
        &[accepts(
            "ACTIVITY_TYPE_EXPORT_WALLET_ACCOUNT",
            "exportWalletAccountResult",
        )],
    ),
    activity(
        "/public/v1/submit/export_private_key",
        "Private Keys",
        "Export private key",
        "v1ExportPrivateKeyRequest",
        &[accepts(
            "ACTIVITY_TYPE_EXPORT_PRIVATE_KEY",
            "exportPrivateKeyResult",
        )],
    ),
    activity(
        "/public/v1/submit/init_import_wallet",
        "Wallets",
        "Init import wallet",
        "v1InitImportWalletRequest",
        &[accepts(
            "ACTIVITY_TYPE_INIT_IMPORT_WALLET",
            "initImportWalletResult",
        )],
    ),
    activity(
        "/public/v1/submit/import_wallet",
        "Wallets",
        "Import wallet",
        "v1ImportWalletRequest",
        &[accepts("ACTIVITY_TYPE_IMPORT_WALLET", "importWalletResult")],
    ),
    activity(
        "/public/v1/submit/init_import_private_key",
        "Private Keys",
        "Init import private key",
        "v1InitImportPrivateKeyRequest",
        &[accepts(
            "ACTIVITY_TYPE_INIT_IMPORT_PRIVATE_KEY",
            "initImportPrivateKeyResult",
        )],
    ),
    activity(
        "/public/v1/submit/import_private_key",
        "Private Keys",
        "Import private key",
        "v1ImportPrivateKeyRequest",
        &[accepts(
            "ACTIVITY_TYPE_IMPORT_PRIVATE_KEY",
            "importPrivateKeyResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_read_write_session",
        "Sessions",
        "Create read write session",
        "v1CreateReadWriteSessionRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_READ_WRITE_SESSION_V2",
            "createReadWriteSessionResultV2",
        )],
    ),
    // Users after creation, API-only users, the organization's name and deletion, and the
    // sessions answered with a session JWT (enclave: user_updates.rs, org_lifecycle.rs,
    // login_sessions.rs; definitions: openapi/definitions/users.rs).
    activity(
        "/public/v1/submit/update_user",
        "Users",
        "Update user",
        "v1UpdateUserRequest",
        &[accepts("ACTIVITY_TYPE_UPDATE_USER", "updateUserResult")],
    ),
    activity(
        "/public/v1/submit/update_user_name",
        "Users",
        "Update user's name",
        "v1UpdateUserNameRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_USER_NAME",
            "updateUserNameResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_user_email",
        "Users",
        "Update user's email",
        "v1UpdateUserEmailRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_USER_EMAIL",
            "updateUserEmailResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_user_phone_number",
        "Users",
        "Update user's phone number",
        "v1UpdateUserPhoneNumberRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_USER_PHONE_NUMBER",
            "updateUserPhoneNumberResult",
        )],
    ),
    activity(
        "/public/v1/submit/create_api_only_users",
        "Users",
        "Create API-only users",
        "v1CreateApiOnlyUsersRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_API_ONLY_USERS",
            "createApiOnlyUsersResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_organization_name",
        "Organizations",
        "Update organization name",
        "v1UpdateOrganizationNameRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_ORGANIZATION_NAME",
            "updateOrganizationNameResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_sub_organization",
        "Organizations",
        "Delete sub-organization",
        "v1DeleteSubOrganizationRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_SUB_ORGANIZATION",
            "deleteSubOrganizationResult",
        )],
    ),
    // Organization features (root quorum only).
    activity(
        "/public/v1/submit/set_organization_feature",
        "Features",
        "Set organization feature",
        "v1SetOrganizationFeatureRequest",
        &[accepts(
            "ACTIVITY_TYPE_SET_ORGANIZATION_FEATURE",
            "setOrganizationFeatureResult",
        )],
    ),
    activity(
        "/public/v1/submit/remove_organization_feature",
        "Features",
        "Remove organization feature",
        "v1RemoveOrganizationFeatureRequest",
        &[accepts(
            "ACTIVITY_TYPE_REMOVE_ORGANIZATION_FEATURE",
            "removeOrganizationFeatureResult",
        )],
    ),
    // Webhook endpoints (validated in the enclave, kept and delivered by the host).
    activity(
        "/public/v1/submit/create_webhook_endpoint",
        "Organizations",
        "Create webhook endpoint",
        "v1CreateWebhookEndpointRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_WEBHOOK_ENDPOINT",
            "createWebhookEndpointResult",
        )],
    ),
    activity(
        "/public/v1/submit/update_webhook_endpoint",
        "Organizations",
        "Update webhook endpoint",
        "v1UpdateWebhookEndpointRequest",
        &[accepts(
            "ACTIVITY_TYPE_UPDATE_WEBHOOK_ENDPOINT",
            "updateWebhookEndpointResult",
        )],
    ),
    activity(
        "/public/v1/submit/delete_webhook_endpoint",
        "Organizations",
        "Delete webhook endpoint",
        "v1DeleteWebhookEndpointRequest",
        &[accepts(
            "ACTIVITY_TYPE_DELETE_WEBHOOK_ENDPOINT",
            "deleteWebhookEndpointResult",
        )],
    ),
    query(
        "/public/v1/query/list_webhook_endpoints",
        Records,
        "Organizations",
        "List webhook endpoints",
        "v1ListWebhookEndpointsRequest",
        "v1ListWebhookEndpointsResponse",
    ),
    activity(
        "/public/v1/submit/create_read_only_session",
        "Sessions",
        "Create read only session",
        "v1CreateReadOnlySessionRequest",
        &[accepts(
            "ACTIVITY_TYPE_CREATE_READ_ONLY_SESSION",
            "createReadOnlySessionResult",
        )],
    ),
    activity(
        "/public/v1/submit/stamp_login",
        "Sessions",
        "Login with a stamp",
        "v1StampLoginRequest",
        &[accepts("ACTIVITY_TYPE_STAMP_LOGIN", "stampLoginResult")],
    ),
    // keyhold's own routes.
    fixed(Method::Get, "/openapi.json", "This document", None, None),
    fixed(
        Method::Get,
        "/metrics",
        "Prometheus metrics (text exposition format)",
        None,
        None,
    ),
    fixed(
        Method::Get,
        "/webhooks/v1/signing-key",
        "The key webhook deliveries are signed with (pass it to @turnkey/crypto's verifyTurnkeyWebhookSignature)",
        None,
        Some("keyholdWebhookSigningKeyResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/attestation",
        "The enclave's attestation document and provisioning status (query `nonce`: hex)",
        None,
        Some("keyholdAttestationResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/quorum",
        "The deployment's quorum record",
        None,
        Some("keyholdQuorumResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/signer",
        "The deployment's bundle signing key, endorsed by the quorum key (pin it as @turnkey/crypto's signer key)",
        None,
        Some("keyholdSignerKeyResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/session-signer",
        "The deployment's session JWT signing key, endorsed by the quorum key (pass it to @turnkey/crypto's verifySessionJwtSignature)",
        None,
        Some("keyholdSessionSignerResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/audit/key",
        "The audit receipt key, certified by the quorum key",
        None,
        Some("keyholdAuditKeyResponse"),
    ),
    fixed(
        Method::Get,
        "/enclave/v1/audit/head",
        "An organization's audit chain head, signed over a nonce (query `org`, `nonce`: hex)",
        None,
        Some("keyholdAuditHeadResponse"),
    ),
    fixed(
        Method::Post,
        "/enclave/v1/genesis",
        "Genesis: create the quorum key (operators)",
        Some("keyholdManifestRequest"),
        Some("keyholdQuorumKeyResponse"),
    ),
    fixed(
        Method::Post,
        "/enclave/v1/provision",
        "Hand the enclave one operator's quorum key share",
        Some("keyholdShareRequest"),
        Some("keyholdProvisionResponse"),
    ),
    fixed(
        Method::Post,
        "/enclave/v1/manifest",
        "Replace the manifest (operators' approvals)",
        Some("keyholdManifestRequest"),
        Some("keyholdQuorumKeyResponse"),
    ),
];

fn find(prefix: &str, name: &str) -> Option<&'static Endpoint> {
    ENDPOINTS
        .iter()
        .find(|e| e.path.strip_prefix(prefix) == Some(name))
}

/// The activity types `submit/{name}` accepts, newest first; `None` if keyhold does not
/// implement the path.
pub fn activity_types(name: &str) -> Option<Vec<&'static str>> {
    match find(SUBMIT_PREFIX, name)?.kind {
        Kind::Activity(types) => Some(types.iter().map(|a| a.activity_type).collect()),
        _ => None,
    }
}

/// Which handler answers `query/{name}`; `None` if keyhold does not implement the path.
pub fn query_handler(name: &str) -> Option<QueryHandler> {
    match find(QUERY_PREFIX, name)?.kind {
        Kind::Query(handler) => Some(handler),
        _ => None,
    }
}

/// Whether some path accepts this activity type.
pub fn is_activity_type(activity_type: &str) -> bool {
    ENDPOINTS.iter().any(|e| match e.kind {
        Kind::Activity(types) => types.iter().any(|a| a.activity_type == activity_type),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_kinds_match_prefixes() {
        for (i, e) in ENDPOINTS.iter().enumerate() {
            assert!(
                ENDPOINTS[..i]
                    .iter()
                    .all(|o| (o.path, o.method) != (e.path, e.method)),
                "{} twice",
                e.path
            );
            match e.kind {
                Kind::Activity(types) => {
                    assert!(e.path.starts_with(SUBMIT_PREFIX), "{}", e.path);
                    assert!(!types.is_empty(), "{} accepts no type", e.path);
                }
                Kind::Query(_) => assert!(e.path.starts_with(QUERY_PREFIX), "{}", e.path),
                Kind::Fixed => assert!(
                    !e.path.starts_with(SUBMIT_PREFIX) && !e.path.starts_with(QUERY_PREFIX),
                    "{} is under a dispatched prefix but not an activity or query",
                    e.path
                ),
            }
        }
    }

    #[test]
    fn dispatch_reads_the_table() {
        assert_eq!(
            activity_types("create_users"),
            Some(vec![
                "ACTIVITY_TYPE_CREATE_USERS_V4",
                "ACTIVITY_TYPE_CREATE_USERS_V3",
                "ACTIVITY_TYPE_CREATE_USERS_V2"
            ])
        );
        assert_eq!(activity_types("whoami"), None);
        assert_eq!(activity_types("export_wallet_nope"), None);
        assert_eq!(query_handler("whoami"), Some(QueryHandler::Records));
        assert_eq!(query_handler("list_users"), Some(QueryHandler::Org));
        assert_eq!(query_handler("create_wallet"), None);
        assert!(is_activity_type("ACTIVITY_TYPE_UPDATE_POLICY"));
        assert!(!is_activity_type("ACTIVITY_TYPE_UPDATE_POLICY_V9"));
    }
}
