//! C2SP signed notes (<https://c2sp.org/signed-note>), transparency-log checkpoints
//! (<https://c2sp.org/tlog-checkpoint>) and witness cosignatures
//! (<https://c2sp.org/tlog-cosignature>), verified offline.
//!
//! A signed note is a text ending in a newline, a blank line, and one or more
//! signature lines `— <key name> <base64(4-byte key id || signature)>`. A verifier
//! is configured with keys (name, key id, algorithm, public key); signature lines
//! from other keys are ignored, as the spec demands, but a line from a known key
//! that does not verify rejects the whole note: it can only be a forgery or a
//! corruption, and silently skipping it would hide either.
//!
//! Key ids:
//! - Ed25519 (type 0x01) and timestamped Ed25519 cosignatures (type 0x04):
//!   `SHA-256(name || 0x0A || type || 32-byte key)[:4]`;
//! - ECDSA (type 0x02, what Sigstore's Rekor v1 and the transparency-dev witness
//!   sign with): the first four bytes of SHA-256 of the key's DER SubjectPublicKeyInfo,
//!   i.e. of Rekor's log id. The signature is ASN.1 DER (a fixed-size r||s is
//!   refused) over the SHA-256 of the note text on every curve, P-384 and P-521
//!   included, as Rekor's and transparency-dev's verifiers hash it.
//!
//! Everything is bounded before it is parsed: [`MAX_NOTE_LEN`] bytes and
//! [`MAX_SIGNATURES`] signature lines (the spec asks for at least 16).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use ring::signature::{self as ring_sig, UnparsedPublicKey};
use sha2::{Digest as _, Sha256};

use crate::keys::{HashAlg, KeyType, PublicKey, SignatureScheme, SigningKey, is_strict_ecdsa_der};
use crate::merkle::Hash;

/// A checkpoint with a few post-quantum signatures fits many times over.
pub const MAX_NOTE_LEN: usize = 64 * 1024;
/// Signature lines accepted in one note.
pub const MAX_SIGNATURES: usize = 64;
/// Checkpoint extension lines accepted after the root hash.
pub const MAX_EXTENSION_LINES: usize = 32;

const SIG_TYPE_ED25519: u8 = 0x01;
const SIG_TYPE_ECDSA: u8 = 0x02;
const SIG_TYPE_COSIGNATURE_V1: u8 = 0x04;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    #[error("signed note is {0} bytes, more than the {MAX_NOTE_LEN} accepted")]
    TooLarge(usize),
    #[error("signed note is malformed: {0}")]
    Malformed(String),
    #[error("signed note has more than {MAX_SIGNATURES} signature lines")]
    TooManySignatures,
    #[error("signature by note key {name} (key id {key_id:08x}) does not verify")]
    SignatureInvalid { name: String, key_id: u32 },
    #[error(
        "signature by note key {name} (key id {key_id:08x}) is {len} bytes that are not an ASN.1 DER ECDSA signature (a fixed-size r||s is refused, as Go refuses it)"
    )]
    EcdsaSignatureNotDer {
        name: String,
        key_id: u32,
        len: usize,
    },
    #[error("note key {name} signed the note more than once")]
    DuplicateSignature { name: String },
    #[error("the note carries no signature by a trusted key (it is signed by: {signers})")]
    NoTrustedSignature { signers: String },
    #[error("note key is malformed: {0}")]
    BadKey(String),
    #[error("checkpoint is malformed: {0}")]
    BadCheckpoint(String),
    #[error(
        "{verified} witness cosignature(s) verified, but the policy requires {threshold} of {configured} witnesses"
    )]
    WitnessThresholdNotMet {
        verified: usize,
        threshold: usize,
        configured: usize,
    },
}

impl NoteError {
    /// The stable reason string used in reports, conditions and Events.
    pub fn reason(&self) -> &'static str {
        match self {
            NoteError::TooLarge(_)
            | NoteError::Malformed(_)
            | NoteError::TooManySignatures
            | NoteError::BadCheckpoint(_) => "CheckpointMalformed",
            NoteError::SignatureInvalid { .. }
            | NoteError::EcdsaSignatureNotDer { .. }
            | NoteError::DuplicateSignature { .. } => "CheckpointSignatureInvalid",
            NoteError::NoTrustedSignature { .. } => "LogKeyNotTrusted",
            NoteError::BadKey(_) => "KeyMalformed",
            NoteError::WitnessThresholdNotMet { .. } => "WitnessThresholdNotMet",
        }
    }
}

/// One `— name base64` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The signature bytes after the key id.
    pub signature: Vec<u8>,
}

/// A parsed, not yet verified, signed note.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedNote {
    /// The signed text, final newline included.
    pub text: String,
    pub signatures: Vec<NoteSignature>,
}

/// How a key signs.
#[derive(Clone, PartialEq, Eq)]
enum KeyKind {
    Ed25519([u8; 32]),
    /// Any ECDSA curve; the signature is ASN.1 DER over SHA-256 of the text,
    /// whatever the curve, as Rekor and transparency-dev sign and verify.
    Ecdsa(PublicKey),
    CosignatureV1([u8; 32]),
}

/// A key a note may be signed with.
#[derive(Clone, PartialEq, Eq)]
pub struct NoteVerifier {
    pub name: String,
    pub key_id: u32,
    kind: KeyKind,
}

impl std::fmt::Debug for NoteVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kind = match &self.kind {
            KeyKind::Ed25519(_) => "Ed25519",
            KeyKind::Ecdsa(key) => key.key_type().name(),
            KeyKind::CosignatureV1(_) => "cosignature/v1",
        };
        write!(f, "NoteVerifier({} {:08x} {kind})", self.name, self.key_id)
    }
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c == '+') {
        return Err(NoteError::BadKey(format!(
            "key name {name:?} is empty or contains a space or '+'"
        )));
    }
    Ok(())
}

fn typed_key_id(name: &str, sig_type: u8, key: &[u8]) -> u32 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([b'\n', sig_type]);
    h.update(key);
    let d = h.finalize();
    u32::from_be_bytes([d[0], d[1], d[2], d[3]])
}

impl NoteVerifier {
    /// An Ed25519 note key (signature type 0x01).
    pub fn ed25519(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            key_id: typed_key_id(name, SIG_TYPE_ED25519, &key),
            kind: KeyKind::Ed25519(key),
        })
    }

    /// A witness's timestamped Ed25519 cosignature key (signature type 0x04).
    pub fn cosignature_v1(name: &str, key: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        Ok(Self {
            name: name.to_string(),
            key_id: typed_key_id(name, SIG_TYPE_COSIGNATURE_V1, &key),
            kind: KeyKind::CosignatureV1(key),
        })
    }

    /// The note key for a public key: Ed25519 as type 0x01 (its key id bound
    /// to the name), ECDSA on any curve with the first four bytes of SHA-256
    /// of its canonical SubjectPublicKeyInfo as key id, as Rekor computes it.
    pub fn from_public_key(name: &str, key: &PublicKey) -> Result<Self, NoteError> {
        check_name(name)?;
        match key.key_type() {
            KeyType::Ed25519 => {
                let raw: [u8; 32] = key
                    .raw()
                    .try_into()
                    .map_err(|_| NoteError::BadKey("an Ed25519 key is 32 bytes".into()))?;
                Self::ed25519(name, raw)
            }
            t if t.is_ecdsa() => {
                let id = key.key_id();
                let d = id.as_bytes();
                Ok(Self {
                    name: name.to_string(),
                    key_id: u32::from_be_bytes([d[0], d[1], d[2], d[3]]),
                    kind: KeyKind::Ecdsa(key.clone()),
                })
            }
            other => Err(NoteError::BadKey(format!(
                "{other} keys do not sign notes (Ed25519, ECDSA)"
            ))),
        }
    }

    /// A key given as a DER SubjectPublicKeyInfo; see [`Self::from_public_key`].
    pub fn from_spki_der(name: &str, spki_der: &[u8]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key =
            PublicKey::from_spki_der(spki_der).map_err(|e| NoteError::BadKey(e.to_string()))?;
        Self::from_public_key(name, &key)
    }

    /// A verifier key in the `vkey` text form `<name>+<hex key id>+<base64(type || key)>`,
    /// e.g. `sum.golang.org+033de0ae+Ac4zctda0e5eza+HJyk9SxEdh+s3Ly18OoSsdSpATIjS2TUY0aQJ4Ri2S6jn1MTzfV`.
    /// The key id must match the one computed from the key.
    pub fn from_vkey(vkey: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadKey(format!("vkey {vkey:?}: {why}"));
        if vkey.len() > 4096 {
            return Err(bad("longer than 4096 bytes"));
        }
        let mut parts = vkey.splitn(3, '+');
        let (Some(name), Some(id_hex), Some(key_b64)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad("expected name+keyid+key"));
        };
        if id_hex.len() != 8 || !id_hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(bad("the key id is not 8 hex digits"));
        }
        let id = u32::from_str_radix(id_hex, 16).map_err(|_| bad("bad key id"))?;
        let raw = STANDARD
            .decode(key_b64)
            .map_err(|_| bad("the key is not valid base64"))?;
        let (&ty, key) = raw.split_first().ok_or_else(|| bad("empty key"))?;
        let v = match ty {
            SIG_TYPE_ED25519 | SIG_TYPE_COSIGNATURE_V1 => {
                let key: [u8; 32] = key
                    .try_into()
                    .map_err(|_| bad("an Ed25519 key is 32 bytes"))?;
                if ty == SIG_TYPE_ED25519 {
                    Self::ed25519(name, key)?
                } else {
                    Self::cosignature_v1(name, key)?
                }
            }
            SIG_TYPE_ECDSA => Self::from_spki_der(name, key)?,
            other => {
                return Err(bad(&format!(
                    "signature type 0x{other:02x} is not supported"
                )));
            }
        };
        if v.key_id != id {
            return Err(bad(&format!(
                "key id {id:08x} does not match the key (computed {:08x})",
                v.key_id
            )));
        }
        Ok(v)
    }

    fn matches(&self, sig: &NoteSignature) -> bool {
        sig.name == self.name && sig.key_id == self.key_id
    }

    /// Refuses an ECDSA signature that is not ASN.1 DER, as Go's note
    /// verifiers do: a fixed-size r||s is a different encoding of the same
    /// signature, and a note has one.
    pub fn check_encoding(&self, sig: &NoteSignature) -> Result<(), NoteError> {
        match &self.kind {
            KeyKind::Ecdsa(key) if !is_strict_ecdsa_der(&sig.signature, key.key_type()) => {
                Err(NoteError::EcdsaSignatureNotDer {
                    name: sig.name.clone(),
                    key_id: sig.key_id,
                    len: sig.signature.len(),
                })
            }
            _ => Ok(()),
        }
    }

    /// Checks one signature line against this key; for a cosignature, returns its timestamp.
    fn check(&self, text: &str, sig: &[u8]) -> Option<Option<u64>> {
        match &self.kind {
            KeyKind::Ed25519(key) => UnparsedPublicKey::new(&ring_sig::ED25519, key)
                .verify(text.as_bytes(), sig)
                .ok()
                .map(|_| None),
            KeyKind::Ecdsa(key) => key
                .verify_signature(
                    SignatureScheme::Ecdsa(HashAlg::Sha256),
                    text.as_bytes(),
                    sig,
                )
                .ok()
                .map(|_| None),
            KeyKind::CosignatureV1(key) => {
                if sig.len() != 8 + 64 {
                    return None;
                }
                let ts = u64::from_be_bytes(sig[..8].try_into().ok()?);
                if ts > i64::MAX as u64 {
                    return None;
                }
                let message = format!("cosignature/v1\ntime {ts}\n{text}");
                UnparsedPublicKey::new(&ring_sig::ED25519, key)
                    .verify(message.as_bytes(), &sig[8..])
                    .ok()
                    .map(|_| Some(ts))
            }
        }
    }
}

/// A signature of a trusted key that verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedNoteSignature {
    pub name: String,
    pub key_id: u32,
    /// The cosignature's timestamp (seconds since the epoch), for witness keys.
    pub cosigned_at: Option<u64>,
}

impl SignedNote {
    /// Parses a signed note; nothing is trusted yet.
    pub fn parse(note: &str) -> Result<Self, NoteError> {
        if note.len() > MAX_NOTE_LEN {
            return Err(NoteError::TooLarge(note.len()));
        }
        let malformed = |why: &str| NoteError::Malformed(why.to_string());
        if note.chars().any(|c| c < ' ' && c != '\n') {
            return Err(malformed(
                "it contains a control character other than newline",
            ));
        }
        if !note.ends_with('\n') {
            return Err(malformed("it does not end in a newline"));
        }
        // The text ends at the last blank line: everything after it is signatures.
        let split = note
            .rfind("\n\n")
            .ok_or_else(|| malformed("no blank line separates the text from the signatures"))?;
        let text = &note[..split + 1];
        let sig_block = &note[split + 2..];
        if sig_block.is_empty() {
            return Err(malformed("it has no signature lines"));
        }
        let mut signatures = Vec::new();
        for line in sig_block
            .strip_suffix('\n')
            .unwrap_or(sig_block)
            .split('\n')
        {
            if signatures.len() == MAX_SIGNATURES {
                return Err(NoteError::TooManySignatures);
            }
            let rest = line.strip_prefix("\u{2014} ").ok_or_else(|| {
                malformed("a signature line does not start with an em dash and a space")
            })?;
            let (name, b64) = rest.split_once(' ').ok_or_else(|| {
                malformed("a signature line has no space between name and signature")
            })?;
            if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
                return Err(malformed("a signature line has an invalid key name"));
            }
            let raw = STANDARD
                .decode(b64)
                .map_err(|_| malformed("a signature is not valid base64"))?;
            if raw.len() < 5 {
                return Err(malformed(
                    "a signature is shorter than a key id and one byte",
                ));
            }
            signatures.push(NoteSignature {
                name: name.to_string(),
                key_id: u32::from_be_bytes([raw[0], raw[1], raw[2], raw[3]]),
                signature: raw[4..].to_vec(),
            });
        }
        Ok(Self {
            text: text.to_string(),
            signatures,
        })
    }

    /// Verifies every signature line from a key in `verifiers`; lines from other
    /// keys are ignored. Fails when a known key's line does not verify, when a
    /// key signed twice, or when no known key signed at all.
    pub fn verify(
        &self,
        verifiers: &[NoteVerifier],
    ) -> Result<Vec<VerifiedNoteSignature>, NoteError> {
        let mut verified: Vec<VerifiedNoteSignature> = Vec::new();
        for sig in &self.signatures {
            let Some(v) = verifiers.iter().find(|v| v.matches(sig)) else {
                continue;
            };
            if verified
                .iter()
                .any(|s| s.name == sig.name && s.key_id == sig.key_id)
            {
                return Err(NoteError::DuplicateSignature {
                    name: sig.name.clone(),
                });
            }
            v.check_encoding(sig)?;
            let cosigned_at =
                v.check(&self.text, &sig.signature)
                    .ok_or_else(|| NoteError::SignatureInvalid {
                        name: sig.name.clone(),
                        key_id: sig.key_id,
                    })?;
            verified.push(VerifiedNoteSignature {
                name: sig.name.clone(),
                key_id: sig.key_id,
                cosigned_at,
            });
        }
        if verified.is_empty() {
            return Err(NoteError::NoTrustedSignature {
                signers: self.signer_list(),
            });
        }
        Ok(verified)
    }

    fn signer_list(&self) -> String {
        let list: Vec<String> = self
            .signatures
            .iter()
            .map(|s| format!("{} ({:08x})", s.name, s.key_id))
            .collect();
        list.join(", ")
    }
}

/// The body of a C2SP checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointBody {
    pub origin: String,
    pub tree_size: u64,
    pub root_hash: Hash,
    /// Lines after the root hash, opaque to this verifier.
    pub extensions: Vec<String>,
}

impl CheckpointBody {
    /// Parses a note text as a checkpoint: origin, decimal size, base64 root hash.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let bad = |why: &str| NoteError::BadCheckpoint(why.to_string());
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("the text does not end in a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().unwrap_or_default();
        if origin.is_empty() {
            return Err(bad("the origin line is empty"));
        }
        let size = lines
            .next()
            .ok_or_else(|| bad("the tree size line is missing"))?;
        if size.is_empty()
            || !size.bytes().all(|b| b.is_ascii_digit())
            || (size.len() > 1 && size.starts_with('0'))
        {
            return Err(bad(
                "the tree size is not a decimal number without leading zeros",
            ));
        }
        let tree_size: u64 = size
            .parse()
            .map_err(|_| bad("the tree size is out of range"))?;
        let root = lines
            .next()
            .ok_or_else(|| bad("the root hash line is missing"))?;
        let root_hash: Hash = STANDARD
            .decode(root)
            .ok()
            .and_then(|r| r.try_into().ok())
            .ok_or_else(|| bad("the root hash is not the base64 of 32 bytes"))?;
        let extensions: Vec<String> = lines.map(str::to_string).collect();
        if extensions.len() > MAX_EXTENSION_LINES {
            return Err(bad("too many extension lines"));
        }
        if extensions.iter().any(String::is_empty) {
            return Err(bad("an extension line is empty"));
        }
        Ok(Self {
            origin: origin.to_string(),
            tree_size,
            root_hash,
            extensions,
        })
    }
}

/// Who must have signed a checkpoint: the log, and `threshold` of `witnesses`.
#[derive(Debug, Clone)]
pub struct CheckpointPolicy {
    pub log: Vec<NoteVerifier>,
    pub witnesses: Vec<NoteVerifier>,
    pub threshold: usize,
}

/// A checkpoint whose log signature (and witness quorum) verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub body: CheckpointBody,
    pub log_signer: VerifiedNoteSignature,
    pub witnesses: Vec<VerifiedNoteSignature>,
}

/// Parses and verifies a signed checkpoint note. The log's signature is required
/// (one of `policy.log`); witness cosignatures count towards `policy.threshold`,
/// and a failing one from a configured witness rejects the note.
pub fn verify_checkpoint(
    note: &str,
    policy: &CheckpointPolicy,
) -> Result<VerifiedCheckpoint, NoteError> {
    let signed = SignedNote::parse(note)?;
    let body = CheckpointBody::parse(&signed.text)?;
    let mut all: Vec<NoteVerifier> = policy.log.clone();
    all.extend(policy.witnesses.iter().cloned());
    let verified = signed.verify(&all)?;
    let is_log = |s: &VerifiedNoteSignature| {
        policy
            .log
            .iter()
            .any(|v| v.name == s.name && v.key_id == s.key_id)
    };
    let log_signer = verified
        .iter()
        .find(|s| is_log(s))
        .cloned()
        .ok_or_else(|| NoteError::NoTrustedSignature {
            signers: signed.signer_list(),
        })?;
    let witnesses: Vec<VerifiedNoteSignature> =
        verified.into_iter().filter(|s| !is_log(s)).collect();
    if witnesses.len() < policy.threshold {
        return Err(NoteError::WitnessThresholdNotMet {
            verified: witnesses.len(),
            threshold: policy.threshold,
            configured: policy.witnesses.len(),
        });
    }
    Ok(VerifiedCheckpoint {
        body,
        log_signer,
        witnesses,
    })
}

/// Signs a note text as `name` with `key`: the text, a blank line and one signature
/// line (Ed25519 as type 0x01, ECDSA P-256 with the SPKI key id). For the project's
/// own log and for tests.
pub fn sign(text: &str, name: &str, key: &SigningKey) -> Result<String, NoteError> {
    check_name(name)?;
    if !text.ends_with('\n') {
        return Err(NoteError::Malformed(
            "the text does not end in a newline".into(),
        ));
    }
    let verifier = NoteVerifier::from_public_key(name, &key.public_key())?;
    let mut raw = verifier.key_id.to_be_bytes().to_vec();
    raw.extend_from_slice(&key.sign(text.as_bytes()));
    Ok(format!(
        "{text}\n\u{2014} {name} {}\n",
        STANDARD.encode(raw)
    ))
}

#[cfg(test)]
mod tests;
