//! Memory bound of reading and verifying hostile bundles, in allocated bytes.
//!
//! A counting global allocator records the peak of live heap bytes while
//! each case of `common/hostile.rs` is read and verified; the archive being
//! verified counts too (the CLI holds it in memory). The bound is in bytes,
//! not time, so it holds on a loaded machine and in a debug build: a change
//! that parses an entry into a tree, copies a large value or holds the
//! ledger text fails it. The RSS and time figures of the same cases, built
//! for release, are `cargo bench -p attestor-core --bench hostile`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

use attestor_core::bundle::{Bundle, MAX_NODES};
use attestor_core::verify::verify_bundle;
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

/// Peak heap bytes, archive included, of reading and verifying `zip`.
fn measure(zip: &[u8]) -> (usize, Expect, String) {
    let before = LIVE.load(Relaxed);
    PEAK.store(before, Relaxed);
    let outcome = match Bundle::from_zip(zip, &ZipLimits::default()) {
        Err(e) => (Expect::Unreadable, e.to_string()),
        Ok(b) => {
            let r = verify_bundle(&b, &hostile::trust(), &hostile::opts());
            let e = if r.verified {
                Expect::Verified
            } else {
                Expect::Fails
            };
            (e, r.message)
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
    for name in CASES {
        let (zip, expect) = hostile::case(name, scale);
        let (peak, got, message) = measure(&zip);
        eprintln!("{name}: {} KiB peak, {got:?}: {message}", peak / 1024);
        assert_eq!(got, expect, "{name}: {message}");
        assert!(
            peak < BOUND,
            "{name}: {peak} bytes at the peak, more than {BOUND}"
        );
    }

    // A validly signed ledger as large as the entry limit allows verifies,
    // within the bound.
    let nodes = hostile::VALID_LEDGER_NODES;
    assert!(nodes <= MAX_NODES);
    let zip = hostile::valid_bundle(nodes);
    let (peak, got, message) = measure(&zip);
    eprintln!(
        "valid ledger of {nodes} nodes: {} KiB peak: {message}",
        peak / 1024
    );
    assert_eq!(got, Expect::Verified, "{message}");
    assert!(peak < BOUND, "valid ledger: {peak} bytes at the peak");
}
