use std::process::ExitCode;

use clap::Parser as _;

fn main() -> ExitCode {
    let cli = attestor::cli::Cli::parse();
    attestor::run(cli)
}
