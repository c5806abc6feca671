//! `FEATURE_NAME_WEBAUTHN_ORIGINS`: the origins an organization's passkeys may be used from.
//! Turnkey: "The origin Webauthn credentials are scoped to"; without it every origin (`*`) is
//! allowed. The value is a comma-separated list; while it is set, a passkey assertion (stamp)
//! or registration whose `clientDataJSON.origin` is not in it is refused.
//!
//! The list lives in the sealed organization state, so a host cannot drop it: it would have to
//! present an older state (refused as stale) or an edited one (refused as forged).
//!
//! Entries: `*` (any origin, Turnkey's default spelled out), `https://host[:port]` or
//! `http://host[:port]` (as browsers serialize an origin: no path; compared without regard to
//! ASCII case, and a trailing `/` is tolerated), or `android:apk-key-hash:…` (what Android
//! puts in `origin` for a native app; compared exactly).

use crate::error::{Error, Result, clip};
use crate::org::Feature;

/// The feature's name (Turnkey's `v1FeatureName`).
pub const FEATURE: &str = "FEATURE_NAME_WEBAUTHN_ORIGINS";
/// Most origins in the list, and longest value (bounded like every sealed field).
const MAX_ORIGINS: usize = 32;
pub const MAX_VALUE_LEN: usize = 4096;
const MAX_ORIGIN_LEN: usize = 256;
const ANDROID_PREFIX: &str = "android:apk-key-hash:";

/// One allowed origin.
#[derive(Debug, PartialEq, Eq)]
enum Allowed<'a> {
    Any,
    /// `scheme://host[:port]`, trailing `/` removed.
    Web(&'a str),
    Android(&'a str),
}

fn entry(text: &str) -> Result<Allowed<'_>> {
    let text = text.trim();
    let bad = |why: &str| {
        Error::invalid(format!(
            "{FEATURE}: `{}` is not an origin ({why})",
            clip(text)
        ))
    };
    if text == "*" {
        return Ok(Allowed::Any);
    }
    if text.len() > MAX_ORIGIN_LEN {
        return Err(bad("longer than 256 bytes"));
    }
    if let Some(hash) = text.strip_prefix(ANDROID_PREFIX) {
        if hash.is_empty()
            || !hash
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_+/=".contains(&b))
        {
            return Err(bad("an Android origin is android:apk-key-hash:<base64>"));
        }
        return Ok(Allowed::Android(text));
    }
    let text = text.strip_suffix('/').unwrap_or(text);
    // A browser leaves the scheme's default port out of the origin it reports.
    let text = match (text.strip_suffix(":443"), text.strip_suffix(":80")) {
        (Some(bare), _) if text.starts_with("https://") => bare,
        (_, Some(bare)) if text.starts_with("http://") => bare,
        _ => text,
    };
    let host = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"))
        .ok_or_else(|| bad("it must start with https:// or http://"))?;
    let valid = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b));
    if !valid {
        return Err(bad("scheme://host[:port], without path, query or wildcard"));
    }
    Ok(Allowed::Web(text))
}

/// Parses and validates a feature value.
fn parse(value: &str) -> Result<Vec<Allowed<'_>>> {
    if value.len() > MAX_VALUE_LEN {
        return Err(Error::invalid(format!(
            "{FEATURE}: the value is longer than {MAX_VALUE_LEN} bytes"
        )));
    }
    let entries = value
        .split(',')
        .filter(|e| !e.trim().is_empty())
        .map(entry)
        .collect::<Result<Vec<_>>>()?;
    if entries.is_empty() || entries.len() > MAX_ORIGINS {
        return Err(Error::invalid(format!(
            "{FEATURE}: the value must list 1 to {MAX_ORIGINS} comma-separated origins, e.g. \
             `https://wallet.example.com`"
        )));
    }
    Ok(entries)
}

/// Checks a value `SET_ORGANIZATION_FEATURE` would store.
pub fn validate(value: &str) -> Result<()> {
    parse(value).map(|_| ())
}

/// Refuses `origin` (from a `clientDataJSON`) unless `features` allow it: always when the
/// organization has no origins feature. A stored value that does not parse (it was validated
/// when set, so it cannot happen) refuses every origin rather than none.
pub fn check(features: &[Feature], origin: Option<&str>) -> Result<()> {
    let Some(feature) = features.iter().find(|f| f.name == FEATURE) else {
        return Ok(());
    };
    let refused = |why: &'static str| Err(Error::WebauthnInvalid(why));
    let Ok(allowed) = parse(feature.value.as_deref().unwrap_or_default()) else {
        return refused("the organization's allowed WebAuthn origins cannot be read");
    };
    if allowed.contains(&Allowed::Any) {
        return Ok(());
    }
    let Some(origin) = origin else {
        return refused("clientDataJSON has no origin, and the organization restricts origins");
    };
    let permitted = allowed.iter().any(|a| match a {
        Allowed::Any => true,
        Allowed::Web(web) => web.eq_ignore_ascii_case(origin),
        Allowed::Android(android) => *android == origin,
    });
    if permitted {
        Ok(())
    } else {
        refused(
            "the passkey was used from an origin the organization does not allow (FEATURE_NAME_WEBAUTHN_ORIGINS)",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(value: &str) -> Vec<Feature> {
        vec![Feature {
            name: FEATURE.into(),
            value: Some(value.into()),
        }]
    }

    #[test]
    fn values_are_validated() {
        for good in [
            "https://wallet.example",
            "https://wallet.example/, http://localhost:3000",
            "*",
            "https://a.example,https://[::1]:8443,android:apk-key-hash:abc-_DEF",
        ] {
            validate(good).unwrap_or_else(|e| panic!("{good}: {e}"));
        }
        for bad in [
            "",
            " , ",
            "wallet.example",
            "https://wallet.example/login",
            "https://*.example",
            "https://wallet.example?x=1",
            "ftp://wallet.example",
            "https://",
            "android:apk-key-hash:",
            &"https://a.example,".repeat(33),
            &format!("https://{}", "a".repeat(300)),
        ] {
            assert!(
                matches!(validate(bad), Err(Error::InvalidRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn origins_are_checked_against_the_list() {
        // no feature: every origin, and none
        check(&[], Some("https://evil.example")).unwrap();
        check(&[], None).unwrap();
        let list = with("https://wallet.example/, http://localhost:3000");
        check(&list, Some("https://wallet.example")).unwrap();
        // an entry written with the scheme's default port matches the origin browsers report
        let ported =
            with("https://pay.example:443, http://dev.example:80, https://alt.example:1443");
        check(&ported, Some("https://pay.example")).unwrap();
        check(&ported, Some("http://dev.example")).unwrap();
        check(&ported, Some("https://alt.example:1443")).unwrap();
        assert!(check(&ported, Some("https://alt.example")).is_err());
        assert!(check(&ported, Some("http://pay.example")).is_err());
        check(&list, Some("https://WALLET.example")).unwrap();
        check(&list, Some("http://localhost:3000")).unwrap();
        for refused in [
            Some("https://evil.example"),
            Some("http://wallet.example"),
            Some("https://wallet.example:8443"),
            Some("https://wallet.example.evil.example"),
            Some(""),
            None,
        ] {
            assert!(
                matches!(check(&list, refused), Err(Error::WebauthnInvalid(_))),
                "{refused:?}"
            );
        }
        check(&with("*"), Some("https://evil.example")).unwrap();
        let android = with("android:apk-key-hash:AbC");
        check(&android, Some("android:apk-key-hash:AbC")).unwrap();
        assert!(check(&android, Some("android:apk-key-hash:abc")).is_err());
        // a value that does not parse refuses everything
        assert!(check(&with("not an origin"), Some("not an origin")).is_err());
    }
}
