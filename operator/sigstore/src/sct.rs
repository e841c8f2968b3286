//! RFC 6962 embedded SCTs: the Fulcio leaf carries signed certificate timestamps
//! from CT logs over its precertificate. The signed data is rebuilt from the
//! final certificate: its TBSCertificate without the SCT-list extension (the
//! precertificate had the poison extension there instead, which is also not signed),
//! and the SHA-256 of the issuer's SubjectPublicKeyInfo.

use jiff::Timestamp;

use attestor_core::keys::{HashAlg, PublicKey, SignatureScheme};

use crate::cert::{Cert, OID_SCT_LIST, sha256};
use crate::der;

/// A CT log from the trusted root.
#[derive(Debug, Clone)]
pub struct CtLog {
    pub log_id: [u8; 32],
    pub key: PublicKey,
    /// The scheme the trusted root's `keyDetails` declares; an SCT must use it.
    pub declared: Option<SignatureScheme>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
}

/// One parsed SCT.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sct {
    pub log_id: [u8; 32],
    pub timestamp_ms: u64,
    pub extensions: Vec<u8>,
    pub hash: u8,
    pub sig_alg: u8,
    pub signature: Vec<u8>,
}

struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("the SCT list is truncated".into());
        }
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        Ok(a)
    }
    fn u16(&mut self) -> Result<usize, String> {
        let b = self.take(2)?;
        Ok(u16::from_be_bytes([b[0], b[1]]) as usize)
    }
}

/// Parses the TLS-encoded SCT list (the extension value is a DER OCTET STRING
/// around it, unwrapped by [`Cert::from_der`]).
pub fn parse_list(list: &[u8]) -> Result<Vec<Sct>, String> {
    let mut r = Reader(list);
    let total = r.u16()?;
    if total != r.0.len() {
        return Err("the SCT list length does not match its content".into());
    }
    let mut out = Vec::new();
    while !r.0.is_empty() {
        if out.len() == 64 {
            return Err("more than 64 SCTs".into());
        }
        let len = r.u16()?;
        let mut s = Reader(r.take(len)?);
        let version = s.take(1)?[0];
        if version != 0 {
            return Err(format!("SCT version {version} is not supported"));
        }
        let log_id: [u8; 32] = s.take(32)?.try_into().map_err(|_| "log id")?;
        let timestamp_ms = u64::from_be_bytes(s.take(8)?.try_into().map_err(|_| "timestamp")?);
        let ext_len = s.u16()?;
        let extensions = s.take(ext_len)?.to_vec();
        let hash = s.take(1)?[0];
        let sig_alg = s.take(1)?[0];
        let sig_len = s.u16()?;
        let signature = s.take(sig_len)?.to_vec();
        if !s.0.is_empty() {
            return Err("trailing bytes in an SCT".into());
        }
        out.push(Sct {
            log_id,
            timestamp_ms,
            extensions,
            hash,
            sig_alg,
            signature,
        });
    }
    Ok(out)
}

/// The leaf's TBSCertificate with the SCT-list extension removed.
pub fn precert_tbs(tbs: &[u8]) -> Result<Vec<u8>, String> {
    let seq = der::read_only(tbs, der::SEQUENCE).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    let mut found = false;
    for field in der::children(seq.content).map_err(|e| e.to_string())? {
        if field.tag != 0xa3 {
            out.extend_from_slice(field.raw);
            continue;
        }
        let exts = der::read_only(field.content, der::SEQUENCE).map_err(|e| e.to_string())?;
        let mut kept = Vec::new();
        for ext in der::children(exts.content).map_err(|e| e.to_string())? {
            let parts = der::children(ext.content).map_err(|e| e.to_string())?;
            let oid = parts
                .first()
                .filter(|p| p.tag == der::OID)
                .ok_or("an extension has no OID")?;
            if der::oid_string(oid.content).map_err(|e| e.to_string())? == OID_SCT_LIST {
                found = true;
            } else {
                kept.extend_from_slice(ext.raw);
            }
        }
        out.extend(der::encode(0xa3, &der::encode(der::SEQUENCE, &kept)));
    }
    if !found {
        return Err("the certificate has no SCT list".into());
    }
    Ok(der::encode(der::SEQUENCE, &out))
}

/// Verifies that at least one embedded SCT is from a trusted CT log and valid.
/// Returns the number of SCTs that verified.
pub fn verify_embedded(leaf: &Cert, issuer: &Cert, logs: &[CtLog]) -> Result<usize, String> {
    let list = leaf
        .sct_list
        .as_ref()
        .ok_or("the signing certificate has no embedded SCT")?;
    let scts = parse_list(list)?;
    let tbs = precert_tbs(&leaf.tbs)?;
    if tbs.len() >= 1 << 24 {
        return Err("TBSCertificate too large".into());
    }
    let issuer_key_hash = sha256(&issuer.spki_der);
    let mut verified = 0;
    let mut problems = Vec::new();
    for sct in &scts {
        let Some(log) = logs.iter().find(|l| l.log_id == sct.log_id) else {
            problems.push(format!(
                "SCT from unknown CT log {}",
                hex::encode(sct.log_id)
            ));
            continue;
        };
        // RFC 5246 section 7.4.1.4.1: the SCT names its hash and signature algorithm.
        let hash = match sct.hash {
            4 => HashAlg::Sha256,
            5 => HashAlg::Sha384,
            6 => HashAlg::Sha512,
            other => {
                problems.push(format!("SCT hash algorithm {other} is not supported"));
                continue;
            }
        };
        let scheme = match sct.sig_alg {
            1 => SignatureScheme::RsaPkcs1v15(hash),
            3 => SignatureScheme::Ecdsa(hash),
            other => {
                problems.push(format!("SCT signature algorithm {other} is not supported"));
                continue;
            }
        };
        if let Some(declared) = log.declared
            && declared != scheme
        {
            problems.push(format!(
                "SCT from CT log {} is signed with {scheme}, but the trusted root declares {declared}",
                hex::encode(sct.log_id),
            ));
            continue;
        }
        let mut msg = vec![0u8, 0u8];
        msg.extend_from_slice(&sct.timestamp_ms.to_be_bytes());
        msg.extend_from_slice(&1u16.to_be_bytes());
        msg.extend_from_slice(&issuer_key_hash);
        msg.extend_from_slice(&(tbs.len() as u32).to_be_bytes()[1..]);
        msg.extend_from_slice(&tbs);
        msg.extend_from_slice(&(sct.extensions.len() as u16).to_be_bytes());
        msg.extend_from_slice(&sct.extensions);
        if log
            .key
            .verify_signature(scheme, &msg, &sct.signature)
            .is_err()
        {
            problems.push(format!(
                "SCT from CT log {} does not verify",
                hex::encode(sct.log_id)
            ));
            continue;
        }
        let at = i64::try_from(sct.timestamp_ms)
            .ok()
            .and_then(|ms| Timestamp::from_millisecond(ms).ok());
        match at {
            Some(at) if at >= log.start && log.end.is_none_or(|e| at <= e) => verified += 1,
            _ => problems.push(format!(
                "SCT from CT log {} is outside the log key's validity",
                hex::encode(sct.log_id)
            )),
        }
    }
    if verified == 0 {
        return Err(if problems.is_empty() {
            "the SCT list is empty".into()
        } else {
            problems.join("; ")
        });
    }
    Ok(verified)
}
