pub mod bundle_create;
pub mod crd;
pub mod inspect;
pub mod keys;
pub mod run;
pub mod verify;

use crate::CliError;
use crate::cli::{BundleCommand, Cli, Command, KeysCommand};

/// Runs a command; `Ok` carries the exit code.
pub fn dispatch(cli: Cli) -> Result<u8, CliError> {
    match cli.command {
        Command::Verify(args) => verify::run(&args),
        Command::Inspect(args) => inspect::run(&args),
        Command::Bundle(BundleCommand::Create(args)) => {
            bundle_create::run(&args).map(|_| crate::EXIT_VERIFIED)
        }
        Command::Keys(KeysCommand::Generate(args)) => {
            keys::run(&args).map(|_| crate::EXIT_VERIFIED)
        }
        Command::Crd(args) => crd::run(&args).map(|_| crate::EXIT_VERIFIED),
        Command::Run(args) => run::run(*args).map(|_| crate::EXIT_VERIFIED),
    }
}

/// Parses an RFC 3339 time given on the command line.
pub fn parse_time(flag: &str, text: &str) -> Result<jiff::Timestamp, CliError> {
    text.parse().map_err(|e| {
        CliError::Usage(format!(
            "{flag} {text:?} is not an RFC 3339 time such as 2026-11-23T10:00:00Z: {e}"
        ))
    })
}
