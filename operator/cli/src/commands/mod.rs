pub mod bundle_create;
pub mod crd;
pub mod doctor;
pub mod inspect;
pub mod keys;
pub mod registry;
pub mod replay;
pub mod run;
pub mod score;
pub mod tuf;
pub mod verify;
pub mod verify_image;
pub mod verify_sigstore;
pub mod views;

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
        Command::Score(args) => score::run(&args).map(|_| crate::EXIT_VERIFIED),
        Command::Replay(args) => replay::run(&args),
        Command::Keys(KeysCommand::Generate(args)) => {
            keys::run(&args).map(|_| crate::EXIT_VERIFIED)
        }
        Command::Crd(args) => crd::run(&args).map(|_| crate::EXIT_VERIFIED),
        Command::Run(args) => run::run(*args).map(|_| crate::EXIT_VERIFIED),
        Command::Doctor(args) => doctor::run(&args),
        Command::TrustAnchors(command) => views::trust_anchors(&command),
        Command::Verifications(command) => views::verifications(&command),
        Command::Push(args) => registry::push(&args),
        Command::Pull(args) => registry::pull(&args),
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
