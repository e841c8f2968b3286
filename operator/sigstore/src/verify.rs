//! Verifying one Sigstore bundle against a trusted root and a policy.
//!
//! The order is the one Sigstore clients use: the signature over the content,
//! every transparency-log entry (its body must describe this signature, key and
//! content; its inclusion proof and signed checkpoint, its signed entry
//! timestamp), every RFC 3161 timestamp, then the signing certificate at each
//! verified signing time (chain to a trusted CA, embedded SCT, identity).

use attestor_core::keys::{HashAlg, PublicKey};
use attestor_core::merkle;
use attestor_core::note::{CheckpointBody, NoteVerifier, SignedNote};
pub use attestor_core::verify::TlogPolicy;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use jiff::Timestamp;
use serde_json::Value;

use crate::cert::{Cert, sha256, validate_chain};
use crate::crypto::{Content as Signed, verify_content, verify_content_prehashed};
use crate::error::SigstoreError;
use crate::model::{Bundle, TlogEntry};
use crate::root::{Tlog, TrustedRoot};
use crate::sct;
use crate::tsa::Token;

pub const MAX_BUNDLE_LEN: usize = 16 * 1024 * 1024;
const MAX_TLOG_ENTRIES: usize = 16;
const MAX_TIMESTAMPS: usize = 16;
const MAX_CHAIN: usize = 8;
const MAX_PROOF_HASHES: usize = 64;
const IN_TOTO: &str = "application/vnd.in-toto+json";

/// An exact string, or a regular expression.
#[derive(Debug, Clone)]
pub enum Matcher {
    Exact(String),
    Regex(regex::Regex),
}

impl Matcher {
    /// Compiles `pattern` as cosign (`--certificate-identity-regexp`) and policy-controller
    /// (`subjectRegExp`) compile it: Go's RE2 syntax, matched ANYWHERE in the value unless the
    /// pattern anchors itself, so a policy written for them means the same here. The Rust
    /// `regex` crate is RE2-like (linear time, no backreferences or lookaround); a pattern
    /// using syntax it lacks is refused, never reinterpreted. See [`anchoring_warning`].
    pub fn regex(pattern: &str) -> Result<Self, regex::Error> {
        regex::RegexBuilder::new(pattern)
            .size_limit(1 << 20)
            .build()
            .map(Matcher::Regex)
    }

    pub fn matches(&self, value: &str) -> bool {
        match self {
            Matcher::Exact(s) => s == value,
            Matcher::Regex(r) => r.is_match(value),
        }
    }

    /// For messages: an exact value as it is (like the certificate's values it is compared
    /// with), a pattern between slashes.
    pub fn describe(&self) -> String {
        match self {
            Matcher::Exact(s) => s.clone(),
            Matcher::Regex(r) => format!("/{}/", r.as_str()),
        }
    }
}

/// Why an identity pattern may match more than its author meant, or `None`. Patterns match
/// anywhere in the value (RE2, unanchored, as in cosign): `https://github\\.com/org/` also
/// matches `https://evil.example/?https://github.com/org/`. Anchored means it starts with `^`
/// (or `\\A`) and ends with `$` (or `\\z`) outside an alternation that escapes them.
pub fn anchoring_warning(pattern: &str) -> Option<String> {
    let starts = pattern.starts_with('^') || pattern.starts_with("\\A");
    let ends = (pattern.ends_with('$') && !pattern.ends_with("\\$")) || pattern.ends_with("\\z");
    // `^a$|b` anchors only its first branch: a top-level `|` defeats the anchors unless the
    // alternation is grouped, as in `^(a|b)$`.
    let top_level_alternation = {
        let (mut depth, mut escaped, mut in_class, mut found) = (0i32, false, false, false);
        for c in pattern.chars() {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '[' if !in_class => in_class = true,
                ']' if in_class => in_class = false,
                _ if in_class => {}
                '(' => depth += 1,
                ')' => depth -= 1,
                '|' if depth == 0 => found = true,
                _ => {}
            }
        }
        found
    };
    let missing = match (
        starts && !top_level_alternation,
        ends && !top_level_alternation,
    ) {
        (true, true) => return None,
        (false, true) => "does not start with ^",
        (true, false) => "does not end with $",
        (false, false) if top_level_alternation => {
            "has a top-level | that escapes its anchors (group it: ^(a|b)$)"
        }
        (false, false) => "is anchored at neither end",
    };
    Some(format!(
        "identity pattern {pattern:?} {missing}, so it also matches values that merely contain a match (as in cosign): anchor it with ^ and $, e.g. ^https://github\\.com/org/repo/\\.github/workflows/release\\.yml@refs/tags/v.*$"
    ))
}

/// What is being verified.
#[derive(Debug, Clone)]
pub enum Artifact {
    Bytes(Vec<u8>),
    /// Only the artifact's digest: `sha256:`, `sha384:` or `sha512:` on the command line.
    Digest(HashAlg, Vec<u8>),
    /// For DSSE bundles checked against no artifact (the envelope and identity only; what
    /// was not checked is listed in [`Verified::unchecked`]).
    None,
}

impl Artifact {
    pub fn sha256(digest: [u8; 32]) -> Self {
        Artifact::Digest(HashAlg::Sha256, digest.to_vec())
    }

    /// Parses `sha256:<hex>`, `sha384:<hex>` or `sha512:<hex>` (lower-case hex, the length
    /// of the algorithm's digest).
    pub fn parse_digest(text: &str) -> Result<Self, String> {
        let (name, hex_part) = text.split_once(':').ok_or_else(|| {
            format!("{text:?} is not <algorithm>:<hex>, e.g. sha256:<64 hex digits>")
        })?;
        let alg = match name {
            "sha256" => HashAlg::Sha256,
            "sha384" => HashAlg::Sha384,
            "sha512" => HashAlg::Sha512,
            other => {
                return Err(format!(
                    "digest algorithm {other:?} is not sha256, sha384 or sha512"
                ));
            }
        };
        let want = alg.digest(b"").len();
        if hex_part.len() != want * 2
            || !hex_part
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(format!(
                "a {name} digest is {} lower-case hex digits",
                want * 2
            ));
        }
        let bytes = hex::decode(hex_part).map_err(|e| e.to_string())?;
        Ok(Artifact::Digest(alg, bytes))
    }

    /// The artifact's digests an in-toto subject may name.
    fn digests(&self) -> Vec<(HashAlg, Vec<u8>)> {
        match self {
            Artifact::Bytes(b) => [HashAlg::Sha256, HashAlg::Sha384, HashAlg::Sha512]
                .into_iter()
                .map(|h| (h, h.digest(b)))
                .collect(),
            Artifact::Digest(h, d) => vec![(*h, d.clone())],
            Artifact::None => Vec::new(),
        }
    }
}

/// The in-toto and Rekor v1 name of a hash: `sha256`, `sha384`, `sha512`.
fn intoto_name(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Sha256 => "sha256",
        HashAlg::Sha384 => "sha384",
        HashAlg::Sha512 => "sha512",
    }
}

/// The protobuf-specs `HashAlgorithm` name (Rekor v2 entries, messageDigest).
fn proto_name(h: HashAlg) -> &'static str {
    match h {
        HashAlg::Sha256 => "SHA2_256",
        HashAlg::Sha384 => "SHA2_384",
        HashAlg::Sha512 => "SHA2_512",
    }
}

/// A keyless signer: an OIDC issuer and a subject (SAN) pattern, e.g. a GitHub Actions
/// workflow ref under `https://token.actions.githubusercontent.com`.
#[derive(Debug, Clone)]
pub struct IdentityRule {
    pub issuer: Matcher,
    pub subject: Matcher,
    /// Fulcio extensions the certificate must also carry, by OID (`gh attestation verify
    /// --owner` checks SourceRepositoryOwnerURI, `--repo` SourceRepositoryURI): see
    /// [`fulcio`].
    pub extensions: Vec<(&'static str, Matcher)>,
}

impl IdentityRule {
    /// A signer named by its OIDC issuer and subject alone.
    pub fn new(issuer: Matcher, subject: Matcher) -> Self {
        Self {
            issuer,
            subject,
            extensions: Vec::new(),
        }
    }
}

/// The Fulcio certificate extensions an [`IdentityRule`] can require, and their names.
pub mod fulcio {
    pub const BUILD_SIGNER_URI: &str = "1.3.6.1.4.1.57264.1.9";
    pub const RUNNER_ENVIRONMENT: &str = "1.3.6.1.4.1.57264.1.11";
    pub const SOURCE_REPOSITORY_URI: &str = "1.3.6.1.4.1.57264.1.12";
    pub const SOURCE_REPOSITORY_REF: &str = "1.3.6.1.4.1.57264.1.14";
    pub const SOURCE_REPOSITORY_OWNER_URI: &str = "1.3.6.1.4.1.57264.1.16";

    /// The name Fulcio's documentation gives an extension, for messages.
    pub fn name(oid: &str) -> &str {
        match oid {
            BUILD_SIGNER_URI => "BuildSignerURI",
            RUNNER_ENVIRONMENT => "RunnerEnvironment",
            SOURCE_REPOSITORY_URI => "SourceRepositoryURI",
            SOURCE_REPOSITORY_REF => "SourceRepositoryRef",
            SOURCE_REPOSITORY_OWNER_URI => "SourceRepositoryOwnerURI",
            other => other,
        }
    }
}

/// Who must have signed, and what.
#[derive(Debug, Clone)]
pub struct Policy {
    /// Keyless: the certificate must satisfy one of these (its OIDC issuer extension and one
    /// of its SANs). Empty for key-signed bundles.
    pub identities: Vec<IdentityRule>,
    /// Instead of a certificate: a known public key (DER SubjectPublicKeyInfo).
    pub key: Option<PublicKey>,
    pub artifact: Artifact,
    pub predicate_type: Option<String>,
}

/// What a verified bundle established.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub bundle_version: &'static str,
    /// SAN identity and OIDC issuer (keyless), or the key's SHA-256 (key mode).
    pub identity: Option<String>,
    pub issuer: Option<String>,
    pub key_sha256: Option<String>,
    pub signing_times: Vec<Timestamp>,
    pub tlog_entries: Vec<(String, i64)>,
    pub timestamps: usize,
    pub predicate_type: Option<String>,
    pub content: &'static str,
    /// The DSSE payload type, for envelopes.
    pub payload_type: Option<String>,
    /// What the policy did not ask to be checked, in words (e.g. an envelope verified with no
    /// artifact is bound to none): shown beside the verdict so nobody reads more into it.
    pub unchecked: Vec<String>,
}

fn invalid(e: impl Into<String>) -> SigstoreError {
    SigstoreError::BundleInvalid(e.into())
}

/// The content the signature covers.
struct Content {
    /// The digest a log entry records for this content: the message digest (its algorithm
    /// and value) or the SHA-256 of the DSSE PAE.
    signed_digest: Option<(HashAlg, Vec<u8>)>,
    signature: Vec<u8>,
    dsse: Option<(String, Vec<u8>)>,
}

/// How a verification treats transparency-log entries and timestamps beyond what
/// [`verify_bundle`] does (which is `Options::default()`: an entry is required).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Options<'a> {
    /// `Required`: at least one entry, each verified. `IfPresent`: each entry verified, none
    /// needed (a keyless signature still needs a signing time: an entry or a timestamp).
    /// `Skip`: entries are not looked at, so they give no signing time.
    pub tlog: TlogPolicy,
    /// What else an RFC 3161 timestamp may cover than the signature bytes (cosign's legacy
    /// attestations timestamp the whole DSSE envelope).
    pub timestamped_alternative: Option<&'a [u8]>,
    /// How many verified entries, timestamps and SCTs are needed.
    pub thresholds: Thresholds,
    /// The oldest bundle version accepted: 1 (0.1, the default), 2 or 3. `gh attestation
    /// verify` accepts 0.2 and later only.
    pub min_bundle_version: u8,
}

impl Options<'_> {
    /// What the trusted root implies, as `gh attestation verify` configures sigstore-go for
    /// each instance: a root with transparency logs needs one entry (public-good Sigstore),
    /// a root without (GitHub's instance) needs none, and then one RFC 3161 timestamp.
    pub fn for_root(root: &TrustedRoot) -> Self {
        Self {
            thresholds: Thresholds {
                tlog_entries: Some(usize::from(!root.tlogs.is_empty())),
                ..Thresholds::default()
            },
            ..Self::default()
        }
    }
}

impl Default for Options<'_> {
    fn default() -> Self {
        Self {
            tlog: TlogPolicy::Required,
            timestamped_alternative: None,
            thresholds: Thresholds::default(),
            min_bundle_version: 1,
        }
    }
}

/// How many pieces of each kind of evidence must verify, as sigstore-go's verifier options
/// count them (`WithTransparencyLog(n)`, `WithSignedTimestamps(n)`,
/// `WithSignedCertificateTimestamps(n)`). `None` takes the default: one entry when the
/// [`TlogPolicy`] is `Required` (none otherwise); one RFC 3161 timestamp when the trusted
/// root has timestamp authorities and no log (GitHub's instance for private repositories);
/// one SCT when the root has CT logs. Evidence that does not verify is not counted (a
/// timestamp over something else, an entry of a log the root does not know, a signed entry
/// timestamp that does not verify), again as sigstore-go counts; a threshold not met fails
/// with the first such reason. A keyless bundle always needs at least one verified signing
/// time (a signed entry timestamp or an RFC 3161 timestamp).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    pub tlog_entries: Option<usize>,
    pub signed_timestamps: Option<usize>,
    pub scts: Option<usize>,
}

/// [`Thresholds`] resolved against a trusted root and a [`TlogPolicy`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Required {
    pub tlog_entries: usize,
    pub signed_timestamps: usize,
    pub scts: usize,
}

impl Thresholds {
    pub fn resolve(&self, root: &TrustedRoot, tlog: TlogPolicy) -> Required {
        let logs = !root.tlogs.is_empty();
        Required {
            tlog_entries: match tlog {
                TlogPolicy::Required => self.tlog_entries.unwrap_or(1),
                TlogPolicy::IfPresent => self.tlog_entries.unwrap_or(0),
                TlogPolicy::Skip => 0,
            },
            signed_timestamps: self
                .signed_timestamps
                .unwrap_or(usize::from(!logs && !root.tsas.is_empty())),
            scts: self.scts.unwrap_or(usize::from(!root.ctlogs.is_empty())),
        }
    }
}

/// The bundle's media type as a version number: 1, 2 or 3.
pub(crate) fn parse_bundle(bytes: &[u8]) -> Result<(Bundle, u8), SigstoreError> {
    if bytes.len() > MAX_BUNDLE_LEN {
        return Err(SigstoreError::BundleMalformed(format!(
            "{} bytes, more than {MAX_BUNDLE_LEN}",
            bytes.len()
        )));
    }
    let bundle: Bundle =
        serde_json::from_slice(bytes).map_err(|e| SigstoreError::BundleMalformed(e.to_string()))?;
    let version = match bundle.media_type.as_str() {
        "application/vnd.dev.sigstore.bundle+json;version=0.1" => 1,
        "application/vnd.dev.sigstore.bundle+json;version=0.2" => 2,
        "application/vnd.dev.sigstore.bundle+json;version=0.3"
        | "application/vnd.dev.sigstore.bundle.v0.3+json" => 3,
        other => return Err(SigstoreError::UnsupportedVersion(other.to_string())),
    };
    let vm = &bundle.verification_material;
    if vm.tlog_entries.len() > MAX_TLOG_ENTRIES {
        return Err(invalid(format!(
            "more than {MAX_TLOG_ENTRIES} tlog entries"
        )));
    }
    if vm
        .timestamp_verification_data
        .as_ref()
        .is_some_and(|t| t.rfc3161_timestamps.len() > MAX_TIMESTAMPS)
    {
        return Err(invalid(format!("more than {MAX_TIMESTAMPS} timestamps")));
    }
    Ok((bundle, version))
}

/// Verifies `bundle_json` against `root` and `policy`, with the evidence the root implies
/// ([`Options::for_root`]).
pub fn verify_bundle(
    bundle_json: &[u8],
    root: &TrustedRoot,
    policy: &Policy,
) -> Result<Verified, SigstoreError> {
    verify_bundle_with(bundle_json, root, policy, &Options::for_root(root))
}

/// Whether the bundle is signed with a public key (`verificationMaterial.publicKey`) rather
/// than a certificate: which trust a caller must offer it. Unreadable bundles are the error.
pub fn is_key_signed(bundle_json: &[u8]) -> Result<bool, SigstoreError> {
    let (bundle, _) = parse_bundle(bundle_json)?;
    Ok(bundle.verification_material.public_key.is_some())
}

/// [`verify_bundle`] with [`Options`]: e.g. a key-signed bundle made offline (no log entry)
/// verifies with `TlogPolicy::IfPresent`.
pub fn verify_bundle_with(
    bundle_json: &[u8],
    root: &TrustedRoot,
    policy: &Policy,
    options: &Options<'_>,
) -> Result<Verified, SigstoreError> {
    let (bundle, version) = parse_bundle(bundle_json)?;
    if version < options.min_bundle_version {
        return Err(SigstoreError::VersionNotAccepted(format!(
            "it is {}, and 0.{} or later is required",
            bundle.media_type, options.min_bundle_version
        )));
    }
    verify_parsed(&bundle, version, root, policy, options)
}

/// Verifies a parsed bundle (`version` 1, 2 or 3: what the media type or, for cosign's
/// legacy registry layout, the caller says).
pub(crate) fn verify_parsed(
    bundle: &Bundle,
    version: u8,
    root: &TrustedRoot,
    policy: &Policy,
    options: &Options<'_>,
) -> Result<Verified, SigstoreError> {
    let vm = &bundle.verification_material;

    // The signer: a Fulcio leaf, or a key the policy names.
    let leaf = match (&vm.x509_certificate_chain, &vm.certificate, &vm.public_key) {
        (Some(chain), None, None) => {
            let certs = &chain.certificates;
            if certs.is_empty() {
                return Err(invalid("the certificate chain is empty"));
            }
            if certs.len() > MAX_CHAIN {
                return Err(invalid(format!("more than {MAX_CHAIN} certificates")));
            }
            // Only the leaf is used, as sigstore-go does: the path to a trusted CA is built from
            // the trusted root, never from certificates the bundle brings (a root among them
            // is ignored, as the protobuf-specs say, so it cannot pick its own trust).
            Some(Cert::from_der(&certs[0].raw_bytes.0).map_err(|e| invalid(e.to_string()))?)
        }
        (None, Some(cert), None) => {
            Some(Cert::from_der(&cert.raw_bytes.0).map_err(|e| invalid(e.to_string()))?)
        }
        (None, None, Some(_)) => None,
        (None, None, None) => return Err(invalid("the bundle has no verification material")),
        _ => {
            return Err(invalid(
                "the bundle has more than one kind of verification material",
            ));
        }
    };
    let key = match (&leaf, &policy.key) {
        (Some(leaf), None) => leaf
            .key
            .clone()
            .map_err(|e| invalid(format!("signing certificate key: {e}")))?,
        (None, Some(key)) => key.clone(),
        (Some(_), Some(_)) => {
            return Err(SigstoreError::KeyMismatch(
                "the bundle is signed with a certificate, but a key was given".into(),
            ));
        }
        (None, None) => {
            return Err(SigstoreError::KeyMismatch(
                "the bundle is signed with a public key: give that key to verify it".into(),
            ));
        }
    };
    if leaf.is_some() && policy.identities.is_empty() {
        return Err(SigstoreError::IdentityMismatch(
            "keyless bundles need an expected certificate identity".into(),
        ));
    }

    // The content and its signature.
    let content = match (&bundle.message_signature, &bundle.dsse_envelope) {
        (Some(ms), None) => {
            // The signature is tried with the key's schemes (crypto::content_schemes: a P-384
            // key over SHA-384, and SHA-256 for the clients that signed so), as sigstore-go;
            // the declared messageDigest is only checked against the artifact.
            let declared = match &ms.message_digest {
                Some(md) => Some((message_hash(&md.algorithm)?, md.digest.0.clone())),
                None => None,
            };
            let sig = &ms.signature.0;
            let signed_digest = match &policy.artifact {
                Artifact::None => {
                    return Err(SigstoreError::ArtifactRequired(
                        "a message signature signs an artifact: give the artifact file or its digest".into(),
                    ));
                }
                Artifact::Bytes(b) => {
                    if let Some((h, d)) = &declared
                        && h.digest(b) != *d
                    {
                        return Err(SigstoreError::ArtifactMismatch(format!(
                            "the bundle's messageDigest is not the artifact's {}",
                            h.name()
                        )));
                    }
                    verify_content(&key, Signed::MessageSignature, version, b, sig)
                        .map_err(|e| SigstoreError::SignatureInvalid(e.to_string()))?;
                    declared.unwrap_or_else(|| (HashAlg::Sha256, sha256(b).to_vec()))
                }
                Artifact::Digest(alg, d) => {
                    match &declared {
                        Some((h, dd)) if h == alg && dd != d => {
                            return Err(SigstoreError::ArtifactMismatch(format!(
                                "the bundle's messageDigest is not the artifact's {}",
                                h.name()
                            )));
                        }
                        Some((h, _)) if h != alg => {
                            return Err(SigstoreError::ArtifactMismatch(format!(
                                "the bundle signs the artifact's {}, not its {}: give the artifact file or its {} digest",
                                h.name(),
                                alg.name(),
                                intoto_name(*h)
                            )));
                        }
                        _ => {}
                    }
                    verify_content_prehashed(&key, version, *alg, d, sig).map_err(|e| match e {
                        // Ed25519 and RSA signatures need the artifact's bytes.
                        attestor_core::keys::SignatureError::Unsupported(why) => {
                            SigstoreError::ArtifactRequired(why.to_string())
                        }
                        e => SigstoreError::SignatureInvalid(e.to_string()),
                    })?;
                    (*alg, d.clone())
                }
            };
            Content {
                signed_digest: Some(signed_digest),
                signature: sig.clone(),
                dsse: None,
            }
        }
        (None, Some(env)) => {
            if env.signatures.len() != 1 {
                return Err(invalid(format!(
                    "the DSSE envelope has {} signatures; Sigstore bundles carry exactly one",
                    env.signatures.len()
                )));
            }
            let pae = attestor_core::dsse::pae(&env.payload_type, &env.payload.0);
            let sig = &env.signatures[0].sig.0;
            verify_content(&key, Signed::Dsse, version, &pae, sig)
                .map_err(|e| SigstoreError::SignatureInvalid(format!("DSSE envelope: {e}")))?;
            Content {
                signed_digest: Some((HashAlg::Sha256, sha256(&pae).to_vec())),
                signature: sig.clone(),
                dsse: Some((env.payload_type.clone(), env.payload.0.clone())),
            }
        }
        _ => {
            return Err(invalid(
                "the bundle must hold exactly one of messageSignature and dsseEnvelope",
            ));
        }
    };
    let subject_digests: Vec<(&str, String)> = policy
        .artifact
        .digests()
        .into_iter()
        .map(|(h, d)| (intoto_name(h), hex::encode(d)))
        .collect();
    let mut unchecked = Vec::new();
    let predicate_type = match &content.dsse {
        Some((ty, payload)) if ty == IN_TOTO => {
            if subject_digests.is_empty() {
                unchecked.push(
                    "the subject: no artifact or digest was given, so the statement is not bound to any artifact".into(),
                );
            }
            check_statement(payload, &subject_digests, policy.predicate_type.as_deref())?
        }
        Some((ty, _)) if policy.predicate_type.is_some() || !subject_digests.is_empty() => {
            return Err(SigstoreError::StatementMismatch(format!(
                "payload type {ty:?} is not an in-toto statement, so it names no artifact or predicate type to check"
            )));
        }
        Some((ty, _)) => {
            unchecked.push(format!(
                "the payload: its type is {ty:?}, not an in-toto statement, so nothing in it was read"
            ));
            None
        }
        None if policy.predicate_type.is_some() => {
            return Err(SigstoreError::StatementMismatch(
                "a predicate type is required, but the bundle holds a message signature".into(),
            ));
        }
        _ => None,
    };

    // Transparency log entries: each verified, those a sigstore-go verifier would skip (a log
    // the root does not know, a signed entry timestamp that does not verify) not counted.
    let required = options.thresholds.resolve(root, options.tlog);
    let logged: &[TlogEntry] = if options.tlog == TlogPolicy::Skip {
        &[]
    } else {
        &vm.tlog_entries
    };
    for (i, entry) in logged.iter().enumerate() {
        if logged[..i].iter().any(|other| {
            other.log_id.key_id.0 == entry.log_id.key_id.0 && other.log_index.0 == entry.log_index.0
        }) {
            return Err(SigstoreError::TlogEntryInvalid(format!(
                "the bundle carries log index {} twice (a duplicate cannot count towards a threshold)",
                entry.log_index.0
            )));
        }
    }
    let signer_der: &[u8] = match &leaf {
        Some(l) => &l.der,
        None => key.spki_der(),
    };
    let mut times = Vec::new();
    let mut entries = Vec::new();
    let mut v2_logs: Vec<&Tlog> = Vec::new();
    let mut uncounted: Vec<SigstoreError> = Vec::new();
    for entry in logged {
        let Some(tlog) = root.tlog(&entry.log_id.key_id.0) else {
            uncounted.push(SigstoreError::TlogEntryInvalid(format!(
                "the entry is from log {}, which is not in the trusted root",
                STANDARD.encode(&entry.log_id.key_id.0)
            )));
            continue;
        };
        if entry.log_index.0 < 0 {
            return Err(SigstoreError::TlogEntryInvalid("negative logIndex".into()));
        }
        check_body(entry, &content, signer_der, leaf.is_some())?;
        let v2 = entry.kind_version.version == "0.0.2"
            && matches!(entry.kind_version.kind.as_str(), "hashedrekord" | "dsse");
        match verify_entry(entry, tlog, version, v2) {
            Ok(Some(t)) => times.push(t),
            Ok(None) => {}
            Err(e @ SigstoreError::SetInvalid(_)) => {
                uncounted.push(e);
                continue;
            }
            Err(e) => return Err(e),
        }
        if v2 {
            v2_logs.push(tlog);
        }
        entries.push((tlog.base_url.clone(), entry.log_index.0));
    }
    if entries.len() < required.tlog_entries {
        return Err(uncounted.into_iter().next().unwrap_or_else(|| {
            SigstoreError::TlogEntryInvalid(if vm.tlog_entries.is_empty() {
                "the bundle has no transparency log entry".into()
            } else {
                format!(
                    "{} verified transparency log entries, {} required",
                    entries.len(),
                    required.tlog_entries
                )
            })
        }));
    }

    // RFC 3161 timestamps over the signature: one counted per timestamp authority.
    let mut timestamps = 0;
    let mut authorities_seen = Vec::new();
    let mut timestamp_errors: Vec<SigstoreError> = Vec::new();
    if let Some(tvd) = &vm.timestamp_verification_data {
        for ts in &tvd.rfc3161_timestamps {
            let verified = Token::parse(&ts.signed_timestamp.0).and_then(|token| {
                match (
                    token.verify(&content.signature, &root.tsas),
                    options.timestamped_alternative,
                ) {
                    (Ok(found), _) => Ok(found),
                    (Err(e), None) => Err(e),
                    (Err(e), Some(alt)) => token.verify(alt, &root.tsas).map_err(|_| e),
                }
            });
            let (t, authority) = match verified {
                Ok(found) => found,
                Err(e) => {
                    timestamp_errors.push(SigstoreError::TimestampInvalid(e));
                    continue;
                }
            };
            if authorities_seen.contains(&authority) {
                timestamp_errors.push(SigstoreError::TimestampInvalid(
                    "a second timestamp from the same authority does not count".into(),
                ));
                continue;
            }
            authorities_seen.push(authority);
            // A Rekor v2 entry has no integrated time: the log key must have been valid
            // when the timestamp authority saw the signature.
            if let Some(log) = v2_logs
                .iter()
                .find(|l| t < l.start || l.end.is_some_and(|e| t > e))
            {
                return Err(SigstoreError::TlogEntryInvalid(format!(
                    "the timestamp {t} is outside the validFor window of log {}",
                    log.base_url
                )));
            }
            times.push(t);
            timestamps += 1;
        }
    }
    if timestamps < required.signed_timestamps {
        return Err(timestamp_errors.into_iter().next().unwrap_or_else(|| {
            SigstoreError::TimestampInvalid(format!(
                "{timestamps} verified RFC 3161 timestamps, {} required",
                required.signed_timestamps
            ))
        }));
    }

    let mut verified = Verified {
        bundle_version: match version {
            1 => "0.1",
            2 => "0.2",
            _ => "0.3",
        },
        identity: None,
        issuer: None,
        key_sha256: None,
        signing_times: times.clone(),
        tlog_entries: entries,
        timestamps,
        predicate_type,
        content: if content.dsse.is_some() {
            "dsse"
        } else {
            "messageSignature"
        },
        payload_type: content.dsse.as_ref().map(|(ty, _)| ty.clone()),
        unchecked,
    };
    let Some(leaf) = leaf else {
        verified.key_sha256 = Some(hex::encode(sha256(key.spki_der())));
        return Ok(verified);
    };
    if times.is_empty() {
        // Say why the evidence present did not count, when there was some.
        return Err(timestamp_errors
            .into_iter()
            .chain(uncounted)
            .next()
            .unwrap_or_else(|| SigstoreError::NoSigningTime(
                "no signed entry timestamp or RFC 3161 timestamp proves when the short-lived certificate was used".into(),
            )));
    }
    check_leaf(&leaf)?;
    let mut problems = Vec::new();
    let mut issuer = None;
    for ca in &root.cas {
        if !times.iter().all(|t| ca.valid_at(*t)) {
            problems.push(format!(
                "{}: signing time outside the authority's validFor",
                ca.uri
            ));
            continue;
        }
        match validate_chain(&leaf, &ca.chain, &times) {
            Ok(()) => {
                issuer = Some(&ca.chain[0]);
                break;
            }
            Err(e) => problems.push(format!("{}: {e}", ca.uri)),
        }
    }
    let Some(issuer_cert) = issuer else {
        return Err(SigstoreError::CertificateChainInvalid(
            if problems.is_empty() {
                "the trusted root has no certificate authority".into()
            } else {
                problems.join("; ")
            },
        ));
    };
    if required.scts > 0 {
        let scts = sct::verify_embedded(&leaf, issuer_cert, &root.ctlogs)
            .map_err(SigstoreError::SctInvalid)?;
        if scts < required.scts {
            return Err(SigstoreError::SctInvalid(format!(
                "{scts} verified SCTs, {} required",
                required.scts
            )));
        }
    }
    let (identity, oidc_issuer) = check_identity(&leaf, policy)?;
    verified.identity = Some(identity);
    verified.issuer = oidc_issuer;
    Ok(verified)
}

fn check_leaf(leaf: &Cert) -> Result<(), SigstoreError> {
    let fail = |m: &str| Err(SigstoreError::CertificateChainInvalid(m.to_string()));
    if leaf.is_ca {
        return fail("the signing certificate is a CA certificate");
    }
    if leaf.eku_code_signing != Some(true) {
        return fail("the signing certificate does not allow code signing");
    }
    if leaf.digital_signature == Some(false) {
        return fail("the signing certificate's keyUsage lacks digitalSignature");
    }
    if leaf.has_poison {
        return fail("the signing certificate is a CT precertificate");
    }
    if !leaf.unknown_critical.is_empty() {
        return Err(SigstoreError::CertificateChainInvalid(format!(
            "the signing certificate has unprocessed critical extensions {}",
            leaf.unknown_critical.join(", ")
        )));
    }
    Ok(())
}

fn check_identity(leaf: &Cert, policy: &Policy) -> Result<(String, Option<String>), SigstoreError> {
    let ids = leaf.identities();
    let issuer = leaf.oidc_issuer.as_deref();
    let mut extension_problem = None;
    for rule in &policy.identities {
        if !issuer.is_some_and(|i| rule.issuer.matches(i)) {
            continue;
        }
        let Some(identity) = ids.iter().find(|i| rule.subject.matches(i)) else {
            continue;
        };
        let unmet = rule
            .extensions
            .iter()
            .find(|(oid, want)| !leaf.fulcio.get(*oid).is_some_and(|have| want.matches(have)));
        match unmet {
            None => return Ok((identity.to_string(), leaf.oidc_issuer.clone())),
            Some((oid, want)) => {
                extension_problem.get_or_insert_with(|| {
                    format!(
                        "the certificate's {} is {}, expected {}",
                        fulcio::name(oid),
                        leaf.fulcio
                            .get(*oid)
                            .map_or("absent".to_string(), |v| v.clone()),
                        want.describe()
                    )
                });
            }
        }
    }
    Err(SigstoreError::IdentityMismatch(
        extension_problem.unwrap_or_else(|| identity_mismatch(&ids, issuer, &policy.identities)),
    ))
}

/// What the certificate names and what the policy expected, in plain values: the reader
/// compares them by eye, so no Rust quoting, and an absent value is said in words.
fn identity_mismatch(ids: &[&str], issuer: Option<&str>, rules: &[IdentityRule]) -> String {
    let named = if ids.is_empty() {
        "no identity (no URI or email SAN)".to_string()
    } else {
        ids.join(", ")
    };
    let from = match issuer {
        Some(issuer) => format!("from OIDC issuer {issuer}"),
        None => "and no OIDC issuer".to_string(),
    };
    let wanted: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{} from issuer {}",
                r.subject.describe(),
                r.issuer.describe()
            )
        })
        .collect();
    format!(
        "the certificate names {named} {from}, expected {}",
        wanted.join(" or ")
    )
}

fn check_statement(
    payload: &[u8],
    digests: &[(&str, String)],
    predicate_type: Option<&str>,
) -> Result<Option<String>, SigstoreError> {
    let bad = |m: String| SigstoreError::StatementMismatch(m);
    let v: Value = serde_json::from_slice(payload).map_err(|e| bad(format!("not JSON: {e}")))?;
    let pt = v
        .get("predicateType")
        .and_then(Value::as_str)
        .map(str::to_string);
    if let Some(want) = predicate_type
        && pt.as_deref() != Some(want)
    {
        return Err(bad(match pt {
            Some(pt) => format!("predicateType is {pt}, expected {want}"),
            None => format!("the statement has no predicateType, expected {want}"),
        }));
    }
    if let Some((_, want)) = digests.first() {
        let subjects = v
            .get("subject")
            .and_then(Value::as_array)
            .ok_or_else(|| bad("no subject".into()))?;
        let named = subjects.iter().any(|s| {
            digests.iter().any(|(alg, hex)| {
                s.get("digest")
                    .and_then(|d| d.get(*alg))
                    .and_then(Value::as_str)
                    .is_some_and(|d| d.eq_ignore_ascii_case(hex))
            })
        });
        if !named {
            return Err(SigstoreError::ArtifactMismatch(format!(
                "no subject of the in-toto statement has {} {want}",
                digests[0].0
            )));
        }
    }
    Ok(pt)
}

fn pem_der(b64_pem: &str) -> Option<Vec<u8>> {
    let pem = STANDARD.decode(b64_pem).ok()?;
    let text = String::from_utf8(pem).ok()?;
    let blocks = attestor_core::pem::parse_pem(&text).ok()?;
    match blocks.as_slice() {
        [one] => Some(one.der.clone()),
        _ => None,
    }
}

fn get<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |v, k| v.get(k))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(v, path).and_then(Value::as_str)
}

/// The entry's body must describe this signature, signer and content.
fn check_body(
    entry: &TlogEntry,
    c: &Content,
    signer_der: &[u8],
    cert: bool,
) -> Result<(), SigstoreError> {
    let fail = |m: &str| Err(SigstoreError::TlogEntryInvalid(m.to_string()));
    let body: Value = serde_json::from_slice(&entry.canonicalized_body.0).map_err(|e| {
        SigstoreError::TlogEntryInvalid(format!("canonicalizedBody is not JSON: {e}"))
    })?;
    let kind = (
        entry.kind_version.kind.as_str(),
        entry.kind_version.version.as_str(),
    );
    if str_at(&body, &["kind"]) != Some(kind.0) || str_at(&body, &["apiVersion"]) != Some(kind.1) {
        return fail("the body's kind or apiVersion differs from kindVersion");
    }
    let sig_b64 = STANDARD.encode(&c.signature);
    // Rekor v1 stores PEM (base64 of it); v2 stores DER.
    let signer_matches =
        |pem_b64: Option<&str>| pem_b64.and_then(pem_der).is_some_and(|d| d == signer_der);
    match kind {
        ("hashedrekord", "0.0.1") => {
            let spec = &body["spec"];
            if c.dsse.is_some() {
                return fail("a hashedrekord v0.0.1 entry cannot log a DSSE envelope");
            }
            let (alg, digest) = match &c.signed_digest {
                Some((h, d)) => (Some(intoto_name(*h)), Some(hex::encode(d))),
                None => (None, None),
            };
            if str_at(spec, &["data", "hash", "algorithm"]) != alg
                || str_at(spec, &["data", "hash", "value"]) != digest.as_deref()
            {
                return fail("the entry logs another artifact digest");
            }
            if str_at(spec, &["signature", "content"]) != Some(sig_b64.as_str()) {
                return fail("the entry logs another signature");
            }
            if !signer_matches(str_at(spec, &["signature", "publicKey", "content"])) {
                return fail("the entry logs another certificate or key");
            }
        }
        ("hashedrekord", "0.0.2") => {
            let spec = &body["spec"]["hashedRekordV002"];
            let (alg, digest) = match &c.signed_digest {
                Some((h, d)) => (Some(proto_name(*h)), Some(STANDARD.encode(d))),
                None => (None, None),
            };
            if str_at(spec, &["data", "algorithm"]) != alg
                || str_at(spec, &["data", "digest"]) != digest.as_deref()
            {
                return fail("the entry logs another digest");
            }
            if str_at(spec, &["signature", "content"]) != Some(sig_b64.as_str()) {
                return fail("the entry logs another signature");
            }
            check_v2_verifier(&spec["signature"]["verifier"], signer_der, cert)?;
        }
        ("dsse", "0.0.1") => {
            let Some((_, payload)) = &c.dsse else {
                return fail("a dsse entry needs a DSSE envelope");
            };
            let spec = &body["spec"];
            if str_at(spec, &["payloadHash", "algorithm"]) != Some("sha256")
                || str_at(spec, &["payloadHash", "value"]) != Some(&hex::encode(sha256(payload)))
            {
                return fail("the entry logs another DSSE payload");
            }
            let sigs = spec["signatures"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let ok = sigs.len() == 1
                && str_at(&sigs[0], &["signature"]) == Some(sig_b64.as_str())
                && signer_matches(str_at(&sigs[0], &["verifier"]));
            if !ok {
                return fail("the entry logs another DSSE signature or signer");
            }
        }
        // Rekor v2 logs a DSSE envelope as a hashedrekord 0.0.2 entry of its PAE's digest;
        // sigstore-go and sigstore-java accept no other Rekor v2 type, so neither do we.
        ("dsse", "0.0.2") => {
            return fail(
                "a Rekor v2 dsse 0.0.2 entry is not accepted: Rekor v2 logs DSSE envelopes as hashedrekord 0.0.2",
            );
        }
        ("intoto", "0.0.2") => {
            let Some((_, payload)) = &c.dsse else {
                return fail("an intoto entry needs a DSSE envelope");
            };
            let content = &body["spec"]["content"];
            if str_at(content, &["payloadHash", "algorithm"]) != Some("sha256")
                || str_at(content, &["payloadHash", "value"]) != Some(&hex::encode(sha256(payload)))
            {
                return fail("the entry logs another in-toto payload");
            }
            // intoto v0.0.2 stores the signature and the PEM base64-encoded once more.
            let sigs = content["envelope"]["signatures"]
                .as_array()
                .map(Vec::as_slice)
                .unwrap_or_default();
            let twice = STANDARD.encode(&sig_b64);
            let ok = sigs.len() == 1
                && str_at(&sigs[0], &["sig"]) == Some(twice.as_str())
                && signer_matches(str_at(&sigs[0], &["publicKey"]));
            if !ok {
                return fail("the entry logs another in-toto signature or signer");
            }
        }
        (k, v) => {
            return Err(SigstoreError::TlogEntryInvalid(format!(
                "entry kind {k} {v} is not supported (hashedrekord 0.0.1/0.0.2, dsse 0.0.1/0.0.2, intoto 0.0.2)"
            )));
        }
    }
    Ok(())
}

fn check_v2_verifier(verifier: &Value, signer_der: &[u8], cert: bool) -> Result<(), SigstoreError> {
    let path: &[&str] = if cert {
        &["x509Certificate", "rawBytes"]
    } else {
        &["publicKey", "rawBytes"]
    };
    let logged = str_at(verifier, path).and_then(|b| STANDARD.decode(b).ok());
    if logged.as_deref() != Some(signer_der) {
        return Err(SigstoreError::TlogEntryInvalid(
            "the entry logs another certificate or key".into(),
        ));
    }
    Ok(())
}

/// Inclusion proof, checkpoint and SET; returns the integrated time when the SET vouches for it.
fn verify_entry(
    entry: &TlogEntry,
    tlog: &Tlog,
    version: u8,
    v2: bool,
) -> Result<Option<Timestamp>, SigstoreError> {
    if version >= 2 && entry.inclusion_proof.is_none() {
        return Err(SigstoreError::InclusionProofInvalid(
            "bundles from version 0.2 on must carry an inclusion proof".into(),
        ));
    }
    if version == 1 && entry.inclusion_promise.is_none() {
        return Err(SigstoreError::SetInvalid(
            "a version 0.1 bundle must carry a signed entry timestamp".into(),
        ));
    }
    if let Some(proof) = &entry.inclusion_proof {
        let ip = |m: String| SigstoreError::InclusionProofInvalid(m);
        if proof.hashes.len() > MAX_PROOF_HASHES {
            return Err(ip(format!("more than {MAX_PROOF_HASHES} hashes")));
        }
        let (index, size) = (proof.log_index.0, proof.tree_size.0);
        if index < 0 || size < 0 {
            return Err(ip("negative index or tree size".into()));
        }
        // Rekor v1 gives the tree-local index in the proof; v2 has one index.
        if v2 && index != entry.log_index.0 {
            return Err(ip("the proof's logIndex differs from the entry's".into()));
        }
        let to_hash = |b: &[u8]| -> Result<merkle::Hash, SigstoreError> {
            b.try_into()
                .map_err(|_| ip("a hash is not 32 bytes".into()))
        };
        let hashes: Vec<merkle::Hash> = proof
            .hashes
            .iter()
            .map(|h| to_hash(&h.0))
            .collect::<Result<_, _>>()?;
        let root_hash = to_hash(&proof.root_hash.0)?;
        let leaf = merkle::leaf_hash(&entry.canonicalized_body.0);
        merkle::verify_inclusion(&leaf, index as u64, size as u64, &hashes, &root_hash)
            .map_err(|e| ip(e.to_string()))?;
        let cp = proof.checkpoint.as_ref().ok_or_else(|| {
            SigstoreError::CheckpointInvalid("the inclusion proof has no checkpoint".into())
        })?;
        verify_checkpoint(&cp.envelope, tlog, size as u64, &root_hash)?;
    }
    let mut time = None;
    if !v2 {
        let t = Timestamp::from_second(entry.integrated_time.0).map_err(|_| {
            SigstoreError::TlogEntryInvalid("integratedTime is out of range".into())
        })?;
        if let Some(promise) = &entry.inclusion_promise {
            let set = serde_json::json!({
                "body": STANDARD.encode(&entry.canonicalized_body.0),
                "integratedTime": entry.integrated_time.0,
                "logID": hex::encode(&entry.log_id.key_id.0),
                "logIndex": entry.log_index.0,
            });
            let signed = attestor_core::canonical::to_canonical_bytes(&set)
                .map_err(|e| SigstoreError::SetInvalid(e.to_string()))?;
            tlog.key
                .verify_signature(tlog.scheme, &signed, &promise.signed_entry_timestamp.0)
                .map_err(|e| SigstoreError::SetInvalid(e.to_string()))?;
            if t < tlog.start || tlog.end.is_some_and(|e| t > e) {
                return Err(SigstoreError::SetInvalid(format!(
                    "integratedTime {t} is outside the log key's validFor window"
                )));
            }
            time = Some(t);
        }
    } else if entry.inclusion_promise.is_some() {
        return Err(SigstoreError::SetInvalid(
            "Rekor v2 entries carry no signed entry timestamp".into(),
        ));
    }
    Ok(time)
}

fn verify_checkpoint(
    note: &str,
    tlog: &Tlog,
    size: u64,
    root_hash: &merkle::Hash,
) -> Result<(), SigstoreError> {
    let cp = |m: String| SigstoreError::CheckpointInvalid(m);
    let signed = SignedNote::parse(note).map_err(|e| cp(e.to_string()))?;
    // The log is found by its key, as sigstore-go finds it: a private deployment's checkpoint
    // names its origin, which need not be the host of the log's `baseUrl`. So the log's key is
    // offered under every name a signature line uses as well as the host; a line verifies only
    // with the log's key (its key id, for Ed25519 bound to the name, must match too).
    let mut names: Vec<&str> = vec![tlog.name.as_str()];
    for sig in &signed.signatures {
        if !names.contains(&sig.name.as_str()) {
            names.push(sig.name.as_str());
        }
    }
    let verifiers: Vec<NoteVerifier> = names
        .iter()
        .filter_map(|name| NoteVerifier::from_public_key(name, &tlog.key).ok())
        .collect();
    if verifiers.is_empty() {
        return Err(cp(format!(
            "the log key of {} cannot verify notes",
            tlog.base_url
        )));
    }
    signed.verify(&verifiers).map_err(|e| cp(e.to_string()))?;
    let body = CheckpointBody::parse(&signed.text).map_err(|e| cp(e.to_string()))?;
    if body.tree_size != size || body.root_hash != *root_hash {
        return Err(cp(format!(
            "the checkpoint (size {}) is not for the proof's tree (size {size}) or root",
            body.tree_size
        )));
    }
    Ok(())
}

/// A `messageDigest.algorithm` of the protobuf-specs' `HashAlgorithm`.
fn message_hash(name: &str) -> Result<HashAlg, SigstoreError> {
    match name {
        "SHA2_256" => Ok(HashAlg::Sha256),
        "SHA2_384" => Ok(HashAlg::Sha384),
        "SHA2_512" => Ok(HashAlg::Sha512),
        other => Err(invalid(format!(
            "messageDigest algorithm {other:?} is not SHA2_256, SHA2_384 or SHA2_512"
        ))),
    }
}

#[cfg(test)]
mod message_tests {
    use super::*;

    #[test]
    fn identity_mismatches_print_plain_values() {
        let exact = |issuer: &str, subject: &str| IdentityRule {
            issuer: Matcher::Exact(issuer.into()),
            subject: Matcher::Exact(subject.into()),
            extensions: Vec::new(),
        };
        let gha = "https://token.actions.githubusercontent.com";
        let wf = "https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1";
        let other = "https://github.com/org/other/.github/workflows/release.yml@refs/tags/v1";
        // (the certificate's identities, its OIDC issuer, the policy, the message)
        type Case<'a> = (&'a [&'a str], Option<&'a str>, Vec<IdentityRule>, &'a str);
        let table: &[Case] = &[
            (
                &[wf],
                Some(gha),
                vec![exact(gha, other)],
                "the certificate names https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1 from OIDC issuer https://token.actions.githubusercontent.com, expected https://github.com/org/other/.github/workflows/release.yml@refs/tags/v1 from issuer https://token.actions.githubusercontent.com",
            ),
            (
                &[wf, "ci@example.com"],
                None,
                vec![
                    exact(gha, other),
                    IdentityRule {
                        issuer: Matcher::Exact(gha.into()),
                        subject: Matcher::regex("https://github\\.com/org/.*").unwrap(),
                        extensions: Vec::new(),
                    },
                ],
                "the certificate names https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1, ci@example.com and no OIDC issuer, expected https://github.com/org/other/.github/workflows/release.yml@refs/tags/v1 from issuer https://token.actions.githubusercontent.com or /https://github\\.com/org/.*/ from issuer https://token.actions.githubusercontent.com",
            ),
            (
                &[],
                Some(gha),
                vec![exact(gha, wf)],
                "the certificate names no identity (no URI or email SAN) from OIDC issuer https://token.actions.githubusercontent.com, expected https://github.com/org/repo/.github/workflows/release.yml@refs/tags/v1 from issuer https://token.actions.githubusercontent.com",
            ),
        ];
        for (ids, issuer, rules, expected) in table {
            let message = identity_mismatch(ids, *issuer, rules);
            assert_eq!(message, *expected);
            assert!(
                !message.contains("Some(") && !message.contains('"'),
                "{message}"
            );
        }
    }

    #[test]
    fn predicate_type_mismatches_print_plain_values() {
        let statement = |pt: Option<&str>| {
            let mut v = serde_json::json!({"_type": "https://in-toto.io/Statement/v1",
                                           "subject": [], "predicate": {}});
            if let Some(pt) = pt {
                v["predicateType"] = pt.into();
            }
            serde_json::to_vec(&v).unwrap()
        };
        let want = Some("https://slsa.dev/provenance/v1");
        let e =
            check_statement(&statement(Some("https://spdx.dev/Document")), &[], want).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in-toto statement: predicateType is https://spdx.dev/Document, expected https://slsa.dev/provenance/v1"
        );
        let e = check_statement(&statement(None), &[], want).unwrap_err();
        assert_eq!(
            e.to_string(),
            "in-toto statement: the statement has no predicateType, expected https://slsa.dev/provenance/v1"
        );
    }
}

#[cfg(test)]
mod checkpoint_tests {
    use super::*;
    use attestor_core::keys::SigningKey;

    fn key(pem_file: &str) -> SigningKey {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/keys")
            .join(pem_file);
        SigningKey::from_pem(&std::fs::read_to_string(path).unwrap()).unwrap()
    }

    fn tlog(signer: &SigningKey) -> Tlog {
        Tlog {
            base_url: "https://rekor.internal.example".into(),
            name: "rekor.internal.example".into(),
            log_id: vec![],
            scheme: signer.public_key().default_scheme(),
            key: signer.public_key(),
            start: "2020-01-01T00:00:00Z".parse().unwrap(),
            end: None,
        }
    }

    #[test]
    fn a_private_logs_checkpoint_is_found_by_its_key_not_by_the_host_of_its_url() {
        let root: merkle::Hash = [7; 32];
        for signer in [key("test-only-log.pem"), key("test-only-signing.pem")] {
            let log = tlog(&signer);
            let body = format!("private-log.internal - 42\n5\n{}\n", STANDARD.encode(root));
            // Signed under its origin, which is not the host of its base URL.
            let note = attestor_core::note::sign(&body, "private-log.internal", &signer).unwrap();
            verify_checkpoint(&note, &log, 5, &root).expect("found by its key");
            // The same under the host name still verifies.
            let note = attestor_core::note::sign(&body, "rekor.internal.example", &signer).unwrap();
            verify_checkpoint(&note, &log, 5, &root).expect("the host name");
            // Another key, under either name, does not.
            let other = key("test-only-untrusted.pem");
            let forged = attestor_core::note::sign(&body, "private-log.internal", &other).unwrap();
            assert!(matches!(
                verify_checkpoint(&forged, &log, 5, &root),
                Err(SigstoreError::CheckpointInvalid(_))
            ));
            // And the tree must be the proof's.
            assert!(verify_checkpoint(&note, &log, 6, &root).is_err());
        }
    }

    #[test]
    fn a_checkpoint_signature_in_r_s_form_is_refused() {
        let root: merkle::Hash = [7; 32];
        let signer = key("test-only-signing.pem");
        let log = tlog(&signer);
        let body = format!(
            "rekor.internal.example - 42\n5\n{}\n",
            STANDARD.encode(root)
        );
        let note = attestor_core::note::sign(&body, "rekor.internal.example", &signer).unwrap();
        verify_checkpoint(&note, &log, 5, &root).unwrap();
        // The same signature as a 64-byte r||s, as Go's verifiers refuse it.
        let signed = SignedNote::parse(&note).unwrap();
        let line = &signed.signatures[0];
        let mut raw = line.key_id.to_be_bytes().to_vec();
        raw.extend_from_slice(
            &p256::ecdsa::Signature::from_der(&line.signature)
                .unwrap()
                .to_bytes(),
        );
        let fixed = format!(
            "{}\n\u{2014} {} {}\n",
            signed.text,
            line.name,
            STANDARD.encode(raw)
        );
        let e = verify_checkpoint(&fixed, &log, 5, &root).unwrap_err();
        assert!(matches!(e, SigstoreError::CheckpointInvalid(_)), "{e}");
        assert!(
            e.to_string().contains("not an ASN.1 DER ECDSA signature"),
            "{e}"
        );
    }
}

#[cfg(test)]
mod pattern_tests {
    use super::*;

    #[test]
    fn patterns_match_anywhere_unless_anchored() {
        let cases: &[(&str, &str, bool)] = &[
            ("github\\.com/org/", "https://github.com/org/repo", true),
            (
                "github\\.com/org/",
                "https://evil.example/?https://github.com/org/",
                true,
            ),
            (
                "^https://github\\.com/org/",
                "https://evil.example/?https://github.com/org/",
                false,
            ),
            (
                "^https://github\\.com/org/.*$",
                "https://github.com/org/r",
                true,
            ),
            ("^a$|b", "xbx", true),
            ("^(a|b)$", "xbx", false),
        ];
        for (pattern, value, want) in cases {
            assert_eq!(
                Matcher::regex(pattern).unwrap().matches(value),
                *want,
                "{pattern} on {value}"
            );
        }
        // Syntax RE2 lacks is refused, not reinterpreted.
        assert!(Matcher::regex("(?=a)b").is_err());
        assert!(Matcher::regex("(a)\\1").is_err());
    }

    #[test]
    fn unanchored_patterns_are_warned_about() {
        let table: &[(&str, Option<&str>)] = &[
            ("^https://github\\.com/org/.*$", None),
            ("\\Ahttps://x\\z", None),
            ("^(a|b)$", None),
            (
                "https://github\\.com/org/.*",
                Some("is anchored at neither end"),
            ),
            ("^https://github\\.com/org/", Some("does not end with $")),
            (
                "https://github\\.com/org/.*$",
                Some("does not start with ^"),
            ),
            ("^a\\$", Some("does not end with $")),
            ("^a$|^b$", Some("top-level |")),
            ("^[|]$", None),
            ("^a\\|b$", None),
        ];
        for (pattern, want) in table {
            let got = anchoring_warning(pattern);
            match want {
                None => assert!(got.is_none(), "{pattern}: {got:?}"),
                Some(w) => assert!(
                    got.as_deref().is_some_and(|g| g.contains(w)),
                    "{pattern}: {got:?}"
                ),
            }
        }
    }
}
