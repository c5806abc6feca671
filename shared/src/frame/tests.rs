//! Framing tests: exact limits, the three read outcomes, and property tests that every message
//! round-trips and that arbitrary bytes never panic or allocate beyond the frame.

use std::time::Duration;

use proptest::prelude::*;

use super::*;
use crate::error::{ErrorCode, WireError};
use crate::ids::*;
use crate::msg::*;

fn frame_of(payload: &[u8]) -> Vec<u8> {
    let mut out = (payload.len() as u32).to_be_bytes().to_vec();
    out.extend_from_slice(payload);
    out
}

#[test]
fn header_limit_is_exact() {
    assert_eq!(
        check_header((MAX_FRAME_LEN as u32).to_be_bytes(), MAX_FRAME_LEN).unwrap(),
        MAX_FRAME_LEN
    );
    assert!(matches!(
        check_header((MAX_FRAME_LEN as u32 + 1).to_be_bytes(), MAX_FRAME_LEN),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(
        check_header([0xff; 4], MAX_FRAME_LEN),
        Err(FrameError::TooLarge { .. })
    ));
    assert!(matches!(
        check_header([0; 4], MAX_FRAME_LEN),
        Err(FrameError::Empty)
    ));
}

#[tokio::test]
async fn read_outcomes() {
    let t = Duration::from_secs(1);
    // clean EOF between frames
    let mut empty: &[u8] = &[];
    assert!(read_frame(&mut empty, 64, t).await.unwrap().is_none());
    // a whole frame, then EOF
    let bytes = frame_of(b"abc");
    let mut r: &[u8] = &bytes;
    assert_eq!(read_frame(&mut r, 64, t).await.unwrap().unwrap(), b"abc");
    assert!(read_frame(&mut r, 64, t).await.unwrap().is_none());
    // EOF inside the header and inside the payload
    let mut r: &[u8] = &[0, 0];
    assert!(matches!(
        read_frame(&mut r, 64, t).await,
        Err(FrameError::Truncated)
    ));
    let mut r: &[u8] = &[0, 0, 0, 5, 1, 2];
    assert!(matches!(
        read_frame(&mut r, 64, t).await,
        Err(FrameError::Truncated)
    ));
    // over the limit: refused from the header alone
    let mut r: &[u8] = &[0, 0, 0, 65];
    assert!(matches!(
        read_frame(&mut r, 64, t).await,
        Err(FrameError::TooLarge { len: 65, max: 64 })
    ));
}

#[tokio::test]
async fn stalled_frame_times_out() {
    let (mut client, mut server) = tokio::io::duplex(64);
    tokio::io::AsyncWriteExt::write_all(&mut client, &[0, 0, 0, 10, 1])
        .await
        .unwrap();
    let result = read_frame(&mut server, 64, Duration::from_millis(50)).await;
    assert!(matches!(result, Err(FrameError::Timeout(_))));
    drop(client);
}

#[test]
fn trailing_bytes_are_refused() {
    let mut payload = postcard::to_allocvec(&Hello::current()).unwrap();
    assert_eq!(decode::<Hello>(&payload).unwrap(), Hello::current());
    payload.push(0);
    assert!(matches!(
        decode::<Hello>(&payload),
        Err(FrameError::TrailingBytes(1))
    ));
}

#[test]
fn encode_writes_big_endian_length() {
    let bytes = encode(&Hello::current()).unwrap();
    let len = u32::from_be_bytes(bytes[..4].try_into().unwrap()) as usize;
    assert_eq!(len, bytes.len() - 4);
    assert_eq!(decode::<Hello>(&bytes[4..]).unwrap(), Hello::current());
}

/// Golden bytes: changing the encoding of the handshake breaks every deployed host/enclave pair,
/// so it must be a deliberate protocol version change (the last byte is the version).
#[test]
fn hello_golden_bytes() {
    assert_eq!(
        hex::encode(encode(&Hello::current()).unwrap()),
        "000000094b4559484f4c440102"
    );
}

// ---- strategies for every message ----------------------------------------------------------

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    proptest::collection::vec(any::<u8>(), 0..max)
}

fn uuid() -> impl Strategy<Value = Uuid> {
    any::<[u8; 16]>().prop_map(Uuid::from_bytes)
}

fn text() -> impl Strategy<Value = String> {
    ".{0,24}"
}

fn sealed_org() -> impl Strategy<Value = SealedOrgState> {
    (uuid(), any::<u64>(), any::<[u8; 24]>(), bytes(64)).prop_map(
        |(id, version, nonce, ciphertext)| SealedOrgState {
            org_id: OrgId(id),
            version,
            nonce,
            ciphertext,
        },
    )
}

fn sealed_seed() -> impl Strategy<Value = SealedSeed> {
    (any::<[u8; 24]>(), bytes(64)).prop_map(|(nonce, ciphertext)| SealedSeed { nonce, ciphertext })
}

fn stamp() -> impl Strategy<Value = Stamp> {
    prop_oneof![
        Just(Stamp::Missing),
        text().prop_map(Stamp::ApiKey),
        text().prop_map(Stamp::Webauthn)
    ]
}

fn signed_request() -> impl Strategy<Value = SignedRequest> {
    (bytes(128), stamp()).prop_map(|(body, stamp)| SignedRequest { body, stamp })
}

fn manifest() -> impl Strategy<Value = QuorumManifest> {
    (
        proptest::collection::vec(
            (bytes(40), bytes(40)).prop_map(|(e, s)| OperatorKey {
                encryption_key: e,
                signing_key: s,
            }),
            0..4,
        ),
        any::<u8>(),
        any::<u64>(),
        proptest::collection::vec(
            (any::<u8>(), bytes(48)).prop_map(|(index, value)| Pcr { index, value }),
            0..3,
        ),
    )
        .prop_map(|(operators, threshold, nonce, pcrs)| QuorumManifest {
            pcrs,
            operators,
            threshold,
            nonce,
        })
}

fn shares() -> impl Strategy<Value = Vec<EncryptedShare>> {
    proptest::collection::vec(
        (any::<u8>(), bytes(40), bytes(40)).prop_map(|(operator, encapped_key, ciphertext)| {
            EncryptedShare {
                operator,
                encapped_key,
                ciphertext,
            }
        }),
        0..4,
    )
}

fn principal() -> impl Strategy<Value = Principal> {
    (uuid(), text(), uuid(), text()).prop_map(|(o, on, u, un)| Principal {
        organization_id: OrgId(o),
        organization_name: on,
        user_id: UserId(u),
        user_name: un,
    })
}

fn status() -> impl Strategy<Value = EnclaveStatus> {
    (proptest::option::of(bytes(40)), any::<u8>()).prop_map(
        |(quorum_public_key, shares_received)| EnclaveStatus {
            quorum_public_key,
            shares_received,
        },
    )
}

fn request() -> impl Strategy<Value = Request> {
    prop_oneof![
        Just(Request::Status),
        Just(Request::BootKey),
        (manifest(), any::<u8>(), bytes(72)).prop_map(|(manifest, operator, signature)| {
            Request::Genesis(GenesisRequest {
                manifest,
                approvals: vec![OperatorApproval {
                    operator,
                    signature,
                }],
            })
        }),
        (manifest(), bytes(72), bytes(33), shares(), bytes(72)).prop_map(
            |(manifest, sig, qpk, shares, signature)| {
                Request::Provision(ProvisionRequest {
                    manifest,
                    manifest_signature: sig,
                    quorum_public_key: qpk,
                    shares: shares
                        .into_iter()
                        .map(|share| SignedShare {
                            share,
                            signature: signature.clone(),
                        })
                        .collect(),
                })
            }
        ),
        (bytes(64), proptest::option::of(manifest()))
            .prop_map(|(nonce, manifest)| Request::Attest(AttestRequest { nonce, manifest })),
        (bytes(200), bytes(32)).prop_map(|(attestation, nonce)| Request::Forward(ForwardRequest {
            attestation,
            nonce
        })),
        (
            manifest(),
            bytes(72),
            bytes(33),
            bytes(32),
            bytes(48),
            bytes(72)
        )
            .prop_map(
                |(
                    manifest,
                    manifest_signature,
                    quorum_public_key,
                    encapped_key,
                    ciphertext,
                    signature,
                )| {
                    Request::AcceptForward(AcceptForwardRequest {
                        manifest,
                        manifest_signature,
                        quorum_public_key,
                        forwarded: ForwardedKey {
                            encapped_key,
                            ciphertext,
                            signature,
                        },
                    })
                }
            ),
        (
            text(),
            text(),
            text(),
            bytes(33),
            any::<[u8; 16]>(),
            any::<u8>(),
            bytes(72)
        )
            .prop_map(|(org, user, key, pk, nonce, operator, signature)| {
                Request::BootstrapOrg(BootstrapOrgRequest {
                    spec: OrgBootstrapSpec {
                        organization_name: org,
                        root_user_name: user,
                        api_key_name: key,
                        api_public_key: pk,
                        nonce,
                    },
                    approvals: vec![OperatorApproval {
                        operator,
                        signature,
                    }],
                })
            }),
        (
            signed_request(),
            sealed_org(),
            proptest::option::of(sealed_org())
        )
            .prop_map(|(request, org, parent)| Request::Authenticate(
                AuthenticateRequest {
                    request,
                    org,
                    parent
                }
            )),
        (
            signed_request(),
            sealed_org(),
            proptest::option::of((uuid(), text(), sealed_seed())),
            proptest::option::of(sealed_org())
        )
            .prop_map(
                |(request, org, ctx, parent)| Request::Activity(ActivityRequest {
                    request,
                    org,
                    parent,
                    context: match ctx {
                        None => ActivityContext::None,
                        Some((w, path, sealed_seed)) => {
                            ActivityContext::WalletAccount {
                                wallet_id: WalletId(w),
                                path,
                                curve: Curve::Secp256k1,
                                address_format: AddressFormat::Ethereum,
                                sealed_seed,
                            }
                        }
                    },
                })
            ),
        Just(Request::AuditKey),
        uuid().prop_map(|o| Request::Recover(OrgId(o))),
        (sealed_org(), proptest::option::of(receipt()))
            .prop_map(|(org, latest)| { Request::AuditResume(AuditResumeRequest { org, latest }) }),
        (uuid(), any::<u64>()).prop_map(|(o, after_seq)| Request::AuditReceipts(
            AuditReceiptsRequest {
                org_id: OrgId(o),
                after_seq
            }
        )),
        (uuid(), bytes(64)).prop_map(|(o, nonce)| Request::AuditHead(AuditHeadRequest {
            org_id: OrgId(o),
            nonce
        })),
    ]
}

fn hash() -> impl Strategy<Value = [u8; 32]> {
    any::<[u8; 32]>()
}

fn receipt() -> impl Strategy<Value = Receipt> {
    (
        (uuid(), any::<u64>(), hash(), uuid(), text()),
        (
            hash(),
            uuid(),
            any::<u64>(),
            any::<u64>(),
            hash(),
            hash(),
            hash(),
        ),
        0u8..3,
    )
        .prop_map(
            |((o, seq, prev, a, activity_type), (fp, u, at, v, rd, r, s), kind)| Receipt {
                body: ReceiptBody {
                    format: RECEIPT_FORMAT,
                    org_id: OrgId(o),
                    seq,
                    prev,
                    kind: match kind {
                        0 => ReceiptKind::Activity,
                        1 => ReceiptKind::Approve { target: prev },
                        _ => ReceiptKind::Reject { target: prev },
                    },
                    activity_id: ActivityId(a),
                    activity_type,
                    status: ActivityStatus::ConsensusNeeded,
                    fingerprint: fp,
                    user_id: UserId(u),
                    executed_at_ms: at,
                    org_version: v,
                    result_digest: rd,
                },
                signature: Ed25519Signature(r, s),
            },
        )
}

fn curve() -> impl Strategy<Value = Curve> {
    prop_oneof![
        Just(Curve::Secp256k1),
        Just(Curve::Ed25519),
        Just(Curve::P256)
    ]
}

fn address_format() -> impl Strategy<Value = AddressFormat> {
    prop_oneof![
        Just(AddressFormat::Ethereum),
        Just(AddressFormat::Compressed),
        Just(AddressFormat::Uncompressed),
        prop::sample::select(AddressFormat::ALL.to_vec())
    ]
}

fn policy_evaluation() -> impl Strategy<Value = crate::msg::PolicyEvaluation> {
    (
        text(),
        proptest::sample::select(&crate::msg::PolicyOutcome::ALL[..]),
    )
        .prop_map(|(policy_id, outcome)| crate::msg::PolicyEvaluation { policy_id, outcome })
}

fn activity_result() -> impl Strategy<Value = ActivityResult> {
    prop_oneof![
        (
            uuid(),
            text(),
            proptest::collection::vec(
                (curve(), text(), address_format(), text(), bytes(33)).prop_map(
                    |(curve, path, address_format, address, public_key)| {
                        DerivedAccount {
                            curve,
                            path,
                            address_format,
                            address,
                            public_key,
                        }
                    }
                ),
                0..3
            ),
            sealed_seed()
        )
            .prop_map(|(w, wallet_name, accounts, sealed_seed)| {
                ActivityResult::CreateWallet {
                    wallet_id: WalletId(w),
                    wallet_name,
                    accounts,
                    sealed_seed,
                }
            }),
        (any::<[u8; 32]>(), any::<[u8; 32]>(), any::<u8>())
            .prop_map(|(r, s, v)| ActivityResult::SignRawPayload(RecoverableSignature { r, s, v })),
    ]
}

fn error_code() -> impl Strategy<Value = ErrorCode> {
    prop::sample::select(vec![
        ErrorCode::InvalidRequest,
        ErrorCode::SignatureMissing,
        ErrorCode::SignatureInvalid,
        ErrorCode::PublicKeyNotFound,
        ErrorCode::ApiKeyExpired,
        ErrorCode::InvalidTime,
        ErrorCode::PermissionDenied,
        ErrorCode::NotFound,
        ErrorCode::NotProvisioned,
        ErrorCode::ProvisioningRefused,
        ErrorCode::SealedDataInvalid,
        ErrorCode::StaleState,
        ErrorCode::Unsupported,
        ErrorCode::Busy,
        ErrorCode::Internal,
        ErrorCode::CredentialNotFound,
        ErrorCode::AuditHeadNeeded,
    ])
}

fn response() -> impl Strategy<Value = Result<Response, WireError>> {
    prop_oneof![
        status().prop_map(|s| Ok(Response::Status(s))),
        status().prop_map(|s| Ok(Response::Provision(s))),
        (bytes(33), bytes(72), shares()).prop_map(|(q, m, shares)| Ok(Response::Genesis(
            GenesisOutput {
                quorum_public_key: q,
                manifest_signature: m,
                shares
            }
        ))),
        bytes(32).prop_map(|public_key| Ok(Response::BootKey(BootKey { public_key }))),
        (bytes(300), bytes(32)).prop_map(|(document, boot_key)| Ok(Response::Attest(
            Attestation { document, boot_key }
        ))),
        (bytes(32), bytes(48), bytes(72)).prop_map(|(encapped_key, ciphertext, signature)| Ok(
            Response::Forward(ForwardedKey {
                encapped_key,
                ciphertext,
                signature
            })
        )),
        (uuid(), uuid(), uuid(), sealed_org()).prop_map(|(o, u, k, sealed_state)| Ok(
            Response::BootstrapOrg(BootstrapOrgOutput {
                organization_id: OrgId(o),
                user_id: UserId(u),
                api_key_id: ApiKeyId(k),
                sealed_state
            })
        )),
        principal().prop_map(|p| Ok(Response::Authenticate(p))),
        (
            uuid(),
            text(),
            text(),
            principal(),
            any::<u64>(),
            activity_result(),
            proptest::option::of(sealed_org()),
            receipt(),
            proptest::option::of(proptest::collection::vec(policy_evaluation(), 0..4)),
        )
            .prop_map(
                |(
                    a,
                    activity_type,
                    fingerprint,
                    principal,
                    executed_at_ms,
                    result,
                    new_org_state,
                    receipt,
                    policy_evaluations,
                )| {
                    Ok(Response::Activity(Box::new(ActivityOutput {
                        activity_id: ActivityId(a),
                        status: crate::msg::ActivityStatus::Completed,
                        activity_type,
                        fingerprint,
                        principal,
                        executed_at_ms,
                        result,
                        new_org_state,
                        receipt,
                        policy_evaluations,
                    })))
                }
            ),
        (hash(), bytes(72)).prop_map(|(receipt_key, signature)| Ok(Response::AuditKey(
            AuditKeyCertificate {
                receipt_key,
                signature
            }
        ))),
        (any::<u64>(), hash())
            .prop_map(|(seq, hash)| Ok(Response::AuditResume(AuditPosition { seq, hash }))),
        proptest::collection::vec(receipt(), 0..4).prop_map(|r| Ok(Response::AuditReceipts(r))),
        (uuid(), any::<u64>(), hash(), bytes(64), hash(), hash()).prop_map(
            |(o, seq, hash, nonce, r, s)| Ok(Response::AuditHead(Box::new(SignedAuditHead {
                head: AuditHead {
                    org_id: OrgId(o),
                    seq,
                    hash,
                    resumed_at: seq / 2,
                    nonce,
                    issued_at_ms: seq,
                },
                signature: Ed25519Signature(r, s),
            })))
        ),
        (error_code(), text(), any::<bool>()).prop_map(|(code, message, authenticated)| {
            Err(WireError {
                code,
                message,
                authenticated,
            })
        }),
    ]
}

proptest! {
    #[test]
    fn every_request_round_trips(id in any::<u64>(), request in request()) {
        let frame = RequestFrame { id: RequestId(id), request };
        let bytes = encode(&frame).unwrap();
        // The borrowing frame the host sends is the same bytes.
        let borrowed = encode(&crate::msg::RequestFrameRef { id: RequestId(id), request: &frame.request }).unwrap();
        prop_assert_eq!(&borrowed, &bytes);
        prop_assert_eq!(decode::<RequestFrame>(&bytes[4..]).unwrap(), frame);
    }

    #[test]
    fn every_response_round_trips(id in any::<u64>(), result in response()) {
        let frame = ResponseFrame { id: RequestId(id), result };
        let bytes = encode(&frame).unwrap();
        prop_assert_eq!(decode::<ResponseFrame>(&bytes[4..]).unwrap(), frame);
    }

    /// Arbitrary bytes give an error or a message, never a panic; and since postcard decodes from
    /// a slice, every length it reads is bounded by the bytes actually present.
    #[test]
    fn arbitrary_bytes_never_panic(payload in bytes(2048)) {
        let _ = decode::<RequestFrame>(&payload);
        let _ = decode::<ResponseFrame>(&payload);
        let _ = decode::<Hello>(&payload);
        let _ = decode::<HelloReply>(&payload);
    }

    /// Valid frames with bytes flipped: still no panic.
    #[test]
    fn mutated_frames_never_panic(request in request(), flips in proptest::collection::vec((any::<usize>(), any::<u8>()), 1..8)) {
        let mut bytes = encode(&RequestFrame { id: RequestId(1), request }).unwrap().split_off(4);
        for (at, value) in flips {
            let len = bytes.len();
            if len > 0 { bytes[at % len] ^= value; }
        }
        let _ = decode::<RequestFrame>(&bytes);
    }
}
