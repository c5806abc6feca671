//! In-process tests of the whole enclave: the socket server against hostile peers, a host that
//! lies, and the end-to-end check that no secret reaches the host's database or any log.

mod audit;
mod audit_host;
mod contracts;
mod crash_recovery;
mod credentials;
mod evaluations;
mod features;
mod host_lies;
mod idempotency;
mod lifecycle;
mod limits;
mod no_secret_leak;
mod orgs;
mod passkey;
mod rate_limit;
mod server;
mod support;
mod transfer;
mod votes_host;
mod wallets;
mod webhooks;
