//! Organization features: what `set_organization_feature` and `remove_organization_feature`
//! accept and answer, and `v1Feature` as organization data lists it. Parsed and enforced in the
//! enclave (`enclave/src/activities/features.rs`, `enclave/src/auth/webauthn/origins.rs`).

use serde_json::Value;

use super::{array, described, enumeration, object, reference, string};

/// Turnkey's `v1FeatureName`: every name is known (and may be removed); only
/// `FEATURE_NAME_WEBAUTHN_ORIGINS` may be set.
const NAMES: &[&str] = &[
    "FEATURE_NAME_ROOT_USER_EMAIL_RECOVERY",
    "FEATURE_NAME_WEBAUTHN_ORIGINS",
    "FEATURE_NAME_EMAIL_AUTH",
    "FEATURE_NAME_EMAIL_RECOVERY",
    "FEATURE_NAME_WEBHOOK",
    "FEATURE_NAME_SMS_AUTH",
    "FEATURE_NAME_OTP_EMAIL_AUTH",
    "FEATURE_NAME_AUTH_PROXY",
    "FEATURE_NAME_SOLANA_RENT_PREFUND_ENABLED",
    "FEATURE_NAME_SWAP_CONFIG",
    "FEATURE_NAME_EARN_CONFIG",
];

fn features_result() -> Value {
    object(vec![(
        "features!",
        described(
            array(reference("v1Feature")),
            "the organization's features after the change",
        ),
    )])
}

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("v1FeatureName", enumeration(NAMES)),
        (
            "v1Feature",
            object(vec![
                ("name", reference("v1FeatureName")),
                ("value", string()),
            ]),
        ),
        (
            "v1SetOrganizationFeatureIntent",
            object(vec![
                (
                    "name!",
                    described(
                        reference("v1FeatureName"),
                        "root quorum only. Only FEATURE_NAME_WEBAUTHN_ORIGINS can be set (passkey \
                         stamps and registrations from other origins are refused, in the \
                         enclave); every other feature enables a flow keyhold does not run \
                         (email, SMS, Auth Proxy, legacy webhooks, swaps, earn, rent prefunding) and is \
                         refused with 501",
                    ),
                ),
                (
                    "value!",
                    described(
                        string(),
                        "FEATURE_NAME_WEBAUTHN_ORIGINS: 1 to 32 comma-separated origins \
                         (`https://host[:port]`, `http://host[:port]`, \
                         `android:apk-key-hash:…`, or `*`); setting again replaces it",
                    ),
                ),
            ]),
        ),
        ("v1SetOrganizationFeatureResult", features_result()),
        (
            "v1RemoveOrganizationFeatureIntent",
            object(vec![(
                "name!",
                described(
                    reference("v1FeatureName"),
                    "root quorum only; removing a feature that is not set changes nothing",
                ),
            )]),
        ),
        ("v1RemoveOrganizationFeatureResult", features_result()),
    ]
}
