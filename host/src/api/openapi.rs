//! `GET /openapi.json`: keyhold's own API description, built from the endpoint table
//! (`endpoints.rs`) and keyhold's definitions (`openapi/definitions.rs`).
//!
//! Swagger 2.0 rather than OpenAPI 3, because Turnkey publishes its API as Swagger 2.0: the same
//! format and the same definition names let a client or a test put the two side by side path by
//! path and definition by definition (tests/compat/test/swagger_shapes.test.mjs does).

mod definitions;

use axum::Json;
use serde_json::{Map, Value, json};

use super::endpoints::{ENDPOINTS, Endpoint, Kind, QUERY_PREFIX, SUBMIT_PREFIX};
use super::format::intent_key;

pub async fn serve() -> Json<Value> {
    Json(document())
}

fn reference(name: &str) -> Value {
    json!({ "$ref": format!("#/definitions/{name}") })
}

/// `createWalletIntent` → `v1CreateWalletIntent`: Turnkey's definition name for a JSON key.
fn definition_name(key: &str) -> String {
    let mut chars = key.chars();
    match chars.next() {
        Some(first) => format!("v1{}{}", first.to_ascii_uppercase(), chars.as_str()),
        None => String::new(),
    }
}

/// A name for the operation, from its path: `submit_create_wallet`, `get_metrics`.
fn operation_id(e: &Endpoint) -> String {
    if let Some(name) = e.path.strip_prefix(SUBMIT_PREFIX) {
        return format!("submit_{name}");
    }
    if let Some(name) = e.path.strip_prefix(QUERY_PREFIX) {
        return format!("query_{name}");
    }
    let name: String = e
        .path
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .collect();
    format!("{}{}", e.method.as_str(), name.trim_end_matches('_'))
}

fn operation(e: &Endpoint) -> Value {
    let mut op = json!({
        "operationId": operation_id(e),
        "summary": e.summary,
        "tags": [e.tag],
        "responses": {
            "200": match e.response {
                Some(name) => json!({"description": "A successful response.", "schema": reference(name)}),
                None => json!({"description": "A successful response."}),
            },
            "default": {"description": "An error, in Turnkey's body.", "schema": reference("rpcStatus")},
        },
    });
    if let Some(request) = e.request {
        op["parameters"] = json!([{
            "name": "body", "in": "body", "required": true, "schema": reference(request),
        }]);
    }
    match e.kind {
        Kind::Activity(types) => {
            op["x-keyhold-activity-types"] = types
                .iter()
                .map(|a| json!({"type": a.activity_type, "resultKey": a.result_key}))
                .collect();
        }
        Kind::Query(_) => {}
        Kind::Fixed => {
            // No stamp: these are public (operators authenticate by what they post).
            op["security"] = json!([]);
            if e.response.is_none() {
                op["produces"] = json!(["text/plain", "application/json"]);
            }
        }
    }
    op
}

/// The activity envelope of each `submit/*` path's request: the types it accepts and the
/// newest type's parameters.
fn activity_request(e: &Endpoint) -> Option<(String, Value)> {
    let (Kind::Activity(types), Some(name)) = (e.kind, e.request) else {
        return None;
    };
    let newest = types.first()?;
    let older: Vec<&str> = types.iter().skip(1).map(|a| a.activity_type).collect();
    let mut parameters = reference(&definition_name(&intent_key(newest.activity_type)));
    if !older.is_empty() {
        parameters["description"] = json!(format!(
            "{}'s parameters; {} are accepted with their own versions' parameters",
            newest.activity_type,
            older.join(", ")
        ));
    }
    Some((
        name.to_owned(),
        json!({
            "type": "object",
            "properties": {
                "type": {"type": "string", "enum": types.iter().map(|a| a.activity_type).collect::<Vec<_>>()},
                "timestampMs": {"type": "string", "format": "int64", "description": "milliseconds since the epoch; at most a few minutes old"},
                "organizationId": {"type": "string"},
                "parameters": parameters,
            },
            "required": ["type", "timestampMs", "organizationId", "parameters"],
        }),
    ))
}

/// `v1Activity` and what it refers to: every activity type keyhold runs, the intent and
/// result keys they produce.
fn activity_definitions() -> Vec<(String, Value)> {
    let mut types = Vec::new();
    let mut intents = Map::new();
    let mut results = Map::new();
    for e in ENDPOINTS {
        let Kind::Activity(accepted) = e.kind else {
            continue;
        };
        for (i, a) in accepted.iter().enumerate() {
            types.push(a.activity_type);
            let key = intent_key(a.activity_type);
            // Older versions' parameters are not described here (see the request's note).
            let schema = if i == 0 {
                reference(&definition_name(&key))
            } else {
                json!({"type": "object"})
            };
            intents.insert(key, schema);
            if let Some(result) = a.result_key {
                results.insert(result.to_owned(), reference(&definition_name(result)));
            }
        }
    }
    vec![
        (
            "v1ActivityType".into(),
            json!({"type": "string", "enum": types}),
        ),
        (
            "v1Intent".into(),
            json!({"type": "object", "properties": intents, "description": "exactly one key: the activity type's intent (the request's parameters)"}),
        ),
        (
            "v1Result".into(),
            json!({"type": "object", "properties": results, "description": "exactly one key, or none while the activity waits for consensus or was rejected"}),
        ),
        (
            "v1ActivityResponse".into(),
            json!({
                "type": "object",
                "properties": {
                    "activity": reference("v1Activity"),
                    // Not Turnkey's: absent where no step was taken (get_activity, a resubmitted
                    // request answered with its earlier activity).
                    "receipt": reference("keyholdAuditReceipt"),
                },
                "required": ["activity"],
            }),
        ),
        (
            "v1Activity".into(),
            json!({
                "type": "object",
                "properties": {
                    "id": {"type": "string"},
                    "organizationId": {"type": "string"},
                    "status": reference("v1ActivityStatus"),
                    "type": reference("v1ActivityType"),
                    "intent": reference("v1Intent"),
                    "result": reference("v1Result"),
                    "votes": {"type": "array", "items": reference("v1Vote")},
                    "fingerprint": {"type": "string", "description": "sha256: + hex SHA-256 of the raw request body"},
                    "canApprove": {"type": "boolean"},
                    "canReject": {"type": "boolean"},
                    "createdAt": reference("externaldatav1Timestamp"),
                    "updatedAt": reference("externaldatav1Timestamp"),
                },
                "required": ["id", "organizationId", "status", "type", "intent", "result", "votes",
                    "fingerprint", "canApprove", "canReject", "createdAt", "updatedAt"],
            }),
        ),
    ]
}

/// The whole document.
pub fn document() -> Value {
    let mut paths = Map::new();
    let mut tags: Vec<&str> = Vec::new();
    for e in ENDPOINTS {
        if !tags.contains(&e.tag) {
            tags.push(e.tag);
        }
        let entry = paths.entry(e.path.to_owned()).or_insert_with(|| json!({}));
        entry[e.method.as_str()] = operation(e);
    }
    let mut defs = Map::new();
    let generated = ENDPOINTS
        .iter()
        .filter_map(activity_request)
        .chain(activity_definitions());
    for (name, schema) in definitions::all()
        .into_iter()
        .map(|(n, s)| (n.to_owned(), s))
        .chain(generated)
    {
        defs.insert(name, schema);
    }
    json!({
        "swagger": "2.0",
        "info": {
            "title": "keyhold API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "What this keyhold server implements of Turnkey's public API (same paths, \
                bodies and definition names; enums list the values keyhold accepts), and keyhold's \
                own operator and metrics routes. Every other Turnkey path answers HTTP 501 \
                \"... is not supported by keyhold\". Requests to /public/v1/* are authenticated \
                by an X-Stamp header over the exact body.",
        },
        "consumes": ["application/json"],
        "produces": ["application/json"],
        "securityDefinitions": {
            "ApiKeyAuth": {"type": "apiKey", "name": "X-Stamp", "in": "header"},
        },
        "security": [{"ApiKeyAuth": []}],
        "tags": tags.iter().map(|t| json!({"name": t})).collect::<Vec<_>>(),
        "paths": paths,
        "definitions": defs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v.as_str()) {
                        ("$ref", Some(r)) => out.push(r.to_owned()),
                        _ => refs(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_reference_resolves_and_every_definition_is_used() {
        let doc = document();
        let defs = doc["definitions"].as_object().unwrap();
        let mut found = Vec::new();
        refs(&doc, &mut found);
        for r in &found {
            let name = r.strip_prefix("#/definitions/").unwrap();
            assert!(defs.contains_key(name), "dangling reference {r}");
        }
        for name in defs.keys() {
            assert!(
                found.iter().any(|r| r == &format!("#/definitions/{name}")),
                "definition {name} is never used"
            );
        }
    }

    #[test]
    fn every_endpoint_is_documented_with_its_types() {
        let doc = document();
        for e in ENDPOINTS {
            let op = &doc["paths"][e.path][e.method.as_str()];
            assert!(op.is_object(), "{} missing", e.path);
            if let Kind::Activity(types) = e.kind {
                let request = e.request.unwrap();
                let enumerated = &doc["definitions"][request]["properties"]["type"]["enum"];
                for a in types {
                    assert!(
                        enumerated
                            .as_array()
                            .unwrap()
                            .contains(&json!(a.activity_type)),
                        "{request} lacks {}",
                        a.activity_type
                    );
                }
            }
        }
        let count: usize = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .map(|p| p.as_object().unwrap().len())
            .sum();
        assert_eq!(count, ENDPOINTS.len());
    }

    #[test]
    fn enums_come_from_the_code() {
        let doc = document();
        let curves = &doc["definitions"]["v1Curve"]["enum"];
        assert!(curves.as_array().unwrap().contains(&json!("CURVE_ED25519")));
        let types = doc["definitions"]["v1ActivityType"]["enum"]
            .as_array()
            .unwrap();
        assert!(types.contains(&json!("ACTIVITY_TYPE_CREATE_USERS_V2")));
        assert_eq!(
            doc["definitions"]["v1Result"]["properties"]["createPrivateKeysResultV2"],
            json!({"$ref": "#/definitions/v1CreatePrivateKeysResultV2"})
        );
    }
}
