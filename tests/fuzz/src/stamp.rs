//! Client stamps, parsed and verified as the enclave does before it looks at anything else.
//!
//! An input that starts with `{` is the stamp's JSON, base64url-encoded here (so that the
//! fuzzer mutates the JSON rather than its encoding); any other input is the `X-Stamp` header
//! value as sent. The stamp is verified over a fixed body.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use keyhold_enclave::auth::stamp::ApiKeyStamp;

/// The body the seeds' stamps sign.
pub const BODY: &[u8] = b"{\"type\":\"ACTIVITY_TYPE_CREATE_WALLET\"}";

pub fn run(data: &[u8]) {
    // WEBAUTHN: when enclave/src/auth/ parses `X-Stamp-Webauthn`, route inputs that start with
    // `webauthn:` to that parser here (the header value as sent, verified over BODY), and add
    // passkey stamps from its tests under corpus/stamp.
    let header = if data.first() == Some(&b'{') {
        URL_SAFE_NO_PAD.encode(data)
    } else {
        match std::str::from_utf8(data) {
            Ok(header) => header.to_owned(),
            Err(_) => return,
        }
    };
    api_key(&header);
}

fn api_key(header: &str) {
    if let Ok(stamp) = ApiKeyStamp::parse(header) {
        assert_eq!(stamp.public_key().len(), 33);
        let _ = stamp.verify(BODY);
    }
}
