//! The Terragrunt rewriter (`remote_state` of a `terragrunt.hcl`), both strategies.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| tflock::fuzzing::fuzz_file("terragrunt.hcl", data));
