//! The deterministic writer.
//!
//! Every header field that ZIP tools usually fill from the environment
//! (clock, host OS, umask, extra timestamps) is a constant here, so the
//! output depends only on the entries given, in the order given.

use std::collections::HashSet;
use std::io::Write as _;

use flate2::Crc;
use flate2::write::DeflateEncoder;

use super::format::*;
use super::{NameProblem, ZipError, check_name};

/// Fixed deflate level: changing it changes every bundle's bytes and digest.
const DEFLATE_LEVEL: u32 = 6;
/// 2.0: the first version with deflate; also enough for stored entries.
const VERSION_NEEDED: u16 = 20;
/// Unix (3) in the high byte, so extractors apply `EXTERNAL_ATTRIBUTES` as
/// file mode bits instead of guessing; spec version 2.0 in the low byte.
const VERSION_MADE_BY: u16 = (3 << 8) | 20;
/// A regular file, mode 0644, whatever the writer's umask.
const EXTERNAL_ATTRIBUTES: u32 = 0o100_644 << 16;
/// UTF-8 names, so non-ASCII names mean the same thing to every reader.
const FLAGS: u16 = FLAG_UTF8;
/// 00:00:00, the earliest DOS time.
const DOS_TIME: u16 = 0;
/// 1980-01-01, the earliest DOS date: (year - 1980) << 9 | month << 5 | day.
const DOS_DATE: u16 = (1 << 5) | 1;
/// Our reader takes 0xFFFF and 0xFFFFFFFF as ZIP64 markers, so the writer
/// stays strictly below them.
const MAX_ENTRIES: usize = u16::MAX as usize - 1;
const MAX_U32_FIELD: u64 = u32::MAX as u64 - 1;

/// Writes `entries` as a ZIP archive, in the order given.
///
/// Each entry is deflated at a fixed level, or stored when deflating would
/// not make it smaller. Names must pass the same rules the reader applies,
/// and must be unique, so everything this writes, [`read_zip`] reads back.
///
/// [`read_zip`]: super::read_zip
pub fn write_zip<'a>(
    entries: impl IntoIterator<Item = (&'a str, &'a [u8])>,
) -> Result<Vec<u8>, ZipError> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    let mut seen = HashSet::new();
    for (name, data) in entries {
        check_name(name).map_err(|problem| ZipError::UnsafeName {
            name: name.to_owned(),
            problem,
        })?;
        if !seen.insert(name) {
            return Err(ZipError::DuplicateName {
                name: name.to_owned(),
            });
        }
        if seen.len() > MAX_ENTRIES {
            return Err(ZipError::TooLargeForZip32 {
                what: format!("more than {MAX_ENTRIES} entries"),
            });
        }
        // check_name caps names at 65535 bytes, which a u16 holds.
        let name_len = u16::try_from(name.len()).map_err(|_| ZipError::UnsafeName {
            name: name.to_owned(),
            problem: NameProblem::TooLong,
        })?;
        let uncompressed = field_u32(data.len(), || format!("entry {name:?}"))?;
        let local_offset = field_u32(out.len(), || {
            format!("entry {name:?}: the archive before it is too large")
        })?;

        let mut crc = Crc::new();
        crc.update(data);
        let crc = crc.sum();
        // Deflate output is never shorter than 2 bytes, so empty data is
        // always stored; skipping the encoder keeps many tiny entries cheap.
        let deflated = if data.is_empty() {
            Vec::new()
        } else {
            deflate(name, data)?
        };
        let (method, payload) = if deflated.len() < data.len() {
            (METHOD_DEFLATE, deflated.as_slice())
        } else {
            (METHOD_STORED, data)
        };
        let compressed = field_u32(payload.len(), || format!("entry {name:?}"))?;

        let fields = Fields {
            method,
            crc,
            compressed,
            uncompressed,
            name_len,
        };
        put32(&mut out, LOCAL_SIG);
        put16(&mut out, VERSION_NEEDED);
        fields.put_common(&mut out);
        put16(&mut out, 0); // extra field length
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(payload);

        put32(&mut central, CENTRAL_SIG);
        put16(&mut central, VERSION_MADE_BY);
        put16(&mut central, VERSION_NEEDED);
        fields.put_common(&mut central);
        put16(&mut central, 0); // extra field length
        put16(&mut central, 0); // comment length
        put16(&mut central, 0); // disk number start
        put16(&mut central, 0); // internal attributes
        put32(&mut central, EXTERNAL_ATTRIBUTES);
        put32(&mut central, local_offset);
        central.extend_from_slice(name.as_bytes());
    }

    let entries = field_u16(seen.len(), || "the entry count".into())?;
    let cd_offset = field_u32(out.len(), || "the central directory offset".into())?;
    let cd_size = field_u32(central.len(), || "the central directory".into())?;
    out.extend_from_slice(&central);
    put32(&mut out, EOCD_SIG);
    put16(&mut out, 0); // this disk
    put16(&mut out, 0); // disk where the central directory starts
    put16(&mut out, entries); // entries on this disk
    put16(&mut out, entries); // entries in total
    put32(&mut out, cd_size);
    put32(&mut out, cd_offset);
    put16(&mut out, 0); // comment length
    Ok(out)
}

/// The run of fields that local and central headers share, from the flags
/// to the extra-field length.
struct Fields {
    method: u16,
    crc: u32,
    compressed: u32,
    uncompressed: u32,
    name_len: u16,
}

impl Fields {
    fn put_common(&self, out: &mut Vec<u8>) {
        put16(out, FLAGS);
        put16(out, self.method);
        put16(out, DOS_TIME);
        put16(out, DOS_DATE);
        put32(out, self.crc);
        put32(out, self.compressed);
        put32(out, self.uncompressed);
        put16(out, self.name_len);
    }
}

fn deflate(name: &str, data: &[u8]) -> Result<Vec<u8>, ZipError> {
    let mut encoder = DeflateEncoder::new(Vec::new(), flate2::Compression::new(DEFLATE_LEVEL));
    encoder
        .write_all(data)
        .and_then(|()| encoder.finish())
        .map_err(|e| ZipError::Compress {
            name: name.to_owned(),
            detail: e.to_string(),
        })
}

/// A count or size below our reader's ZIP64 marker (0xFFFF).
fn field_u16(value: usize, what: impl FnOnce() -> String) -> Result<u16, ZipError> {
    u16::try_from(value)
        .ok()
        .filter(|v| *v < u16::MAX)
        .ok_or_else(|| ZipError::TooLargeForZip32 { what: what() })
}

/// An offset or size below our reader's ZIP64 marker (0xFFFFFFFF).
fn field_u32(value: usize, what: impl FnOnce() -> String) -> Result<u32, ZipError> {
    u64::try_from(value)
        .ok()
        .filter(|v| *v <= MAX_U32_FIELD)
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| ZipError::TooLargeForZip32 { what: what() })
}

fn put16(out: &mut Vec<u8>, value: u16) {
    out.extend_from_slice(&value.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, value: u32) {
    out.extend_from_slice(&value.to_le_bytes());
}
