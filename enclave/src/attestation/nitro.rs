//! Attestation on AWS Nitro: the NSM device signs the document. Compiled with `--features nitro`.

use aws_nitro_enclaves_nsm_api::api::{Request, Response};
use aws_nitro_enclaves_nsm_api::driver::{nsm_exit, nsm_init, nsm_process_request};
use serde_bytes::ByteBuf;

use crate::error::{Error, Result};

/// A handle to `/dev/nsm`.
pub struct NsmAttester {
    fd: i32,
}

impl NsmAttester {
    pub fn open() -> Result<Self> {
        let fd = nsm_init();
        if fd < 0 {
            return Err(Error::Internal("cannot open the NSM device"));
        }
        Ok(NsmAttester { fd })
    }

    pub fn attest(&self, public_key: &[u8], user_data: &[u8], nonce: &[u8]) -> Result<Vec<u8>> {
        let request = Request::Attestation {
            public_key: Some(ByteBuf::from(public_key.to_vec())),
            user_data: Some(ByteBuf::from(user_data.to_vec())),
            nonce: Some(ByteBuf::from(nonce.to_vec())),
        };
        match nsm_process_request(self.fd, request) {
            Response::Attestation { document } => Ok(document),
            _ => Err(Error::Internal(
                "the NSM device refused the attestation request",
            )),
        }
    }
}

impl Drop for NsmAttester {
    fn drop(&mut self) {
        nsm_exit(self.fd);
    }
}
