//! The bounded reader.
//!
//! Work happens in three passes so that everything cheap to check is checked
//! before anything expensive is done: first the central directory alone
//! (names, flags, methods, declared sizes against the limits), then the local
//! headers and the byte ranges they imply (bounds, overlaps), and only then
//! the data itself (inflate under a hard cap, CRC-32).

use std::borrow::Cow;
use std::collections::HashSet;

use flate2::{Crc, Decompress, FlushDecompress, Status};

use super::format::*;
use super::{ZipEntry, ZipError, ZipLimits, check_name};

/// Reads every entry of `archive`, in central-directory order.
///
/// Returns an error rather than a partial result for anything unusual: a
/// bundle that only some tools can read, or that different tools read
/// differently, is not a bundle we want to verify.
pub fn read_zip(archive: &[u8], limits: &ZipLimits) -> Result<Vec<ZipEntry>, ZipError> {
    ZipArchive::open(archive, limits)?
        .entries()
        .iter()
        .map(|entry| {
            Ok(ZipEntry {
                name: entry.name.to_owned(),
                data: entry.read()?.into_owned(),
            })
        })
        .collect()
}

/// An archive whose structure passed every check that needs no inflating:
/// names, flags, methods, declared sizes against the limits, local headers
/// and data descriptors against the central directory, and a layout with no
/// byte unaccounted for. Entries are inflated only when asked for, one at a
/// time, so a caller can refuse an archive by its names alone.
#[derive(Debug)]
pub struct ZipArchive<'a> {
    entries: Vec<ZipEntryRef<'a>>,
}

/// One entry of a [`ZipArchive`], not yet inflated.
#[derive(Debug, Clone)]
pub struct ZipEntryRef<'a> {
    /// A name that passed the name-safety rules (see [`ZipEntry::name`]).
    pub name: &'a str,
    /// The uncompressed size, as declared (and enforced while inflating).
    pub size: u64,
    method: u16,
    crc: u32,
    data: &'a [u8],
}

impl<'a> ZipArchive<'a> {
    /// Checks the archive's structure without inflating anything.
    pub fn open(archive: &'a [u8], limits: &ZipLimits) -> Result<Self, ZipError> {
        let eocd = find_end_record(archive)?;
        let records = parse_central_directory(archive, &eocd, limits)?;
        let planned = check_records(&records, limits)?;
        let located = locate_data(archive, &eocd, &planned)?;
        let entries = planned
            .into_iter()
            .zip(located)
            .map(|(p, data)| ZipEntryRef {
                name: p.name,
                size: p.uncompressed,
                method: p.method,
                crc: p.crc,
                data,
            })
            .collect();
        Ok(Self { entries })
    }

    /// The entries in central-directory order.
    pub fn entries(&self) -> &[ZipEntryRef<'a>] {
        &self.entries
    }
}

impl<'a> ZipEntryRef<'a> {
    /// The whole entry, size and CRC-32 checked. Stored entries are borrowed
    /// from the archive rather than copied.
    pub fn read(&self) -> Result<Cow<'a, [u8]>, ZipError> {
        let data = match self.method {
            METHOD_DEFLATE => Cow::Owned(inflate(self)?),
            // check_records allows only 0 and 8, and for 0 the sizes are equal.
            _ => Cow::Borrowed(self.data),
        };
        check_crc(self, &data)?;
        Ok(data)
    }

    /// The entry as a stream, for entries too large to hold in memory at
    /// once. The same checks as [`read`](Self::read) apply; a failed one is
    /// an [`std::io::Error`] whose inner error is the [`ZipError`]
    /// ([`ZipError::from_io`] gets it back), and the size and CRC-32 are
    /// only known to be right once the reader has returned end of file.
    pub fn reader(&self) -> EntryReader<'a> {
        EntryReader {
            entry: self.clone(),
            inflater: Decompress::new(false),
            crc: Crc::new(),
            produced: 0,
            done: false,
        }
    }
}

/// See [`ZipEntryRef::reader`].
pub struct EntryReader<'a> {
    entry: ZipEntryRef<'a>,
    inflater: Decompress,
    crc: Crc,
    produced: u64,
    done: bool,
}

impl EntryReader<'_> {
    fn step(&mut self, buf: &mut [u8]) -> Result<usize, ZipError> {
        if self.done || buf.is_empty() {
            return Ok(0);
        }
        let entry = &self.entry;
        let declared = entry.size;
        let produced = if entry.method == METHOD_DEFLATE {
            let corrupt = |detail: String| ZipError::CorruptDeflate {
                name: entry.name.to_owned(),
                detail,
            };
            let consumed = usize::try_from(self.inflater.total_in()).unwrap_or(usize::MAX);
            let Some(rest) = entry.data.get(consumed..) else {
                return Err(corrupt("the decoder read past its input".into()));
            };
            // Never ask for more than one byte past the declared size, so a
            // lying header is caught without producing a large overshoot.
            let room = declared.saturating_sub(self.produced).saturating_add(1);
            let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
            let before_in = self.inflater.total_in();
            let before_out = self.inflater.total_out();
            let status = self
                .inflater
                .decompress(rest, &mut buf[..want], FlushDecompress::None)
                .map_err(|e| corrupt(e.to_string()))?;
            let produced = usize::try_from(self.inflater.total_out() - before_out)
                .unwrap_or(usize::MAX)
                .min(want);
            match status {
                Status::StreamEnd => self.done = true,
                Status::Ok | Status::BufError => {
                    if produced == 0 && self.inflater.total_in() == before_in {
                        return Err(corrupt(format!(
                            "the stream is cut off after {} compressed bytes \
                             and {} uncompressed bytes",
                            self.inflater.total_in(),
                            self.produced
                        )));
                    }
                }
            }
            if self.done && self.inflater.total_in() != len_of(entry.data) {
                return Err(corrupt(format!(
                    "the stream ends after {} of its {} compressed bytes",
                    self.inflater.total_in(),
                    entry.data.len()
                )));
            }
            produced
        } else {
            let start = usize::try_from(self.produced).unwrap_or(usize::MAX);
            let rest = entry.data.get(start..).unwrap_or_default();
            let n = rest.len().min(buf.len());
            buf[..n].copy_from_slice(&rest[..n]);
            if n == rest.len() {
                self.done = true;
            }
            n
        };
        self.produced += produced as u64;
        if self.produced > declared {
            return Err(ZipError::LargerThanDeclared {
                name: entry.name.to_owned(),
                declared,
            });
        }
        self.crc.update(&buf[..produced]);
        if self.done {
            if self.produced < declared {
                return Err(ZipError::SmallerThanDeclared {
                    name: entry.name.to_owned(),
                    declared,
                    actual: self.produced,
                });
            }
            if self.crc.sum() != entry.crc {
                return Err(ZipError::CrcMismatch {
                    name: entry.name.to_owned(),
                    expected: entry.crc,
                    actual: self.crc.sum(),
                });
            }
        }
        Ok(produced)
    }
}

impl std::io::Read for EntryReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let n = self.step(buf).map_err(std::io::Error::other)?;
            // A deflate stream may consume input without producing output
            // (block headers); only a finished stream may return 0.
            if n > 0 || self.done || buf.is_empty() {
                return Ok(n);
            }
        }
    }
}

/// Little-endian fields of a fixed-size header. The index is always a
/// constant, so an out-of-range read is a compile error, not a runtime panic.
macro_rules! le16 {
    ($h:expr, $at:expr) => {
        u16::from_le_bytes([$h[$at], $h[$at + 1]])
    };
}
macro_rules! le32 {
    ($h:expr, $at:expr) => {
        u32::from_le_bytes([$h[$at], $h[$at + 1], $h[$at + 2], $h[$at + 3]])
    };
}

/// `len` bytes at `start`, or `None` if any of them lies outside `bytes`.
fn bytes_at(bytes: &[u8], start: u64, len: u64) -> Option<&[u8]> {
    let end = start.checked_add(len)?;
    bytes.get(usize::try_from(start).ok()?..usize::try_from(end).ok()?)
}

fn fixed_at<const N: usize>(bytes: &[u8], start: u64) -> Option<&[u8; N]> {
    bytes_at(bytes, start, N as u64)?.try_into().ok()
}

fn len_of(bytes: &[u8]) -> u64 {
    // usize is at most 64 bits on every target Rust supports.
    bytes.len() as u64
}

fn truncated(archive: &[u8], what: String, start: u64, len: u64) -> ZipError {
    ZipError::Truncated {
        what,
        start,
        end: start.saturating_add(len),
        len: len_of(archive),
    }
}

struct EndRecord {
    offset: u64,
    entries: u16,
    cd_size: u32,
    cd_offset: u32,
}

/// Finds the end-of-central-directory record, which may be followed by a
/// comment of up to 65535 bytes, so it is searched for backwards from the
/// end over at most 22 + 65535 bytes.
///
/// Only a record whose comment length accounts for exactly the bytes after
/// it is accepted: trailing data, or a second record hidden in a comment, are
/// ways to make different tools see different archives.
fn find_end_record(archive: &[u8]) -> Result<EndRecord, ZipError> {
    let len = len_of(archive);
    let Some(last) = len.checked_sub(EOCD_LEN as u64) else {
        return Err(ZipError::NotZip);
    };
    let first = last.saturating_sub(u64::from(u16::MAX));
    let mut found: Option<(u64, &[u8; EOCD_LEN])> = None;
    let mut mismatch = None;
    for offset in (first..=last).rev() {
        let Some(record) = fixed_at::<EOCD_LEN>(archive, offset) else {
            continue;
        };
        if le32!(record, 0) != EOCD_SIG {
            continue;
        }
        let declared = u64::from(le16!(record, 20));
        let actual = last - offset;
        if declared != actual {
            mismatch.get_or_insert(ZipError::EndRecordMismatch {
                offset,
                declared,
                actual,
            });
            continue;
        }
        if let Some((later, _)) = found {
            return Err(ZipError::AmbiguousEndRecord {
                first: offset,
                second: later,
            });
        }
        found = Some((offset, record));
    }
    let Some((offset, record)) = found else {
        return Err(mismatch.unwrap_or(ZipError::NotZip));
    };

    let disk = le16!(record, 4);
    let cd_disk = le16!(record, 6);
    let disk_entries = le16!(record, 8);
    let entries = le16!(record, 10);
    let cd_size = le32!(record, 12);
    let cd_offset = le32!(record, 16);

    let locator = offset
        .checked_sub(ZIP64_LOCATOR_LEN as u64)
        .and_then(|at| fixed_at::<4>(archive, at));
    if locator.is_some_and(|sig| u32::from_le_bytes(*sig) == ZIP64_LOCATOR_SIG) {
        return Err(ZipError::Zip64 {
            found: "a ZIP64 end-of-central-directory locator".into(),
        });
    }
    // 0xFFFF / 0xFFFFFFFF in these fields means "look in the ZIP64 record".
    if [disk, cd_disk, disk_entries, entries].contains(&u16::MAX)
        || [cd_size, cd_offset].contains(&u32::MAX)
    {
        return Err(ZipError::Zip64 {
            found: "ZIP64 placeholder values in the end-of-central-directory record".into(),
        });
    }
    if disk != 0 || cd_disk != 0 || disk_entries != entries {
        return Err(ZipError::MultiDisk {
            found: format!(
                "disk {disk}, central directory on disk {cd_disk}, \
                 {disk_entries} of {entries} entries on this disk"
            ),
        });
    }
    Ok(EndRecord {
        offset,
        entries,
        cd_size,
        cd_offset,
    })
}

/// One central-directory record, fields as found, nothing validated yet.
struct CentralRecord<'a> {
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u32,
    uncompressed: u32,
    disk_start: u16,
    local_offset: u32,
    name: &'a [u8],
    extra: &'a [u8],
}

fn parse_central_directory<'a>(
    archive: &'a [u8],
    eocd: &EndRecord,
    limits: &ZipLimits,
) -> Result<Vec<CentralRecord<'a>>, ZipError> {
    let declared = usize::from(eocd.entries);
    if declared > limits.max_entries {
        return Err(ZipError::TooManyEntries {
            count: u64::from(eocd.entries),
            limit: u64::try_from(limits.max_entries).unwrap_or(u64::MAX),
        });
    }

    let cd_start = u64::from(eocd.cd_offset);
    let cd_len = u64::from(eocd.cd_size);
    let cd_end = cd_start + cd_len; // two u32s cannot overflow a u64
    let Some(cd) = bytes_at(archive, cd_start, cd_len) else {
        return Err(truncated(
            archive,
            "the central directory".into(),
            cd_start,
            cd_len,
        ));
    };
    if cd_end != eocd.offset {
        return Err(ZipError::CentralDirectoryMisplaced {
            cd_end,
            eocd_offset: eocd.offset,
        });
    }

    let mut records = Vec::with_capacity(declared);
    // Records past the declared count are parsed (to report how many there
    // are) but not kept, so the allocation above stays the only one.
    let mut found: u64 = 0;
    let mut pos: u64 = 0;
    while pos < cd_len {
        let at = cd_start + pos;
        let Some(header) = fixed_at::<CENTRAL_LEN>(cd, pos) else {
            return Err(ZipError::CentralRecordOverrun {
                offset: at,
                record_end: at + CENTRAL_LEN as u64,
                cd_end,
            });
        };
        if le32!(header, 0) != CENTRAL_SIG {
            return Err(ZipError::BadCentralSignature { offset: at });
        }
        let name_len = u64::from(le16!(header, 28));
        let extra_len = u64::from(le16!(header, 30));
        let comment_len = u64::from(le16!(header, 32));
        let record_len = CENTRAL_LEN as u64 + name_len + extra_len + comment_len;
        let name_start = pos + CENTRAL_LEN as u64;
        let (Some(name), Some(extra), Some(_comment)) = (
            bytes_at(cd, name_start, name_len),
            bytes_at(cd, name_start + name_len, extra_len),
            bytes_at(cd, name_start + name_len + extra_len, comment_len),
        ) else {
            return Err(ZipError::CentralRecordOverrun {
                offset: at,
                record_end: at + record_len,
                cd_end,
            });
        };
        if records.len() < declared {
            records.push(CentralRecord {
                flags: le16!(header, 8),
                method: le16!(header, 10),
                crc: le32!(header, 16),
                compressed: le32!(header, 20),
                uncompressed: le32!(header, 24),
                disk_start: le16!(header, 34),
                local_offset: le32!(header, 42),
                name,
                extra,
            });
        }
        found += 1;
        pos += record_len;
    }
    if found != u64::from(eocd.entries) {
        return Err(ZipError::EntryCountMismatch {
            declared: u64::from(eocd.entries),
            found,
        });
    }
    Ok(records)
}

/// Whether a header's extra field carries ZIP64 sizes. A malformed extra
/// field is not an error in itself (other tools ignore it too); we only stop
/// looking.
fn has_zip64_extra(mut extra: &[u8]) -> bool {
    while let Some((header, rest)) = extra.split_first_chunk::<4>() {
        if le16!(header, 0) == ZIP64_EXTRA_ID {
            return true;
        }
        let Some(rest) = rest.get(usize::from(le16!(header, 2))..) else {
            return false;
        };
        extra = rest;
    }
    false
}

/// An entry whose central record passed every check.
struct Planned<'a> {
    name: &'a str,
    flags: u16,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    local_offset: u64,
}

fn check_records<'a>(
    records: &[CentralRecord<'a>],
    limits: &ZipLimits,
) -> Result<Vec<Planned<'a>>, ZipError> {
    let mut seen = HashSet::with_capacity(records.len());
    let mut planned = Vec::with_capacity(records.len());
    let mut total: u64 = 0;
    for (index, record) in records.iter().enumerate() {
        let name = std::str::from_utf8(record.name).map_err(|_| ZipError::NonUtf8Name {
            index,
            lossy: String::from_utf8_lossy(record.name).into_owned(),
        })?;
        let owned = || name.to_owned();
        check_name(name).map_err(|problem| ZipError::UnsafeName {
            name: owned(),
            problem,
        })?;
        if !seen.insert(name) {
            return Err(ZipError::DuplicateName { name: owned() });
        }
        if [record.compressed, record.uncompressed, record.local_offset].contains(&u32::MAX)
            || record.disk_start == u16::MAX
            || has_zip64_extra(record.extra)
        {
            return Err(ZipError::Zip64 {
                found: format!("ZIP64 fields in entry {name:?}"),
            });
        }
        if record.disk_start != 0 {
            return Err(ZipError::MultiDisk {
                found: format!("entry {name:?} on disk {}", record.disk_start),
            });
        }
        if record.flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS) != 0 {
            return Err(ZipError::Encrypted { name: owned() });
        }
        let compressed = u64::from(record.compressed);
        let uncompressed = u64::from(record.uncompressed);
        match record.method {
            METHOD_DEFLATE => {}
            METHOD_STORED if compressed == uncompressed => {}
            METHOD_STORED => {
                return Err(ZipError::StoredSizeMismatch {
                    name: owned(),
                    compressed,
                    uncompressed,
                });
            }
            method => {
                return Err(ZipError::UnsupportedMethod {
                    name: owned(),
                    method,
                });
            }
        }
        if uncompressed > limits.max_entry_size {
            return Err(ZipError::EntryTooLarge {
                name: owned(),
                size: uncompressed,
                limit: limits.max_entry_size,
            });
        }
        total = total.saturating_add(uncompressed);
        if total > limits.max_total_size {
            return Err(ZipError::TotalTooLarge {
                name: owned(),
                total,
                limit: limits.max_total_size,
            });
        }
        planned.push(Planned {
            name,
            flags: record.flags,
            method: record.method,
            crc: record.crc,
            compressed,
            uncompressed,
            local_offset: u64::from(record.local_offset),
        });
    }
    Ok(planned)
}

/// Reads each local header (and data descriptor) and returns the compressed
/// bytes of each entry, after checking that the entries, in file order, tile
/// the bytes before the central directory exactly: the first starts at byte
/// 0, each starts where the one before it ends, the last ends where the
/// central directory starts.
///
/// Overlap is refused because it is how "zip bombs" reach huge ratios
/// without nested archives: many central records pointing into one
/// highly compressible stream. Gaps and prepended bytes are refused because
/// a reader that scans for local headers (streaming unzip, some scanners)
/// would find whatever is hidden there, while we would not.
fn locate_data<'a>(
    archive: &'a [u8],
    eocd: &EndRecord,
    planned: &[Planned<'_>],
) -> Result<Vec<&'a [u8]>, ZipError> {
    let cd_start = u64::from(eocd.cd_offset);
    let mut spans = Vec::with_capacity(planned.len());
    let mut data = Vec::with_capacity(planned.len());
    for (index, entry) in planned.iter().enumerate() {
        let name = entry.name;
        let start = entry.local_offset;
        let Some(header) = fixed_at::<LOCAL_LEN>(archive, start) else {
            return Err(truncated(
                archive,
                format!("the local header of entry {name:?}"),
                start,
                LOCAL_LEN as u64,
            ));
        };
        if le32!(header, 0) != LOCAL_SIG {
            return Err(ZipError::BadLocalSignature {
                name: name.to_owned(),
                offset: start,
            });
        }
        let flags = le16!(header, 6);
        let name_len = u64::from(le16!(header, 26));
        let extra_len = u64::from(le16!(header, 28));
        // All below stays under 2^32 + 2 * 2^16 + 30 + 16: no overflow in u64.
        let name_start = start + LOCAL_LEN as u64;
        let extra_start = name_start + name_len;
        let data_start = extra_start + extra_len;
        let data_end = data_start + entry.compressed;

        let Some(local_name) = bytes_at(archive, name_start, name_len) else {
            return Err(truncated(
                archive,
                format!("the local header of entry {name:?}"),
                start,
                data_start - start,
            ));
        };
        if local_name != name.as_bytes() {
            return Err(ZipError::LocalNameMismatch {
                name: name.to_owned(),
                local_name: String::from_utf8_lossy(local_name).into_owned(),
            });
        }
        let Some(local_extra) = bytes_at(archive, extra_start, extra_len) else {
            return Err(truncated(
                archive,
                format!("the local header of entry {name:?}"),
                start,
                data_start - start,
            ));
        };
        check_local_header(entry, header, flags, local_extra)?;

        let Some(bytes) = bytes_at(archive, data_start, entry.compressed) else {
            return Err(truncated(
                archive,
                format!("the data of entry {name:?}"),
                data_start,
                entry.compressed,
            ));
        };
        let end = if flags & FLAG_DATA_DESCRIPTOR != 0 {
            data_end + check_data_descriptor(archive, entry, data_end)?
        } else {
            data_end
        };
        if end > cd_start {
            return Err(ZipError::EntryInCentralDirectory {
                name: name.to_owned(),
                start,
                end,
                cd_start,
            });
        }
        spans.push((start, end, index));
        data.push(bytes);
    }

    spans.sort_unstable();
    let name_of = |i: usize| planned.get(i).map_or("", |p| p.name).to_owned();
    if let Some(&(first_start, _, a)) = spans.first()
        && first_start != 0
    {
        return Err(ZipError::PrependedData {
            name: name_of(a),
            start: first_start,
        });
    }
    for pair in spans.windows(2) {
        if let [(first_start, first_end, a), (second_start, second_end, b)] = *pair {
            if first_end > second_start {
                return Err(ZipError::OverlappingEntries {
                    first: name_of(a),
                    first_start,
                    first_end,
                    second: name_of(b),
                    second_start,
                    second_end,
                });
            }
            if first_end < second_start {
                return Err(ZipError::UnaccountedBytes {
                    start: first_end,
                    end: second_start,
                    after: name_of(a),
                });
            }
        }
    }
    match spans.last() {
        Some(&(_, last_end, a)) if last_end < cd_start => Err(ZipError::UnaccountedBytes {
            start: last_end,
            end: cd_start,
            after: name_of(a),
        }),
        None if cd_start != 0 => Err(ZipError::PrependedData {
            name: String::new(),
            start: cd_start,
        }),
        _ => Ok(data),
    }
}

/// Streaming readers (and some extractors) trust the local header instead
/// of the central directory; refusing disagreement means every tool sees
/// the same entry we verified.
fn check_local_header(
    entry: &Planned<'_>,
    header: &[u8; LOCAL_LEN],
    flags: u16,
    extra: &[u8],
) -> Result<(), ZipError> {
    let name = entry.name;
    if flags & (FLAG_ENCRYPTED | FLAG_STRONG_ENCRYPTION | FLAG_MASKED_HEADERS) != 0 {
        return Err(ZipError::Encrypted {
            name: name.to_owned(),
        });
    }
    if has_zip64_extra(extra) {
        return Err(ZipError::Zip64 {
            found: format!("ZIP64 fields in the local header of entry {name:?}"),
        });
    }
    let mismatch = |field, local: u64, central: u64| ZipError::LocalHeaderMismatch {
        name: name.to_owned(),
        field,
        local,
        central,
    };
    // Bit 3 decides where a reader looks for the sizes, so a disagreement
    // here is a disagreement about the entry's length.
    if flags != entry.flags {
        return Err(mismatch(
            "general-purpose flags",
            flags.into(),
            entry.flags.into(),
        ));
    }
    let method = le16!(header, 8);
    if method != entry.method {
        return Err(mismatch(
            "compression method",
            method.into(),
            entry.method.into(),
        ));
    }
    let crc = le32!(header, 14);
    let compressed = u64::from(le32!(header, 18));
    let uncompressed = u64::from(le32!(header, 22));
    // With a data descriptor a streaming writer does not know the values
    // when it writes the local header and leaves them zero; the descriptor
    // after the data then carries them. Zero is accepted there, any other
    // value must be the real one.
    let deferred = flags & FLAG_DATA_DESCRIPTOR != 0;
    let agrees = |local: u64, central: u64| local == central || (deferred && local == 0);
    if !agrees(crc.into(), entry.crc.into()) {
        return Err(mismatch("CRC-32", crc.into(), entry.crc.into()));
    }
    if !agrees(compressed, entry.compressed) {
        return Err(mismatch("compressed size", compressed, entry.compressed));
    }
    if !agrees(uncompressed, entry.uncompressed) {
        return Err(mismatch(
            "uncompressed size",
            uncompressed,
            entry.uncompressed,
        ));
    }
    Ok(())
}

/// Checks the data descriptor that follows an entry's data when flag bit 3
/// is set, and returns its length: 16 bytes with the optional signature, 12
/// without (ZIP64 descriptors are refused with ZIP64). Its CRC-32 and sizes
/// must equal the central directory's.
fn check_data_descriptor(archive: &[u8], entry: &Planned<'_>, at: u64) -> Result<u64, ZipError> {
    let name = entry.name;
    let expected = [
        entry.crc,
        // check_records refused sizes that do not fit 32 bits.
        u32::try_from(entry.compressed).unwrap_or(u32::MAX),
        u32::try_from(entry.uncompressed).unwrap_or(u32::MAX),
    ];
    let fields = |b: &[u8; 12]| [le32!(b, 0), le32!(b, 4), le32!(b, 8)];
    let signed =
        fixed_at::<4>(archive, at).is_some_and(|s| u32::from_le_bytes(*s) == DESCRIPTOR_SIG);
    let (body_at, len) = if signed { (at + 4, 16) } else { (at, 12) };
    let Some(body) = fixed_at::<12>(archive, body_at) else {
        return Err(truncated(
            archive,
            format!("the data descriptor of entry {name:?}"),
            at,
            len,
        ));
    };
    let found = fields(body);
    for (field, (descriptor, central)) in ["CRC-32", "compressed size", "uncompressed size"]
        .into_iter()
        .zip(found.into_iter().zip(expected))
    {
        if descriptor != central {
            return Err(ZipError::DataDescriptorMismatch {
                name: name.to_owned(),
                field,
                descriptor: descriptor.into(),
                central: central.into(),
            });
        }
    }
    Ok(len)
}

fn check_crc(entry: &ZipEntryRef<'_>, data: &[u8]) -> Result<(), ZipError> {
    let mut crc = Crc::new();
    crc.update(data);
    if crc.sum() != entry.crc {
        return Err(ZipError::CrcMismatch {
            name: entry.name.to_owned(),
            expected: entry.crc,
            actual: crc.sum(),
        });
    }
    Ok(())
}

/// Inflates under a hard cap of the declared size: output is produced in
/// small chunks and the entry is refused as soon as it passes the declared
/// size (which check_records already held to the limits). This is the
/// "reader limited to declared + 1 bytes" without ever holding the extra byte.
///
/// The stream must also end exactly at the end of the compressed bytes: a
/// stream that stops early would leave bytes some other tool might read,
/// and one that runs past them is truncated.
fn inflate(entry: &ZipEntryRef<'_>) -> Result<Vec<u8>, ZipError> {
    let input = entry.data;
    const CHUNK: usize = 32 * 1024;
    let corrupt = |detail: String| ZipError::CorruptDeflate {
        name: entry.name.to_owned(),
        detail,
    };
    let declared = entry.size;
    // Deflate cannot expand by more than about 1032:1, so a lying declared
    // size cannot make us reserve much more than the input justifies.
    let plausible = len_of(input).saturating_mul(1032).saturating_add(64);
    let capacity = usize::try_from(declared.min(plausible)).unwrap_or(0);
    let mut out = Vec::with_capacity(capacity);
    let mut chunk = vec![0u8; CHUNK];
    let mut inflater = Decompress::new(false);
    loop {
        let consumed = usize::try_from(inflater.total_in()).unwrap_or(usize::MAX);
        let Some(rest) = input.get(consumed..) else {
            return Err(corrupt("the decoder read past its input".into()));
        };
        let before_in = inflater.total_in();
        let before_out = inflater.total_out();
        let status = inflater
            .decompress(rest, &mut chunk, FlushDecompress::None)
            .map_err(|e| corrupt(e.to_string()))?;
        let produced = usize::try_from(inflater.total_out() - before_out).unwrap_or(usize::MAX);
        let Some(produced_bytes) = chunk.get(..produced) else {
            return Err(corrupt("the decoder wrote past its buffer".into()));
        };
        if len_of(&out).saturating_add(len_of(produced_bytes)) > declared {
            return Err(ZipError::LargerThanDeclared {
                name: entry.name.to_owned(),
                declared,
            });
        }
        out.extend_from_slice(produced_bytes);
        match status {
            Status::StreamEnd => break,
            Status::Ok | Status::BufError => {
                if produced == 0 && inflater.total_in() == before_in {
                    return Err(corrupt(format!(
                        "the stream is cut off after {} compressed bytes \
                         and {} uncompressed bytes",
                        inflater.total_in(),
                        out.len()
                    )));
                }
            }
        }
    }
    if inflater.total_in() != len_of(input) {
        return Err(corrupt(format!(
            "the stream ends after {} of its {} compressed bytes",
            inflater.total_in(),
            input.len()
        )));
    }
    if len_of(&out) < declared {
        return Err(ZipError::SmallerThanDeclared {
            name: entry.name.to_owned(),
            declared,
            actual: len_of(&out),
        });
    }
    Ok(out)
}
