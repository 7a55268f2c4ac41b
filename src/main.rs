//! The `tflock` binary: parse flags, run the command, map the outcome to an exit code.

mod cli;

use clap::Parser;
use std::process::ExitCode;
use tflock::commands::Exit;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let args = match cli::args::Cli::try_parse() {
        Ok(args) => args,
        Err(e) => return usage_error(&e),
    };
    match cli::run(args) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(e) => {
            eprintln!("Error: {e:#}");
            ExitCode::from(Exit::Failed.code())
        }
    }
}

/// Clap exits 2 on a usage error, but 2 means "changes planned" under
/// `--detailed-exitcode`, so a typo in a CI job would read as a pending
/// migration. A usage error is an error (1); `--help` and `--version` succeed.
fn usage_error(e: &clap::Error) -> ExitCode {
    // Printing fails only when stdout/stderr is closed; the exit code still tells.
    let _ = e.print();
    if e.use_stderr() {
        ExitCode::from(Exit::Failed.code())
    } else {
        ExitCode::from(Exit::Ok.code())
    }
}
