//! A bounded ZIP reader and a deterministic ZIP writer for proof bundles.
//!
//! Proof bundles arrive from places we do not control (URLs, ConfigMaps,
//! users' CI), so the reader treats every byte as hostile: it never panics,
//! never trusts a declared size, refuses anything two ZIP tools could read
//! differently (duplicate names, overlapping entries, local headers that
//! disagree with the central directory, unsafe paths), and stops at
//! [`ZipLimits`] before doing the work an archive asks for.
//!
//! The writer exists so that the same inputs always give the same bundle
//! bytes, which lets a bundle's digest stand for its contents. It only
//! produces what the reader accepts, so `read_zip(write_zip(x)) == x`.
//!
//! Only the subset of ZIP that bundles need is supported: one disk, no
//! ZIP64, no encryption, stored or deflated entries, files but no
//! directories.

mod read;
mod write;

pub use read::{EntryReader, ZipArchive, ZipEntryRef, read_zip};
pub use write::write_zip;

/// Caps on what [`read_zip`] will do for one archive.
///
/// The limits are checked against the sizes an archive declares before any
/// data is inflated, and again while inflating, so a small hostile archive
/// cannot make us allocate or spin beyond them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ZipLimits {
    /// Refused before any per-entry state is allocated.
    pub max_entries: usize,
    /// Uncompressed bytes, per entry.
    pub max_entry_size: u64,
    /// Uncompressed bytes, summed over all entries.
    pub max_total_size: u64,
}

impl Default for ZipLimits {
    /// Generous for real bundles (a handful of JSON documents and
    /// certificates), small enough that a pod can afford several at once.
    ///
    /// A proof bundle's own entries have tighter limits each
    /// ([`crate::bundle::ENTRY_LIMITS`]); these only need to let the largest
    /// (the ledger, which is streamed) and the sum of all of them through.
    fn default() -> Self {
        Self {
            max_entries: 64,
            max_entry_size: 32 * 1024 * 1024,
            max_total_size: 64 * 1024 * 1024,
        }
    }
}

/// One file of an archive, fully read and checked (size and CRC-32).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZipEntry {
    /// A relative `/`-separated path that passed the name-safety rules, so
    /// it can be used as a map key or joined under a directory as is.
    pub name: String,
    pub data: Vec<u8>,
}

impl ZipError {
    /// The [`ZipError`] inside an error from [`EntryReader`], if that is
    /// where it came from.
    pub fn from_io(error: &std::io::Error) -> Option<&ZipError> {
        error.get_ref()?.downcast_ref::<ZipError>()
    }
}

/// Why a name is refused, by both the reader and the writer.
///
/// Names become map keys and, in the CLI, file paths; each rule closes a way
/// for two tools (or two operating systems) to disagree about which file a
/// name means, or for an entry to land outside the directory it is
/// extracted to.
#[derive(Debug, thiserror::Error, Clone, Copy, PartialEq, Eq)]
pub enum NameProblem {
    #[error("the name is empty")]
    Empty,
    #[error("the name is longer than 65535 bytes, the most a ZIP header can hold")]
    TooLong,
    #[error("it contains a control character")]
    ControlCharacter,
    #[error("it is an absolute path or starts with a drive letter")]
    Absolute,
    #[error("it contains a backslash, which Windows tools treat as a path separator")]
    Backslash,
    #[error("it names a directory (ends with \"/\"); bundles hold only files")]
    Directory,
    #[error("it has an empty path component (\"//\")")]
    EmptyComponent,
    #[error("it has a \".\" or \"..\" path component")]
    DotComponent,
}

/// Everything that can go wrong reading or writing an archive.
///
/// Each variant carries the entry name and the numbers involved, because the
/// person reading the message is usually debugging a bundle their CI made and
/// needs to know which file and which field to look at.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ZipError {
    #[error("not a ZIP archive: no end-of-central-directory record found")]
    NotZip,
    #[error(
        "the end-of-central-directory record at byte {offset} declares a {declared}-byte comment \
         but {actual} bytes follow it: the archive is truncated or has trailing data"
    )]
    EndRecordMismatch {
        offset: u64,
        declared: u64,
        actual: u64,
    },
    #[error(
        "ambiguous archive: both byte {first} and byte {second} hold a valid \
         end-of-central-directory record"
    )]
    AmbiguousEndRecord { first: u64, second: u64 },
    #[error("ZIP64 archives are not supported (found {found})")]
    Zip64 { found: String },
    #[error("multi-disk (split or spanned) ZIP archives are not supported (found {found})")]
    MultiDisk { found: String },
    #[error("archive has {count} entries, more than the limit of {limit}")]
    TooManyEntries { count: u64, limit: u64 },
    #[error("archive is truncated: {what} needs bytes {start}..{end} but the file has {len} bytes")]
    Truncated {
        what: String,
        start: u64,
        end: u64,
        len: u64,
    },
    #[error(
        "corrupt central directory: it ends at byte {cd_end} but the end-of-central-directory \
         record starts at byte {eocd_offset} (data before or after the archive is not supported)"
    )]
    CentralDirectoryMisplaced { cd_end: u64, eocd_offset: u64 },
    #[error("corrupt central directory: no file header signature at byte {offset}")]
    BadCentralSignature { offset: u64 },
    #[error(
        "corrupt central directory: the record at byte {offset} runs to byte {record_end}, \
         past the end of the central directory at byte {cd_end}"
    )]
    CentralRecordOverrun {
        offset: u64,
        record_end: u64,
        cd_end: u64,
    },
    #[error(
        "the end-of-central-directory record declares {declared} entries \
         but the central directory holds {found}"
    )]
    EntryCountMismatch { declared: u64, found: u64 },
    #[error("entry #{index} has a name that is not valid UTF-8: {lossy:?}")]
    NonUtf8Name { index: usize, lossy: String },
    #[error("entry {name:?} has an unsafe name: {problem}")]
    UnsafeName { name: String, problem: NameProblem },
    #[error("entry {name:?} appears more than once")]
    DuplicateName { name: String },
    #[error("entry {name:?} is encrypted; encrypted entries are not supported")]
    Encrypted { name: String },
    #[error(
        "entry {name:?} uses compression method {method}; \
         only 0 (stored) and 8 (deflate) are supported"
    )]
    UnsupportedMethod { name: String, method: u16 },
    #[error(
        "entry {name:?} is stored uncompressed but declares {compressed} bytes compressed \
         and {uncompressed} bytes uncompressed"
    )]
    StoredSizeMismatch {
        name: String,
        compressed: u64,
        uncompressed: u64,
    },
    #[error("entry {name:?} declares {size} bytes uncompressed, more than the {limit}-byte limit")]
    EntryTooLarge { name: String, size: u64, limit: u64 },
    #[error(
        "entries up to and including {name:?} declare {total} bytes uncompressed in total, \
         more than the {limit}-byte limit"
    )]
    TotalTooLarge {
        name: String,
        total: u64,
        limit: u64,
    },
    #[error("entry {name:?}: no local file header signature at byte {offset}")]
    BadLocalSignature { name: String, offset: u64 },
    #[error("entry {name:?} is called {local_name:?} in its local header")]
    LocalNameMismatch { name: String, local_name: String },
    #[error(
        "entry {name:?}: the local header says its {field} is {local} \
         but the central directory says {central}"
    )]
    LocalHeaderMismatch {
        name: String,
        field: &'static str,
        local: u64,
        central: u64,
    },
    #[error(
        "entry {name:?} (bytes {start}..{end}) runs into the central directory, \
         which starts at byte {cd_start}"
    )]
    EntryInCentralDirectory {
        name: String,
        start: u64,
        end: u64,
        cd_start: u64,
    },
    #[error(
        "entries {first:?} (bytes {first_start}..{first_end}) and {second:?} \
         (bytes {second_start}..{second_end}) overlap"
    )]
    OverlappingEntries {
        first: String,
        first_start: u64,
        first_end: u64,
        second: String,
        second_start: u64,
        second_end: u64,
    },
    #[error(
        "entry {name:?} starts at byte {start}, not 0: data before the first entry \
         (a self-extracting stub, a prepended file) is not supported"
    )]
    PrependedData { name: String, start: u64 },
    #[error(
        "bytes {start}..{end}, after entry {after:?}, belong to no entry: data between \
         entries or before the central directory is not supported"
    )]
    UnaccountedBytes { start: u64, end: u64, after: String },
    #[error(
        "entry {name:?}: the data descriptor says its {field} is {descriptor} \
         but the central directory says {central}"
    )]
    DataDescriptorMismatch {
        name: String,
        field: &'static str,
        descriptor: u64,
        central: u64,
    },
    #[error("entry {name:?} inflates to more than the {declared} bytes its headers declare")]
    LargerThanDeclared { name: String, declared: u64 },
    #[error(
        "entry {name:?} inflates to {actual} bytes, fewer than the {declared} its headers declare"
    )]
    SmallerThanDeclared {
        name: String,
        declared: u64,
        actual: u64,
    },
    #[error("entry {name:?} has corrupt deflate data: {detail}")]
    CorruptDeflate { name: String, detail: String },
    #[error(
        "entry {name:?} fails its CRC-32 check: the headers say {expected:#010x} \
         but the data gives {actual:#010x}"
    )]
    CrcMismatch {
        name: String,
        expected: u32,
        actual: u32,
    },
    #[error("cannot write {what}: that needs ZIP64, which this writer does not produce")]
    TooLargeForZip32 { what: String },
    #[error("could not deflate entry {name:?}: {detail}")]
    Compress { name: String, detail: String },
}

/// The one set of name rules, shared by reader and writer so that the writer
/// can never produce a bundle the reader refuses.
pub(crate) fn check_name(name: &str) -> Result<(), NameProblem> {
    if name.is_empty() {
        return Err(NameProblem::Empty);
    }
    if name.len() > usize::from(u16::MAX) {
        return Err(NameProblem::TooLong);
    }
    if name.chars().any(char::is_control) {
        return Err(NameProblem::ControlCharacter);
    }
    // `C:x` is relative to the current directory of drive C on Windows, so
    // it escapes the extraction directory just like `/x` or `\\server\x`.
    let drive_letter = matches!(name.as_bytes(), [d, b':', ..] if d.is_ascii_alphabetic());
    if name.starts_with('/') || name.starts_with('\\') || drive_letter {
        return Err(NameProblem::Absolute);
    }
    if name.contains('\\') {
        return Err(NameProblem::Backslash);
    }
    if name.ends_with('/') {
        return Err(NameProblem::Directory);
    }
    for component in name.split('/') {
        match component {
            // `a//b` and `a/b` are the same file on disk but different
            // strings, which would defeat the duplicate check.
            "" => return Err(NameProblem::EmptyComponent),
            "." | ".." => return Err(NameProblem::DotComponent),
            _ => {}
        }
    }
    Ok(())
}

/// Signatures and fixed record lengths shared by reader and writer.
mod format {
    pub const LOCAL_SIG: u32 = 0x0403_4b50;
    pub const LOCAL_LEN: usize = 30;
    pub const CENTRAL_SIG: u32 = 0x0201_4b50;
    pub const CENTRAL_LEN: usize = 46;
    pub const EOCD_SIG: u32 = 0x0605_4b50;
    pub const EOCD_LEN: usize = 22;
    pub const DESCRIPTOR_SIG: u32 = 0x0807_4b50;
    pub const ZIP64_LOCATOR_SIG: u32 = 0x0706_4b50;
    pub const ZIP64_LOCATOR_LEN: usize = 20;
    /// Extra-field header id of the ZIP64 extended information field.
    pub const ZIP64_EXTRA_ID: u16 = 0x0001;

    pub const METHOD_STORED: u16 = 0;
    pub const METHOD_DEFLATE: u16 = 8;

    pub const FLAG_ENCRYPTED: u16 = 1 << 0;
    pub const FLAG_DATA_DESCRIPTOR: u16 = 1 << 3;
    pub const FLAG_STRONG_ENCRYPTION: u16 = 1 << 6;
    pub const FLAG_UTF8: u16 = 1 << 11;
    /// Central-directory encryption (PKWARE SES): headers are masked.
    pub const FLAG_MASKED_HEADERS: u16 = 1 << 13;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_ordinary_relative_paths() {
        for name in [
            "manifest.json",
            "a/b/c.txt",
            "sha256:0123abcd",
            ".hidden",
            "a/..b/c..",
            "ünïcødé.txt",
        ] {
            assert_eq!(check_name(name), Ok(()), "{name:?}");
        }
    }

    #[test]
    fn refuses_unsafe_names_with_the_right_reason() {
        use NameProblem::*;
        let cases: &[(&str, NameProblem)] = &[
            ("", Empty),
            ("/etc/passwd", Absolute),
            ("/", Absolute),
            ("\\\\server\\share", Absolute),
            ("C:evil", Absolute),
            ("c:/evil", Absolute),
            ("a\\b", Backslash),
            ("../x", DotComponent),
            ("a/../../b", DotComponent),
            ("./a", DotComponent),
            ("a/.", DotComponent),
            ("..", DotComponent),
            ("a//b", EmptyComponent),
            ("dir/", Directory),
            ("a\0b", ControlCharacter),
            ("a\nb", ControlCharacter),
            ("a\u{7f}", ControlCharacter),
            ("a\u{85}", ControlCharacter),
        ];
        for (name, problem) in cases {
            assert_eq!(check_name(name), Err(*problem), "{name:?}");
        }
        assert_eq!(check_name(&"a".repeat(65536)), Err(TooLong));
        assert_eq!(check_name(&"a".repeat(65535)), Ok(()));
    }
}
