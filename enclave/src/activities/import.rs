//! `INIT_IMPORT_WALLET` / `INIT_IMPORT_PRIVATE_KEY` and `IMPORT_WALLET` / `IMPORT_PRIVATE_KEY`
//! (spec §7.3).
//!
//! Init creates an ephemeral P-256 key, signs its public half into the import bundle together
//! with the organization and user (the client checks both, and our signer key), and hands the
//! private half to the host only sealed to (organization, user, kind) with an expiry (see
//! `bundles::import_key`). The import opens that key again — bound to the organization and the
//! `userId` the client signed — decrypts the client's HPKE bundle, validates the mnemonic or
//! key, and creates the wallet or private key exactly as `CREATE_WALLET` /
//! `CREATE_PRIVATE_KEYS` do, marked imported.

use keyhold_shared::msg::{
    ActivityContext, ActivityResult, CreatedPrivateKey, ImportKind, NewWallet, SealedSeed,
};
use keyhold_shared::{PrivateKeyId, UserId, Uuid, WalletId};
use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::Allowed;
use super::create_wallet::{AccountParams, check_count, derive_accounts};
use super::envelope::Envelope;
use super::organization::{check_name, with_wallet_meta};
use super::users::user_id;
use crate::bundles::hpke_p256::{POINT_LEN, ReceiverKey};
use crate::bundles::import_key::{self, TTL_MS};
use crate::chains::address::{check_pair, parse_curve, parse_format};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::keys::SeedMaterial;
use crate::keys::account::AccountKey;
use crate::keys::private_key;
use crate::org::{OrgState, WalletMeta};
use crate::seal::seed_aad;
use crate::secrets::random;

const MAX_FORMATS: usize = 32;
/// Largest `encryptedBundle` accepted (hex of a few hundred bytes, plus JSON).
const MAX_BUNDLE_LEN: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct InitImportIntent {
    user_id: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportWalletIntent {
    user_id: String,
    wallet_name: String,
    encrypted_bundle: String,
    accounts: Vec<AccountParams>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ImportPrivateKeyIntent {
    user_id: String,
    private_key_name: String,
    encrypted_bundle: String,
    curve: String,
    address_formats: Vec<String>,
}

/// The signed `data` of an import bundle, in Turnkey's field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ImportData {
    target_public: String,
    organization_id: String,
    user_id: String,
}

/// `encryptedBundle` as `@turnkey/crypto.formatHpkeBuf` makes it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EncryptedBundle {
    encapped_public: String,
    ciphertext: String,
}

pub fn init(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    kind: ImportKind,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<ActivityResult> {
    let intent: InitImportIntent = envelope.parameters()?;
    let user = user_id("userId", &intent.user_id, org)?;
    let key = ReceiverKey::generate()?;
    let sealed_key = import_key::seal(
        &keys.seed_seal,
        &org.org_id,
        &user,
        kind,
        &key,
        now_ms.saturating_add(TTL_MS),
    )?;
    let import_bundle = keys.bundle_signer.envelope(&ImportData {
        target_public: hex::encode(key.public_uncompressed()),
        organization_id: org.org_id.to_string(),
        user_id: user.to_string(),
    })?;
    Ok(ActivityResult::InitImport {
        user_id: user,
        kind,
        import_bundle,
        sealed_key,
    })
}

/// Opens the pending import key of (organization, `user`, `kind`) and decrypts the client's
/// bundle with it.
fn decrypt(
    keys: &Keys,
    org: &OrgState,
    user: &UserId,
    kind: ImportKind,
    encrypted_bundle: &str,
    context: &ActivityContext,
    now_ms: u64,
) -> Result<Zeroizing<Vec<u8>>> {
    let ActivityContext::ImportKey { sealed_key } = context else {
        return Err(no_pending(kind));
    };
    let key = open_key(keys, org, user, kind, sealed_key, now_ms)?;
    if encrypted_bundle.len() > MAX_BUNDLE_LEN {
        return Err(Error::invalid("encryptedBundle is too large"));
    }
    let bad = || {
        Error::invalid(
            "encryptedBundle must be the JSON {\"encappedPublic\", \"ciphertext\"} (hex) that \
             @turnkey/crypto's encryptWalletToBundle / encryptPrivateKeyToBundle returns",
        )
    };
    let parsed: EncryptedBundle = serde_json::from_str(encrypted_bundle).map_err(|_| bad())?;
    let encapped = hex::decode(&parsed.encapped_public).map_err(|_| bad())?;
    let ciphertext = hex::decode(&parsed.ciphertext).map_err(|_| bad())?;
    if encapped.len() != POINT_LEN {
        return Err(bad());
    }
    key.open(&encapped, &ciphertext).ok_or_else(|| {
        Error::invalid(format!(
            "encryptedBundle does not decrypt with this user's current import key: encrypt to \
             the bundle of the latest {} for this user",
            init_name(kind)
        ))
    })
}

fn open_key(
    keys: &Keys,
    org: &OrgState,
    user: &UserId,
    kind: ImportKind,
    sealed_key: &SealedSeed,
    now_ms: u64,
) -> Result<ReceiverKey> {
    import_key::open(&keys.seed_seal, &org.org_id, user, kind, sealed_key, now_ms).map_err(|e| {
        match e {
            // A key sealed to another organization, user or kind is, to the caller, no key.
            Error::Unseal => no_pending(kind),
            other => other,
        }
    })
}

fn init_name(kind: ImportKind) -> &'static str {
    match kind {
        ImportKind::Wallet => "init_import_wallet",
        ImportKind::PrivateKey => "init_import_private_key",
    }
}

fn no_pending(kind: ImportKind) -> Error {
    Error::invalid(format!(
        "no import is pending for this user: call {} first",
        init_name(kind)
    ))
}

pub fn wallet(
    keys: &Keys,
    org: &OrgState,
    body: &[u8],
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<(ActivityResult, Option<OrgState>)> {
    let intent: ImportWalletIntent = envelope.parameters()?;
    let user = user_id("userId", &intent.user_id, org)?;
    check_name("walletName", &intent.wallet_name)?;
    check_count(intent.accounts.len())?;
    let plaintext = decrypt(
        keys,
        org,
        &user,
        ImportKind::Wallet,
        &intent.encrypted_bundle,
        context,
        now_ms,
    )?;
    let text = std::str::from_utf8(&plaintext)
        .map_err(|_| Error::invalid("the imported mnemonic is not UTF-8 text"))?;
    let seed = SeedMaterial::from_mnemonic(text)?;
    let accounts = derive_accounts(&seed, &intent.accounts)?;
    let wallet_id = WalletId(Uuid::new_v4(random()?));
    let (nonce, ciphertext) = keys
        .seed_seal
        .seal(&seed.encode(), &seed_aad(&org.org_id, &wallet_id))?;
    let state = with_wallet_meta(
        org,
        body,
        envelope,
        WalletMeta {
            id: wallet_id,
            name: intent.wallet_name.clone(),
            imported: true,
            exported: false,
            created_at_ms: now_ms,
        },
        now_ms,
    )?;
    Ok((
        ActivityResult::ImportWallet(NewWallet {
            wallet_id,
            wallet_name: intent.wallet_name,
            accounts,
            sealed_seed: SealedSeed { nonce, ciphertext },
        }),
        Some(state),
    ))
}

pub fn private_key(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    context: &ActivityContext,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<ActivityResult> {
    let intent: ImportPrivateKeyIntent = envelope.parameters()?;
    let user = user_id("userId", &intent.user_id, org)?;
    check_name("privateKeyName", &intent.private_key_name)?;
    if intent.address_formats.len() > MAX_FORMATS {
        return Err(Error::invalid(format!(
            "at most {MAX_FORMATS} address formats"
        )));
    }
    let curve = parse_curve(&intent.curve)?;
    let formats = intent
        .address_formats
        .iter()
        .map(|f| {
            let format = parse_format(f)?;
            check_pair(curve, format)?;
            Ok(format)
        })
        .collect::<Result<Vec<_>>>()?;
    let plaintext = decrypt(
        keys,
        org,
        &user,
        ImportKind::PrivateKey,
        &intent.encrypted_bundle,
        context,
        now_ms,
    )?;
    let secret: Zeroizing<[u8; 32]> =
        Zeroizing::new(plaintext.as_slice().try_into().map_err(|_| {
            Error::invalid(format!(
                "the imported private key must be 32 bytes, got {}",
                plaintext.len()
            ))
        })?);
    let key = AccountKey::from_secret(curve, &secret).map_err(|_| {
        Error::invalid(format!(
            "the imported bytes are not a valid {} private key",
            curve.as_turnkey()
        ))
    })?;
    let public = key.public();
    let addresses = formats
        .into_iter()
        .map(|f| Ok((f, public.address(f)?)))
        .collect::<Result<Vec<_>>>()?;
    let id = PrivateKeyId(Uuid::new_v4(random()?));
    Ok(ActivityResult::ImportPrivateKey(CreatedPrivateKey {
        private_key_id: id,
        name: intent.private_key_name,
        curve,
        public_key: public.to_bytes(),
        addresses,
        tags: Vec::new(),
        sealed_key: private_key::seal(&keys.seed_seal, &org.org_id, &id, &key)?,
    }))
}
