#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhold_fuzz::chains::abi(data));
