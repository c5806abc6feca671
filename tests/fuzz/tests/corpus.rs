//! The seed corpora, replayed on a normal build: every input of `corpus/<target>/` runs through
//! its target without a panic, the generated seeds are up to date with the message types and
//! transaction builders, and the request seeds get the answers their names promise (so that
//! they reach deep into the enclave instead of stopping at a stamp or a seal).
//!
//! `KEYHOLD_FUZZ_BLESS=1 cargo test --test corpus` rewrites the generated seeds.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use keyhold_fuzz::{TARGETS, activity, request, seeds};
use keyhold_shared::RequestId;
use keyhold_shared::msg::RequestFrame;

fn corpus_dir(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target)
}

fn files(target: &str) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = fs::read_dir(corpus_dir(target))
        .map(|dir| {
            dir.filter_map(Result::ok)
                .filter(|e| e.path().is_file())
                .map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    (name, fs::read(e.path()).unwrap())
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[test]
fn generated_seeds_are_up_to_date() {
    let bless = std::env::var_os("KEYHOLD_FUZZ_BLESS").is_some();
    let generated = seeds::all();
    let mut stale = Vec::new();
    for (target, name, bytes) in &generated {
        let path = corpus_dir(target).join(format!("gen-{name}"));
        if fs::read(&path).ok().as_deref() != Some(bytes.as_slice()) {
            if bless {
                fs::create_dir_all(corpus_dir(target)).unwrap();
                fs::write(&path, bytes).unwrap();
            } else {
                stale.push(path.display().to_string());
            }
        }
    }
    let wanted: BTreeSet<String> = generated
        .iter()
        .map(|(target, name, _)| format!("{target}/gen-{name}"))
        .collect();
    for target in TARGETS {
        for (name, _) in files(target.name) {
            if name.starts_with("gen-") && !wanted.contains(&format!("{}/{name}", target.name)) {
                let path = corpus_dir(target.name).join(&name);
                if bless {
                    fs::remove_file(&path).unwrap();
                } else {
                    stale.push(format!("{} (no longer generated)", path.display()));
                }
            }
        }
    }
    assert!(
        stale.is_empty(),
        "seed corpora out of date; run `KEYHOLD_FUZZ_BLESS=1 cargo test --test corpus`:\n{}",
        stale.join("\n")
    );
}

#[test]
fn every_target_has_seeds_and_runs_them_clean() {
    for target in TARGETS {
        let inputs = files(target.name);
        assert!(!inputs.is_empty(), "no seeds for {}", target.name);
        for (name, bytes) in inputs {
            eprintln!("{}/{name}", target.name);
            (target.run)(&bytes);
        }
    }
}

#[test]
fn request_seeds_get_the_answers_their_names_promise() {
    let mut checked = 0;
    let as_frame = |bytes: &[u8]| {
        let request = activity::request(bytes).expect("an activity seed parses");
        postcard::to_allocvec(&RequestFrame {
            id: RequestId(0),
            request,
        })
        .unwrap()
    };
    let requests = files("request").into_iter();
    let activities = files("activity")
        .into_iter()
        .map(|(name, bytes)| (format!("activity/{name}"), as_frame(&bytes)));
    for (name, bytes) in requests.chain(activities) {
        let Some(success) = seeds::expects_success(name.trim_start_matches("activity/")) else {
            continue;
        };
        let answers = request::answers(&bytes);
        assert!(!answers.is_empty(), "{name} does not decode");
        for answer in answers {
            let shown = match &answer {
                Ok(_) => "Ok(..)".to_owned(),
                Err(e) => format!("{e:?}"),
            };
            assert_eq!(answer.is_ok(), success, "{name}: {shown}");
        }
        checked += 1;
    }
    assert!(checked >= 40, "only {checked} request seeds checked");
}

#[test]
fn attestation_seeds_verify() {
    let seeds = files("attestation");
    assert!(!seeds.is_empty());
    for (name, bytes) in seeds.iter().filter(|(name, _)| name.starts_with("gen-")) {
        assert!(
            keyhold_fuzz::attestation::check(bytes),
            "{name} does not verify"
        );
    }
}
