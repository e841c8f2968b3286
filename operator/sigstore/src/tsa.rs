//! RFC 3161 timestamps (a TimeStampResp or a bare TimeStampToken): CMS SignedData
//! over a TSTInfo whose messageImprint must be the hash of the bundle's signature
//! bytes, signed by a timestamp authority of the trusted root, whose chain must be
//! valid at the token's genTime, within the authority's validFor window.
//!
//! Parsed with the strict DER reader of this crate rather than the `cms` crate:
//! the handful of fields RFC 3161 needs do not justify `cms`, `x509-cert` and
//! `const-oid` on top of x509-parser, which already parses every certificate here.

use jiff::Timestamp;

use crate::cert::{Cert, check_ca_chain, issued_by, valid_at_all};
use crate::crypto::{self, HashAlg};
use crate::der::{self, Tlv};

const OID_SIGNED_DATA: &str = "1.2.840.113549.1.7.2";
const OID_TST_INFO: &str = "1.2.840.113549.1.9.16.1.4";
const OID_CONTENT_TYPE: &str = "1.2.840.113549.1.9.3";
const OID_MESSAGE_DIGEST: &str = "1.2.840.113549.1.9.4";
const OID_EC_PUBLIC_KEY: &str = "1.2.840.10045.2.1";
const OID_RSA: &str = "1.2.840.113549.1.1.1";
/// A token with a few embedded certificates is a few KiB.
pub const MAX_TOKEN_LEN: usize = 64 * 1024;

/// A timestamp authority of the trusted root.
#[derive(Debug, Clone)]
pub struct Authority {
    /// Leaf (the signing certificate) first.
    pub chain: Vec<Cert>,
    pub start: Timestamp,
    pub end: Option<Timestamp>,
    /// The whole chain is trust material, the leaf too: its links (the leaf issued by the
    /// next certificate, and so on to the root) are checked once, here, not per timestamp.
    links: Result<(), String>,
}

impl Authority {
    pub fn new(chain: Vec<Cert>, start: Timestamp, end: Option<Timestamp>) -> Self {
        let links = match chain.split_first() {
            Some((leaf, rest @ [issuer, ..])) => {
                issued_by(leaf, issuer).and_then(|()| check_ca_chain(rest))
            }
            // A lone certificate: no link to check.
            _ => Ok(()),
        };
        Self {
            chain,
            start,
            end,
            links,
        }
    }
}

/// A parsed, unverified token.
#[derive(Debug, Clone)]
pub struct Token {
    pub gen_time: Timestamp,
    imprint_alg: HashAlg,
    imprint: Vec<u8>,
    econtent: Vec<u8>,
    /// The bytes the TSA signed: DER of the signed attributes as a SET, or eContent.
    signed_bytes: Vec<u8>,
    message_digest: Option<Vec<u8>>,
    digest_alg: HashAlg,
    sig_alg: String,
    signature: Vec<u8>,
}

fn bad<T>(why: impl Into<String>) -> Result<T, String> {
    Err(why.into())
}

fn oid_of(tlv: &Tlv<'_>) -> Result<String, String> {
    let t = der::expect(*tlv, der::OID).map_err(|e| e.to_string())?;
    der::oid_string(t.content).map_err(|e| e.to_string())
}

fn alg_oid(tlv: &Tlv<'_>) -> Result<String, String> {
    let seq = der::expect(*tlv, der::SEQUENCE).map_err(|e| e.to_string())?;
    let parts = der::children(seq.content).map_err(|e| e.to_string())?;
    oid_of(parts.first().ok_or("empty AlgorithmIdentifier")?)
}

fn kids(content: &[u8]) -> Result<Vec<Tlv<'_>>, String> {
    der::children(content).map_err(|e| e.to_string())
}

impl Token {
    pub fn parse(bytes: &[u8]) -> Result<Self, String> {
        if bytes.len() > MAX_TOKEN_LEN {
            return bad(format!(
                "timestamp is {} bytes, more than {MAX_TOKEN_LEN}",
                bytes.len()
            ));
        }
        let top = der::read_only(bytes, der::SEQUENCE).map_err(|e| e.to_string())?;
        let parts = kids(top.content)?;
        // A TimeStampResp starts with PKIStatusInfo; a TimeStampToken with its OID.
        let content_info = match parts.first() {
            Some(first) if first.tag == der::SEQUENCE => {
                let status = kids(first.content)?;
                let code = status
                    .first()
                    .filter(|s| s.tag == der::INTEGER)
                    .ok_or("bad PKIStatusInfo")?;
                if code.content != [0] && code.content != [1] {
                    return bad("the timestamp response status is not granted");
                }
                let token = parts
                    .get(1)
                    .ok_or("the timestamp response holds no token")?;
                kids(
                    der::expect(*token, der::SEQUENCE)
                        .map_err(|e| e.to_string())?
                        .content,
                )?
            }
            _ => parts,
        };
        if content_info.len() != 2 || oid_of(&content_info[0])? != OID_SIGNED_DATA {
            return bad("the token is not CMS SignedData");
        }
        let wrapped = der::expect(content_info[1], 0xa0).map_err(|e| e.to_string())?;
        let sd = der::read_only(wrapped.content, der::SEQUENCE).map_err(|e| e.to_string())?;
        let sd = kids(sd.content)?;
        if sd.len() < 4 {
            return bad("SignedData has too few fields");
        }
        let encap = kids(
            der::expect(sd[2], der::SEQUENCE)
                .map_err(|e| e.to_string())?
                .content,
        )?;
        if encap.len() != 2 || oid_of(&encap[0])? != OID_TST_INFO {
            return bad("the signed content is not a TSTInfo");
        }
        let econtent_wrapped = der::expect(encap[1], 0xa0).map_err(|e| e.to_string())?;
        let econtent = der::read_only(econtent_wrapped.content, der::OCTET_STRING)
            .map_err(|e| e.to_string())?
            .content
            .to_vec();
        let signer_infos =
            der::expect(*sd.last().unwrap_or(&sd[0]), der::SET).map_err(|e| e.to_string())?;
        let signers = kids(signer_infos.content)?;
        if signers.len() != 1 {
            return bad(format!(
                "the token has {} signers; exactly one is expected",
                signers.len()
            ));
        }
        let si = kids(
            der::expect(signers[0], der::SEQUENCE)
                .map_err(|e| e.to_string())?
                .content,
        )?;
        if si.len() < 5 {
            return bad("SignerInfo has too few fields");
        }
        let digest_oid = alg_oid(&si[2])?;
        let digest_alg = HashAlg::from_oid(&digest_oid)
            .ok_or_else(|| format!("digest algorithm {digest_oid} is not supported"))?;
        let (signed_bytes, message_digest, rest) = if si[3].tag == 0xa0 {
            let mut as_set = si[3].raw.to_vec();
            as_set[0] = der::SET;
            let mut md = None;
            let mut content_type_ok = false;
            for attr in kids(si[3].content)? {
                let a = kids(
                    der::expect(attr, der::SEQUENCE)
                        .map_err(|e| e.to_string())?
                        .content,
                )?;
                let (Some(oid), Some(values)) = (a.first(), a.get(1)) else {
                    return bad("malformed signed attribute");
                };
                let values = kids(values.content)?;
                match oid_of(oid)?.as_str() {
                    OID_MESSAGE_DIGEST => {
                        let v = values
                            .first()
                            .filter(|v| v.tag == der::OCTET_STRING)
                            .ok_or("bad messageDigest")?;
                        md = Some(v.content.to_vec());
                    }
                    OID_CONTENT_TYPE => {
                        content_type_ok = values.first().map(oid_of).transpose()?.as_deref()
                            == Some(OID_TST_INFO);
                    }
                    _ => {}
                }
            }
            if md.is_none() || !content_type_ok {
                return bad("the signed attributes lack a TSTInfo contentType or a messageDigest");
            }
            (as_set, md, &si[4..])
        } else {
            (econtent.clone(), None, &si[3..])
        };
        if rest.len() < 2 {
            return bad("SignerInfo lacks its signature");
        }
        let sig_alg = alg_oid(&rest[0])?;
        let signature = der::expect(rest[1], der::OCTET_STRING)
            .map_err(|e| e.to_string())?
            .content
            .to_vec();

        let tst = der::read_only(&econtent, der::SEQUENCE).map_err(|e| e.to_string())?;
        let tst = kids(tst.content)?;
        if tst.len() < 5 {
            return bad("TSTInfo has too few fields");
        }
        let imprint = kids(
            der::expect(tst[2], der::SEQUENCE)
                .map_err(|e| e.to_string())?
                .content,
        )?;
        if imprint.len() != 2 {
            return bad("malformed messageImprint");
        }
        let imprint_oid = alg_oid(&imprint[0])?;
        let imprint_alg = HashAlg::from_oid(&imprint_oid)
            .ok_or_else(|| format!("messageImprint algorithm {imprint_oid} is not supported"))?;
        let imprint = der::expect(imprint[1], der::OCTET_STRING)
            .map_err(|e| e.to_string())?
            .content
            .to_vec();
        let gen_time = der::generalized_time(
            der::expect(tst[4], der::GENERALIZED_TIME)
                .map_err(|e| e.to_string())?
                .content,
        )
        .map_err(|e| e.to_string())?;
        Ok(Token {
            gen_time,
            imprint_alg,
            imprint,
            econtent,
            signed_bytes,
            message_digest,
            digest_alg,
            sig_alg,
            signature,
        })
    }

    fn signature_hash(&self) -> Result<HashAlg, String> {
        match self.sig_alg.as_str() {
            OID_EC_PUBLIC_KEY | OID_RSA => Ok(self.digest_alg),
            other => crypto::signature_algorithm(other)
                .map(|(h, _)| h)
                .ok_or_else(|| format!("signature algorithm {other} is not supported")),
        }
    }

    /// Verifies the token over `signature` against `authorities`; returns genTime.
    pub fn verify(&self, signature: &[u8], authorities: &[Authority]) -> Result<Timestamp, String> {
        if self.imprint_alg.digest(signature) != self.imprint {
            return bad("the timestamp's messageImprint is not the hash of the bundle's signature");
        }
        if let Some(md) = &self.message_digest
            && self.digest_alg.digest(&self.econtent) != *md
        {
            return bad("the timestamp's messageDigest attribute does not match its TSTInfo");
        }
        let hash = self.signature_hash()?;
        let mut problems = Vec::new();
        for tsa in authorities {
            let Some(leaf) = tsa.chain.first() else {
                continue;
            };
            let Ok(key) = &leaf.key else { continue };
            if key
                .verify(hash, &self.signed_bytes, &self.signature)
                .is_err()
            {
                continue;
            }
            let t = self.gen_time;
            if t < tsa.start || tsa.end.is_some_and(|e| t > e) {
                problems.push(format!(
                    "genTime {t} is outside the timestamp authority's validFor window"
                ));
                continue;
            }
            if leaf.eku_time_stamping != Some(true) {
                problems.push(
                    "the timestamp authority's certificate does not allow timeStamping".into(),
                );
                continue;
            }
            let checked = if tsa.chain.len() == 1 {
                if leaf.valid_at(t) {
                    Ok(())
                } else {
                    Err(format!("the TSA certificate is not valid at {t}"))
                }
            } else {
                // What validate_chain(leaf, &tsa.chain[1..], &[t]) checks, the links once.
                tsa.links
                    .clone()
                    .and_then(|()| valid_at_all(&tsa.chain, &[t]))
            };
            match checked {
                Ok(()) => return Ok(t),
                Err(e) => problems.push(format!("timestamp authority chain: {e}")),
            }
        }
        if problems.is_empty() {
            bad("the timestamp is not signed by a timestamp authority of the trusted root")
        } else {
            Err(problems.join("; "))
        }
    }
}
