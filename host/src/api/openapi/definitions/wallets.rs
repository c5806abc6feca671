//! Renaming and deleting wallets, wallet accounts and private keys, and private key tags. Intents
//! as the enclave parses them (`enclave/src/activities/{wallets,private_key_tags}.rs`), results
//! as it returns them.

use serde_json::Value;

use super::{array, boolean, described, object, query_request, reference, string, strings};

fn delete_without_export(what: &str) -> Value {
    described(
        boolean(),
        &format!(
            "delete {what} even if never exported (otherwise refused); ignored for {what} that \
             were exported"
        ),
    )
}

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        // Intents.
        (
            "v1UpdateWalletIntent",
            object(vec![
                ("walletId!", string()),
                (
                    "walletName",
                    described(string(), "the new name, 1 to 256 bytes; absent: unchanged"),
                ),
            ]),
        ),
        (
            "v1DeleteWalletsIntent",
            object(vec![
                ("walletIds!", strings()),
                ("deleteWithoutExport", delete_without_export("wallets")),
            ]),
        ),
        (
            "v1DeleteWalletAccountsIntent",
            object(vec![
                ("walletAccountIds!", strings()),
                (
                    "deleteWithoutExport",
                    delete_without_export("accounts (exporting an account marks its wallet)"),
                ),
            ]),
        ),
        (
            "v1DeletePrivateKeysIntent",
            object(vec![
                ("privateKeyIds!", strings()),
                ("deleteWithoutExport", delete_without_export("keys")),
            ]),
        ),
        (
            "v1CreatePrivateKeyTagIntent",
            object(vec![
                ("privateKeyTagName!", string()),
                ("privateKeyIds!", strings()),
            ]),
        ),
        (
            "v1UpdatePrivateKeyTagIntent",
            object(vec![
                ("privateKeyTagId!", string()),
                ("newPrivateKeyTagName", string()),
                ("addPrivateKeyIds!", strings()),
                ("removePrivateKeyIds!", strings()),
            ]),
        ),
        (
            "v1DeletePrivateKeyTagsIntent",
            object(vec![("privateKeyTagIds!", strings())]),
        ),
        // Results.
        (
            "v1UpdateWalletResult",
            object(vec![("walletId!", string())]),
        ),
        (
            "v1DeleteWalletsResult",
            object(vec![("walletIds!", strings())]),
        ),
        (
            "v1DeleteWalletAccountsResult",
            object(vec![("walletAccountIds!", strings())]),
        ),
        (
            "v1DeletePrivateKeysResult",
            object(vec![("privateKeyIds!", strings())]),
        ),
        (
            "v1CreatePrivateKeyTagResult",
            object(vec![
                ("privateKeyTagId!", string()),
                ("privateKeyIds!", strings()),
            ]),
        ),
        (
            "v1UpdatePrivateKeyTagResult",
            object(vec![("privateKeyTagId!", string())]),
        ),
        (
            "v1DeletePrivateKeyTagsResult",
            object(vec![
                ("privateKeyTagIds!", strings()),
                (
                    "privateKeyIds!",
                    described(strings(), "the keys that carried one of the tags"),
                ),
            ]),
        ),
        // Queries.
        ("v1ListPrivateKeyTagsRequest", query_request(vec![])),
        (
            "v1ListPrivateKeyTagsResponse",
            object(vec![("privateKeyTags!", array(reference("datav1Tag")))]),
        ),
    ]
}
