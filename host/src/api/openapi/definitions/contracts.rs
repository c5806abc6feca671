//! Smart contract interfaces (Ethereum ABIs, Solana IDLs). Intents as the enclave parses them
//! (`enclave/src/activities/contract_interfaces.rs`), results as it returns them, and the
//! queries served from the organization's sealed state (`org_queries.rs`).

use serde_json::Value;

use super::{array, described, enumeration, object, query_request, reference, string, timestamp};

const TYPES: &[&str] = &[
    "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM",
    "SMART_CONTRACT_INTERFACE_TYPE_SOLANA",
];

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        ("v1SmartContractInterfaceType", enumeration(TYPES)),
        (
            "v1CreateSmartContractInterfaceIntent",
            object(vec![
                (
                    "smartContractAddress!",
                    described(
                        string(),
                        "the contract (0x and 40 hex digits, any case) or program id (base58)",
                    ),
                ),
                (
                    "smartContractInterface!",
                    described(
                        string(),
                        "the ABI (a JSON array) or Anchor IDL (a JSON object with `instructions`) as JSON text, at most 64 KiB; an organization holds at most 100 interfaces and 512 KiB of them, one per address",
                    ),
                ),
                ("type!", reference("v1SmartContractInterfaceType")),
                ("label!", described(string(), "1 to 256 bytes")),
                ("notes", described(string(), "at most 1024 bytes")),
            ]),
        ),
        (
            "v1DeleteSmartContractInterfaceIntent",
            object(vec![("smartContractInterfaceId!", string())]),
        ),
        (
            "v1CreateSmartContractInterfaceResult",
            object(vec![("smartContractInterfaceId!", string())]),
        ),
        (
            "v1DeleteSmartContractInterfaceResult",
            object(vec![("smartContractInterfaceId!", string())]),
        ),
        (
            "externaldatav1SmartContractInterface",
            object(vec![
                ("organizationId!", string()),
                ("smartContractInterfaceId!", string()),
                ("smartContractAddress!", string()),
                ("smartContractInterface!", string()),
                (
                    "type!",
                    described(
                        string(),
                        "SMART_CONTRACT_INTERFACE_TYPE_ETHEREUM or _SOLANA",
                    ),
                ),
                ("label!", string()),
                ("notes!", string()),
                ("createdAt!", timestamp()),
                ("updatedAt!", timestamp()),
            ]),
        ),
        (
            "v1GetSmartContractInterfaceRequest",
            query_request(vec![("smartContractInterfaceId!", string())]),
        ),
        (
            "v1GetSmartContractInterfaceResponse",
            object(vec![(
                "smartContractInterface!",
                reference("externaldatav1SmartContractInterface"),
            )]),
        ),
        ("v1GetSmartContractInterfacesRequest", query_request(vec![])),
        (
            "v1GetSmartContractInterfacesResponse",
            object(vec![(
                "smartContractInterfaces!",
                array(reference("externaldatav1SmartContractInterface")),
            )]),
        ),
    ]
}
