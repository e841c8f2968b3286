//! The proof bundle: a ZIP of five JSON documents that together prove which
//! scan produced which score for which artifact, and who vouched for it.
//! `docs/proof-bundle-format.md` is the normative description; this module
//! reads and writes exactly that.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::canonical::{self, CanonicalError};
use crate::digest::Sha256Digest;
use crate::dsse::{Envelope, EnvelopeError, PAYLOAD_TYPE_IN_TOTO};
use crate::keys::SigningKey;
use crate::merkle;
use crate::tlog::{LocalLog, TlogEntry};
use crate::x509::{CertError, Certificate, parse_pem_certificates};
use crate::zip::{ZipArchive, ZipEntryRef, ZipError, ZipLimits, write_zip};

pub const MANIFEST: &str = "manifest.json";
pub const MANIFEST_DSSE: &str = "manifest.dsse.json";
pub const SCORE_PROOF: &str = "score_proof.json";
pub const PROOF_ROOT_DSSE: &str = "proof_root.dsse.json";
pub const META: &str = "meta.json";
/// Every bundle holds exactly these entries, in this order when we write it.
pub const ENTRIES: [&str; 5] = [MANIFEST, MANIFEST_DSSE, SCORE_PROOF, PROOF_ROOT_DSSE, META];

pub const MANIFEST_SCHEMA: &str = "stellaops.io/scan-manifest/v1";
pub const SCORE_PROOF_SCHEMA: &str = "stellaops.io/score-proof/v1";
pub const META_SCHEMA: &str = "stellaops.io/bundle-meta/v1";
pub const MANIFEST_PAYLOAD_TYPE: &str = "application/vnd.stellaops.scan-manifest.v1+json";
pub const STATEMENT_TYPE: &str = "https://in-toto.io/Statement/v1";
pub const PREDICATE_TYPE: &str = "https://stellaops.io/attestations/score-proof/v1";

/// Ledgers with more nodes are refused. The node ids are the one part of
/// verification whose memory grows with the ledger (a hash set of 32-byte
/// ids, about 45 bytes a node), so this bounds it, at about 9 MiB; see
/// docs/proof-bundle-format.md section 2 for the measured figures.
pub const MAX_NODES: usize = 200_000;
/// A node may have at most this many parents.
pub const MAX_PARENTS: usize = 1024;
/// Certificates shipped in meta.json (signing certificate plus intermediates).
pub const MAX_CERTIFICATES: usize = 8;

/// The largest bundle file read at all: everything else is bounded by what
/// the archive holds, so this is the first limit a hostile input meets.
pub const MAX_BUNDLE_BYTES: u64 = 24 * 1024 * 1024;

/// The most each entry may inflate to, checked against the declared size
/// before anything is inflated, and again while inflating. The ledger is
/// read as a stream and never held whole (see [`crate::ledger_reader`]);
/// the other entries are parsed whole, and their parsed form can take about
/// twenty times their size, so they are kept small.
pub const ENTRY_LIMITS: [(&str, u64); 5] = [
    (MANIFEST, 256 * 1024),
    (MANIFEST_DSSE, 512 * 1024),
    (SCORE_PROOF, 24 * 1024 * 1024),
    (PROOF_ROOT_DSSE, 256 * 1024),
    (META, 256 * 1024),
];

/// The entry-size limit of the named bundle entry.
pub fn entry_limit(name: &str) -> Option<u64> {
    ENTRY_LIMITS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, l)| *l)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BundleError {
    #[error("not a readable proof bundle: {0}")]
    Zip(#[from] ZipError),
    #[error("bundle is missing the entry {0:?} (a bundle holds {list})", list = ENTRIES.join(", "))]
    MissingEntry(&'static str),
    #[error("bundle holds an unexpected entry {0:?} (a bundle holds exactly {list})", list = ENTRIES.join(", "))]
    UnexpectedEntry(String),
    #[error("{entry}: not valid JSON: {detail}")]
    Json { entry: &'static str, detail: String },
    #[error("{entry}: {detail}")]
    Schema { entry: &'static str, detail: String },
    #[error("{entry}: {source}")]
    Envelope {
        entry: &'static str,
        source: EnvelopeError,
    },
    #[error("meta.json: certificate {index}: {source}")]
    Certificate { index: usize, source: CertError },
    #[error(
        "{entry} declares {size} bytes uncompressed, more than the {limit}-byte limit for this entry"
    )]
    EntryTooLarge {
        entry: &'static str,
        size: u64,
        limit: u64,
    },
    #[error("the bundle is {size} bytes, more than the {limit} bytes accepted")]
    BundleTooLarge { size: u64, limit: u64 },
}

impl BundleError {
    pub fn reason(&self) -> &'static str {
        "BundleMalformed"
    }
}

/// Hashes of the four scan inputs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestInputs {
    pub sbom: Sha256Digest,
    pub feed_snapshot: Sha256Digest,
    pub vex: Sha256Digest,
    pub policy: Sha256Digest,
}

/// The scan manifest (`manifest.json`). Unknown members are allowed and are
/// covered by the manifest id like every other member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanManifest {
    pub schema: String,
    pub artifact_digest: Sha256Digest,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub artifact_name: Option<String>,
    pub inputs: ManifestInputs,
    pub created_at: Timestamp,
    pub deterministic: bool,
}

/// One node of the proof ledger.
#[derive(Debug, Clone, PartialEq)]
pub struct ProofNode {
    pub id: Sha256Digest,
    pub kind: String,
    pub parents: Vec<Sha256Digest>,
    /// The node object without its `id` member: what the id is computed over.
    pub body: Map<String, Value>,
}

/// `score_proof.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct ScoreProof {
    pub manifest_id: Sha256Digest,
    pub nodes: Vec<ProofNode>,
    pub root_hash: Sha256Digest,
}

/// The predicate of the in-toto statement in `proof_root.dsse.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProofRootPredicate {
    pub manifest_id: Sha256Digest,
    pub proof_root_hash: Sha256Digest,
    pub node_count: u64,
    pub signed_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subject {
    pub name: String,
    pub digest: BTreeMap<String, String>,
}

/// An in-toto Statement v1 carrying a [`ProofRootPredicate`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Statement {
    #[serde(rename = "_type")]
    pub statement_type: String,
    pub subject: Vec<Subject>,
    pub predicate_type: String,
    pub predicate: ProofRootPredicate,
}

/// Why an envelope's payload is not the score-proof [`Statement`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StatementError {
    #[error("payload is not JSON: {0}")]
    NotJson(String),
    /// An in-toto statement, but of another kind: worth telling apart from garbage.
    #[error(
        "payload is a statement of type {statement_type:?} with predicate {predicate_type:?}, not an in-toto Statement v1 with a score-proof predicate"
    )]
    OtherType {
        statement_type: String,
        predicate_type: String,
    },
    #[error("payload is not an in-toto Statement v1 with a score-proof predicate: {0}")]
    Malformed(String),
}

impl Statement {
    /// Reads the statement a proof-root envelope signs, strictly (no duplicate keys).
    pub fn from_payload(payload: &[u8]) -> Result<Self, StatementError> {
        let value =
            canonical::parse_strict(payload).map_err(|e| StatementError::NotJson(e.to_string()))?;
        Self::deserialize(&value).map_err(|e| {
            let text = |k: &str| value.get(k).and_then(Value::as_str);
            match (text("_type"), text("predicateType")) {
                (Some(st), Some(pt)) if st != STATEMENT_TYPE || pt != PREDICATE_TYPE => {
                    StatementError::OtherType {
                        statement_type: st.to_string(),
                        predicate_type: pt.to_string(),
                    }
                }
                _ => StatementError::Malformed(e.to_string()),
            }
        })
    }
}

/// `meta.json`: unsigned, informative, except that its times must agree with
/// the signed ones and its certificates must chain to an anchor.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleMeta {
    pub schema: String,
    pub created_at: Timestamp,
    pub signed_at: Timestamp,
    #[serde(default)]
    pub tools: BTreeMap<String, String>,
    /// PEM signing certificate first, then intermediates.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub certificates: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub transparency_log: Option<TlogEntry>,
}

/// `score_proof.json` as the verifier needs it: the declared members, the
/// root recomputed from the node ids, and the first problem with the ids
/// (checked while reading, so the nodes need not be kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerSummary {
    pub manifest_id: Sha256Digest,
    pub root_hash: Sha256Digest,
    pub node_count: u64,
    /// RFC 6962 root over the node ids as written, in ledger order.
    pub computed_root: Sha256Digest,
    /// The first node whose id is wrong, whose parent is not an earlier
    /// node, or that repeats one. Only looked for while the ledger is not
    /// longer than the statement's signed `nodeCount` (past it, the count
    /// is what is wrong and is reported first).
    pub problem: Option<LedgerProblem>,
}

/// Why the ledger's ids do not hold, with the stable reason of `idRecomputed`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerProblem {
    pub reason: &'static str,
    pub message: String,
}

/// Checks node ids, parents and uniqueness as nodes arrive.
struct LedgerCheck {
    claimed: u64,
    seen: std::collections::HashSet<Sha256Digest>,
    root: merkle::RootBuilder,
    problem: Option<LedgerProblem>,
}

impl LedgerCheck {
    fn new(claimed: u64) -> Self {
        // The claimed count is not trusted yet, but it is capped, and
        // reserving once avoids holding two tables while one grows.
        let reserve = usize::try_from(claimed).unwrap_or(MAX_NODES).min(MAX_NODES);
        Self {
            claimed,
            seen: std::collections::HashSet::with_capacity(reserve),
            root: merkle::RootBuilder::new(),
            problem: None,
        }
    }

    fn node(&mut self, i: usize, node: &ProofNode) {
        self.root.push(merkle::leaf_hash(&node.id.0));
        if self.problem.is_some() || i as u64 >= self.claimed {
            return;
        }
        let problem = |reason, message| Some(LedgerProblem { reason, message });
        self.problem = match node_id(&node.body) {
            Err(e) => problem(
                "NodeIdMismatch",
                format!("nodes[{i}] cannot be canonicalized: {e}"),
            ),
            Ok(computed) if computed != node.id => problem(
                "NodeIdMismatch",
                format!(
                    "nodes[{i}] ({}) claims id {} but its content hashes to {computed}: the ledger was altered",
                    node.kind, node.id
                ),
            ),
            Ok(_) => match node.parents.iter().find(|p| !self.seen.contains(*p)) {
                Some(p) => problem(
                    "ParentMissing",
                    format!(
                        "nodes[{i}] ({}) names parent {p}, which is not an earlier node",
                        node.kind
                    ),
                ),
                None if !self.seen.insert(node.id) => problem(
                    "NodeIdDuplicate",
                    format!("nodes[{i}] repeats node {}", node.id),
                ),
                None => None,
            },
        };
        if self.problem.is_some() {
            // Only the first problem is reported: the ids are not needed any more.
            self.seen = Default::default();
        }
    }

    fn finish(self, header: crate::ledger_reader::Header) -> LedgerSummary {
        LedgerSummary {
            manifest_id: header.manifest_id,
            root_hash: header.root_hash,
            node_count: header.node_count,
            computed_root: Sha256Digest(self.root.root()),
            problem: self.problem,
        }
    }
}

/// Reads all of `score_proof.json` from a bundle, nodes included (what
/// replaying a ledger needs; verification does not keep the nodes). The
/// memory this takes grows with the ledger: about 1 KiB a node.
pub fn read_score_proof(archive: &[u8], limits: &ZipLimits) -> Result<ScoreProof, BundleError> {
    let zip = ZipArchive::open(archive, limits)?;
    let entries = checked_entries(&zip)?;
    let mut nodes = Vec::new();
    let header = crate::ledger_reader::read_score_proof(entries[2].reader(), |_, node| {
        nodes.push(node);
        Ok(())
    })?;
    Ok(ScoreProof {
        manifest_id: header.manifest_id,
        nodes,
        root_hash: header.root_hash,
    })
}

/// The five entries in [`ENTRIES`] order, checked by name and declared
/// size before any of them is inflated.
fn checked_entries<'z, 'a>(
    zip: &'z ZipArchive<'a>,
) -> Result<[&'z ZipEntryRef<'a>; 5], BundleError> {
    let mut slots: [Option<&ZipEntryRef<'a>>; 5] = Default::default();
    for entry in zip.entries() {
        let idx = ENTRIES
            .iter()
            .position(|e| *e == entry.name)
            .ok_or_else(|| BundleError::UnexpectedEntry(entry.name.to_string()))?;
        if slots[idx].replace(entry).is_some() {
            return Err(BundleError::UnexpectedEntry(format!(
                "{} (given twice)",
                ENTRIES[idx]
            )));
        }
    }
    let mut out = Vec::with_capacity(5);
    for (i, slot) in slots.into_iter().enumerate() {
        let entry = slot.ok_or(BundleError::MissingEntry(ENTRIES[i]))?;
        let limit = ENTRY_LIMITS[i].1;
        if entry.size > limit {
            return Err(BundleError::EntryTooLarge {
                entry: ENTRIES[i],
                size: entry.size,
                limit,
            });
        }
        out.push(entry);
    }
    out.try_into()
        .map_err(|_| BundleError::MissingEntry(ENTRIES[0]))
}

/// A parsed bundle. Parsing checks structure only; trust and consistency
/// are the verifier's job, so that every problem is reported as a named check.
#[derive(Debug, Clone)]
pub struct Bundle {
    pub manifest_value: Value,
    pub manifest: ScanManifest,
    pub manifest_envelope: Envelope,
    /// What `score_proof.json` declares and what its nodes hash to: the
    /// nodes themselves are not kept (see [`read_score_proof`] for them).
    pub ledger: LedgerSummary,
    pub proof_root_envelope: Envelope,
    /// The envelope as JSON, for the transparency-log leaf.
    pub proof_root_envelope_value: Value,
    pub statement: Statement,
    pub meta: BundleMeta,
    pub certificates: Vec<Certificate>,
    /// Size of the ZIP archive in bytes (0 when built from entries).
    pub size: u64,
}

/// Every entry of a bundle but the ledger, parsed: the two envelopes and
/// what their signatures are checked with (the certificates in meta.json),
/// and the small entries the other checks compare them to. All of it is
/// bounded by [`ENTRY_LIMITS`] to well under a megabyte, so it can be read
/// before any signature is known to hold.
#[derive(Debug, Clone)]
pub struct SignedEntries {
    pub manifest_value: Value,
    pub manifest: ScanManifest,
    pub manifest_envelope: Envelope,
    pub proof_root_envelope: Envelope,
    /// The envelope as JSON, for the transparency-log leaf.
    pub proof_root_envelope_value: Value,
    pub statement: Statement,
    pub meta: BundleMeta,
    pub certificates: Vec<Certificate>,
}

/// A bundle whose archive is open and whose [`SignedEntries`] are parsed,
/// with the ledger not read yet: what lets a verifier authenticate a bundle
/// before it spends the ledger's reading on it.
#[derive(Debug, Clone)]
pub struct OpenedBundle<'a> {
    pub signed: SignedEntries,
    ledger: ZipEntryRef<'a>,
    /// Size of the ZIP archive in bytes.
    pub size: u64,
}

impl<'a> OpenedBundle<'a> {
    /// Opens a bundle within `limits` and [`ENTRY_LIMITS`] and parses every
    /// entry but `score_proof.json`, which is only located and size-checked.
    pub fn open(archive: &'a [u8], limits: &ZipLimits) -> Result<Self, BundleError> {
        if archive.len() as u64 > MAX_BUNDLE_BYTES {
            return Err(BundleError::BundleTooLarge {
                size: archive.len() as u64,
                limit: MAX_BUNDLE_BYTES,
            });
        }
        let zip = ZipArchive::open(archive, limits)?;
        let [manifest, manifest_dsse, score, root_dsse, meta] = checked_entries(&zip)?;
        let signed = SignedEntries::parse(
            &manifest.read()?,
            &manifest_dsse.read()?,
            &root_dsse.read()?,
            &meta.read()?,
        )?;
        Ok(Self {
            signed,
            ledger: score.clone(),
            size: archive.len() as u64,
        })
    }

    /// Streams `score_proof.json` (see [`LedgerSummary`]), bounded by the
    /// statement's node count, and completes the bundle.
    pub fn read_ledger(self) -> Result<Bundle, BundleError> {
        let ledger = summarize_ledger(self.ledger.reader(), &self.signed.statement)?;
        let mut bundle = Bundle::from_parts(self.signed, ledger);
        bundle.size = self.size;
        Ok(bundle)
    }
}

/// Reads a ledger as the verifier needs it, without keeping its nodes.
fn summarize_ledger(
    score_proof: impl std::io::Read,
    statement: &Statement,
) -> Result<LedgerSummary, BundleError> {
    let mut check = LedgerCheck::new(statement.predicate.node_count);
    let header = crate::ledger_reader::read_score_proof(score_proof, |i, node| {
        check.node(i, &node);
        Ok(())
    })?;
    Ok(check.finish(header))
}

fn json_entry(entry: &'static str, bytes: &[u8]) -> Result<Value, BundleError> {
    canonical::parse_strict(bytes).map_err(|e| BundleError::Json {
        entry,
        detail: e.to_string(),
    })
}

fn typed<'v, T: Deserialize<'v>>(entry: &'static str, value: &'v Value) -> Result<T, BundleError> {
    T::deserialize(value).map_err(|e| BundleError::Schema {
        entry,
        detail: e.to_string(),
    })
}

fn check_schema(entry: &'static str, value: &Value, expected: &str) -> Result<(), BundleError> {
    match value.get("schema").and_then(Value::as_str) {
        Some(s) if s == expected => Ok(()),
        Some(other) => Err(BundleError::Schema {
            entry,
            detail: format!("schema is {other:?}, this verifier reads {expected:?}"),
        }),
        None => Err(BundleError::Schema {
            entry,
            detail: format!("missing \"schema\": {expected:?}"),
        }),
    }
}

/// The id of a ledger node: the content id of the node without its `id` member.
pub fn node_id(body: &Map<String, Value>) -> Result<Sha256Digest, CanonicalError> {
    canonical::object_content_id(body)
}

/// The ledger's Merkle root: RFC 6962 tree hash over the 32-byte node ids, in ledger order.
pub fn ledger_root<'a>(ids: impl IntoIterator<Item = &'a Sha256Digest>) -> Sha256Digest {
    let leaves: Vec<merkle::Hash> = ids.into_iter().map(|id| merkle::leaf_hash(&id.0)).collect();
    Sha256Digest(merkle::root_from_leaf_hashes(&leaves))
}

impl Bundle {
    /// Reads a bundle from ZIP bytes, within `limits` and [`ENTRY_LIMITS`].
    ///
    /// The entry names and declared sizes are checked before anything is
    /// inflated; the signed entries are read before the ledger, whose
    /// reading they bound (see [`LedgerSummary::problem`]); the ledger is
    /// streamed. It is read whether or not the signatures hold: to verify a
    /// bundle from untrusted bytes, [`crate::verify::verify_zip`] reads it
    /// only once they do.
    pub fn from_zip(archive: &[u8], limits: &ZipLimits) -> Result<Self, BundleError> {
        OpenedBundle::open(archive, limits)?.read_ledger()
    }

    /// Reads a bundle from its five named entries.
    pub fn from_entries(
        entries: impl IntoIterator<Item = (String, Vec<u8>)>,
    ) -> Result<Self, BundleError> {
        let mut slots: [Option<Vec<u8>>; 5] = Default::default();
        for (name, data) in entries {
            let idx = ENTRIES
                .iter()
                .position(|e| *e == name)
                .ok_or(BundleError::UnexpectedEntry(name))?;
            if slots[idx].replace(data).is_some() {
                return Err(BundleError::UnexpectedEntry(format!(
                    "{} (given twice)",
                    ENTRIES[idx]
                )));
            }
        }
        let mut take = |i: usize| slots[i].take().ok_or(BundleError::MissingEntry(ENTRIES[i]));
        let (manifest_raw, manifest_dsse, score_raw, root_dsse, meta_raw) =
            (take(0)?, take(1)?, take(2)?, take(3)?, take(4)?);
        let signed = SignedEntries::parse(&manifest_raw, &manifest_dsse, &root_dsse, &meta_raw)?;
        let ledger = summarize_ledger(score_raw.as_slice(), &signed.statement)?;
        Ok(Self::from_parts(signed, ledger))
    }

    /// A bundle of its signed entries and the summary of its ledger (size 0).
    pub fn from_parts(signed: SignedEntries, ledger: LedgerSummary) -> Self {
        let SignedEntries {
            manifest_value,
            manifest,
            manifest_envelope,
            proof_root_envelope,
            proof_root_envelope_value,
            statement,
            meta,
            certificates,
        } = signed;
        Self {
            manifest_value,
            manifest,
            manifest_envelope,
            ledger,
            proof_root_envelope,
            proof_root_envelope_value,
            statement,
            meta,
            certificates,
            size: 0,
        }
    }

    /// The manifest id: content id of `manifest.json`.
    pub fn manifest_id(&self) -> Result<Sha256Digest, CanonicalError> {
        canonical::content_id(&self.manifest_value)
    }

    /// The transparency-log leaf: canonical JSON of the proof-root envelope.
    pub fn tlog_leaf(&self) -> Result<Vec<u8>, CanonicalError> {
        canonical::to_canonical_bytes(&self.proof_root_envelope_value)
    }
}

impl SignedEntries {
    fn parse(
        manifest_raw: &[u8],
        manifest_dsse: &[u8],
        root_dsse: &[u8],
        meta_raw: &[u8],
    ) -> Result<Self, BundleError> {
        let manifest_envelope = Envelope::from_value(&json_entry(MANIFEST_DSSE, manifest_dsse)?)
            .map_err(|source| BundleError::Envelope {
                entry: MANIFEST_DSSE,
                source,
            })?;
        let proof_root_envelope_value = json_entry(PROOF_ROOT_DSSE, root_dsse)?;
        let proof_root_envelope =
            Envelope::from_value(&proof_root_envelope_value).map_err(|source| {
                BundleError::Envelope {
                    entry: PROOF_ROOT_DSSE,
                    source,
                }
            })?;
        let statement = Statement::from_payload(&proof_root_envelope.payload).map_err(|e| {
            BundleError::Schema {
                entry: PROOF_ROOT_DSSE,
                detail: e.to_string(),
            }
        })?;

        let manifest_value = json_entry(MANIFEST, manifest_raw)?;
        check_schema(MANIFEST, &manifest_value, MANIFEST_SCHEMA)?;
        let manifest: ScanManifest = typed(MANIFEST, &manifest_value)?;

        let meta_value = json_entry(META, meta_raw)?;
        check_schema(META, &meta_value, META_SCHEMA)?;
        let meta: BundleMeta = typed(META, &meta_value)?;
        drop(meta_value);
        if meta.certificates.len() > MAX_CERTIFICATES {
            return Err(BundleError::Schema {
                entry: META,
                detail: format!(
                    "{} certificates, more than {MAX_CERTIFICATES}",
                    meta.certificates.len()
                ),
            });
        }
        let mut certificates = Vec::with_capacity(meta.certificates.len());
        for (index, pem) in meta.certificates.iter().enumerate() {
            let mut certs = parse_pem_certificates(pem)
                .map_err(|source| BundleError::Certificate { index, source })?;
            if certs.len() != 1 {
                return Err(BundleError::Schema {
                    entry: META,
                    detail: format!(
                        "certificates[{index}] must hold exactly one PEM certificate, found {}",
                        certs.len()
                    ),
                });
            }
            certificates.append(&mut certs);
        }

        Ok(Self {
            manifest_value,
            manifest,
            manifest_envelope,
            proof_root_envelope,
            proof_root_envelope_value,
            statement,
            meta,
            certificates,
        })
    }
}

/// A ledger node before its id is known. Parents are the ids of earlier nodes.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeInput {
    pub kind: String,
    pub parents: Vec<Sha256Digest>,
    pub data: Value,
}

impl NodeInput {
    /// The node object without its id: what the id is computed over.
    pub fn body(&self) -> Map<String, Value> {
        let mut body = Map::new();
        body.insert("kind".into(), Value::String(self.kind.clone()));
        body.insert(
            "parents".into(),
            Value::Array(
                self.parents
                    .iter()
                    .map(|p| Value::String(p.to_string()))
                    .collect(),
            ),
        );
        body.insert("data".into(), self.data.clone());
        body
    }

    pub fn id(&self) -> Result<Sha256Digest, CanonicalError> {
        node_id(&self.body())
    }
}

/// What `bundle create` needs besides the signing key.
pub struct BundleSpec<'a> {
    pub manifest: Value,
    pub nodes: Vec<NodeInput>,
    pub signed_at: Timestamp,
    pub tools: BTreeMap<String, String>,
    /// Signing certificate and intermediates, when the key is certified.
    pub certificates: Vec<Certificate>,
    pub transparency_log: Option<(&'a mut LocalLog, &'a SigningKey)>,
}

#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error("manifest: {0}")]
    Manifest(String),
    #[error("ledger node {index}: {detail}")]
    Node { index: usize, detail: String },
    #[error("ledger is empty: a score proof needs at least one node")]
    EmptyLedger,
    #[error("canonical JSON: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("transparency log: {0}")]
    Log(String),
    #[error(transparent)]
    Zip(#[from] ZipError),
}

/// The result of building a bundle.
#[derive(Debug, Clone)]
pub struct BuiltBundle {
    pub zip: Vec<u8>,
    pub manifest_id: Sha256Digest,
    pub root_hash: Sha256Digest,
    pub node_ids: Vec<Sha256Digest>,
    pub artifact_digest: Sha256Digest,
}

fn pretty(value: &Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).unwrap_or_default();
    out.push(b'\n');
    out
}

/// Computes ids and the root, signs both envelopes, optionally logs the proof
/// root, and writes the ZIP. Deterministic for deterministic keys and inputs.
pub fn build_bundle(spec: BundleSpec<'_>, key: &SigningKey) -> Result<BuiltBundle, BuildError> {
    if spec.manifest.get("schema").and_then(Value::as_str) != Some(MANIFEST_SCHEMA) {
        return Err(BuildError::Manifest(format!(
            "\"schema\" must be {MANIFEST_SCHEMA:?}"
        )));
    }
    let manifest: ScanManifest = serde_json::from_value(spec.manifest.clone())
        .map_err(|e| BuildError::Manifest(e.to_string()))?;
    let manifest_bytes = canonical::to_canonical_bytes(&spec.manifest)?;
    let manifest_id = Sha256Digest::of(&manifest_bytes);
    if spec.nodes.is_empty() {
        return Err(BuildError::EmptyLedger);
    }

    let mut node_ids: Vec<Sha256Digest> = Vec::with_capacity(spec.nodes.len());
    let mut node_values = Vec::with_capacity(spec.nodes.len());
    let mut seen = std::collections::HashSet::new();
    for (index, node) in spec.nodes.into_iter().enumerate() {
        if let Some(p) = node.parents.iter().find(|p| !seen.contains(*p)) {
            return Err(BuildError::Node {
                index,
                detail: format!("parent {p} is not an earlier node"),
            });
        }
        let mut body = node.body();
        let id = node_id(&body)?;
        if !seen.insert(id) {
            return Err(BuildError::Node {
                index,
                detail: format!("duplicates an earlier node ({id})"),
            });
        }
        body.insert("id".into(), Value::String(id.to_string()));
        node_ids.push(id);
        node_values.push(Value::Object(body));
    }
    let root_hash = ledger_root(&node_ids);
    let score_proof = serde_json::json!({
        "schema": SCORE_PROOF_SCHEMA,
        "manifestId": manifest_id,
        "nodes": node_values,
        "rootHash": root_hash,
    });

    let manifest_envelope = Envelope::sign(MANIFEST_PAYLOAD_TYPE, manifest_bytes, &[key]);
    let statement = Statement {
        statement_type: STATEMENT_TYPE.into(),
        subject: vec![Subject {
            name: manifest
                .artifact_name
                .clone()
                .unwrap_or_else(|| manifest.artifact_digest.to_string()),
            digest: BTreeMap::from([("sha256".to_string(), manifest.artifact_digest.hex())]),
        }],
        predicate_type: PREDICATE_TYPE.into(),
        predicate: ProofRootPredicate {
            manifest_id,
            proof_root_hash: root_hash,
            node_count: node_ids.len() as u64,
            signed_at: spec.signed_at,
        },
    };
    let statement_bytes = canonical::to_canonical_vec(&statement)?;
    let proof_root_envelope = Envelope::sign(PAYLOAD_TYPE_IN_TOTO, statement_bytes, &[key]);

    let transparency_log = match spec.transparency_log {
        Some((log, log_key)) => {
            let leaf = canonical::to_canonical_bytes(&proof_root_envelope.to_value())?;
            let index = log.append(&leaf);
            Some(
                log.entry(index, log_key)
                    .map_err(|e| BuildError::Log(e.to_string()))?,
            )
        }
        None => None,
    };
    let meta = BundleMeta {
        schema: META_SCHEMA.into(),
        created_at: manifest.created_at,
        signed_at: spec.signed_at,
        tools: spec.tools,
        certificates: spec.certificates.iter().map(Certificate::to_pem).collect(),
        transparency_log,
    };
    let meta_value =
        serde_json::to_value(&meta).map_err(|e| BuildError::Manifest(e.to_string()))?;

    let files: [Vec<u8>; 5] = [
        pretty(&spec.manifest),
        manifest_envelope.to_json_pretty(),
        pretty(&score_proof),
        proof_root_envelope.to_json_pretty(),
        pretty(&meta_value),
    ];
    let zip = write_zip(ENTRIES.iter().copied().zip(files.iter().map(Vec::as_slice)))?;
    Ok(BuiltBundle {
        zip,
        manifest_id,
        root_hash,
        node_ids,
        artifact_digest: manifest.artifact_digest,
    })
}
