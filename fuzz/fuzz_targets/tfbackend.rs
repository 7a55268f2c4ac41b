//! The partial-configuration rewriter (`.tfbackend`), both strategies.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tflock::fuzzing::fuzz_file("s3.tfbackend", data));
