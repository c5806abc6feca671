//! Command-line flags (clap derive) and their conversion into a checked [`Config`].

use std::path::PathBuf;

use keyhold_attestation::{Policy, TrustAnchor, UnixTime};

/// Verify AWS Nitro attestation documents.
#[derive(Debug, clap::Parser)]
#[command(name = "keyhold-attest", version)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,
}

#[derive(Debug, clap::Subcommand)]
pub(crate) enum Command {
    /// Verify one document; exit 0 if valid, 1 if invalid, 2 on usage or input errors.
    Verify(VerifyArgs),
}

#[derive(Debug, clap::Args)]
pub(crate) struct VerifyArgs {
    /// The document: raw CBOR, base64 or hex (detected automatically); `-` reads stdin.
    file: PathBuf,

    /// Verification time, as Unix seconds or RFC 3339 (default: now).
    #[arg(long, value_parser = UnixTime::parse)]
    at: Option<UnixTime>,

    /// PEM file with the root certificate to pin (default: AWS Nitro Enclaves Root-G1).
    #[arg(long, value_name = "PEM")]
    root: Option<PathBuf>,

    /// Expected PCR value, as INDEX=HEX; repeatable.
    #[arg(long = "pcr", value_name = "N=HEX", value_parser = parse_pcr)]
    pcrs: Vec<(u8, Vec<u8>)>,

    /// Accept debug-mode enclaves (PCR0, PCR1 and PCR2 all zero).
    #[arg(long)]
    allow_debug: bool,

    /// Expected `nonce`, hex.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_flag)]
    nonce: Option<Hex>,

    /// Expected `public_key`, hex.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_flag)]
    public_key: Option<Hex>,

    /// Expected `user_data`, hex.
    #[arg(long, value_name = "HEX", value_parser = parse_hex_flag)]
    user_data: Option<Hex>,

    /// Refuse documents whose timestamp is older than this many seconds at the verification time.
    #[arg(long, value_name = "SECONDS")]
    max_age: Option<u64>,

    /// Print a JSON object instead of the text report.
    #[arg(long)]
    json: bool,
}

/// Bytes given as hex on the command line. A newtype, because clap reads a bare `Vec<u8>` field
/// as "many u8 values".
#[derive(Clone, Debug)]
pub(crate) struct Hex(Vec<u8>);

fn parse_hex_flag(s: &str) -> Result<Hex, String> {
    parse_hex(s).map(Hex)
}

fn parse_hex(s: &str) -> Result<Vec<u8>, String> {
    let s = s.trim();
    let digits = s
        .strip_prefix("0x")
        .or_else(|| s.strip_prefix("0X"))
        .unwrap_or(s);
    hex::decode(digits).map_err(|e| format!("not hex: {e}"))
}

fn parse_pcr(s: &str) -> Result<(u8, Vec<u8>), String> {
    let (index, value) = s
        .split_once('=')
        .ok_or_else(|| "expected INDEX=HEX, e.g. 0=abcd…".to_owned())?;
    let index: u8 = index
        .trim()
        .parse()
        .ok()
        .filter(|&i| usize::from(i) < keyhold_attestation::limits::MAX_PCRS)
        .ok_or_else(|| format!("pcr index `{index}` is not in 0..32"))?;
    let value = parse_hex(value)?;
    if ![32, 48, 64].contains(&value.len()) {
        return Err(format!(
            "pcr{index} value is {} bytes; pcrs are 32, 48 or 64 bytes",
            value.len()
        ));
    }
    Ok((index, value))
}

/// A run's checked settings.
pub(crate) struct Config {
    pub(crate) file: PathBuf,
    pub(crate) root: TrustAnchor,
    pub(crate) policy: Policy,
    pub(crate) json: bool,
}

impl TryFrom<VerifyArgs> for Config {
    type Error = String;

    fn try_from(args: VerifyArgs) -> Result<Self, String> {
        let root = match &args.root {
            Some(path) => {
                let pem = std::fs::read(path)
                    .map_err(|e| format!("cannot read root `{}`: {e}", path.display()))?;
                TrustAnchor::from_pem(&pem)
                    .map_err(|e| format!("bad root `{}`: {e}", path.display()))?
            }
            None => TrustAnchor::aws_nitro_root_g1().map_err(|e| e.to_string())?,
        };
        let mut policy = Policy::new(args.at.unwrap_or_else(UnixTime::now))
            .with_root(root.clone())
            .allow_debug(args.allow_debug);
        for (index, value) in args.pcrs {
            policy = policy.expect_pcr(index, value);
        }
        if let Some(v) = args.nonce {
            policy = policy.expect_nonce(v.0);
        }
        if let Some(v) = args.public_key {
            policy = policy.expect_public_key(v.0);
        }
        if let Some(v) = args.user_data {
            policy = policy.expect_user_data(v.0);
        }
        if let Some(secs) = args.max_age {
            policy = policy.max_age_secs(secs);
        }
        Ok(Self {
            file: args.file,
            root,
            policy,
            json: args.json,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pcr_flags() {
        let hex48 = "ab".repeat(48);
        assert_eq!(parse_pcr(&format!("3={hex48}")).unwrap().0, 3);
        assert!(parse_pcr(&format!("32={hex48}")).is_err());
        assert!(parse_pcr("0=abcd").is_err());
        assert!(parse_pcr(&hex48).is_err());
        assert!(parse_pcr("x=00").is_err());
        assert_eq!(parse_hex("0xABcd").unwrap(), vec![0xab, 0xcd]);
        assert!(parse_hex("abc").is_err());
    }

    #[test]
    fn every_flag_parses_into_its_field() {
        use clap::Parser as _;
        let hex48 = "ab".repeat(48);
        let cli = Cli::try_parse_from([
            "keyhold-attest",
            "verify",
            "doc",
            "--at",
            "1700000000",
            "--pcr",
            &format!("0={hex48}"),
            "--pcr",
            &format!("1={hex48}"),
            "--nonce",
            "00",
            "--public-key",
            "0102",
            "--user-data",
            "ff",
            "--max-age",
            "5",
            "--allow-debug",
            "--json",
        ])
        .unwrap();
        let Command::Verify(args) = cli.command;
        assert_eq!(args.pcrs.len(), 2);
        assert_eq!(args.nonce.map(|h| h.0), Some(vec![0]));
        assert_eq!(args.public_key.map(|h| h.0), Some(vec![1, 2]));
        assert_eq!(args.user_data.map(|h| h.0), Some(vec![0xff]));
        assert_eq!(args.max_age, Some(5));
        assert!(args.allow_debug && args.json);
    }

    #[test]
    fn clap_definition_is_consistent() {
        use clap::CommandFactory as _;
        Cli::command().debug_assert();
    }
}
