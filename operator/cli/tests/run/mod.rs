//! Running the `attestor` binary from the repository root, as a user would.

#![allow(dead_code)] // each test binary uses a different part

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .unwrap()
}

pub fn attestor(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_attestor"))
        .args(args)
        .current_dir(repo())
        .output()
        .unwrap()
}

pub fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally, not by a signal")
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
