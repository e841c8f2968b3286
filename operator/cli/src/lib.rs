//! The `attestor` command: offline verification, bundle tooling and (later) the operator.

pub mod anchors;
pub mod cli;
pub mod commands;
pub mod error;
pub mod render;

use std::process::ExitCode;

pub use error::CliError;

/// Exit codes: 0 verified (or success), 1 verification failed, 2 bad usage or unreadable input.
pub const EXIT_VERIFIED: u8 = 0;
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_USAGE: u8 = 2;

/// Runs a parsed command line and maps its outcome to the documented exit codes.
pub fn run(cli: cli::Cli) -> ExitCode {
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(EXIT_USAGE)
        }
    }
}
