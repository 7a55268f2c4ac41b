//! Heredocs: the input is the `contents` heredoc of a Terragrunt `generate`
//! block beside a `remote_state` to migrate.
#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    tflock::fuzzing::fuzz_file("terragrunt.hcl", &tflock::fuzzing::heredoc_unit(data));
});
