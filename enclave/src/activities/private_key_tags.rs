//! Private key tags: `CREATE_PRIVATE_KEY_TAG`, `UPDATE_PRIVATE_KEY_TAG`,
//! `DELETE_PRIVATE_KEY_TAGS`. Tags live in the sealed state and keys name them by id, so a
//! policy's `private_key.tags` reads exactly what the organization's activities set; the host's
//! copy on its key records is only for listing. Shapes and result keys are Turnkey's.

use keyhold_shared::{PrivateKeyId, Uuid};
use serde::Deserialize;
use serde_json::{Value, json};

use super::envelope::Envelope;
use super::organization::{check_name, new_id};
use super::wallets::ids;
use crate::error::{Error, Result, clip};
use crate::org::{MAX_TAGS, OrgState, Tag};

/// Most tags one private key carries.
pub const MAX_TAGS_PER_KEY: usize = 32;

/// Refuses a tag id the organization does not have.
pub fn check_tags(state: &OrgState, tags: &[String]) -> Result<()> {
    for t in tags {
        if !state.private_key_tags.iter().any(|tag| &tag.id == t) {
            return Err(Error::NotFound(format!(
                "private key tag `{}` not found",
                clip(t)
            )));
        }
    }
    Ok(())
}

fn check_unique_name(state: &OrgState, name: &str, except: Option<&str>) -> Result<()> {
    if state
        .private_key_tags
        .iter()
        .any(|t| t.name == name && Some(t.id.as_str()) != except)
    {
        return Err(Error::invalid(
            "a private key tag with this name already exists",
        ));
    }
    Ok(())
}

/// Adds `tag` to (or removes it from) the private key `key`.
fn tag_key(state: &mut OrgState, key: &PrivateKeyId, tag: &str, add: bool) -> Result<()> {
    let meta = state
        .private_keys
        .iter_mut()
        .find(|k| &k.id == key)
        .ok_or_else(|| Error::NotFound(format!("private key {key} not found")))?;
    meta.tags.retain(|t| t != tag);
    if add {
        if meta.tags.len() >= MAX_TAGS_PER_KEY {
            return Err(Error::invalid(format!(
                "a private key carries at most {MAX_TAGS_PER_KEY} tags"
            )));
        }
        meta.tags.push(tag.to_owned());
    }
    Ok(())
}

/// A list of private key ids that may be empty (`ids` refuses an empty list).
fn key_ids(field: &str, values: &[String]) -> Result<Vec<PrivateKeyId>> {
    if values.is_empty() {
        return Ok(Vec::new());
    }
    ids(field, values)
}

pub fn create_private_key_tag(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        private_key_tag_name: String,
        #[serde(default)]
        private_key_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    check_name("privateKeyTagName", &intent.private_key_tag_name)?;
    check_unique_name(state, &intent.private_key_tag_name, None)?;
    if state.private_key_tags.len() >= MAX_TAGS {
        return Err(Error::invalid(format!(
            "at most {MAX_TAGS} private key tags"
        )));
    }
    let keys = key_ids("privateKeyIds", &intent.private_key_ids)?;
    let tag_id = new_id()?.to_string();
    state.private_key_tags.push(Tag {
        id: tag_id.clone(),
        name: intent.private_key_tag_name,
        created_at_ms: now_ms,
        updated_at_ms: now_ms,
    });
    for key in &keys {
        tag_key(state, key, &tag_id, true)?;
    }
    let keys: Vec<String> = keys.iter().map(ToString::to_string).collect();
    Ok(json!({"createPrivateKeyTagResult": {"privateKeyTagId": tag_id, "privateKeyIds": keys}}))
}

pub fn update_private_key_tag(
    state: &mut OrgState,
    envelope: &Envelope,
    now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        private_key_tag_id: String,
        new_private_key_tag_name: Option<String>,
        #[serde(default)]
        add_private_key_ids: Vec<String>,
        #[serde(default)]
        remove_private_key_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    check_tags(state, std::slice::from_ref(&intent.private_key_tag_id))?;
    let add = key_ids("addPrivateKeyIds", &intent.add_private_key_ids)?;
    let remove = key_ids("removePrivateKeyIds", &intent.remove_private_key_ids)?;
    let tag_id = intent.private_key_tag_id;
    // An empty new name means "keep the name", as for user tags.
    if let Some(name) = intent.new_private_key_tag_name.filter(|n| !n.is_empty()) {
        check_name("newPrivateKeyTagName", &name)?;
        check_unique_name(state, &name, Some(&tag_id))?;
        if let Some(tag) = state.private_key_tags.iter_mut().find(|t| t.id == tag_id) {
            tag.name = name;
            tag.updated_at_ms = now_ms;
        }
    }
    for key in &add {
        tag_key(state, key, &tag_id, true)?;
    }
    for key in &remove {
        tag_key(state, key, &tag_id, false)?;
    }
    Ok(json!({"updatePrivateKeyTagResult": {"privateKeyTagId": tag_id}}))
}

pub fn delete_private_key_tags(
    state: &mut OrgState,
    envelope: &Envelope,
    _now_ms: u64,
) -> Result<Value> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Intent {
        private_key_tag_ids: Vec<String>,
    }
    let intent: Intent = envelope.parameters()?;
    let tags: Vec<Uuid> = ids("privateKeyTagIds", &intent.private_key_tag_ids)?;
    let tags: Vec<String> = tags.iter().map(ToString::to_string).collect();
    check_tags(state, &tags)?;
    let mut affected = Vec::new();
    for key in &mut state.private_keys {
        let before = key.tags.len();
        key.tags.retain(|t| !tags.contains(t));
        if key.tags.len() != before {
            affected.push(key.id.to_string());
        }
    }
    state.private_key_tags.retain(|t| !tags.contains(&t.id));
    Ok(json!({"deletePrivateKeyTagsResult": {"privateKeyTagIds": tags, "privateKeyIds": affected}}))
}
