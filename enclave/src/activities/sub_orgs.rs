//! `CREATE_SUB_ORGANIZATION` (V7, V8): runs in the parent organization (whose policies govern
//! it) and creates a new organization with its own sealed state — root users with API keys
//! and/or passkeys, a
//! root quorum, and optionally a first wallet made exactly as `CREATE_WALLET` makes one.
//!
//! The parent's state is not changed, so creating thousands of sub-organizations does not
//! serialize on the parent's version. The cost: a host that replays a signed request within
//! the timestamp window creates a second sub-organization with the same root users (no
//! permission is gained; the root users are the ones the parent's caller named).

use keyhold_shared::msg::{ActivityResult, NewSubOrganization, NewWallet};
use keyhold_shared::{OrgId, WalletId};
use serde::Deserialize;
use serde_json::json;

use super::Allowed;
use super::create_wallet::{AccountParams, derive_account};
use super::envelope::Envelope;
use super::organization::{check_invariants, check_name, new_id};
use super::users::{UserParams, new_user};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::keys::SeedMaterial;
use crate::org::{MAX_USERS, OrgState, RootQuorum, WalletMeta};
use crate::seal::seed_aad;

const MAX_ACCOUNTS: usize = 100;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Intent {
    sub_organization_name: String,
    root_users: Vec<UserParams>,
    root_quorum_threshold: u32,
    wallet: Option<WalletParams>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct WalletParams {
    wallet_name: String,
    #[serde(default)]
    accounts: Vec<AccountParams>,
    mnemonic_length: Option<u32>,
}

pub fn run(
    keys: &Keys,
    parent: &OrgState,
    envelope: &Envelope,
    _allowed: Allowed,
    now_ms: u64,
) -> Result<ActivityResult> {
    let intent: Intent = envelope.parameters()?;
    check_name("subOrganizationName", &intent.sub_organization_name)?;
    if intent.root_users.is_empty() || intent.root_users.len() > MAX_USERS {
        return Err(Error::invalid(format!(
            "rootUsers must hold 1 to {MAX_USERS} users"
        )));
    }
    let org_id = OrgId(new_id()?);
    let mut state = OrgState {
        parent_org_id: Some(parent.org_id),
        // Turnkey: the parent's WEBAUTHN_ORIGINS "applies to all sub-organizations". The
        // sub-organization's sealed state carries its own copy, taken from the parent's sealed
        // state here, so its root users' passkeys are registered and used under it and no host
        // can leave it out (a later change in the parent does not reach existing
        // sub-organizations; their root quorum can set their own).
        features: parent
            .features
            .iter()
            .filter(|f| f.name == crate::auth::webauthn::origins::FEATURE)
            .cloned()
            .collect(),
        ..OrgState::new(
            org_id,
            intent.sub_organization_name.clone(),
            RootQuorum {
                threshold: intent.root_quorum_threshold,
                user_ids: Vec::new(),
            },
            now_ms,
        )
    };
    for user in &intent.root_users {
        if user.api_keys.is_empty() && user.authenticators.is_empty() {
            return Err(Error::invalid(
                "each root user needs an API key or a passkey (OAuth and email login are not supported by keyhold yet)",
            ));
        }
        if !user.user_tags.is_empty() {
            return Err(Error::invalid("a new sub-organization has no user tags"));
        }
        let id = new_user(&mut state, user, now_ms)?;
        state.root_quorum.user_ids.push(id);
    }
    check_invariants(&state)?;

    let wallet = match &intent.wallet {
        None => None,
        Some(w) => {
            check_name("walletName", &w.wallet_name)?;
            if w.accounts.len() > MAX_ACCOUNTS {
                return Err(Error::invalid(format!(
                    "at most {MAX_ACCOUNTS} accounts per request"
                )));
            }
            let seed = SeedMaterial::generate(w.mnemonic_length.unwrap_or(12) as usize)?;
            #[cfg(test)]
            crate::test_hooks::record_seed(&seed);
            let accounts = w
                .accounts
                .iter()
                .map(|a| derive_account(&seed, a))
                .collect::<Result<Vec<_>>>()?;
            let wallet_id = WalletId(new_id()?);
            let (nonce, ciphertext) = keys
                .seed_seal
                .seal(&seed.encode(), &seed_aad(&org_id, &wallet_id))?;
            state.wallets.push(WalletMeta {
                id: wallet_id,
                name: w.wallet_name.clone(),
                imported: false,
                exported: false,
                created_at_ms: now_ms,
            });
            Some(NewWallet {
                wallet_id,
                wallet_name: w.wallet_name.clone(),
                accounts,
                sealed_seed: keyhold_shared::msg::SealedSeed { nonce, ciphertext },
            })
        }
    };

    let root_user_ids: Vec<String> = state
        .root_quorum
        .user_ids
        .iter()
        .map(ToString::to_string)
        .collect();
    let mut result = json!({
        "subOrganizationId": org_id.to_string(),
        "rootUserIds": root_user_ids,
    });
    if let (Some(w), Some(object)) = (&wallet, result.as_object_mut()) {
        object.insert(
            "wallet".into(),
            json!({
                "walletId": w.wallet_id.to_string(),
                "addresses": w.accounts.iter().map(|a| a.address.clone()).collect::<Vec<_>>(),
            }),
        );
    }
    let key = if envelope.activity_type.ends_with("_V7") {
        "createSubOrganizationResultV7"
    } else {
        "createSubOrganizationResultV8"
    };
    let sealed_state = keys.org_sealer.seal(&state)?;
    tracing::info!(parent = %parent.org_id, organization = %org_id, "sub-organization created");
    Ok(ActivityResult::Organization {
        result_json: json!({ key: result }).to_string(),
        sub_organization: Some(Box::new(NewSubOrganization {
            organization_id: org_id,
            parent_organization_id: parent.org_id,
            name: intent.sub_organization_name,
            sealed_state,
            wallet,
        })),
    })
}
