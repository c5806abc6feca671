//! `ACTIVITY_TYPE_CREATE_PRIVATE_KEYS_V2`: standalone keys, each generated here and returned only
//! sealed to (organization, private key id).

use keyhold_shared::msg::{ActivityResult, CreatedPrivateKey};
use keyhold_shared::{PrivateKeyId, Uuid};
use serde::Deserialize;

use super::Allowed;
use super::envelope::Envelope;
use crate::chains::address::{check_pair, parse_curve, parse_format};
use crate::enclave::Keys;
use crate::error::{Error, Result};
use crate::keys::account::AccountKey;
use crate::keys::private_key;
use crate::org::OrgState;
use crate::secrets::random;

const MAX_KEYS: usize = 100;
const MAX_FORMATS: usize = 32;
const MAX_TAGS: usize = super::private_key_tags::MAX_TAGS_PER_KEY;
const MAX_NAME_LEN: usize = 256;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct CreatePrivateKeysIntentV2 {
    private_keys: Vec<PrivateKeyParams>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct PrivateKeyParams {
    private_key_name: String,
    curve: String,
    #[serde(default)]
    private_key_tags: Vec<String>,
    address_formats: Vec<String>,
}

pub fn run(
    keys: &Keys,
    org: &OrgState,
    envelope: &Envelope,
    _allowed: Allowed,
) -> Result<ActivityResult> {
    let intent: CreatePrivateKeysIntentV2 = envelope.parameters()?;
    if intent.private_keys.is_empty() || intent.private_keys.len() > MAX_KEYS {
        return Err(Error::invalid(format!(
            "privateKeys must hold 1 to {MAX_KEYS} keys"
        )));
    }
    let mut out = Vec::with_capacity(intent.private_keys.len());
    for params in intent.private_keys {
        let name = params.private_key_name;
        if name.trim().is_empty() || name.len() > MAX_NAME_LEN {
            return Err(Error::invalid(format!(
                "privateKeyName must be 1 to {MAX_NAME_LEN} bytes"
            )));
        }
        if params.address_formats.len() > MAX_FORMATS || params.private_key_tags.len() > MAX_TAGS {
            return Err(Error::invalid(format!(
                "at most {MAX_FORMATS} address formats and {MAX_TAGS} tags per key"
            )));
        }
        // Tags are the organization's private key tags, named by id (`private_key.tags`).
        super::private_key_tags::check_tags(org, &params.private_key_tags)?;
        let mut tags = params.private_key_tags;
        tags.sort();
        tags.dedup();
        let curve = parse_curve(&params.curve)?;
        let formats = params
            .address_formats
            .iter()
            .map(|f| {
                let format = parse_format(f)?;
                check_pair(curve, format)?;
                Ok(format)
            })
            .collect::<Result<Vec<_>>>()?;
        let key = AccountKey::generate(curve)?;
        let public = key.public();
        let addresses = formats
            .into_iter()
            .map(|f| Ok((f, public.address(f)?)))
            .collect::<Result<Vec<_>>>()?;
        let id = PrivateKeyId(Uuid::new_v4(random()?));
        out.push(CreatedPrivateKey {
            private_key_id: id,
            name,
            curve,
            public_key: public.to_bytes(),
            addresses,
            tags,
            sealed_key: private_key::seal(&keys.seed_seal, &org.org_id, &id, &key)?,
        });
    }
    Ok(ActivityResult::CreatePrivateKeys(out))
}
