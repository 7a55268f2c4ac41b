//! The HCL rewriter (`.tf`), both strategies, every property of
//! `tflock::fuzzing::check_input`.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tflock::fuzzing::fuzz_file("main.tf", data));
