//! Transparency-log inclusion, verified offline.
//!
//! A bundle may carry the entry a log made for its signed proof root: the
//! entry's index, an RFC 6962 inclusion proof, and a checkpoint (origin, tree
//! size, root hash) signed by the log's key. Verifying it needs no network:
//! only the log key, which must be a trust anchor for the transparency-log purpose.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::keys::{PublicKey, SigningKey};
use crate::merkle::{self, Hash, MerkleError};
use crate::note::{self, NoteError, NoteVerifier, SignedNote};
use crate::trust::{AnchorMaterial, Purpose, SignerFailure, TrustStore, VerifiedSigner};

/// Inclusion proofs are at most 64 hashes for any tree a log can hold;
/// anything longer is hostile.
pub const MAX_PROOF_LEN: usize = 64;

mod hex_hash {
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(h: &[u8; 32], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&hex::encode(h))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 32], D::Error> {
        let text = String::deserialize(d)?;
        super::parse_hex_hash(&text).map_err(D::Error::custom)
    }
}

mod hex_hashes {
    use serde::{Deserialize, Deserializer, Serializer, de::Error, ser::SerializeSeq};

    pub fn serialize<S: Serializer>(hs: &[[u8; 32]], s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(hs.len()))?;
        for h in hs {
            seq.serialize_element(&hex::encode(h))?;
        }
        seq.end()
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        let texts = Vec::<String>::deserialize(d)?;
        if texts.len() > super::MAX_PROOF_LEN {
            return Err(D::Error::custom(format!(
                "inclusion proof has {} hashes, more than {}",
                texts.len(),
                super::MAX_PROOF_LEN
            )));
        }
        texts
            .iter()
            .map(|t| super::parse_hex_hash(t).map_err(D::Error::custom))
            .collect()
    }
}

/// 64 lowercase hex digits, as every hash in a bundle is written.
fn parse_hex_hash(text: &str) -> Result<Hash, String> {
    crate::digest::Sha256Digest::from_hex(text)
        .map(|d| d.0)
        .map_err(|_| format!("{text:?} is not 64 lowercase hex digits"))
}

/// A signed statement of the log's state.
///
/// Signed in one of two forms, exactly one present: `note`, the C2SP signed note
/// (what real logs publish, and what [`LocalLog`] writes), or `signature`, the bare
/// base64 signature over [`Checkpoint::body`] of bundles made before signed notes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Checkpoint {
    /// The log's name, e.g. `transparency.example.com/attestations`.
    pub origin: String,
    pub tree_size: u64,
    #[serde(with = "hex_hash")]
    pub root_hash: Hash,
    /// Legacy: base64 signature by the log key over [`Checkpoint::body`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    /// The checkpoint as a C2SP signed note: [`Checkpoint::body`], a blank line, and
    /// signature lines; the log key's line is named [`Checkpoint::key_name`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Checkpoint {
    /// The signed text, in the C2SP checkpoint layout:
    /// `<origin>\n<tree size>\n<base64 root hash>\n`.
    pub fn body(origin: &str, tree_size: u64, root_hash: &Hash) -> String {
        format!("{origin}\n{tree_size}\n{}\n", STANDARD.encode(root_hash))
    }

    /// The note key name of the log: the origin up to its first space, as Rekor
    /// names its key `rekor.sigstore.dev` in origin `rekor.sigstore.dev - <tree id>`
    /// (note key names may not contain spaces).
    pub fn key_name(origin: &str) -> &str {
        origin.split(' ').next().unwrap_or(origin)
    }
}

/// The log entry a bundle carries in `meta.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlogEntry {
    /// Key id of the log key.
    pub log_id: String,
    pub log_index: u64,
    #[serde(with = "hex_hashes")]
    pub inclusion_proof: Vec<Hash>,
    pub checkpoint: Checkpoint,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlogFailure {
    #[error("log checkpoint origin {0:?} is empty or contains a line break")]
    BadOrigin(String),
    #[error("log checkpoint signature is not valid base64")]
    BadSignatureEncoding,
    #[error("log checkpoint must carry exactly one of `note` and `signature`")]
    SignatureFormAmbiguous,
    #[error("log checkpoint note: {0}")]
    Note(NoteError),
    #[error(
        "log checkpoint note text does not match its origin, treeSize and rootHash (expected {expected:?})"
    )]
    NoteTextMismatch { expected: String },
    #[error("log checkpoint note has no signature line by log key {log_id} as {name:?}")]
    NoteNotSignedByLogKey { log_id: String, name: String },
    #[error("log checkpoint is not signed by a trusted log key: {0}")]
    CheckpointNotTrusted(SignerFailure),
    #[error("logId {log_id} names another key than the one that signed the checkpoint ({key_id})")]
    LogIdMismatch { log_id: String, key_id: String },
    #[error(
        "inclusion proof for entry {index} in a tree of {tree_size} does not lead to the signed checkpoint root: {source}"
    )]
    InclusionProofInvalid {
        index: u64,
        tree_size: u64,
        source: MerkleError,
    },
}

impl TlogFailure {
    pub fn reason(&self) -> &'static str {
        match self {
            TlogFailure::BadOrigin(_)
            | TlogFailure::BadSignatureEncoding
            | TlogFailure::SignatureFormAmbiguous
            | TlogFailure::NoteTextMismatch { .. } => "CheckpointMalformed",
            TlogFailure::Note(e) => e.reason(),
            TlogFailure::NoteNotSignedByLogKey { .. } => "LogKeyNotTrusted",
            TlogFailure::CheckpointNotTrusted(SignerFailure::TrustAnchorNotFound { .. }) => {
                "LogKeyNotTrusted"
            }
            TlogFailure::CheckpointNotTrusted(SignerFailure::SignatureInvalid { .. }) => {
                "CheckpointSignatureInvalid"
            }
            TlogFailure::CheckpointNotTrusted(other) => other.reason(),
            TlogFailure::InclusionProofInvalid { .. } => "InclusionProofInvalid",
            TlogFailure::LogIdMismatch { .. } => "LogIdMismatch",
        }
    }
}

/// The leaf a log stores for a bundle: the canonical JSON of its signed
/// `proof_root.dsse.json` envelope.
pub fn leaf_hash_for(leaf_data: &[u8]) -> Hash {
    merkle::leaf_hash(leaf_data)
}

impl TlogEntry {
    /// Verifies the checkpoint signature and the inclusion of `leaf_data`.
    pub fn verify(
        &self,
        leaf_data: &[u8],
        trust: &TrustStore,
        at: Timestamp,
    ) -> Result<VerifiedSigner, TlogFailure> {
        let cp = &self.checkpoint;
        if cp.origin.is_empty() || cp.origin.contains('\n') {
            return Err(TlogFailure::BadOrigin(cp.origin.clone()));
        }
        let body = Checkpoint::body(&cp.origin, cp.tree_size, &cp.root_hash);
        let sig = match (&cp.note, &cp.signature) {
            (Some(note), None) => self.note_signature(note, &body, trust)?,
            (None, Some(signature)) => STANDARD
                .decode(signature)
                .map_err(|_| TlogFailure::BadSignatureEncoding)?,
            _ => return Err(TlogFailure::SignatureFormAmbiguous),
        };
        let signer = trust
            .verify_signature(
                &self.log_id,
                body.as_bytes(),
                &sig,
                &[],
                Purpose::TransparencyLog,
                at,
            )
            .map_err(TlogFailure::CheckpointNotTrusted)?;
        if self.log_id != signer.key_id.to_string() {
            return Err(TlogFailure::LogIdMismatch {
                log_id: self.log_id.clone(),
                key_id: signer.key_id.to_string(),
            });
        }
        merkle::verify_inclusion(
            &leaf_hash_for(leaf_data),
            self.log_index,
            cp.tree_size,
            &self.inclusion_proof,
            &cp.root_hash,
        )
        .map_err(|source| TlogFailure::InclusionProofInvalid {
            index: self.log_index,
            tree_size: cp.tree_size,
            source,
        })?;
        Ok(signer)
    }
}

impl TlogEntry {
    /// The log key's signature from a signed-note checkpoint, to be verified over
    /// `body` like a legacy bare signature (so key windows and purposes apply alike).
    /// Lines from other keys (witnesses) are ignored here.
    fn note_signature(
        &self,
        note: &str,
        body: &str,
        trust: &TrustStore,
    ) -> Result<Vec<u8>, TlogFailure> {
        let signed = SignedNote::parse(note).map_err(TlogFailure::Note)?;
        if signed.text != body {
            return Err(TlogFailure::NoteTextMismatch {
                expected: body.to_string(),
            });
        }
        let name = Checkpoint::key_name(&self.checkpoint.origin);
        let not_signed = || TlogFailure::NoteNotSignedByLogKey {
            log_id: self.log_id.clone(),
            name: name.to_string(),
        };
        let keys: Vec<PublicKey> = trust
            .anchors()
            .iter()
            .filter(|a| a.allows(Purpose::TransparencyLog))
            .filter_map(|a| match &a.material {
                AnchorMaterial::Key(k) => Some(k.clone()),
                AnchorMaterial::Certificate { cert, .. } => cert.public_key().ok().cloned(),
                AnchorMaterial::Unsupported { .. } => None,
            })
            .collect();
        // The key `logId` names first; failing that, any log key, so that a wrong
        // `logId` is reported as LogIdMismatch like the legacy form does.
        let named: Vec<&PublicKey> = keys
            .iter()
            .filter(|k| k.key_id().to_string() == self.log_id)
            .collect();
        let candidates = if named.is_empty() {
            keys.iter().collect()
        } else {
            named
        };
        if candidates.is_empty() {
            return Err(TlogFailure::CheckpointNotTrusted(
                SignerFailure::TrustAnchorNotFound {
                    key_ids: vec![self.log_id.clone()],
                },
            ));
        }
        let mut found = None;
        for key in candidates {
            let verifier = NoteVerifier::from_public_key(name, key).map_err(TlogFailure::Note)?;
            let mut lines = signed
                .signatures
                .iter()
                .filter(|s| s.name == verifier.name && s.key_id == verifier.key_id);
            if let Some(line) = lines.next() {
                if lines.next().is_some() {
                    return Err(TlogFailure::Note(NoteError::DuplicateSignature {
                        name: name.to_string(),
                    }));
                }
                // The bare signature is then verified like a legacy one, which may be
                // r||s; a note's ECDSA signature is DER only.
                verifier.check_encoding(line).map_err(TlogFailure::Note)?;
                found = Some(line);
                break;
            }
        }
        let line = found.ok_or_else(not_signed)?;
        Ok(line.signature.clone())
    }
}

/// An append-only log held in memory: what an air-gapped site runs as its own
/// transparency log, and what tests and examples use.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct LocalLog {
    pub origin: String,
    #[serde(with = "hex_hashes_unbounded")]
    pub leaves: Vec<Hash>,
}

/// The log's leaves: as long as the log, unlike an inclusion proof.
mod hex_hashes_unbounded {
    use serde::{Deserialize, Deserializer, de::Error};

    pub use super::hex_hashes::serialize;

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<[u8; 32]>, D::Error> {
        Vec::<String>::deserialize(d)?
            .iter()
            .map(|t| super::parse_hex_hash(t).map_err(D::Error::custom))
            .collect()
    }
}

impl LocalLog {
    pub fn new(origin: impl Into<String>) -> Self {
        Self {
            origin: origin.into(),
            leaves: Vec::new(),
        }
    }

    /// Appends a leaf and returns its index.
    pub fn append(&mut self, leaf_data: &[u8]) -> u64 {
        self.leaves.push(leaf_hash_for(leaf_data));
        (self.leaves.len() - 1) as u64
    }

    /// The entry for leaf `index` against the current tree, with a fresh checkpoint signed by `key`.
    pub fn entry(&self, index: u64, key: &SigningKey) -> Result<TlogEntry, MerkleError> {
        let idx = usize::try_from(index).unwrap_or(usize::MAX);
        let inclusion_proof = merkle::inclusion_proof(&self.leaves, idx)?;
        let root_hash = merkle::root_from_leaf_hashes(&self.leaves);
        let tree_size = self.leaves.len() as u64;
        let body = Checkpoint::body(&self.origin, tree_size, &root_hash);
        // An origin whose first word is no valid note key name (empty, or with a
        // '+' or a tab) cannot be signed as a note; it keeps the legacy signature.
        let (note, signature) = match note::sign(&body, Checkpoint::key_name(&self.origin), key) {
            Ok(note) => (Some(note), None),
            Err(_) => (None, Some(STANDARD.encode(key.sign(body.as_bytes())))),
        };
        Ok(TlogEntry {
            log_id: key.public_key().key_id().to_string(),
            log_index: index,
            inclusion_proof,
            checkpoint: Checkpoint {
                origin: self.origin.clone(),
                tree_size,
                root_hash,
                signature,
                note,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::test_keys::*;
    use crate::trust::TrustAnchor;

    fn setup() -> (SigningKey, TrustStore, LocalLog) {
        let key = SigningKey::from_pem(ED25519_PKCS8).unwrap();
        let anchor = TrustAnchor::from_key("log", key.public_key())
            .with_purposes(vec![Purpose::TransparencyLog]);
        let mut log = LocalLog::new("test.local/log");
        for i in 0..5u8 {
            log.append(&[i]);
        }
        (key, TrustStore::new(vec![anchor]), log)
    }

    #[test]
    fn entry_verifies_and_tampering_fails_with_its_reason() {
        let (key, trust, mut log) = setup();
        let idx = log.append(b"entry");
        log.append(b"later");
        let entry = log.entry(idx, &key).unwrap();
        let at = Timestamp::UNIX_EPOCH;
        entry.verify(b"entry", &trust, at).unwrap();

        let e = entry.verify(b"other", &trust, at).unwrap_err();
        assert_eq!(e.reason(), "InclusionProofInvalid");

        // New entries are signed notes, named by the origin's first word.
        let note = entry.checkpoint.note.as_deref().unwrap();
        assert!(note.starts_with(&Checkpoint::body(
            "test.local/log",
            7,
            &entry.checkpoint.root_hash
        )));
        assert!(note.contains("\n\n\u{2014} test.local/log "), "{note}");
        assert!(entry.checkpoint.signature.is_none());

        let mut bad = entry.clone();
        bad.checkpoint.tree_size += 1;
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointMalformed",
            "the note's text no longer matches the fields"
        );
        let mut bad = entry.clone();
        bad.checkpoint.note = Some(note.replacen("\n7\n", "\n8\n", 1));
        bad.checkpoint.tree_size = 8;
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointSignatureInvalid"
        );
        let mut bad = entry.clone();
        bad.checkpoint.signature = Some("AAAA".into());
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointMalformed",
            "both forms at once are refused"
        );
        let mut bad = entry.clone();
        bad.checkpoint.note = Some(note.replace("test.local/log ", "other.log "));
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "LogKeyNotTrusted",
            "a note without a line by the log key"
        );

        let mut bad = entry.clone();
        bad.log_index = 0;
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "InclusionProofInvalid"
        );

        let mut bad = entry.clone();
        bad.log_id =
            "sha256:0000000000000000000000000000000000000000000000000000000000000000".into();
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "LogIdMismatch"
        );

        let mut bad = entry.clone();
        bad.checkpoint.origin = "a\nb".into();
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointMalformed"
        );

        let signing_only = TrustStore::new(vec![
            TrustAnchor::from_key("k", key.public_key())
                .with_purposes(vec![Purpose::AttestationSigning]),
        ]);
        assert_eq!(
            entry
                .verify(b"entry", &signing_only, at)
                .unwrap_err()
                .reason(),
            "LogKeyNotTrusted"
        );
    }

    #[test]
    fn legacy_bare_signature_checkpoints_still_verify() {
        let (key, trust, mut log) = setup();
        let idx = log.append(b"entry");
        let mut entry = log.entry(idx, &key).unwrap();
        let cp = &mut entry.checkpoint;
        let body = Checkpoint::body(&cp.origin, cp.tree_size, &cp.root_hash);
        cp.note = None;
        cp.signature = Some(STANDARD.encode(key.sign(body.as_bytes())));
        let at = Timestamp::UNIX_EPOCH;
        entry.verify(b"entry", &trust, at).unwrap();
        let json = serde_json::to_value(&entry).unwrap();
        assert!(json["checkpoint"].get("note").is_none());
        let mut bad = entry.clone();
        bad.checkpoint.tree_size += 1;
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointSignatureInvalid"
        );
        bad.checkpoint.signature = None;
        assert_eq!(
            bad.verify(b"entry", &trust, at).unwrap_err().reason(),
            "CheckpointMalformed"
        );
        // Origins whose first word is no note key name keep the legacy form.
        let mut odd = LocalLog::new("tab\tlog");
        odd.append(b"x");
        let e = odd.entry(0, &key).unwrap();
        assert!(e.checkpoint.note.is_none() && e.checkpoint.signature.is_some());
    }

    #[test]
    fn a_note_signature_in_r_s_form_is_refused_but_a_legacy_one_is_not() {
        let key = SigningKey::from_pem(P256_PKCS8).unwrap();
        let anchor = TrustAnchor::from_key("log", key.public_key())
            .with_purposes(vec![Purpose::TransparencyLog]);
        let trust = TrustStore::new(vec![anchor]);
        let mut log = LocalLog::new("test.local/log");
        let idx = log.append(b"entry");
        let entry = log.entry(idx, &key).unwrap();
        let at = Timestamp::UNIX_EPOCH;
        entry.verify(b"entry", &trust, at).unwrap();

        // The same signature as a 64-byte r||s on the note's line.
        let note = entry.checkpoint.note.clone().unwrap();
        let signed = SignedNote::parse(&note).unwrap();
        let line = &signed.signatures[0];
        let fixed = p256::ecdsa::Signature::from_der(&line.signature)
            .unwrap()
            .to_bytes();
        let mut raw = line.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(&fixed);
        let mut bad = entry.clone();
        bad.checkpoint.note = Some(format!(
            "{}\n\u{2014} {} {}\n",
            signed.text,
            line.name,
            STANDARD.encode(raw)
        ));
        let e = bad.verify(b"entry", &trust, at).unwrap_err();
        assert_eq!(e.reason(), "CheckpointSignatureInvalid", "{e}");
        assert!(
            e.to_string().contains("not an ASN.1 DER ECDSA signature"),
            "{e}"
        );

        // The legacy bare signature, the product's own format, still takes r||s.
        let mut legacy = entry.clone();
        let body = Checkpoint::body(
            &legacy.checkpoint.origin,
            legacy.checkpoint.tree_size,
            &legacy.checkpoint.root_hash,
        );
        legacy.checkpoint.note = None;
        let der = key.sign(body.as_bytes());
        let fixed = p256::ecdsa::Signature::from_der(&der).unwrap().to_bytes();
        legacy.checkpoint.signature = Some(STANDARD.encode(fixed));
        legacy.verify(b"entry", &trust, at).unwrap();
    }

    #[test]
    fn entry_json_round_trips_and_refuses_oversized_proofs() {
        let (key, _, log) = setup();
        let entry = log.entry(2, &key).unwrap();
        let json = serde_json::to_string(&entry).unwrap();
        assert_eq!(serde_json::from_str::<TlogEntry>(&json).unwrap(), entry);
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["inclusionProof"] = serde_json::json!(vec![hex::encode([0u8; 32]); MAX_PROOF_LEN + 1]);
        assert!(serde_json::from_value::<TlogEntry>(v.clone()).is_err());
        v["inclusionProof"] = serde_json::json!([hex::encode([0xab; 32]).to_uppercase()]);
        assert!(
            serde_json::from_value::<TlogEntry>(v).is_err(),
            "uppercase hex is refused"
        );
    }
}
