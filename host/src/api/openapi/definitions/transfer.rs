//! Exports, imports and read-write sessions: the activities that move key material across the
//! enclave boundary in Turnkey's HPKE bundles (docs/export-import.md). Intents as the enclave
//! parses them (`enclave/src/activities/{export,import,sessions}.rs`), results as the host
//! serves them (`host/src/audit/result.rs`).

use serde_json::Value;

use super::{array, boolean, described, enumeration, int64, object, reference, string, strings};

fn target_public_key() -> Value {
    described(
        string(),
        "the client's P-256 public key, hex (uncompressed `04…`; compressed is accepted too), \
         that the bundle is HPKE-encrypted to",
    )
}

/// `what`: what the bundle encrypts.
fn export_bundle(what: &str) -> Value {
    described(
        string(),
        &format!(
            "{what}, HPKE-encrypted to targetPublicKey, in JSON {{version, data, dataSignature, \
             enclaveQuorumPublic}} signed by keyhold's signer key (GET /enclave/v1/signer): open \
             it with @turnkey/crypto's decryptExportBundle"
        ),
    )
}

fn import_bundle() -> Value {
    described(
        string(),
        "JSON {version, data, dataSignature, enclaveQuorumPublic} around {targetPublic, \
         organizationId, userId}, signed by keyhold's signer key: pass it to @turnkey/crypto's \
         encryptWalletToBundle / encryptPrivateKeyToBundle",
    )
}

/// `what`: what the bundle encrypts.
fn encrypted_bundle(what: &str) -> Value {
    described(
        string(),
        &format!(
            "{what}, in JSON {{encappedPublic, ciphertext}} (hex) as @turnkey/crypto's \
             encryptWalletToBundle / encryptPrivateKeyToBundle make it, to the key of the user's \
             pending import bundle"
        ),
    )
}

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "v1MnemonicLanguage",
            enumeration(&["MNEMONIC_LANGUAGE_ENGLISH"]),
        ),
        // Exports.
        (
            "v1ExportWalletIntent",
            object(vec![
                ("walletId!", string()),
                ("targetPublicKey!", target_public_key()),
                (
                    "language",
                    described(reference("v1MnemonicLanguage"), "default English"),
                ),
            ]),
        ),
        (
            "v1ExportWalletAccountIntent",
            object(vec![
                (
                    "address!",
                    described(string(), "an address of one of the organization's wallets"),
                ),
                ("targetPublicKey!", target_public_key()),
            ]),
        ),
        (
            "v1ExportPrivateKeyIntent",
            object(vec![
                (
                    "privateKeyId!",
                    described(string(), "the id, not an address"),
                ),
                ("targetPublicKey!", target_public_key()),
            ]),
        ),
        (
            "v1ExportWalletResult",
            object(vec![
                ("walletId!", string()),
                ("exportBundle!", export_bundle("the mnemonic")),
            ]),
        ),
        (
            "v1ExportWalletAccountResult",
            object(vec![
                ("address!", string()),
                (
                    "exportBundle!",
                    export_bundle("the raw 32-byte private key"),
                ),
            ]),
        ),
        (
            "v1ExportPrivateKeyResult",
            object(vec![
                ("privateKeyId!", string()),
                (
                    "exportBundle!",
                    export_bundle("the raw 32-byte private key"),
                ),
            ]),
        ),
        // Imports.
        (
            "v1InitImportWalletIntent",
            object(vec![(
                "userId!",
                described(string(), "the user who will import (bound into the bundle)"),
            )]),
        ),
        (
            "v1InitImportPrivateKeyIntent",
            object(vec![(
                "userId!",
                described(string(), "the user who will import (bound into the bundle)"),
            )]),
        ),
        (
            "v1InitImportWalletResult",
            object(vec![("importBundle!", import_bundle())]),
        ),
        (
            "v1InitImportPrivateKeyResult",
            object(vec![("importBundle!", import_bundle())]),
        ),
        (
            "v1ImportWalletIntent",
            object(vec![
                ("userId!", string()),
                ("walletName!", string()),
                (
                    "encryptedBundle!",
                    encrypted_bundle("a BIP-39 English mnemonic, without passphrase"),
                ),
                ("accounts!", array(reference("v1WalletAccountParams"))),
            ]),
        ),
        (
            "v1ImportPrivateKeyIntent",
            object(vec![
                ("userId!", string()),
                ("privateKeyName!", string()),
                (
                    "encryptedBundle!",
                    encrypted_bundle("a raw private key on `curve`"),
                ),
                ("curve!", reference("v1Curve")),
                ("addressFormats!", array(reference("v1AddressFormat"))),
            ]),
        ),
        (
            "v1ImportWalletResult",
            object(vec![("walletId!", string()), ("addresses!", strings())]),
        ),
        (
            "v1ImportPrivateKeyResult",
            object(vec![
                ("privateKeyId!", string()),
                ("addresses!", array(reference("externaldatav1Address"))),
            ]),
        ),
        // Sessions.
        (
            "v1CreateReadWriteSessionIntentV2",
            object(vec![
                ("targetPublicKey!", target_public_key()),
                ("userId", described(string(), "default: the caller")),
                (
                    "apiKeyName",
                    described(string(), "default: Read Write Session - <timestamp ms>"),
                ),
                (
                    "expirationSeconds",
                    described(int64(), "1 to 31536000 (a year); default 900"),
                ),
                (
                    "invalidateExisting",
                    described(
                        boolean(),
                        "also remove the user's unexpired expiring API keys",
                    ),
                ),
            ]),
        ),
        (
            "v1CreateReadWriteSessionResultV2",
            object(vec![
                ("organizationId!", string()),
                ("organizationName!", string()),
                ("userId!", string()),
                ("username!", string()),
                ("apiKeyId!", string()),
                (
                    "credentialBundle!",
                    described(
                        string(),
                        "base58check HPKE bundle of the session's P-256 private key: open it \
                         with @turnkey/crypto's decryptCredentialBundle",
                    ),
                ),
            ]),
        ),
    ]
}
