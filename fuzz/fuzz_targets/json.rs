//! The JSON rewriter (`.tf.json`), both strategies, every property.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tflock::fuzzing::fuzz_file("main.tf.json", data));
