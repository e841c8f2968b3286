//! Robustness tests for the bundle ZIP reader and writer.
//!
//! Every hostile archive is built in code, either by patching the output of
//! `write_zip` (whose layout the `Layout` helper knows) or with the `Raw`
//! builder below, which writes whatever header values it is given.

use attestor_core::zip::{NameProblem, ZipEntry, ZipError, ZipLimits, read_zip, write_zip};
use flate2::Crc;
use proptest::prelude::*;

// ---------------------------------------------------------------- helpers

fn zip(pairs: &[(&str, &[u8])]) -> Vec<u8> {
    write_zip(pairs.iter().copied()).expect("write_zip")
}

fn read(archive: &[u8]) -> Result<Vec<ZipEntry>, ZipError> {
    read_zip(archive, &ZipLimits::default())
}

fn entries(pairs: &[(&str, &[u8])]) -> Vec<ZipEntry> {
    pairs
        .iter()
        .map(|(name, data)| ZipEntry {
            name: (*name).to_owned(),
            data: data.to_vec(),
        })
        .collect()
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(data);
    crc.sum()
}

fn deflate(data: &[u8]) -> Vec<u8> {
    use std::io::Write as _;
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::new(6));
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

fn get16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}
fn get32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}
fn set16(b: &mut [u8], at: usize, v: u16) {
    b[at..at + 2].copy_from_slice(&v.to_le_bytes());
}
fn set32(b: &mut [u8], at: usize, v: u32) {
    b[at..at + 4].copy_from_slice(&v.to_le_bytes());
}

/// Offsets of the headers in an archive without comments, as `write_zip`
/// produces them.
struct Layout {
    /// Local header offsets, central-directory order.
    locals: Vec<usize>,
    /// Central record offsets.
    centrals: Vec<usize>,
    eocd: usize,
}

impl Layout {
    fn of(archive: &[u8]) -> Self {
        let eocd = archive.len() - 22;
        assert_eq!(get32(archive, eocd), 0x0605_4b50);
        let count = get16(archive, eocd + 10) as usize;
        let mut pos = get32(archive, eocd + 16) as usize;
        let (mut locals, mut centrals) = (vec![], vec![]);
        for _ in 0..count {
            assert_eq!(get32(archive, pos), 0x0201_4b50);
            centrals.push(pos);
            locals.push(get32(archive, pos + 42) as usize);
            pos += 46
                + get16(archive, pos + 28) as usize
                + get16(archive, pos + 30) as usize
                + get16(archive, pos + 32) as usize;
        }
        Self {
            locals,
            centrals,
            eocd,
        }
    }

    /// Applies `patch(archive, header_offset)` to the local and the central
    /// header of entry `i`, for fields at the same place relative to the
    /// shared run (flags at local+6 / central+8, and so on).
    fn both(&self, archive: &mut [u8], i: usize, local_at: usize, f: impl Fn(&mut [u8], usize)) {
        f(archive, self.locals[i] + local_at);
        f(archive, self.centrals[i] + local_at + 2);
    }
}

// Field offsets in the local header; central = local + 2 for these.
const FLAGS: usize = 6;
const METHOD: usize = 8;
const CRC: usize = 14;
const COMPRESSED: usize = 18;
const UNCOMPRESSED: usize = 22;
const NAME: usize = 30;
const CENTRAL_NAME: usize = 46;

/// Writes archives with arbitrary header values, for what `write_zip`
/// refuses to produce.
#[derive(Default)]
struct Raw {
    body: Vec<u8>,
    central: Vec<u8>,
    count: u16,
}

#[derive(Clone)]
struct Header<'a> {
    name: &'a [u8],
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    uncompressed: u32,
    extra: &'a [u8],
}

impl<'a> Header<'a> {
    /// A stored entry whose headers tell the truth.
    fn stored(name: &'a str, data: &[u8]) -> Self {
        Self {
            name: name.as_bytes(),
            flags: 0,
            method: 0,
            crc: crc32(data),
            compressed: data.len() as u32,
            uncompressed: data.len() as u32,
            extra: b"",
        }
    }

    /// A deflated entry whose headers tell the truth; returns the payload.
    fn deflated(name: &'a str, data: &[u8]) -> (Self, Vec<u8>) {
        let payload = deflate(data);
        let header = Self {
            method: 8,
            compressed: payload.len() as u32,
            ..Self::stored(name, data)
        };
        (header, payload)
    }
}

impl Raw {
    /// Appends a local header and payload; returns its offset.
    fn local(&mut self, h: &Header<'_>, payload: &[u8]) -> u32 {
        let offset = self.body.len() as u32;
        let b = &mut self.body;
        b.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        b.extend_from_slice(&20u16.to_le_bytes());
        Self::common(b, h);
        b.extend_from_slice(h.name);
        b.extend_from_slice(h.extra);
        b.extend_from_slice(payload);
        offset
    }

    fn central(&mut self, h: &Header<'_>, offset: u32) {
        let c = &mut self.central;
        c.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        c.extend_from_slice(&20u16.to_le_bytes());
        c.extend_from_slice(&20u16.to_le_bytes());
        Self::common(c, h);
        c.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
        c.extend_from_slice(&0u32.to_le_bytes()); // external attributes
        c.extend_from_slice(&offset.to_le_bytes());
        c.extend_from_slice(h.name);
        c.extend_from_slice(h.extra);
        self.count += 1;
    }

    fn entry(&mut self, h: &Header<'_>, payload: &[u8]) {
        let offset = self.local(h, payload);
        self.central(h, offset);
    }

    fn common(b: &mut Vec<u8>, h: &Header<'_>) {
        b.extend_from_slice(&h.flags.to_le_bytes());
        b.extend_from_slice(&h.method.to_le_bytes());
        b.extend_from_slice(&[0; 4]); // time, date
        b.extend_from_slice(&h.crc.to_le_bytes());
        b.extend_from_slice(&h.compressed.to_le_bytes());
        b.extend_from_slice(&h.uncompressed.to_le_bytes());
        b.extend_from_slice(&(h.name.len() as u16).to_le_bytes());
        b.extend_from_slice(&(h.extra.len() as u16).to_le_bytes());
    }

    fn finish(self) -> Vec<u8> {
        let mut out = self.body;
        let cd_offset = out.len() as u32;
        out.extend_from_slice(&self.central);
        out.extend_from_slice(&eocd(self.count, self.central.len() as u32, cd_offset, 0));
        out
    }
}

fn eocd(count: u16, cd_size: u32, cd_offset: u32, comment_len: u16) -> Vec<u8> {
    let mut e = 0x0605_4b50u32.to_le_bytes().to_vec();
    e.extend_from_slice(&[0; 4]);
    e.extend_from_slice(&count.to_le_bytes());
    e.extend_from_slice(&count.to_le_bytes());
    e.extend_from_slice(&cd_size.to_le_bytes());
    e.extend_from_slice(&cd_offset.to_le_bytes());
    e.extend_from_slice(&comment_len.to_le_bytes());
    e
}

/// A valid archive with a deflated, a stored (incompressible) and an empty
/// entry, the base for most patches.
fn three_entries() -> Vec<u8> {
    zip(&[
        ("manifest.json", &b"{\"a\":1}".repeat(50)),
        ("blobs/random.bin", &pseudo_random(300, 7)),
        ("empty", b""),
    ])
}

fn pseudo_random(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

fn limits(max_entries: usize, max_entry_size: u64, max_total_size: u64) -> ZipLimits {
    ZipLimits {
        max_entries,
        max_entry_size,
        max_total_size,
    }
}

// ------------------------------------------------------------- round trip

#[test]
fn round_trip_keeps_names_data_and_order() {
    let compressible = b"attestation ".repeat(1000);
    let binary: Vec<u8> = (0..=255u8).cycle().take(5000).collect();
    let random = pseudo_random(4096, 1);
    let pairs: &[(&str, &[u8])] = &[
        ("z-last-alphabetically.json", b"{}"),
        ("empty", b""),
        ("a/b/c/deep.txt", &compressible),
        ("binary.bin", &binary),
        ("random.bin", &random),
        ("sha256:0123abcd", b"digest-named blob"),
        ("notes/ünïcødé ☃.txt", "grüße".as_bytes()),
    ];
    let archive = zip(pairs);
    assert_eq!(read(&archive).unwrap(), entries(pairs));
}

#[test]
fn round_trip_empty_archive() {
    let archive = write_zip([]).unwrap();
    assert_eq!(archive.len(), 22);
    assert_eq!(read(&archive).unwrap(), vec![]);
}

#[test]
fn round_trip_64_entries_at_the_default_limit() {
    let owned: Vec<(String, Vec<u8>)> = (0..64)
        .map(|i| {
            (
                format!("entries/{i:02}.json"),
                format!("{{\"i\":{i}}}").repeat(i).into_bytes(),
            )
        })
        .collect();
    let pairs: Vec<(&str, &[u8])> = owned
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice()))
        .collect();
    let archive = zip(&pairs);
    assert_eq!(read(&archive).unwrap(), entries(&pairs));
}

#[test]
fn writing_twice_gives_identical_bytes() {
    let a = three_entries();
    let b = three_entries();
    assert_eq!(a, b);
    // And the bytes do depend on the input: order is kept, not normalised.
    let swapped = zip(&[("empty", b""), ("manifest.json", b"{}")]);
    let straight = zip(&[("manifest.json", b"{}"), ("empty", b"")]);
    assert_ne!(swapped, straight);
}

#[test]
fn writer_stores_what_deflate_does_not_shrink() {
    let archive = three_entries();
    let layout = Layout::of(&archive);
    let methods: Vec<u16> = layout
        .locals
        .iter()
        .map(|&at| get16(&archive, at + METHOD))
        .collect();
    assert_eq!(methods, [8, 0, 0]);
    // Stored entries are stored verbatim.
    let random = pseudo_random(300, 7);
    let at = layout.locals[1] + NAME + "blobs/random.bin".len();
    assert_eq!(&archive[at..at + 300], random.as_slice());
}

#[test]
fn writer_fixes_every_environment_dependent_field() {
    let archive = three_entries();
    let layout = Layout::of(&archive);
    for (&local, &central) in layout.locals.iter().zip(&layout.centrals) {
        assert_eq!(get16(&archive, local + 4), 20, "version needed");
        assert_eq!(get16(&archive, local + FLAGS), 0x0800, "flags: UTF-8 only");
        assert_eq!(
            get32(&archive, local + 10),
            0x0021_0000,
            "1980-01-01 00:00:00"
        );
        assert_eq!(get16(&archive, local + 28), 0, "local extra length");
        assert_eq!(get16(&archive, central + 4), 0x0314, "made by");
        assert_eq!(get16(&archive, central + 6), 20, "version needed");
        assert_eq!(get16(&archive, central + 8), 0x0800);
        assert_eq!(get32(&archive, central + 12), 0x0021_0000);
        assert_eq!(get16(&archive, central + 30), 0, "central extra length");
        assert_eq!(get16(&archive, central + 32), 0, "comment length");
        assert_eq!(get32(&archive, central + 38), 0o100_644 << 16);
    }
    assert_eq!(get16(&archive, layout.eocd + 20), 0, "archive comment");
}

#[test]
fn writer_refuses_unsafe_names_and_duplicates() {
    for (name, problem) in [
        ("../x", NameProblem::DotComponent),
        ("/etc/passwd", NameProblem::Absolute),
        ("a\\b", NameProblem::Backslash),
        ("dir/", NameProblem::Directory),
        ("", NameProblem::Empty),
    ] {
        assert_eq!(
            write_zip([(name, &b"x"[..])]),
            Err(ZipError::UnsafeName {
                name: name.into(),
                problem
            })
        );
    }
    assert_eq!(
        write_zip([("a", &b"1"[..]), ("b", b"2"), ("a", b"3")]),
        Err(ZipError::DuplicateName { name: "a".into() })
    );
}

#[test]
fn writer_refuses_more_entries_than_zip32_can_count() {
    let names: Vec<String> = (0..65_535).map(|i| format!("{i}")).collect();
    let ok = write_zip(names[..65_534].iter().map(|n| (n.as_str(), &b""[..]))).unwrap();
    let lots = limits(65_534, 0, 0);
    assert_eq!(read_zip(&ok, &lots).unwrap().len(), 65_534);
    assert!(matches!(
        write_zip(names.iter().map(|n| (n.as_str(), &b""[..]))),
        Err(ZipError::TooLargeForZip32 { .. })
    ));
}

// ------------------------------------------------------- interoperability

fn fixture(name: &str) -> Vec<u8> {
    let path = format!("{}/tests/fixtures/zip/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[test]
fn reads_python_deflated_fixture() {
    let manifest = b"{\"kind\":\"ProofBundle\",\"version\":1}\n".repeat(20);
    let binary: Vec<u8> = (0..=255u8).cycle().take(1024).collect();
    assert_eq!(
        read(&fixture("python_deflated.zip")).unwrap(),
        entries(&[
            ("manifest.json", &manifest),
            ("blobs/binary.bin", &binary),
            ("empty.txt", b""),
            ("notes/ünïcødé.txt", "grüße\n".as_bytes()),
        ])
    );
}

#[test]
fn reads_python_stored_fixture_with_data_descriptors() {
    let archive = fixture("python_stored_descriptor.zip");
    // The fixture really exercises descriptors: flag bit 3, zero local sizes.
    let layout = Layout::of(&archive);
    assert_eq!(get16(&archive, layout.locals[0] + FLAGS) & 8, 8);
    assert_eq!(get32(&archive, layout.locals[0] + COMPRESSED), 0);
    let binary: Vec<u8> = (0..=255u8).collect();
    assert_eq!(
        read(&archive).unwrap(),
        entries(&[("a.txt", b"hello\n"), ("b/c.bin", &binary)])
    );
}

#[test]
fn reads_infozip_fixtures_with_extra_fields_and_descriptors() {
    let binary: Vec<u8> = (0..=255u8).cycle().take(2048).collect();
    let expected = entries(&[
        ("hello.txt", b"hello from info-zip\n"),
        ("sub/data.bin", &binary),
    ]);
    let extras = fixture("infozip_extras.zip");
    let layout = Layout::of(&extras);
    // Local and central extra fields differ in length: the data offset must
    // come from the local header.
    assert_ne!(
        get16(&extras, layout.locals[0] + 28),
        get16(&extras, layout.centrals[0] + 30)
    );
    assert_eq!(read(&extras).unwrap(), expected);
    assert_eq!(read(&fixture("infozip_stream.zip")).unwrap(), expected);
}

#[test]
fn reads_archive_with_comment() {
    let mut archive = three_entries();
    let comment = b"made by a tool that likes comments";
    let eocd = archive.len() - 22;
    set16(&mut archive, eocd + 20, comment.len() as u16);
    archive.extend_from_slice(comment);
    assert_eq!(read(&archive).unwrap(), read(&three_entries()).unwrap());
}

// ------------------------------------------------------- archive framing

#[test]
fn refuses_what_is_not_a_zip() {
    let random = pseudo_random(100_000, 3);
    for bytes in [&b""[..], b"hello", &[0; 22], b"PK\x03\x04", &random] {
        assert_eq!(read(bytes), Err(ZipError::NotZip));
    }
    assert_eq!(
        ZipError::NotZip.to_string(),
        "not a ZIP archive: no end-of-central-directory record found"
    );
}

#[test]
fn every_prefix_of_a_valid_archive_is_refused() {
    let archive = three_entries();
    assert!(read(&archive).is_ok());
    for len in 0..archive.len() {
        assert!(read(&archive[..len]).is_err(), "prefix of {len} bytes");
    }
}

#[test]
fn refuses_trailing_data() {
    let mut archive = three_entries();
    let eocd = archive.len() - 22;
    archive.push(0);
    assert_eq!(
        read(&archive),
        Err(ZipError::EndRecordMismatch {
            offset: eocd as u64,
            declared: 0,
            actual: 1
        })
    );
}

#[test]
fn refuses_prepended_data() {
    let original = three_entries();
    let mut archive = b"#!/bin/sh\nexit 0\n".to_vec();
    archive.extend_from_slice(&original);
    assert!(matches!(
        read(&archive),
        Err(ZipError::CentralDirectoryMisplaced { .. })
    ));
}

#[test]
fn refuses_a_second_end_record_hidden_in_the_comment() {
    let mut archive = three_entries();
    let real = archive.len() - 22;
    let fake = archive[real..].to_vec();
    set16(&mut archive, real + 20, 22);
    archive.extend_from_slice(&fake);
    assert_eq!(
        read(&archive),
        Err(ZipError::AmbiguousEndRecord {
            first: real as u64,
            second: real as u64 + 22
        })
    );
}

#[test]
fn refuses_central_directory_outside_the_archive() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    let cd_size = get32(&archive, layout.eocd + 12) as u64;
    let cd_offset = get32(&archive, layout.eocd + 16) as u64 + 1000;
    set32(&mut archive, layout.eocd + 16, cd_offset as u32);
    let err = read(&archive).unwrap_err();
    assert_eq!(
        err,
        ZipError::Truncated {
            what: "the central directory".into(),
            start: cd_offset,
            end: cd_offset + cd_size,
            len: archive.len() as u64,
        }
    );
    assert_eq!(
        err.to_string(),
        format!(
            "archive is truncated: the central directory needs bytes {cd_offset}..{} \
             but the file has {} bytes",
            cd_offset + cd_size,
            archive.len()
        )
    );
}

#[test]
fn refuses_entry_count_that_disagrees_with_the_central_directory() {
    for declared in [2u16, 4] {
        let mut archive = three_entries();
        let eocd = archive.len() - 22;
        set16(&mut archive, eocd + 8, declared);
        set16(&mut archive, eocd + 10, declared);
        assert_eq!(
            read(&archive),
            Err(ZipError::EntryCountMismatch {
                declared: declared.into(),
                found: 3
            })
        );
    }
}

#[test]
fn refuses_corrupt_central_records() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    archive[layout.centrals[1]] = b'X';
    assert_eq!(
        read(&archive),
        Err(ZipError::BadCentralSignature {
            offset: layout.centrals[1] as u64
        })
    );

    let mut archive = three_entries();
    set16(&mut archive, layout.centrals[2] + 32, 500); // comment length
    assert!(matches!(
        read(&archive),
        Err(ZipError::CentralRecordOverrun { offset, .. }) if offset == layout.centrals[2] as u64
    ));
}

#[test]
fn refuses_multi_disk_archives() {
    let mut archive = three_entries();
    let eocd = archive.len() - 22;
    set16(&mut archive, eocd + 4, 1);
    assert!(matches!(read(&archive), Err(ZipError::MultiDisk { .. })));

    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    set16(&mut archive, layout.centrals[0] + 34, 2);
    assert!(matches!(read(&archive), Err(ZipError::MultiDisk { .. })));
}

#[test]
fn refuses_zip64_markers() {
    let is_zip64 = |r: Result<Vec<ZipEntry>, ZipError>| {
        let err = r.unwrap_err();
        assert!(matches!(err, ZipError::Zip64 { .. }), "{err:?}");
        assert!(
            err.to_string()
                .starts_with("ZIP64 archives are not supported"),
            "{err}"
        );
    };
    // Placeholder counts in the end record.
    let mut archive = three_entries();
    let eocd = archive.len() - 22;
    set16(&mut archive, eocd + 8, 0xFFFF);
    set16(&mut archive, eocd + 10, 0xFFFF);
    is_zip64(read(&archive));

    // A ZIP64 locator right before the end record.
    let mut archive = three_entries();
    let eocd = archive.len() - 22;
    let mut locator = 0x0706_4b50u32.to_le_bytes().to_vec();
    locator.resize(20, 0);
    archive.splice(eocd..eocd, locator);
    is_zip64(read(&archive));

    // Placeholder sizes in a central record.
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    set32(&mut archive, layout.centrals[0] + COMPRESSED + 2, u32::MAX);
    set32(
        &mut archive,
        layout.centrals[0] + UNCOMPRESSED + 2,
        u32::MAX,
    );
    is_zip64(read(&archive));

    // A ZIP64 extra field, with sizes that would otherwise be fine.
    let zip64_extra = [1, 0, 16, 0, 5, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0];
    let mut raw = Raw::default();
    raw.entry(
        &Header {
            extra: &zip64_extra,
            ..Header::stored("a", b"hello")
        },
        b"hello",
    );
    is_zip64(read(&raw.finish()));
}

#[test]
fn refuses_too_many_entries_before_reading_them() {
    let owned: Vec<String> = (0..65).map(|i| format!("{i}")).collect();
    let archive = write_zip(owned.iter().map(|n| (n.as_str(), &b"x"[..]))).unwrap();
    assert_eq!(
        read(&archive),
        Err(ZipError::TooManyEntries {
            count: 65,
            limit: 64
        })
    );
    // The count is checked first: even a central directory that is garbage
    // is not looked at.
    let archive = eocd(10, 0, 0, 0);
    assert_eq!(
        read_zip(&archive, &limits(9, 100, 100)),
        Err(ZipError::TooManyEntries {
            count: 10,
            limit: 9
        })
    );
}

// ------------------------------------------------------------------ names

/// An archive with one entry called `name`, built by writing a safe name of
/// the same length and patching both headers.
fn with_name(name: &[u8]) -> Vec<u8> {
    let placeholder = "x".repeat(name.len());
    let mut archive = zip(&[("ok.txt", b"fine"), (&placeholder, b"data")]);
    let layout = Layout::of(&archive);
    let local = layout.locals[1] + NAME;
    let central = layout.centrals[1] + CENTRAL_NAME;
    archive[local..local + name.len()].copy_from_slice(name);
    archive[central..central + name.len()].copy_from_slice(name);
    archive
}

#[test]
fn refuses_path_traversal_and_other_unsafe_names() {
    use NameProblem::*;
    for (name, problem) in [
        ("../x", DotComponent),
        ("/etc/passwd", Absolute),
        ("a/../../b", DotComponent),
        ("C:evil", Absolute),
        ("a\\b", Backslash),
        ("\\\\server\\share", Absolute),
        ("./x", DotComponent),
        ("a//b", EmptyComponent),
        ("dir/", Directory),
        ("a\0b", ControlCharacter),
        ("bell\x07", ControlCharacter),
    ] {
        let err = read(&with_name(name.as_bytes())).unwrap_err();
        assert_eq!(
            err,
            ZipError::UnsafeName {
                name: name.into(),
                problem
            },
            "{name:?}"
        );
        assert!(err.to_string().contains(&format!("{name:?}")), "{err}");
    }
}

#[test]
fn refuses_empty_name() {
    let mut raw = Raw::default();
    raw.entry(&Header::stored("", b"x"), b"x");
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::UnsafeName {
            name: String::new(),
            problem: NameProblem::Empty
        })
    );
}

#[test]
fn refuses_non_utf8_names() {
    assert_eq!(
        read(&with_name(b"caf\xe9.txt")),
        Err(ZipError::NonUtf8Name {
            index: 1,
            lossy: "caf\u{fffd}.txt".into()
        })
    );
}

#[test]
fn refuses_duplicate_names() {
    let mut archive = zip(&[("a.json", b"first"), ("b.json", b"second")]);
    let layout = Layout::of(&archive);
    archive[layout.locals[1] + NAME] = b'a';
    archive[layout.centrals[1] + CENTRAL_NAME] = b'a';
    let err = read(&archive).unwrap_err();
    assert_eq!(
        err,
        ZipError::DuplicateName {
            name: "a.json".into()
        }
    );
    assert_eq!(err.to_string(), "entry \"a.json\" appears more than once");
}

// --------------------------------------------------------- entry headers

#[test]
fn refuses_unsupported_compression_method() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 0, METHOD, |b, at| set16(b, at, 12));
    let err = read(&archive).unwrap_err();
    assert_eq!(
        err,
        ZipError::UnsupportedMethod {
            name: "manifest.json".into(),
            method: 12
        }
    );
    assert_eq!(
        err.to_string(),
        "entry \"manifest.json\" uses compression method 12; \
         only 0 (stored) and 8 (deflate) are supported"
    );
}

#[test]
fn refuses_encrypted_entries() {
    let encrypted = || ZipError::Encrypted {
        name: "blobs/random.bin".into(),
    };
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 1, FLAGS, |b, at| b[at] |= 1);
    assert_eq!(read(&archive), Err(encrypted()));
    // Only the local header says so: still refused.
    let mut archive = three_entries();
    archive[layout.locals[1] + FLAGS] |= 1;
    assert_eq!(read(&archive), Err(encrypted()));
}

#[test]
fn refuses_stored_entry_whose_sizes_differ() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 1, UNCOMPRESSED, |b, at| set32(b, at, 299));
    assert_eq!(
        read(&archive),
        Err(ZipError::StoredSizeMismatch {
            name: "blobs/random.bin".into(),
            compressed: 300,
            uncompressed: 299
        })
    );
}

#[test]
fn refuses_local_name_mismatch() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    archive[layout.locals[0] + NAME] = b'M';
    assert_eq!(
        read(&archive),
        Err(ZipError::LocalNameMismatch {
            name: "manifest.json".into(),
            local_name: "Manifest.json".into()
        })
    );
}

#[test]
fn refuses_local_header_that_disagrees_with_central_directory() {
    let layout = Layout::of(&three_entries());
    let cases: [(usize, &str); 4] = [
        (METHOD, "compression method"),
        (CRC, "CRC-32"),
        (COMPRESSED, "compressed size"),
        (UNCOMPRESSED, "uncompressed size"),
    ];
    for (field_at, field) in cases {
        let mut archive = three_entries();
        archive[layout.locals[0] + field_at] ^= 0x10;
        let err = read(&archive).unwrap_err();
        assert!(
            matches!(&err, ZipError::LocalHeaderMismatch { name, field: f, .. }
                if name == "manifest.json" && *f == field),
            "{field}: {err:?}"
        );
    }
}

#[test]
fn refuses_bad_local_signature_and_out_of_range_local_offset() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    archive[layout.locals[2]] = 0;
    assert_eq!(
        read(&archive),
        Err(ZipError::BadLocalSignature {
            name: "empty".into(),
            offset: layout.locals[2] as u64
        })
    );

    let mut archive = three_entries();
    let len = archive.len() as u64;
    set32(&mut archive, layout.centrals[2] + 42, len as u32 - 10);
    assert!(matches!(
        read(&archive),
        Err(ZipError::Truncated { what, end, .. })
            if what == "the local header of entry \"empty\"" && end == len + 20
    ));
}

#[test]
fn refuses_data_running_past_the_archive_or_into_the_central_directory() {
    // Declared sizes larger than what is there: the data would run into the
    // central directory.
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 1, COMPRESSED, |b, at| set32(b, at, 100_000));
    layout.both(&mut archive, 1, UNCOMPRESSED, |b, at| set32(b, at, 100_000));
    assert!(matches!(
        read(&archive),
        Err(ZipError::Truncated { what, .. }) if what == "the data of entry \"blobs/random.bin\""
    ));

    let mut archive = three_entries();
    layout.both(&mut archive, 2, COMPRESSED, |b, at| set32(b, at, 10));
    layout.both(&mut archive, 2, UNCOMPRESSED, |b, at| set32(b, at, 10));
    assert!(matches!(
        read(&archive),
        Err(ZipError::EntryInCentralDirectory { name, .. }) if name == "empty"
    ));
}

#[test]
fn refuses_overlapping_entries() {
    // The classic overlap bomb: entry "a" is stored and its data *is* the
    // local header and data of entry "b", so the same bytes count twice.
    let inner = b"hello, hello, hello";
    let b = Header::stored("b", inner);
    let mut nested = Raw::default();
    nested.local(&b, inner);
    let a_data = nested.body;

    let mut raw = Raw::default();
    let a = Header::stored("a", &a_data);
    let a_offset = raw.local(&a, &a_data);
    let b_offset = a_offset + 30 + 1;
    raw.central(&a, a_offset);
    raw.central(&b, b_offset);
    let archive = raw.finish();
    let a_end = 31 + a_data.len() as u64;
    assert_eq!(
        read(&archive),
        Err(ZipError::OverlappingEntries {
            first: "a".into(),
            first_start: 0,
            first_end: a_end,
            second: "b".into(),
            second_start: 31,
            second_end: 31 + 31 + inner.len() as u64,
        })
    );
}

#[test]
fn refuses_entries_sharing_one_local_header() {
    // Two central records pointing at one local header: the second name
    // cannot match, so the shared-kernel bomb is refused too.
    let mut raw = Raw::default();
    let (a, payload) = Header::deflated("a", &[0; 10_000]);
    let offset = raw.local(&a, &payload);
    raw.central(&a, offset);
    raw.central(
        &Header {
            name: b"b",
            ..a.clone()
        },
        offset,
    );
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::LocalNameMismatch {
            name: "b".into(),
            local_name: "a".into()
        })
    );
}

// ----------------------------------------------------------------- sizes

#[test]
fn refuses_entry_declared_larger_than_the_limit() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 0, UNCOMPRESSED, |b, at| {
        set32(b, at, 70_000_000)
    });
    let err = read(&archive).unwrap_err();
    assert_eq!(
        err,
        ZipError::EntryTooLarge {
            name: "manifest.json".into(),
            size: 70_000_000,
            limit: 32 * 1024 * 1024
        }
    );
    assert_eq!(
        err.to_string(),
        "entry \"manifest.json\" declares 70000000 bytes uncompressed, \
         more than the 33554432-byte limit"
    );
    // The limit is inclusive.
    let archive = zip(&[("a", &[7; 100])]);
    assert!(read_zip(&archive, &limits(1, 100, 100)).is_ok());
    assert_eq!(
        read_zip(&archive, &limits(1, 99, 100)),
        Err(ZipError::EntryTooLarge {
            name: "a".into(),
            size: 100,
            limit: 99
        })
    );
}

#[test]
fn refuses_entry_that_inflates_past_its_declared_size() {
    // 8 MiB of zeros deflate to a few KiB; the headers claim 100 bytes.
    let data = vec![0u8; 8 * 1024 * 1024];
    let (header, payload) = Header::deflated("bomb", &data);
    let mut raw = Raw::default();
    raw.entry(
        &Header {
            uncompressed: 100,
            ..header
        },
        &payload,
    );
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::LargerThanDeclared {
            name: "bomb".into(),
            declared: 100
        })
    );
}

#[test]
fn refuses_entry_that_inflates_short_of_its_declared_size() {
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    layout.both(&mut archive, 0, UNCOMPRESSED, |b, at| set32(b, at, 351));
    assert_eq!(
        read(&archive),
        Err(ZipError::SmallerThanDeclared {
            name: "manifest.json".into(),
            declared: 351,
            actual: 350
        })
    );
}

#[test]
fn refuses_total_larger_than_the_limit() {
    let archive = zip(&[("a", &[1; 100]), ("b", &[2; 100]), ("c", &[3; 100])]);
    assert!(read_zip(&archive, &limits(3, 100, 300)).is_ok());
    assert_eq!(
        read_zip(&archive, &limits(3, 100, 299)),
        Err(ZipError::TotalTooLarge {
            name: "c".into(),
            total: 300,
            limit: 299
        })
    );
}

// ------------------------------------------------------------------ data

#[test]
fn refuses_crc_mismatch() {
    // Patched CRC in both headers, on a deflated and on a stored entry.
    for i in [0, 1] {
        let mut archive = three_entries();
        let layout = Layout::of(&archive);
        let expected = get32(&archive, layout.locals[i] + CRC);
        layout.both(&mut archive, i, CRC, |b, at| b[at] ^= 1);
        assert!(matches!(
            read(&archive),
            Err(ZipError::CrcMismatch { expected: e, actual, .. })
                if actual == expected && e == expected ^ 1
        ));
    }
    // Same headers, one flipped data bit.
    let mut archive = three_entries();
    let layout = Layout::of(&archive);
    archive[layout.locals[1] + NAME + "blobs/random.bin".len() + 100] ^= 0x40;
    assert!(matches!(
        read(&archive),
        Err(ZipError::CrcMismatch { name, .. }) if name == "blobs/random.bin"
    ));
}

#[test]
fn refuses_corrupt_or_truncated_deflate_streams() {
    let data = b"proof bundle ".repeat(200);
    let (header, payload) = Header::deflated("x", &data);
    let corrupt = |payload: &[u8]| {
        let mut raw = Raw::default();
        let h = Header {
            compressed: payload.len() as u32,
            ..header.clone()
        };
        raw.entry(&h, payload);
        read(&raw.finish())
    };
    assert!(corrupt(&payload).is_ok());
    // Cut short at every length.
    for len in 0..payload.len() {
        let r = corrupt(&payload[..len]);
        assert!(
            matches!(r, Err(ZipError::CorruptDeflate { .. })),
            "{len}: {r:?}"
        );
    }
    // Reserved block type 3.
    assert!(matches!(
        corrupt(&[0xFF; 64]),
        Err(ZipError::CorruptDeflate { .. })
    ));
    // Bytes after the end of the stream.
    let mut padded = payload.clone();
    padded.extend_from_slice(b"hidden");
    assert!(matches!(
        corrupt(&padded),
        Err(ZipError::CorruptDeflate { detail, .. }) if detail.contains("ends after")
    ));
}

// ------------------------------------------------------------------ fuzz

/// What every successful read must satisfy, whatever the input was.
fn check_invariants(result: &Result<Vec<ZipEntry>, ZipError>, limits: &ZipLimits) {
    if let Ok(entries) = result {
        assert!(entries.len() <= limits.max_entries);
        let mut names = std::collections::HashSet::new();
        let mut total = 0u64;
        for e in entries {
            assert!(names.insert(&e.name), "duplicate {:?}", e.name);
            assert!(!e.name.is_empty() && !e.name.starts_with('/') && !e.name.contains(".."));
            assert!(e.data.len() as u64 <= limits.max_entry_size);
            total += e.data.len() as u64;
        }
        assert!(total <= limits.max_total_size);
    }
}

fn corpus() -> Vec<Vec<u8>> {
    vec![
        three_entries(),
        fixture("python_deflated.zip"),
        fixture("python_stored_descriptor.zip"),
        fixture("infozip_stream.zip"),
    ]
}

/// Every byte of a small archive set to a handful of boundary values:
/// deterministic, and it hits every header field with 0, all-ones and
/// off-by-one values.
#[test]
fn every_byte_smashed_never_panics() {
    let small = limits(8, 4096, 8192);
    for base in corpus() {
        for at in 0..base.len() {
            let original = base[at];
            for value in [
                0x00,
                0xFF,
                0x7F,
                0x80,
                original.wrapping_add(1),
                original.wrapping_sub(1),
            ] {
                let mut archive = base.clone();
                archive[at] = value;
                check_invariants(&read_zip(&archive, &small), &small);
                check_invariants(&read(&archive), &ZipLimits::default());
            }
        }
    }
}

#[derive(Debug, Clone)]
enum Mutation {
    Flip { at: usize, xor: u8 },
    Truncate { len: usize },
    Splice { from: usize, len: usize, to: usize },
    Delete { at: usize, len: usize },
}

fn apply(base: &[u8], donor: &[u8], mutations: &[Mutation]) -> Vec<u8> {
    let mut out = base.to_vec();
    for m in mutations {
        if out.is_empty() {
            break;
        }
        match *m {
            Mutation::Flip { at, xor } => {
                let at = at % out.len();
                out[at] ^= xor.max(1);
            }
            Mutation::Truncate { len } => out.truncate(len % (out.len() + 1)),
            Mutation::Splice { from, len, to } => {
                let from = from % donor.len();
                let end = (from + len).min(donor.len());
                let to = to % (out.len() + 1);
                out.splice(to..to, donor[from..end].iter().copied());
            }
            Mutation::Delete { at, len } => {
                let at = at % out.len();
                let end = (at + len).min(out.len());
                out.drain(at..end);
            }
        }
    }
    out
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        4 => (any::<usize>(), any::<u8>()).prop_map(|(at, xor)| Mutation::Flip { at, xor }),
        1 => any::<usize>().prop_map(|len| Mutation::Truncate { len }),
        2 => (any::<usize>(), 1..64usize, any::<usize>())
            .prop_map(|(from, len, to)| Mutation::Splice { from, len, to }),
        1 => (any::<usize>(), 1..32usize).prop_map(|(at, len)| Mutation::Delete { at, len }),
    ]
}

proptest! {
    // Each case is a read of a sub-kilobyte archive, so many cases are cheap.
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn mutated_archives_never_panic(
        base in 0..4usize,
        donor in 0..4usize,
        mutations in prop::collection::vec(mutation(), 1..6),
    ) {
        let corpus = corpus();
        let archive = apply(&corpus[base], &corpus[donor], &mutations);
        let small = limits(8, 4096, 8192);
        check_invariants(&read_zip(&archive, &small), &small);
        check_invariants(&read(&archive), &ZipLimits::default());
    }

}

proptest! {
    #[test]
    fn round_trip_arbitrary_entries(
        raw in prop::collection::vec(("[a-z]{1,8}(/[a-z0-9._-]{1,8}){0,3}", prop::collection::vec(any::<u8>(), 0..512)), 0..16),
    ) {
        let mut seen = std::collections::HashSet::new();
        let pairs: Vec<(&str, &[u8])> = raw
            .iter()
            .filter(|(n, _)| !n.split('/').any(|c| c == "." || c == "..") && seen.insert(n.clone()))
            .map(|(n, d)| (n.as_str(), d.as_slice()))
            .collect();
        let archive = write_zip(pairs.iter().copied()).unwrap();
        prop_assert_eq!(read(&archive).unwrap(), entries(&pairs));
        prop_assert_eq!(write_zip(pairs.iter().copied()).unwrap(), archive);
    }
}

// ------------------------------------- agreement with Info-ZIP's strict view

/// A stored entry written the way a streaming writer does: flag bit 3, the
/// local CRC-32 and sizes left zero, and a data descriptor after the data.
fn streamed(raw: &mut Raw, name: &str, data: &[u8], descriptor: &[u8]) {
    let real = Header {
        flags: 8,
        ..Header::stored(name, data)
    };
    let local = Header {
        crc: 0,
        compressed: 0,
        uncompressed: 0,
        ..real.clone()
    };
    let mut payload = data.to_vec();
    payload.extend_from_slice(descriptor);
    let offset = raw.local(&local, &payload);
    raw.central(&real, offset);
}

fn descriptor(signed: bool, crc: u32, compressed: u32, uncompressed: u32) -> Vec<u8> {
    let mut d = Vec::new();
    if signed {
        d.extend_from_slice(&0x0807_4b50u32.to_le_bytes());
    }
    for v in [crc, compressed, uncompressed] {
        d.extend_from_slice(&v.to_le_bytes());
    }
    d
}

#[test]
fn reads_data_descriptors_with_and_without_signature() {
    let data = b"streamed bytes";
    for signed in [true, false] {
        let mut raw = Raw::default();
        streamed(
            &mut raw,
            "a",
            data,
            &descriptor(signed, crc32(data), 14, 14),
        );
        raw.entry(&Header::stored("b", b"after"), b"after");
        assert_eq!(
            read(&raw.finish()).unwrap(),
            entries(&[("a", data), ("b", b"after")]),
            "signed descriptor: {signed}"
        );
    }
    // Local fields that are not zero must be the real values, which is also accepted.
    let mut raw = Raw::default();
    let real = Header {
        flags: 8,
        ..Header::stored("a", data)
    };
    let mut payload = data.to_vec();
    payload.extend_from_slice(&descriptor(true, crc32(data), 14, 14));
    let offset = raw.local(&real, &payload);
    raw.central(&real, offset);
    assert_eq!(read(&raw.finish()).unwrap(), entries(&[("a", data)]));
}

#[test]
fn refuses_a_data_descriptor_that_disagrees_with_the_central_directory() {
    let data = b"streamed bytes";
    let crc = crc32(data);
    let cases = [
        (
            descriptor(true, crc ^ 1, 14, 14),
            "CRC-32",
            u64::from(crc ^ 1),
        ),
        (descriptor(true, crc, 15, 14), "compressed size", 15),
        (descriptor(false, crc, 14, 13), "uncompressed size", 13),
    ];
    for (d, field, value) in cases {
        let mut raw = Raw::default();
        streamed(&mut raw, "a", data, &d);
        let err = read(&raw.finish()).unwrap_err();
        assert!(
            matches!(&err, ZipError::DataDescriptorMismatch { name, field: f, descriptor, .. }
                if name == "a" && *f == field && *descriptor == value),
            "{field}: {err:?}"
        );
        assert!(err.to_string().contains("data descriptor"), "{err}");
    }
    // Flag bit 3 without any descriptor: what follows the data is the
    // central directory, which is not a descriptor for this entry.
    let mut raw = Raw::default();
    streamed(&mut raw, "a", data, b"");
    assert!(read(&raw.finish()).is_err());
}

#[test]
fn refuses_deferred_local_fields_that_are_neither_zero_nor_right() {
    let data = b"streamed bytes";
    let real = Header {
        flags: 8,
        ..Header::stored("a", data)
    };
    let lying = Header {
        compressed: 3,
        uncompressed: 3,
        ..real.clone()
    };
    let mut payload = data.to_vec();
    payload.extend_from_slice(&descriptor(true, crc32(data), 14, 14));
    let mut raw = Raw::default();
    let offset = raw.local(&lying, &payload);
    raw.central(&real, offset);
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::LocalHeaderMismatch {
            name: "a".into(),
            field: "compressed size",
            local: 3,
            central: 14
        })
    );
}

#[test]
fn refuses_local_flags_that_differ_from_the_central_directory() {
    // Only the local header says "sizes follow the data": a streaming
    // reader and a central-directory reader would find different lengths.
    let data = b"plain";
    let central = Header::stored("a", data);
    let local = Header {
        flags: 8,
        ..central.clone()
    };
    let mut raw = Raw::default();
    let offset = raw.local(&local, data);
    raw.central(&central, offset);
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::LocalHeaderMismatch {
            name: "a".into(),
            field: "general-purpose flags",
            local: 8,
            central: 0
        })
    );
}

#[test]
fn refuses_prepended_data_even_with_adjusted_offsets() {
    // A self-extracting stub whose writer fixed up every offset: the
    // central directory is consistent, but the bytes before it are not ours.
    let mut raw = Raw {
        body: b"#!/bin/sh\nexit 0\n".to_vec(),
        ..Raw::default()
    };
    raw.entry(&Header::stored("a", b"x"), b"x");
    let err = read(&raw.finish()).unwrap_err();
    assert_eq!(
        err,
        ZipError::PrependedData {
            name: "a".into(),
            start: 17
        }
    );
    assert!(
        err.to_string().contains("data before the first entry"),
        "{err}"
    );
}

#[test]
fn refuses_bytes_between_entries_or_before_the_central_directory() {
    let mut raw = Raw::default();
    raw.entry(&Header::stored("a", b"x"), b"x");
    raw.body.extend_from_slice(b"PK\x03\x04hidden");
    raw.entry(&Header::stored("b", b"y"), b"y");
    let err = read(&raw.finish()).unwrap_err();
    assert_eq!(
        err,
        ZipError::UnaccountedBytes {
            start: 32,
            end: 42,
            after: "a".into()
        }
    );
    assert!(err.to_string().contains("belong to no entry"), "{err}");

    let mut raw = Raw::default();
    raw.entry(&Header::stored("a", b"x"), b"x");
    raw.body.extend_from_slice(b"junk");
    assert_eq!(
        read(&raw.finish()),
        Err(ZipError::UnaccountedBytes {
            start: 32,
            end: 36,
            after: "a".into()
        })
    );
}

#[test]
fn refuses_an_empty_archive_with_bytes_before_its_end_record() {
    let mut archive = b"junk".to_vec();
    archive.extend_from_slice(&eocd(0, 0, 4, 0));
    assert_eq!(
        read(&archive),
        Err(ZipError::PrependedData {
            name: String::new(),
            start: 4
        })
    );
}
