//! Webhook endpoints: what `create/update/delete_webhook_endpoint` accept and answer (validated
//! in the enclave, `enclave/src/activities/webhooks.rs`) and `query/list_webhook_endpoints`.

use serde_json::Value;

use super::{array, boolean, described, enumeration, object, query_request, reference, string};

fn endpoint_result() -> Value {
    object(vec![
        ("endpointId!", string()),
        ("webhookEndpoint!", reference("v1WebhookEndpointData")),
    ])
}

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "v1WebhookSubscriptionParams",
            object(vec![
                (
                    "eventType!",
                    described(
                        enumeration(&["ACTIVITY_UPDATES"]),
                        "keyhold delivers ACTIVITY_UPDATES only; Turnkey's balance and \
                         transaction event types are refused with 501",
                    ),
                ),
                (
                    "filtersJson",
                    described(string(), "only empty or `{}`: filters are refused with 501"),
                ),
                ("isActive", described(boolean(), "default true")),
            ]),
        ),
        (
            "v1WebhookEndpointData",
            object(vec![
                ("endpointId!", string()),
                ("organizationId!", string()),
                ("url!", string()),
                ("name!", string()),
                ("isActive!", boolean()),
                (
                    "subscriptions",
                    array(reference("v1WebhookSubscriptionParams")),
                ),
            ]),
        ),
        (
            "v1CreateWebhookEndpointIntent",
            object(vec![
                (
                    "url!",
                    described(
                        string(),
                        "https://host[:port][/path] (at most 2048 characters, no credentials); \
                         http:// only to localhost, 127.0.0.1 or [::1]. This host delivers over \
                         http only (it has no TLS client)",
                    ),
                ),
                (
                    "name!",
                    described(string(), "1 to 256 characters (trimmed)"),
                ),
                (
                    "subscriptions",
                    described(
                        array(reference("v1WebhookSubscriptionParams")),
                        "at most 8, each event type once",
                    ),
                ),
            ]),
        ),
        ("v1CreateWebhookEndpointResult", endpoint_result()),
        (
            "v1UpdateWebhookEndpointIntent",
            object(vec![
                (
                    "endpointId!",
                    described(string(), "an endpoint of this organization, else not found"),
                ),
                ("url", string()),
                ("name", string()),
                ("isActive", described(boolean(), "false stops deliveries")),
            ]),
        ),
        ("v1UpdateWebhookEndpointResult", endpoint_result()),
        (
            "v1DeleteWebhookEndpointIntent",
            object(vec![("endpointId!", string())]),
        ),
        (
            "v1DeleteWebhookEndpointResult",
            object(vec![("endpointId!", string())]),
        ),
        (
            "keyholdWebhookSigningKeyResponse",
            object(vec![
                (
                    "keyId!",
                    described(string(), "sent as X-Turnkey-Signature-Key-Id"),
                ),
                (
                    "publicKey!",
                    described(string(), "Ed25519 public key, hex (32 bytes)"),
                ),
                ("algorithm!", enumeration(&["ed25519"])),
                ("signatureVersion!", enumeration(&["v1"])),
            ]),
        ),
        ("v1ListWebhookEndpointsRequest", query_request(vec![])),
        (
            "v1ListWebhookEndpointsResponse",
            object(vec![(
                "webhookEndpoints!",
                array(reference("v1WebhookEndpointData")),
            )]),
        ),
    ]
}
