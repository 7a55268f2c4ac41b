//! The resolve stage's expression evaluator over a Terragrunt unit (input up to
//! its first NUL byte) and its `root.hcl` (the rest): deterministic, consistent.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tflock::fuzzing::fuzz_evaluator(data));
