//! Memory bound of reading and verifying hostile bundles, in allocated bytes.
//!
//! A counting global allocator records the peak of live heap bytes while
//! each case of `common/hostile.rs` is read and verified as `attestor
//! verify` does it (`verify_zip`), trusting its signer and trusting no
//! key (then the ledger must not be read at all); the archive being
//! verified counts too (the CLI holds it in memory). The bound is in bytes,
//! not time, so it holds on a loaded machine and in a debug build: a change
//! that parses an entry into a tree, copies a large value or holds the
//! ledger text fails it. The RSS and time figures of the same cases, built
//! for release, are `cargo bench -p attestor-core --bench hostile`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use attestor_core::bundle::MAX_NODES;
use attestor_core::trust::TrustStore;
use attestor_core::verify::{CheckName, verify_zip};
use attestor_core::zip::ZipLimits;

#[path = "common/hostile.rs"]
mod hostile;
use hostile::{CASES, Expect};

struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = LIVE.fetch_add(layout.size(), Relaxed) + layout.size();
            PEAK.fetch_max(now, Relaxed);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        LIVE.fetch_sub(layout.size(), Relaxed);
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            if new_size >= layout.size() {
                let now =
                    LIVE.fetch_add(new_size - layout.size(), Relaxed) + new_size - layout.size();
                PEAK.fetch_max(now, Relaxed);
            } else {
                LIVE.fetch_sub(layout.size() - new_size, Relaxed);
            }
        }
        p
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

/// The bound on heap bytes for reading and verifying any case, archive
/// included: the 64 MiB RSS budget of the CLI less room for the program,
/// its stack and allocator slack.
const BOUND: usize = 48 * 1024 * 1024;

/// The bound on heap bytes beyond the archive for a bundle no trusted key
/// signed, whatever its ledger: only the small entries are read. (The
/// cases that are hostile in those entries are bounded by [`BOUND`].)
const UNSIGNED_BOUND: usize = 512 * 1024;

/// Peak heap bytes, archive included, of reading and verifying `zip` as
/// `attestor verify` does, trusting `trust`.
fn measure(zip: &[u8], trust: &TrustStore) -> (usize, Expect, String) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let outcome = match verify_zip(zip, &ZipLimits::default(), trust, &hostile::opts()) {
        Err(e) => (Expect::Unreadable, e.to_string()),
        Ok(r) => {
            let e = if r.verified {
                Expect::Verified
            } else {
                Expect::Fails
            };
            let ledger = r.check(CheckName::MerklePathValid).unwrap();
            (
                e,
                format!("{} [merklePathValid {}]", r.message, ledger.reason),
            )
        }
    };
    let peak = PEAK.load(Relaxed) - before + zip.len();
    (peak, outcome.0, outcome.1)
}

// One test, so no other test allocates while a case is measured.
#[test]
fn hostile_bundles_stay_within_the_heap_bound_and_a_near_limit_ledger_verifies() {
    // Cases that are large only to take time run at an eighth of their size
    // in this debug build; the bench runs them whole.
    let scale = 8;
    let untrusted = TrustStore::new(vec![]);
    for name in CASES {
        let (zip, expect) = hostile::case(name, scale);
        let (peak, got, message) = measure(&zip, &hostile::trust());
        eprintln!("{name}: {} KiB peak, {got:?}: {message}", peak / 1024);
        assert_eq!(got, expect, "{name}: {message}");
        assert!(
            peak < BOUND,
            "{name}: {peak} bytes at the peak, more than {BOUND}"
        );

        // Signed by no trusted key: a hostile ledger is never read, so it
        // costs nothing beyond the archive and the small entries.
        let (peak, got, message) = measure(&zip, &untrusted);
        let beyond = peak - zip.len();
        eprintln!(
            "{name}, untrusted: {} KiB beyond the archive, {got:?}: {message}",
            beyond / 1024
        );
        assert_ne!(got, Expect::Verified, "{name}: {message}");
        if name.starts_with("score_proof.json") || name.starts_with("declared size") {
            assert_eq!(got, Expect::Fails, "{name}: {message}");
            assert!(message.contains("NotAuthenticated"), "{name}: {message}");
            assert!(
                beyond < UNSIGNED_BOUND,
                "{name}, untrusted: {beyond} bytes beyond the archive at the peak, more than {UNSIGNED_BOUND}"
            );
        }
    }

    // A validly signed ledger as large as the entry limit allows verifies,
    // within the bound.
    let nodes = hostile::VALID_LEDGER_NODES;
    assert!(nodes <= MAX_NODES);
    let zip = hostile::valid_bundle(nodes);
    let (peak, got, message) = measure(&zip, &hostile::trust());
    eprintln!(
        "valid ledger of {nodes} nodes: {} KiB peak: {message}",
        peak / 1024
    );
    assert_eq!(got, Expect::Verified, "{message}");
    assert!(peak < BOUND, "valid ledger: {peak} bytes at the peak");
    let (peak, got, message) = measure(&zip, &untrusted);
    let beyond = peak - zip.len();
    eprintln!(
        "valid ledger of {nodes} nodes, untrusted: {} KiB beyond the archive: {message}",
        beyond / 1024
    );
    assert_eq!(got, Expect::Fails, "{message}");
    assert!(
        beyond < UNSIGNED_BOUND,
        "valid ledger, untrusted: {beyond} bytes beyond the archive"
    );
}
