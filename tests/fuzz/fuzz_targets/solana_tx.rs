#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| keyhold_fuzz::chains::solana_tx(data));
