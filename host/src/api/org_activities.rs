//! The organization activities (users, credentials, tags, policies, root quorum) the host
//! routes to the enclave, by path; older versions that shipped SDKs still send are accepted.

pub fn accepted_types(path: &str) -> Option<&'static [&'static str]> {
    Some(match path {
        "create_users" => &[
            "ACTIVITY_TYPE_CREATE_USERS_V4",
            "ACTIVITY_TYPE_CREATE_USERS_V3",
            "ACTIVITY_TYPE_CREATE_USERS_V2",
        ],
        "delete_users" => &["ACTIVITY_TYPE_DELETE_USERS"],
        "create_api_keys" => &[
            "ACTIVITY_TYPE_CREATE_API_KEYS_V2",
            "ACTIVITY_TYPE_CREATE_API_KEYS",
        ],
        "delete_api_keys" => &["ACTIVITY_TYPE_DELETE_API_KEYS"],
        "create_user_tag" => &["ACTIVITY_TYPE_CREATE_USER_TAG"],
        "update_user_tag" => &["ACTIVITY_TYPE_UPDATE_USER_TAG"],
        "delete_user_tags" => &["ACTIVITY_TYPE_DELETE_USER_TAGS"],
        "update_root_quorum" => &["ACTIVITY_TYPE_UPDATE_ROOT_QUORUM"],
        "create_policy" => &["ACTIVITY_TYPE_CREATE_POLICY_V3"],
        "create_policies" => &["ACTIVITY_TYPE_CREATE_POLICIES"],
        "update_policy" => &[
            "ACTIVITY_TYPE_UPDATE_POLICY_V2",
            "ACTIVITY_TYPE_UPDATE_POLICY",
        ],
        "delete_policy" => &["ACTIVITY_TYPE_DELETE_POLICY"],
        "delete_policies" => &["ACTIVITY_TYPE_DELETE_POLICIES"],
        _ => return None,
    })
}
