//! AWS Nitro attestation documents.
