//! A minimal, strict DER reader for the few structures x509-parser does not cover
//! (CMS SignedData, TSTInfo, the SCT list, re-encoding a TBSCertificate without
//! its SCT extension). Lengths are checked against the input before anything is
//! sliced, definite lengths only, minimal length encodings only.

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed DER: {0}")]
pub struct DerError(pub String);

fn err<T>(why: &str) -> Result<T, DerError> {
    Err(DerError(why.to_string()))
}

/// One TLV: its tag byte, its content, and its whole encoding.
#[derive(Debug, Clone, Copy)]
pub struct Tlv<'a> {
    pub tag: u8,
    pub content: &'a [u8],
    pub raw: &'a [u8],
}

pub const SEQUENCE: u8 = 0x30;
pub const SET: u8 = 0x31;
pub const INTEGER: u8 = 0x02;
pub const OCTET_STRING: u8 = 0x04;
pub const OID: u8 = 0x06;
pub const UTF8_STRING: u8 = 0x0c;
pub const GENERALIZED_TIME: u8 = 0x18;
pub const BOOLEAN: u8 = 0x01;

/// Reads one TLV from the front of `input`, returning it and the rest.
pub fn read(input: &[u8]) -> Result<(Tlv<'_>, &[u8]), DerError> {
    let (&tag, rest) = input
        .split_first()
        .ok_or(DerError("unexpected end".into()))?;
    if tag & 0x1f == 0x1f {
        return err("multi-byte tags are not supported");
    }
    let (&first, rest) = rest
        .split_first()
        .ok_or(DerError("missing length".into()))?;
    let (len, rest) = if first < 0x80 {
        (first as usize, rest)
    } else {
        let n = (first & 0x7f) as usize;
        if n == 0 {
            return err("indefinite length");
        }
        if n > 4 || rest.len() < n {
            return err("length too long");
        }
        let mut len = 0usize;
        for &b in &rest[..n] {
            len = (len << 8) | b as usize;
        }
        if rest[0] == 0 || len < 0x80 {
            return err("non-minimal length");
        }
        (len, &rest[n..])
    };
    if rest.len() < len {
        return err("content runs past the end");
    }
    let header = input.len() - rest.len();
    Ok((
        Tlv {
            tag,
            content: &rest[..len],
            raw: &input[..header + len],
        },
        &rest[len..],
    ))
}

/// Reads exactly one TLV with tag `tag` spanning all of `input`.
pub fn read_only(input: &[u8], tag: u8) -> Result<Tlv<'_>, DerError> {
    let (tlv, rest) = read(input)?;
    if !rest.is_empty() {
        return err("trailing bytes");
    }
    expect(tlv, tag)
}

pub fn expect(tlv: Tlv<'_>, tag: u8) -> Result<Tlv<'_>, DerError> {
    if tlv.tag != tag {
        return Err(DerError(format!(
            "expected tag 0x{tag:02x}, found 0x{:02x}",
            tlv.tag
        )));
    }
    Ok(tlv)
}

/// The elements of a constructed value.
pub fn children(content: &[u8]) -> Result<Vec<Tlv<'_>>, DerError> {
    let mut out = Vec::new();
    let mut rest = content;
    while !rest.is_empty() {
        if out.len() == 4096 {
            return err("too many elements");
        }
        let (tlv, r) = read(rest)?;
        out.push(tlv);
        rest = r;
    }
    Ok(out)
}

/// Dotted-decimal form of an OID's content bytes.
pub fn oid_string(content: &[u8]) -> Result<String, DerError> {
    if content.is_empty() || content.len() > 64 {
        return err("bad OID length");
    }
    let mut arcs: Vec<u64> = Vec::new();
    let mut value: u64 = 0;
    for (i, &b) in content.iter().enumerate() {
        if value == 0 && b == 0x80 {
            return err("non-minimal OID arc");
        }
        value = value
            .checked_mul(128)
            .ok_or(DerError("OID arc overflow".into()))?
            | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (a, b) = if value < 40 {
                    (0, value)
                } else if value < 80 {
                    (1, value - 40)
                } else {
                    (2, value - 80)
                };
                arcs.push(a);
                arcs.push(b);
            } else {
                arcs.push(value);
            }
            value = 0;
        } else if i == content.len() - 1 {
            return err("truncated OID");
        }
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// Encodes a TLV with a minimal definite length.
pub fn encode(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

/// A GeneralizedTime `YYYYMMDDHHMMSS[.fff]Z` as a timestamp.
pub fn generalized_time(content: &[u8]) -> Result<jiff::Timestamp, DerError> {
    let text = std::str::from_utf8(content).map_err(|_| DerError("time is not ASCII".into()))?;
    let body = text
        .strip_suffix('Z')
        .ok_or(DerError("time is not in UTC".into()))?;
    let (main, frac) = body.split_once('.').unwrap_or((body, ""));
    if main.len() != 14 || !main.bytes().all(|b| b.is_ascii_digit()) {
        return err("time is not YYYYMMDDHHMMSS");
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) || frac.len() > 9 || frac.ends_with('0') {
        return err("bad fractional seconds");
    }
    let iso = format!(
        "{}-{}-{}T{}:{}:{}{}{}Z",
        &main[0..4],
        &main[4..6],
        &main[6..8],
        &main[8..10],
        &main[10..12],
        &main[12..14],
        if frac.is_empty() { "" } else { "." },
        frac
    );
    iso.parse()
        .map_err(|e| DerError(format!("time {text:?} is invalid: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_and_refuses_non_der() {
        let (tlv, rest) = read(&[0x30, 0x03, 0x02, 0x01, 0x05, 0xff]).unwrap();
        assert_eq!(
            (tlv.tag, tlv.content, rest),
            (0x30, &[2u8, 1, 5][..], &[0xffu8][..])
        );
        for bad in [
            &[0x30, 0x80, 0x00, 0x00][..],
            &[0x30, 0x81, 0x05, 0, 0, 0, 0, 0],
            &[0x30, 0x05, 0x00],
            &[0x1f, 0x01, 0x00],
            &[0x30],
        ] {
            assert!(read(bad).is_err(), "{bad:02x?}");
        }
        assert_eq!(encode(0x04, &[0; 200])[..3], [0x04, 0x81, 200]);
    }

    #[test]
    fn oids_and_times() {
        assert_eq!(
            oid_string(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01]).unwrap(),
            "1.2.840.10045.2.1"
        );
        assert!(oid_string(&[0x2a, 0x86]).is_err());
        let t = generalized_time(b"20250612120220Z").unwrap();
        assert_eq!(t.to_string(), "2025-06-12T12:02:20Z");
        let t = generalized_time(b"20250612120220.5Z").unwrap();
        assert_eq!(t.as_millisecond() % 1000, 500);
        assert!(generalized_time(b"20250612120220").is_err());
        assert!(generalized_time(b"20250612120220.50Z").is_err());
    }
}
