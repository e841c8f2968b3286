//! `make bench`: peak RSS and wall time of reading and verifying each
//! hostile bundle of `tests/common/hostile.rs` at full size, and of the
//! largest valid ledger, each in a fresh child process (so one case's heap
//! does not count for the next). The budget is 64 MiB and 1 s per case on
//! the CLI; these figures are for reading, never for failing a build (the
//! allocated-bytes bound is enforced by `tests/hostile_memory.rs`).

use std::process::Command;
use std::time::Instant;

use attestor_core::verify::verify_zip;
use attestor_core::zip::ZipLimits;

#[path = "../tests/common/hostile.rs"]
mod hostile;

const CHILD: &str = "ATTESTOR_HOSTILE_CASE_FILE";

/// Peak resident set size of this process so far, in KiB.
fn vm_hwm_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .unwrap_or(0)
}

/// In the child: read the bundle file, verify it as the CLI does, print figures.
fn child(path: &str) {
    let start = Instant::now();
    let bytes = std::fs::read(path).unwrap();
    let outcome = match verify_zip(
        &bytes,
        &ZipLimits::default(),
        &hostile::trust(),
        &hostile::opts(),
    ) {
        Err(_) => "unreadable",
        Ok(r) => {
            if r.verified {
                "verified"
            } else {
                "fails"
            }
        }
    };
    let elapsed = start.elapsed();
    println!("{} {:.3} {outcome}", vm_hwm_kib(), elapsed.as_secs_f64());
}

fn main() {
    if let Ok(path) = std::env::var(CHILD) {
        return child(&path);
    }
    let dir = std::env::temp_dir().join(format!("attestor-hostile-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let baseline = {
        let path = dir.join("baseline.zip");
        std::fs::write(&path, hostile::valid_bundle(3)).unwrap();
        path
    };
    let run = |path: &std::path::Path| -> String {
        let out = Command::new(std::env::current_exe().unwrap())
            .env(CHILD, path)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    };
    println!(
        "{:<62} {:>9} {:>10} {:>7}  outcome",
        "case", "archive", "peak RSS", "time"
    );
    let print = |name: &str, zip: Vec<u8>| {
        let path = dir.join("case.zip");
        std::fs::write(&path, &zip).unwrap();
        let figures = run(&path);
        let mut f = figures.split_whitespace();
        let (rss, time, outcome) = (
            f.next().unwrap_or("?"),
            f.next().unwrap_or("?"),
            f.next().unwrap_or("?"),
        );
        let rss_mib = rss.parse::<f64>().map(|k| k / 1024.0).unwrap_or(f64::NAN);
        println!(
            "{name:<62} {:>8.1}M {:>9.1}M {:>6}s  {outcome}",
            zip.len() as f64 / 1048576.0,
            rss_mib,
            time
        );
    };
    print(
        "valid bundle of 3 nodes (baseline)",
        std::fs::read(&baseline).unwrap(),
    );
    for name in hostile::CASES {
        print(name, hostile::case(name, 1).0);
    }
    let nodes = hostile::VALID_LEDGER_NODES;
    print(
        &format!("valid signed ledger of {nodes} nodes (pretty-printed)"),
        hostile::valid_bundle(nodes),
    );
    let _ = std::fs::remove_dir_all(&dir);
}
