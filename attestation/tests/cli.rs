//! The `keyhold-attest` binary, run as a user would.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use base64::Engine as _;

use crate::common::{flip_bit, gen_time, issuer, real_docs, scratch_dir, spec, vectors_dir};

const BIN: &str = env!("CARGO_BIN_EXE_keyhold-attest");

struct Fixture {
    dir: PathBuf,
    doc: Vec<u8>,
    root: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = scratch_dir(name);
        let issuer = issuer(b"cli");
        let mut s = spec();
        s.nonce = Some(b"cli nonce".to_vec());
        let doc = issuer.sign(&s).unwrap();
        let root = dir.join("root.pem");
        std::fs::write(&root, issuer.root_pem().unwrap()).unwrap();
        Self { dir, doc, root }
    }

    fn write(&self, name: &str, contents: &[u8]) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap();
        path
    }

    /// Runs `verify FILE --root root.pem --at <gen time>` plus `extra` (which may set `--at`).
    fn verify(&self, file: &Path, extra: &[&str]) -> Output {
        let at = gen_time().to_string();
        let mut args = vec![
            "verify",
            file.to_str().unwrap(),
            "--root",
            self.root.to_str().unwrap(),
        ];
        if !extra.contains(&"--at") {
            args.extend(["--at", &at]);
        }
        args.extend_from_slice(extra);
        run(&args, None)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(args: &[&str], stdin: Option<&[u8]>) -> Output {
    let mut child = Command::new(BIN)
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(input) = stdin {
        child.stdin.take().unwrap().write_all(input).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).unwrap()
}

fn last_line(out: &Output) -> String {
    stdout(out).lines().last().unwrap_or_default().to_owned()
}

#[test]
fn valid_document_in_every_encoding() {
    let f = Fixture::new("encodings");
    let raw = f.write("doc.cbor", &f.doc);
    let b64 = base64::engine::general_purpose::STANDARD.encode(&f.doc);
    let wrapped: String = b64
        .as_bytes()
        .chunks(76)
        .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
        .collect();
    let hex_text = format!("{}\n", hex::encode(&f.doc));
    for path in [
        raw,
        f.write("doc.b64", b64.as_bytes()),
        f.write("doc-wrapped.b64", wrapped.as_bytes()),
        f.write("doc.hex", hex_text.as_bytes()),
    ] {
        let out = f.verify(&path, &["--nonce", &hex::encode(b"cli nonce")]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}: {}",
            path.display(),
            stdout(&out)
        );
        assert_eq!(last_line(&out), "VALID");
        let text = stdout(&out);
        assert!(
            text.contains("module id:    i-0123456789abcdef0-enc0123456789abcdef"),
            "{text}"
        );
        assert!(
            text.contains("subject:  O=keyhold dev,CN=keyhold dev enclave")
                || text.contains("CN=keyhold dev enclave"),
            "{text}"
        );
    }

    // `-` reads stdin.
    let at = gen_time().to_string();
    let out = run(
        &[
            "verify",
            "-",
            "--root",
            f.root.to_str().unwrap(),
            "--at",
            &at,
        ],
        Some(b64.as_bytes()),
    );
    assert_eq!(out.status.code(), Some(0), "{}", stdout(&out));
}

#[test]
fn invalid_documents_exit_1_with_a_reason() {
    let f = Fixture::new("invalid");
    let tampered = f.write("tampered.cbor", &flip_bit(&f.doc, 40, 0));
    let out = f.verify(&tampered, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        last_line(&out),
        "INVALID: cose signature: does not verify with the leaf certificate's key"
    );

    let doc = f.write("doc.cbor", &f.doc);
    let out = f.verify(&doc, &["--nonce", "00"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(last_line(&out).starts_with("INVALID: nonce: expected 00, got "));

    let out = f.verify(&doc, &["--pcr", &format!("0={}", "00".repeat(48))]);
    assert_eq!(out.status.code(), Some(1));
    assert!(last_line(&out).starts_with("INVALID: pcr0: expected 0000"));

    let out = f.verify(&doc, &["--at", "2030-01-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        last_line(&out)
            .starts_with("INVALID: certificate chain: leaf not valid at 2030-01-01T00:00:00Z")
    );

    // A document pinned to the default (AWS) root is refused.
    let out = run(
        &[
            "verify",
            doc.to_str().unwrap(),
            "--at",
            &gen_time().to_string(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(1));

    // Not a document at all, but readable: invalid, not a usage error.
    let junk = f.write("junk.cbor", &[0x84, 0x01, 0x02]);
    let out = f.verify(&junk, &[]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        last_line(&out).starts_with("INVALID: cose_sign1: "),
        "{}",
        last_line(&out)
    );
}

#[test]
fn usage_and_input_errors_exit_2() {
    let f = Fixture::new("usage");
    let doc = f.write("doc.cbor", &f.doc);
    let missing = f.dir.join("does-not-exist");
    assert_eq!(f.verify(&missing, &[]).status.code(), Some(2));
    assert_eq!(f.verify(&doc, &["--bogus"]).status.code(), Some(2));
    assert_eq!(
        f.verify(&doc, &["--at", "yesterday"]).status.code(),
        Some(2)
    );
    assert_eq!(f.verify(&doc, &["--pcr", "0=zz"]).status.code(), Some(2));
    assert_eq!(f.verify(&doc, &["--pcr", "40=00"]).status.code(), Some(2));
    assert_eq!(f.verify(&doc, &["--nonce", "abc"]).status.code(), Some(2));
    assert_eq!(f.verify(&doc, &["--max-age", "-1"]).status.code(), Some(2));
    let text = f.write("text.txt", b"this is not a document!");
    let out = f.verify(&text, &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("neither raw cbor, hex nor standard base64")
    );
    let empty = f.write("empty", b"");
    assert_eq!(f.verify(&empty, &[]).status.code(), Some(2));
    let bad_root = f.write("bad-root.pem", b"not pem");
    let out = run(
        &[
            "verify",
            doc.to_str().unwrap(),
            "--root",
            bad_root.to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(out.status.code(), Some(2));
    assert_eq!(run(&[], None).status.code(), Some(2));
    assert_eq!(run(&["--help"], None).status.code(), Some(0));
}

#[test]
fn json_output_parses() {
    let f = Fixture::new("json");
    let doc = f.write("doc.cbor", &f.doc);
    let out = f.verify(&doc, &["--json"]);
    assert_eq!(out.status.code(), Some(0));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], true);
    assert_eq!(v["verdict"], "VALID");
    assert_eq!(v["reason"], serde_json::Value::Null);
    assert_eq!(
        v["document"]["module_id"],
        "i-0123456789abcdef0-enc0123456789abcdef"
    );
    assert_eq!(v["document"]["nonce"], hex::encode(b"cli nonce"));
    assert_eq!(v["document"]["pcrs"]["1"], "12".repeat(48));
    assert_eq!(v["document"]["chain"].as_array().unwrap().len(), 4);
    assert_eq!(v["document"]["chain"][3]["role"], "leaf");

    let out = f.verify(
        &doc,
        &[
            "--json",
            "--max-age",
            "0",
            "--at",
            &gen_time().saturating_add(10).to_string(),
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["valid"], false);
    assert!(
        v["reason"]
            .as_str()
            .unwrap()
            .starts_with("timestamp: document from ")
    );
}

#[test]
fn real_documents_through_the_cli() {
    let Some(docs) = real_docs("real_documents_through_the_cli") else {
        return;
    };
    for doc in docs {
        let path = vectors_dir().join(doc.file).to_str().unwrap().to_owned();
        let at = (doc.timestamp_ms / 1000).to_string();
        let mut args = vec!["verify", path.as_str(), "--at", &at];
        if doc.debug {
            args.push("--allow-debug");
        }
        let out = run(&args, None);
        assert_eq!(out.status.code(), Some(0), "{}: {}", doc.file, stdout(&out));
        let out = run(&["verify", path.as_str()], None);
        assert_eq!(out.status.code(), Some(1), "{}", doc.file);
        assert!(last_line(&out).starts_with("INVALID: "));
    }
}
