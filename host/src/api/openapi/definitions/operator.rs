//! keyhold's own routes (`/enclave/v1/*`): operators' provisioning, the bundle signer key, the
//! audit chain's key and heads, and the audit receipt that rides along with activity answers.
//! Hex fields carry postcard-encoded messages (`keyhold_shared::msg`), the exact bytes their
//! signatures cover.

use serde_json::Value;

use super::{boolean, described, enumeration, int64, integer, object, string, strings};

pub(super) fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            "keyholdAttestationResponse",
            object(vec![
                (
                    "attestationDocument!",
                    described(string(), "base64 COSE_Sign1 (Nitro or dev CA)"),
                ),
                ("bootKey!", described(string(), "hex")),
                ("provisioned!", boolean()),
                (
                    "quorumPublicKey",
                    described(string(), "hex; null before provisioning"),
                ),
                ("sharesReceived!", integer()),
                ("deploymentExists!", boolean()),
            ]),
        ),
        (
            "keyholdQuorumResponse",
            object(vec![
                ("record!", described(string(), "hex postcard quorum record")),
                ("quorumPublicKey!", string()),
                ("threshold!", integer()),
                ("operators!", integer()),
                ("manifestNonce!", integer()),
            ]),
        ),
        (
            "keyholdManifestRequest",
            object(vec![
                ("manifest!", described(string(), "hex postcard manifest")),
                (
                    "approvals!",
                    described(strings(), "hex postcard operator approvals"),
                ),
            ]),
        ),
        (
            "keyholdQuorumKeyResponse",
            object(vec![("quorumPublicKey!", described(string(), "hex"))]),
        ),
        (
            "keyholdShareRequest",
            object(vec![(
                "share!",
                described(string(), "hex postcard signed share"),
            )]),
        ),
        (
            "keyholdProvisionResponse",
            object(vec![
                ("provisioned!", boolean()),
                ("sharesReceived!", integer()),
                ("threshold!", integer()),
            ]),
        ),
        (
            "keyholdSignerKeyResponse",
            object(vec![
                (
                    "signerPublicKey!",
                    described(
                        string(),
                        "uncompressed P-256 public key, hex: pass it to @turnkey/crypto as \
                     dangerouslyOverrideSignerPublicKey",
                    ),
                ),
                (
                    "endorsement!",
                    described(
                        string(),
                        "DER ECDSA signature by the quorum key over the signer key (domain \
                     keyhold/v1/signer-key), hex; check it against the quorum public key you \
                     know (`keyhold signer-key --quorum-public-key`)",
                    ),
                ),
                (
                    "quorumPublicKey",
                    described(string(), "hex, as this host reports it (not trusted)"),
                ),
            ]),
        ),
        (
            "keyholdAuditKeyResponse",
            object(vec![
                (
                    "receiptKey!",
                    described(string(), "Ed25519 public key that signs receipts, hex"),
                ),
                (
                    "certificate!",
                    described(
                        string(),
                        "hex postcard certificate: the receipt key signed by the quorum key",
                    ),
                ),
            ]),
        ),
        (
            "keyholdAuditHeadResponse",
            object(vec![
                ("kind!", enumeration(&["keyhold.audit.head"])),
                ("organizationId!", string()),
                (
                    "seq!",
                    described(
                        int64(),
                        "the newest receipt's sequence number (0: none yet)",
                    ),
                ),
                (
                    "hash!",
                    described(string(), "the newest receipt's hash, hex"),
                ),
                (
                    "resumedAt!",
                    described(
                        int64(),
                        "the seq this enclave took the chain over at after a restart; 0 when it carried it from the start",
                    ),
                ),
                ("nonce!", described(string(), "the caller's nonce, hex")),
                (
                    "encoded!",
                    described(string(), "hex postcard head, signed by the receipt key"),
                ),
            ]),
        ),
        (
            "keyholdAuditReceipt",
            described(
                object(vec![
                    ("kind!", enumeration(&["keyhold.audit.receipt"])),
                    ("organizationId!", string()),
                    (
                        "seq!",
                        described(int64(), "1, 2, 3, … in the organization's chain"),
                    ),
                    ("hash!", described(string(), "the receipt's hash, hex")),
                    (
                        "encoded!",
                        described(string(), "hex postcard receipt, signed by the receipt key"),
                    ),
                ]),
                "keyhold: the enclave-signed audit receipt of the step this answer reports \
             (docs/audit.md); Turnkey's SDKs ignore it",
            ),
        ),
    ]
}
