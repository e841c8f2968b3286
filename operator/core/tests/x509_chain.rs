//! X.509 parsing and chain validation. Certificates are made here with
//! rcgen (fresh keys each run); the few that rcgen cannot make (RSA and
//! P-384-with-SHA-256 issuers) are fixtures made by `fixtures/x509/gen.sh`.

use attestor_core::keys::{Algorithm, KeyError};
use attestor_core::pem::PemError;
use attestor_core::x509::{
    CertError, Certificate, ChainError, KeyPurpose, MAX_CHAIN_LENGTH, ValidatedChain,
    parse_pem_certificates, validate_chain, validate_path,
};
use jiff::Timestamp;
use proptest::prelude::*;
use rcgen::{
    BasicConstraints, CertificateParams, CustomExtension, DistinguishedName, DnType, DnValue,
    ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair, KeyUsagePurpose, SanType, SignatureAlgorithm,
};

static P256: &SignatureAlgorithm = &rcgen::PKCS_ECDSA_P256_SHA256;
static ED25519: &SignatureAlgorithm = &rcgen::PKCS_ED25519;
static P384: &SignatureAlgorithm = &rcgen::PKCS_ECDSA_P384_SHA384;

type Ymd = (i32, u8, u8);
const ROOT_FROM: Ymd = (2020, 1, 1);
const ROOT_TO: Ymd = (2040, 1, 1);
const INT_FROM: Ymd = (2021, 1, 1);
const INT_TO: Ymd = (2035, 1, 1);
const LEAF_FROM: Ymd = (2025, 1, 1);
const LEAF_TO: Ymd = (2026, 1, 3);

/// The verification time of most tests: every default validity period covers it.
fn at() -> Timestamp {
    ts("2025-06-01T00:00:00Z")
}

fn ts(s: &str) -> Timestamp {
    s.parse().unwrap()
}

fn dn(cn: &str) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, cn);
    dn
}

fn params(cn: &str, from: Ymd, to: Ymd) -> CertificateParams {
    let mut p = CertificateParams::default();
    p.distinguished_name = dn(cn);
    p.not_before = rcgen::date_time_ymd(from.0, from.1, from.2);
    p.not_after = rcgen::date_time_ymd(to.0, to.1, to.2);
    p
}

/// A CA: basicConstraints cA (with an optional pathLenConstraint), keyUsage keyCertSign.
fn ca_params(cn: &str, from: Ymd, to: Ymd, path_len: Option<u8>) -> CertificateParams {
    let mut p = params(cn, from, to);
    p.is_ca = IsCa::Ca(match path_len {
        Some(n) => BasicConstraints::Constrained(n),
        None => BasicConstraints::Unconstrained,
    });
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

/// A signing certificate: keyUsage digitalSignature, extendedKeyUsage codeSigning.
fn leaf_params(cn: &str, from: Ymd, to: Ymd) -> CertificateParams {
    let mut p = params(cn, from, to);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    p
}

/// A certificate with its key and issuing parameters, so it can issue more.
struct Node {
    params: CertificateParams,
    key: KeyPair,
    der: Vec<u8>,
}

impl Node {
    fn self_signed(params: CertificateParams, alg: &'static SignatureAlgorithm) -> Node {
        let key = KeyPair::generate_for(alg).unwrap();
        let der = params.self_signed(&key).unwrap().der().to_vec();
        Node { params, key, der }
    }

    fn issue(&self, params: CertificateParams, alg: &'static SignatureAlgorithm) -> Node {
        let key = KeyPair::generate_for(alg).unwrap();
        let issuer = Issuer::from_params(&self.params, &self.key);
        let der = params.signed_by(&key, &issuer).unwrap().der().to_vec();
        Node { params, key, der }
    }

    fn cert(&self) -> Certificate {
        Certificate::from_der(&self.der).unwrap()
    }
}

fn root(cn: &str, alg: &'static SignatureAlgorithm) -> Node {
    Node::self_signed(ca_params(cn, ROOT_FROM, ROOT_TO, None), alg)
}

/// Root -> Intermediate -> Leaf, all P-256.
struct Pki {
    root: Node,
    int: Node,
    leaf: Node,
}

fn pki() -> Pki {
    let root = root("Root", P256);
    let int = root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    Pki { root, int, leaf }
}

fn subjects(chain: &ValidatedChain) -> Vec<&str> {
    chain.path.iter().map(|c| c.subject()).collect()
}

fn flip_last_byte(der: &[u8]) -> Vec<u8> {
    let mut der = der.to_vec();
    let n = der.len();
    der[n - 1] ^= 0x01;
    der
}

fn fixture(name: &str) -> Certificate {
    let path = format!("{}/tests/fixtures/x509/{name}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).unwrap();
    let mut certs = parse_pem_certificates(&text).unwrap();
    assert_eq!(certs.len(), 1, "{path}");
    certs.remove(0)
}

/// A verification time inside the fixtures' validity (they start when made).
fn fixture_at(cert: &Certificate) -> Timestamp {
    cert.not_before()
        .checked_add(jiff::SignedDuration::from_hours(24))
        .unwrap()
}

fn chain_invalid(err: &ChainError) -> (usize, &str, &str, &str) {
    match err {
        ChainError::CertificateChainInvalid {
            link,
            subject,
            issuer,
            detail,
        } => (*link, subject.as_str(), issuer.as_str(), detail.as_str()),
        other => panic!("expected CertificateChainInvalid, got {other:?} ({other})"),
    }
}

// ---------------------------------------------------------------- valid chains

#[test]
fn root_to_leaf() {
    let root = root("Root", P256);
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let chain = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap();
    assert_eq!(subjects(&chain), ["CN=Leaf", "CN=Root"]);
    assert_eq!(chain.path[0], leaf.cert());
    assert_eq!(chain.path[1], root.cert());
}

#[test]
fn root_intermediate_leaf() {
    let p = pki();
    let chain = validate_chain(&p.leaf.cert(), &[p.int.cert()], &[p.root.cert()], at()).unwrap();
    assert_eq!(subjects(&chain), ["CN=Leaf", "CN=Intermediate", "CN=Root"]);
}

#[test]
fn extra_and_unordered_intermediates_are_fine() {
    let p = pki();
    let other = root("Other Root", P256);
    let stray = other.issue(ca_params("Stray", INT_FROM, INT_TO, None), P256);
    let chain = validate_chain(
        &p.leaf.cert(),
        &[stray.cert(), p.leaf.cert(), p.int.cert()],
        &[other.cert(), p.root.cert()],
        at(),
    )
    .unwrap();
    assert_eq!(subjects(&chain), ["CN=Leaf", "CN=Intermediate", "CN=Root"]);
}

#[test]
fn ed25519_and_p256_mixes() {
    for (root_alg, int_alg, leaf_alg) in [
        (ED25519, ED25519, ED25519),
        (ED25519, P256, ED25519),
        (P256, ED25519, P256),
        (ED25519, P256, P256),
    ] {
        let root = root("Root", root_alg);
        let int = root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), int_alg);
        let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), leaf_alg);
        let chain = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap();
        assert_eq!(chain.path.len(), 3);
        let expected = if leaf_alg == ED25519 {
            Algorithm::Ed25519
        } else {
            Algorithm::EcdsaP256Sha256
        };
        assert_eq!(
            chain.path[0]
                .public_key()
                .unwrap()
                .product_algorithm()
                .unwrap(),
            expected
        );
    }
}

#[test]
fn chain_not_after_is_the_earliest_on_the_path() {
    let p = pki();
    let chain = validate_chain(&p.leaf.cert(), &[p.int.cert()], &[p.root.cert()], at()).unwrap();
    assert_eq!(chain.not_after, ts("2026-01-03T00:00:00Z"));

    // Here the intermediate expires first.
    let root = root("Root", P256);
    let int = root.issue(
        ca_params("Intermediate", INT_FROM, (2025, 9, 1), None),
        P256,
    );
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, (2027, 1, 1)), P256);
    let chain = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap();
    assert_eq!(chain.not_after, ts("2025-09-01T00:00:00Z"));
    assert_eq!(chain.not_after, int.cert().not_after());
}

#[test]
fn validity_bounds_are_inclusive() {
    let p = pki();
    let (leaf, ints, roots) = (p.leaf.cert(), [p.int.cert()], [p.root.cert()]);
    assert!(validate_chain(&leaf, &ints, &roots, ts("2025-01-01T00:00:00Z")).is_ok());
    assert!(validate_chain(&leaf, &ints, &roots, ts("2026-01-03T00:00:00Z")).is_ok());
    assert!(matches!(
        validate_chain(&leaf, &ints, &roots, ts("2024-12-31T23:59:59Z")),
        Err(ChainError::CertificateNotYetValid { .. })
    ));
    assert!(matches!(
        validate_chain(&leaf, &ints, &roots, ts("2026-01-03T00:00:00.001Z")),
        Err(ChainError::CertificateExpired { .. })
    ));
}

// ----------------------------------------------------------- validity periods

#[test]
fn leaf_expired() {
    let p = pki();
    let err = validate_chain(
        &p.leaf.cert(),
        &[p.int.cert()],
        &[p.root.cert()],
        ts("2026-02-01T00:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(
        err,
        ChainError::CertificateExpired {
            subject: "CN=Leaf".into(),
            not_after: ts("2026-01-03T00:00:00Z"),
        }
    );
    assert_eq!(
        err.to_string(),
        "certificate \"CN=Leaf\" expired at 2026-01-03T00:00:00Z"
    );
    assert_eq!(err.reason(), "CertificateExpired");
}

#[test]
fn intermediate_expired() {
    let root = root("Root", P256);
    let int = root.issue(
        ca_params("Intermediate", INT_FROM, (2025, 3, 1), None),
        P256,
    );
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    assert_eq!(
        err,
        ChainError::CertificateExpired {
            subject: "CN=Intermediate".into(),
            not_after: ts("2025-03-01T00:00:00Z"),
        }
    );
}

#[test]
fn root_expired() {
    let root = Node::self_signed(ca_params("Root", ROOT_FROM, (2025, 2, 1), None), P256);
    let int = root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    assert_eq!(
        err,
        ChainError::CertificateExpired {
            subject: "CN=Root".into(),
            not_after: ts("2025-02-01T00:00:00Z"),
        }
    );
}

#[test]
fn not_yet_valid() {
    let root = root("Root", P256);
    let leaf = root.issue(leaf_params("Leaf", (2025, 7, 1), LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap_err();
    assert_eq!(
        err,
        ChainError::CertificateNotYetValid {
            subject: "CN=Leaf".into(),
            not_before: ts("2025-07-01T00:00:00Z"),
        }
    );
    assert_eq!(
        err.to_string(),
        "certificate \"CN=Leaf\" is not valid before 2025-07-01T00:00:00Z"
    );
    assert_eq!(err.reason(), "CertificateNotYetValid");
}

#[test]
fn expired_root_is_skipped_for_a_renewed_one() {
    // The same CA key, re-issued with a longer validity: the path through the
    // renewed root must be found even though the expired one comes first.
    let key = KeyPair::generate_for(P256).unwrap();
    let old = ca_params("Root", ROOT_FROM, (2025, 2, 1), None);
    let new = ca_params("Root", (2025, 1, 1), ROOT_TO, None);
    let old_der = old.self_signed(&key).unwrap().der().to_vec();
    let new_der = new.self_signed(&key).unwrap().der().to_vec();
    let root = Node {
        params: new,
        key,
        der: new_der,
    };
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let old_root = Certificate::from_der(&old_der).unwrap();
    let chain = validate_chain(&leaf.cert(), &[], &[old_root.clone(), root.cert()], at()).unwrap();
    assert_eq!(chain.path[1], root.cert());

    // With only the expired one, expiry is what is reported (not "not found").
    let err = validate_chain(&leaf.cert(), &[], &[old_root], at()).unwrap_err();
    assert_eq!(err.reason(), "CertificateExpired", "{err}");
}

// ------------------------------------------------------------ missing anchors

#[test]
fn wrong_root_names_what_was_looked_for() {
    let p = pki();
    let other = root("Other Root", P256);
    let err = validate_chain(&p.leaf.cert(), &[p.int.cert()], &[other.cert()], at()).unwrap_err();
    match &err {
        ChainError::TrustAnchorNotFound {
            subject, issuer, ..
        } => {
            assert_eq!(subject, "CN=Intermediate");
            assert_eq!(issuer, "CN=Root");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(err.reason(), "TrustAnchorNotFound");
    let msg = err.to_string();
    assert!(
        msg.starts_with(
            "no path to a trusted root: certificate \"CN=Intermediate\" is issued by \"CN=Root\""
        ),
        "{msg}"
    );
    assert!(msg.contains("\"CN=Other Root\""), "{msg}");
}

#[test]
fn no_roots_at_all() {
    let p = pki();
    let err = validate_chain(&p.leaf.cert(), &[p.int.cert()], &[], at()).unwrap_err();
    assert_eq!(err.reason(), "TrustAnchorNotFound");
    assert!(
        err.to_string().contains("no trusted roots were given"),
        "{err}"
    );
}

#[test]
fn intermediate_missing() {
    let p = pki();
    let err = validate_chain(&p.leaf.cert(), &[], &[p.root.cert()], at()).unwrap_err();
    match &err {
        ChainError::TrustAnchorNotFound {
            subject,
            issuer,
            detail,
        } => {
            assert_eq!(subject, "CN=Leaf");
            assert_eq!(issuer, "CN=Intermediate");
            assert!(detail.contains("missing"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn same_name_root_with_another_key_is_a_broken_link() {
    let p = pki();
    let impostor = root("Root", P256);
    let err =
        validate_chain(&p.leaf.cert(), &[p.int.cert()], &[impostor.cert()], at()).unwrap_err();
    let (link, subject, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (1, "CN=Intermediate", "CN=Root"));
    assert!(detail.contains("signature does not verify"), "{detail}");
    let key_id = impostor.cert().key_id().unwrap().to_string();
    assert!(detail.contains(&key_id), "{detail} should name {key_id}");

    // With the right root next to it, the right one is found.
    let chain = validate_chain(
        &p.leaf.cert(),
        &[p.int.cert()],
        &[impostor.cert(), p.root.cert()],
        at(),
    )
    .unwrap();
    assert_eq!(chain.path[2], p.root.cert());
}

#[test]
fn two_intermediates_signing_each_other_terminate() {
    let other = root("Other Root", P256);
    let key_a = KeyPair::generate_for(P256).unwrap();
    let key_b = KeyPair::generate_for(P256).unwrap();
    let pa = ca_params("A", INT_FROM, INT_TO, None);
    let pb = ca_params("B", INT_FROM, INT_TO, None);
    let a_der = pa
        .signed_by(&key_a, &Issuer::from_params(&pb, &key_b))
        .unwrap()
        .der()
        .to_vec();
    let b_der = pb
        .signed_by(&key_b, &Issuer::from_params(&pa, &key_a))
        .unwrap()
        .der()
        .to_vec();
    let a = Node {
        params: pa,
        key: key_a,
        der: a_der,
    };
    let b = Certificate::from_der(&b_der).unwrap();
    let leaf = a.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err =
        validate_chain(&leaf.cert(), &[a.cert(), b.clone()], &[other.cert()], at()).unwrap_err();
    match &err {
        ChainError::TrustAnchorNotFound {
            subject,
            issuer,
            detail,
        } => {
            assert_eq!((subject.as_str(), issuer.as_str()), ("CN=B", "CN=A"));
            assert!(detail.contains("loop"), "{detail}");
        }
        other => panic!("{other:?}"),
    }
    // Given many times over, still a clear error and no blow-up.
    let many: Vec<Certificate> = (0..50).flat_map(|_| [a.cert(), b.clone()]).collect();
    let err = validate_chain(&leaf.cert(), &many, &[other.cert()], at()).unwrap_err();
    assert_eq!(err.reason(), "TrustAnchorNotFound", "{err}");
}

#[test]
fn many_same_name_intermediates_are_bounded() {
    let root = root("Root", ED25519);
    let int = root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), ED25519);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), ED25519);
    // Impostors: same name, other keys.
    let mut ints: Vec<Certificate> = (0..140)
        .map(|_| {
            root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), ED25519)
                .cert()
        })
        .collect();
    ints.push(int.cert());
    let err = validate_chain(&leaf.cert(), &ints, &[root.cert()], at()).unwrap_err();
    let (link, _, _, detail) = chain_invalid(&err);
    assert_eq!(link, 0);
    assert!(detail.contains("gave up"), "{detail}");
    // The real one early enough is found.
    ints.rotate_right(1);
    validate_chain(&leaf.cert(), &ints, &[root.cert()], at()).unwrap();
}

#[test]
fn self_signed_leaf_that_is_not_trusted() {
    let leaf = Node::self_signed(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let other = root("Root", P256);
    let err = validate_chain(&leaf.cert(), &[], &[other.cert()], at()).unwrap_err();
    assert_eq!(err.reason(), "TrustAnchorNotFound");
    assert!(err.to_string().contains("self-issued"), "{err}");
    // Bundles often repeat the leaf among the intermediates: still not a "loop".
    let err = validate_chain(&leaf.cert(), &[leaf.cert()], &[other.cert()], at()).unwrap_err();
    assert!(err.to_string().contains("self-issued"), "{err}");
    assert!(!err.to_string().contains("loop"), "{err}");
}

// ---------------------------------------------------------------- broken links

#[test]
fn tampered_leaf_signature() {
    let p = pki();
    let tampered = Certificate::from_der(&flip_last_byte(&p.leaf.der)).unwrap();
    let err = validate_chain(&tampered, &[p.int.cert()], &[p.root.cert()], at()).unwrap_err();
    let (link, subject, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (0, "CN=Leaf", "CN=Intermediate"));
    assert!(
        err.to_string().starts_with(
            "link 0: certificate \"CN=Leaf\" is not signed by \"CN=Intermediate\": signature does not verify"
        ),
        "{err}"
    );
    assert!(detail.contains("signature does not verify"));
    assert_eq!(err.reason(), "CertificateChainInvalid");

    // Directly under the root, and with Ed25519.
    let root = root("Root", ED25519);
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), ED25519);
    let tampered = Certificate::from_der(&flip_last_byte(&leaf.der)).unwrap();
    let err = validate_chain(&tampered, &[], &[root.cert()], at()).unwrap_err();
    assert_eq!(chain_invalid(&err).0, 0);
}

#[test]
fn tampered_intermediate_signature() {
    let p = pki();
    let tampered = Certificate::from_der(&flip_last_byte(&p.int.der)).unwrap();
    let err = validate_chain(&p.leaf.cert(), &[tampered], &[p.root.cert()], at()).unwrap_err();
    let (link, subject, issuer, _) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (1, "CN=Intermediate", "CN=Root"));
}

#[test]
fn tampered_signed_part_fails_too() {
    let p = pki();
    // Change one character of the subject inside the signed part: "Leaf" -> "Leag".
    let mut der = p.leaf.der.clone();
    let pos = der.windows(4).rposition(|w| w == b"Leaf").unwrap();
    der[pos + 3] = b'g';
    let tampered = Certificate::from_der(&der).unwrap();
    assert_eq!(tampered.subject(), "CN=Leag");
    let err = validate_chain(&tampered, &[p.int.cert()], &[p.root.cert()], at()).unwrap_err();
    assert_eq!(chain_invalid(&err).0, 0);
}

#[test]
fn intermediate_not_a_ca() {
    let root = root("Root", P256);
    for is_ca in [IsCa::ExplicitNoCa, IsCa::NoCa] {
        let mut p = params("Intermediate", INT_FROM, INT_TO);
        p.is_ca = is_ca;
        // Without any other extension rcgen would drop keyUsage: add a SAN.
        p.subject_alt_names = vec![SanType::DnsName("int.example".try_into().unwrap())];
        let int = root.issue(p, P256);
        let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
        let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
        let (link, subject, issuer, detail) = chain_invalid(&err);
        assert_eq!((link, subject, issuer), (0, "CN=Leaf", "CN=Intermediate"));
        assert!(detail.contains("is not a CA"), "{detail}");
        let why = if is_ca == IsCa::NoCa {
            "no basicConstraints"
        } else {
            "cA=false"
        };
        assert!(detail.contains(why), "{detail}");
    }
}

#[test]
fn root_not_a_ca() {
    let mut p = params("Root", ROOT_FROM, ROOT_TO);
    p.is_ca = IsCa::ExplicitNoCa;
    let root = Node::self_signed(p, P256);
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap_err();
    let (link, _, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, issuer), (0, "CN=Root"));
    assert!(detail.contains("is not a CA"), "{detail}");
}

#[test]
fn path_len_exceeded() {
    // Root allows no intermediate CA below it.
    let root = Node::self_signed(ca_params("Root", ROOT_FROM, ROOT_TO, Some(0)), P256);
    let int = root.issue(ca_params("Intermediate", INT_FROM, INT_TO, None), P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    let (link, subject, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (1, "CN=Intermediate", "CN=Root"));
    assert!(detail.contains("pathLenConstraint 0"), "{detail}");
    assert!(detail.contains("path length exceeded"), "{detail}");

    // pathLen 0 still allows issuing the leaf directly.
    let direct = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    validate_chain(&direct.cert(), &[], &[root.cert()], at()).unwrap();

    // pathLen 1 on an intermediate, two CAs below it.
    let root = root_node_unconstrained();
    let int1 = root.issue(ca_params("Int1", INT_FROM, INT_TO, Some(1)), P256);
    let int2 = int1.issue(ca_params("Int2", INT_FROM, INT_TO, None), P256);
    let int3 = int2.issue(ca_params("Int3", INT_FROM, INT_TO, None), P256);
    let leaf = int3.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let ints = [int1.cert(), int2.cert(), int3.cert()];
    let err = validate_chain(&leaf.cert(), &ints, &[root.cert()], at()).unwrap_err();
    let (link, subject, issuer, _) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (2, "CN=Int2", "CN=Int1"));
    // One CA below it is fine.
    let leaf = int2.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    validate_chain(&leaf.cert(), &ints, &[root.cert()], at()).unwrap();
}

fn root_node_unconstrained() -> Node {
    root("Root", P256)
}

#[test]
fn issuer_key_usage_without_key_cert_sign() {
    let root = root("Root", P256);
    let mut p = ca_params("Intermediate", INT_FROM, INT_TO, None);
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::CrlSign];
    let int = root.issue(p, P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    let (link, subject, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (0, "CN=Leaf", "CN=Intermediate"));
    assert!(detail.contains("keyCertSign"), "{detail}");
}

#[test]
fn issuer_without_key_usage_is_fine() {
    let root = root("Root", P256);
    let mut p = ca_params("Intermediate", INT_FROM, INT_TO, None);
    p.key_usages = vec![];
    let int = root.issue(p, P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap();
}

#[test]
fn leaf_key_usage_without_digital_signature() {
    let root = root("Root", P256);
    let mut p = leaf_params("Leaf", LEAF_FROM, LEAF_TO);
    p.key_usages = vec![KeyUsagePurpose::KeyEncipherment];
    let leaf = root.issue(p, P256);
    let err = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap_err();
    let (link, subject, _, detail) = chain_invalid(&err);
    assert_eq!((link, subject), (0, "CN=Leaf"));
    assert!(detail.contains("digitalSignature"), "{detail}");
}

#[test]
fn leaf_extended_key_usage() {
    let root = root("Root", P256);
    let with_eku = |ekus: Vec<ExtendedKeyUsagePurpose>| {
        let mut p = leaf_params("Leaf", LEAF_FROM, LEAF_TO);
        p.extended_key_usages = ekus;
        p.subject_alt_names = vec![SanType::DnsName("leaf.example".try_into().unwrap())];
        root.issue(p, P256).cert()
    };
    let roots = [root.cert()];
    for ok in [
        vec![ExtendedKeyUsagePurpose::CodeSigning],
        vec![ExtendedKeyUsagePurpose::Any],
        vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::CodeSigning,
        ],
        vec![],
    ] {
        validate_chain(&with_eku(ok.clone()), &[], &roots, at())
            .unwrap_or_else(|e| panic!("{ok:?}: {e}"));
    }
    let err = validate_chain(
        &with_eku(vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ]),
        &[],
        &roots,
        at(),
    )
    .unwrap_err();
    let (link, _, _, detail) = chain_invalid(&err);
    assert_eq!(link, 0);
    assert!(detail.contains("codeSigning"), "{detail}");
    assert!(detail.contains("serverAuth, clientAuth"), "{detail}");
}

#[test]
fn a_ca_is_refused_as_the_leaf() {
    // webpki's rule (CaUsedAsEndEntity): a CA certificate does not sign attestations.
    let root = root("Root", P256);
    let mut p = ca_params("Leaf", LEAF_FROM, LEAF_TO, None);
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let leaf = root.issue(p, P256);
    let err = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap_err();
    let (link, subject, _, detail) = chain_invalid(&err);
    assert_eq!((link, subject), (0, "CN=Leaf"));
    assert!(detail.contains("a CA may not be the leaf"), "{detail}");
}

#[test]
fn unknown_critical_extension_is_refused() {
    let critical = || {
        let mut ext = CustomExtension::from_oid_content(&[1, 2, 3, 4], vec![0x05, 0x00]);
        ext.set_criticality(true);
        ext
    };
    let root = root("Root", P256);

    // On the leaf.
    let mut p = leaf_params("Leaf", LEAF_FROM, LEAF_TO);
    p.custom_extensions = vec![critical()];
    let leaf = root.issue(p, P256);
    let err = validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap_err();
    let (link, _, _, detail) = chain_invalid(&err);
    assert_eq!(link, 0);
    assert!(detail.contains("1.2.3.4"), "{detail}");

    // On an intermediate.
    let mut p = ca_params("Intermediate", INT_FROM, INT_TO, None);
    p.custom_extensions = vec![critical()];
    let int = root.issue(p, P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    let (link, _, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, issuer), (0, "CN=Intermediate"));
    assert!(detail.contains("1.2.3.4"), "{detail}");

    // Not critical: ignored.
    let mut p = leaf_params("Leaf", LEAF_FROM, LEAF_TO);
    p.custom_extensions = vec![CustomExtension::from_oid_content(
        &[1, 2, 3, 4],
        vec![0x05, 0x00],
    )];
    let leaf = root.issue(p, P256);
    validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap();
}

#[test]
fn name_constraints_are_enforced() {
    let mut p = ca_params("Root", ROOT_FROM, ROOT_TO, None);
    p.name_constraints = Some(rcgen::NameConstraints {
        permitted_subtrees: vec![rcgen::GeneralSubtree::DnsName("example.com".into())],
        excluded_subtrees: vec![],
    });
    let root = Node::self_signed(p, P256);
    let with_dns = |name: &str| {
        let mut p = leaf_params("Leaf", LEAF_FROM, LEAF_TO);
        p.subject_alt_names = vec![SanType::DnsName(name.try_into().unwrap())];
        root.issue(p, P256).cert()
    };
    validate_chain(&with_dns("build.example.com"), &[], &[root.cert()], at()).unwrap();
    let err =
        validate_chain(&with_dns("build.example.org"), &[], &[root.cert()], at()).unwrap_err();
    assert_eq!(err.reason(), "CertificateChainInvalid");
    let (link, _, _, detail) = chain_invalid(&err);
    assert_eq!(link, 0);
    assert!(detail.contains("violates the name constraints"), "{detail}");
}

#[test]
fn intermediate_extended_key_usage_must_allow_the_purpose() {
    let root = root("Root", P256);
    let mut p = ca_params("Intermediate", INT_FROM, INT_TO, None);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let int = root.issue(p, P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap_err();
    let (link, subject, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, subject, issuer), (0, "CN=Leaf", "CN=Intermediate"));
    assert!(detail.contains("without codeSigning"), "{detail}");
    // Listing codeSigning, it may.
    let mut p = ca_params("Intermediate", INT_FROM, INT_TO, None);
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::CodeSigning];
    let int = root.issue(p, P256);
    let leaf = int.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    validate_chain(&leaf.cert(), &[int.cert()], &[root.cert()], at()).unwrap();
}

#[test]
fn timestamping_needs_a_critical_extended_key_usage_of_its_own() {
    const TIME_STAMPING: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 8];
    const CODE_SIGNING: &[u8] = &[0x2b, 6, 1, 5, 5, 7, 3, 3];
    let root = root("Root", P256);
    // rcgen writes extendedKeyUsage non-critical: this one is written by hand.
    let tsa = |purposes: &[&[u8]], critical: bool| {
        let mut p = leaf_params("TSA", LEAF_FROM, LEAF_TO);
        p.extended_key_usages = vec![];
        if !purposes.is_empty() {
            let oids: Vec<u8> = purposes
                .iter()
                .flat_map(|oid| [&[0x06, oid.len() as u8][..], oid].concat())
                .collect();
            let mut ext = CustomExtension::from_oid_content(
                &[2, 5, 29, 37],
                [&[0x30, oids.len() as u8][..], &oids].concat(),
            );
            ext.set_criticality(critical);
            p.custom_extensions = vec![ext];
        }
        root.issue(p, P256).cert()
    };
    let roots = [root.cert()];
    let check =
        |cert: Certificate| validate_path(&cert, &[], &roots, &[at()], KeyPurpose::TimeStamping);
    check(tsa(&[TIME_STAMPING], true)).unwrap();
    for (purposes, critical, why) in [
        (&[TIME_STAMPING][..], false, "not critical"),
        (&[][..], true, "no extendedKeyUsage"),
        (
            &[TIME_STAMPING, CODE_SIGNING][..],
            true,
            "more than timeStamping",
        ),
        (&[CODE_SIGNING][..], true, "without timeStamping"),
    ] {
        let err = check(tsa(purposes, critical)).unwrap_err();
        let (link, _, _, detail) = chain_invalid(&err);
        assert_eq!(link, 0);
        assert!(detail.contains(why), "{why}: {detail}");
    }
}

#[test]
fn every_time_is_checked() {
    let p = pki();
    let (ints, roots) = ([p.int.cert()], [p.root.cert()]);
    let inside = ts("2025-06-01T00:00:00Z");
    validate_path(
        &p.leaf.cert(),
        &ints,
        &roots,
        &[inside, at()],
        KeyPurpose::CodeSigning,
    )
    .unwrap();
    let err = validate_path(
        &p.leaf.cert(),
        &ints,
        &roots,
        &[inside, ts("2030-01-01T00:00:00Z")],
        KeyPurpose::CodeSigning,
    )
    .unwrap_err();
    assert_eq!(err.reason(), "CertificateExpired");
    assert_eq!(
        validate_path(&p.leaf.cert(), &ints, &roots, &[], KeyPurpose::CodeSigning).unwrap_err(),
        ChainError::NoVerificationTime
    );
}

#[test]
fn empty_subject_with_critical_san_is_accepted() {
    // The shape of keyless signing certificates: no subject, identity in a critical SAN.
    let root = root("Root", P256);
    let mut p = leaf_params("unused", LEAF_FROM, LEAF_TO);
    p.distinguished_name = DistinguishedName::new();
    p.subject_alt_names = vec![SanType::Rfc822Name(
        "signer@example.com".try_into().unwrap(),
    )];
    let leaf = root.issue(p, P256);
    let cert = leaf.cert();
    assert_eq!(cert.subject(), "");
    let chain = validate_chain(&cert, &[], &[root.cert()], at()).unwrap();
    assert_eq!(chain.path.len(), 2);

    // And errors still name it, by serial number.
    let err = validate_chain(&cert, &[], &[root.cert()], ts("2030-01-01T00:00:00Z")).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("<empty subject, serial {}>", cert.serial())),
        "{msg}"
    );
}

#[test]
fn name_mismatch_is_explained() {
    let p = pki();
    // Issued with the intermediate's key, but naming the issuer in PrintableString:
    // the same text, another DER encoding.
    let mut other = p.int.params.clone();
    let mut name = DistinguishedName::new();
    name.push(
        DnType::CommonName,
        DnValue::PrintableString("Intermediate".try_into().unwrap()),
    );
    other.distinguished_name = name;
    let key = KeyPair::generate_for(P256).unwrap();
    let der = leaf_params("Leaf", LEAF_FROM, LEAF_TO)
        .signed_by(&key, &Issuer::from_params(&other, &p.int.key))
        .unwrap()
        .der()
        .to_vec();
    let leaf = Certificate::from_der(&der).unwrap();
    assert_eq!(leaf.issuer(), "CN=Intermediate");
    let err = validate_chain(&leaf, &[p.int.cert()], &[p.root.cert()], at()).unwrap_err();
    let (link, _, issuer, detail) = chain_invalid(&err);
    assert_eq!((link, issuer), (0, "CN=Intermediate"));
    assert!(detail.contains("name mismatch"), "{detail}");
}

#[test]
fn chain_too_long() {
    // Root + 7 intermediates + leaf = 9 certificates: one too many.
    let root = root("Root", P256);
    let mut nodes = vec![root];
    for i in 1..=7 {
        let next = nodes
            .last()
            .unwrap()
            .issue(ca_params(&format!("Int{i}"), INT_FROM, INT_TO, None), P256);
        nodes.push(next);
    }
    let roots = [nodes[0].cert()];
    let ints: Vec<Certificate> = nodes[1..].iter().map(Node::cert).collect();

    let leaf = nodes[7].issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let err = validate_chain(&leaf.cert(), &ints, &roots, at()).unwrap_err();
    let (link, subject, _, detail) = chain_invalid(&err);
    assert_eq!(link, MAX_CHAIN_LENGTH - 1);
    assert_eq!(subject, "CN=Int1");
    assert!(detail.contains("chain too long"), "{detail}");

    // Root + 6 intermediates + leaf = 8: accepted.
    let leaf = nodes[6].issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let chain = validate_chain(&leaf.cert(), &ints, &roots, at()).unwrap();
    assert_eq!(chain.path.len(), MAX_CHAIN_LENGTH);
}

// --------------------------------------------------------------- algorithms

#[test]
fn p384_and_rsa_issuers_are_supported() {
    let root = root("Root", P384);
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    validate_chain(&leaf.cert(), &[], &[root.cert()], at()).unwrap();
    // The P-384 root verifies certificates, though it is no signer key of ours.
    assert!(matches!(
        root.cert().public_key(),
        Err(KeyError::AlgorithmNotSupported { .. })
    ));
    for (root, leaf) in [
        ("rsa-root.pem", "rsa-leaf.pem"),
        ("p384-sha256-root.pem", "p384-sha256-leaf.pem"),
    ] {
        let (root, leaf) = (fixture(root), fixture(leaf));
        validate_chain(&leaf, &[], &[root], fixture_at(&leaf)).unwrap();
    }
}

#[test]
fn unsupported_signature_algorithm_is_named() {
    // ecdsa-with-SHA256 rewritten to ecdsa-with-SHA512 (same length) in both
    // places: P-256 with SHA-512 is not among webpki's algorithms.
    let root = root("Root", P256);
    let leaf = root.issue(leaf_params("Leaf", LEAF_FROM, LEAF_TO), P256);
    let sha256 = [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
    let mut der = leaf.der.clone();
    let mut i = 0;
    while let Some(pos) = der[i..].windows(8).position(|w| w == sha256) {
        der[i + pos + 7] = 0x04;
        i += pos + 8;
    }
    let leaf = Certificate::from_der(&der).unwrap();
    let err = validate_chain(&leaf, &[], &[root.cert()], at()).unwrap_err();
    assert_eq!(
        err,
        ChainError::AlgorithmNotSupported {
            subject: "CN=Leaf".into(),
            algorithm: "ecdsa-with-SHA512 (1.2.840.10045.4.3.4)".into(),
        }
    );
    assert!(err.to_string().contains("not P-521"), "{err}");
}

#[test]
fn unsupported_root_is_harmless_when_not_used() {
    let p = pki();
    let rsa = fixture("rsa-root.pem");
    let chain =
        validate_chain(&p.leaf.cert(), &[p.int.cert()], &[rsa, p.root.cert()], at()).unwrap();
    assert_eq!(chain.path.len(), 3);
}

// ------------------------------------------------------------- leaf as anchor

#[test]
fn leaf_itself_as_root_anchor() {
    // A self-signed signing certificate without basicConstraints, pinned as a root.
    let leaf = Node::self_signed(leaf_params("Leaf", LEAF_FROM, LEAF_TO), ED25519);
    let cert = leaf.cert();
    assert!(cert.is_self_issued());
    assert!(!cert.is_ca());
    let chain = validate_chain(&cert, &[], std::slice::from_ref(&cert), at()).unwrap();
    assert_eq!(chain.path, vec![cert.clone()]);
    assert_eq!(chain.not_after, cert.not_after());

    // Still subject to its validity period.
    let err = validate_chain(
        &cert,
        &[],
        std::slice::from_ref(&cert),
        ts("2027-01-01T00:00:00Z"),
    )
    .unwrap_err();
    assert_eq!(err.reason(), "CertificateExpired");

    // A CA-issued leaf pinned byte for byte is trusted directly too.
    let p = pki();
    let chain = validate_chain(&p.leaf.cert(), &[], &[p.leaf.cert()], at()).unwrap();
    assert_eq!(subjects(&chain), ["CN=Leaf"]);
}

// -------------------------------------------------------------------- parsing

#[test]
fn certificate_accessors() {
    let p = pki();
    let leaf = p.leaf.cert();
    assert_eq!(leaf.subject(), "CN=Leaf");
    assert_eq!(leaf.issuer(), "CN=Intermediate");
    assert_eq!(leaf.not_before(), ts("2025-01-01T00:00:00Z"));
    assert_eq!(leaf.not_after(), ts("2026-01-03T00:00:00Z"));
    assert!(!leaf.is_self_issued());
    assert!(p.root.cert().is_self_issued());
    assert!(p.int.cert().is_ca());
    assert_eq!(leaf.der(), p.leaf.der.as_slice());
    let expected = attestor_core::keys::PublicKey::from_spki_der(
        &rcgen::PublicKeyData::subject_public_key_info(&p.leaf.key),
    )
    .unwrap()
    .key_id();
    assert_eq!(leaf.key_id(), Some(expected));
    assert!(!leaf.serial().is_empty());
    assert!(leaf.serial().bytes().all(|b| b.is_ascii_hexdigit()));
}

#[test]
fn multi_valued_and_escaped_names() {
    let mut p = leaf_params("x", LEAF_FROM, LEAF_TO);
    let mut name = DistinguishedName::new();
    name.push(DnType::CountryName, "DE");
    name.push(DnType::OrganizationName, "Acme, Inc.");
    name.push(DnType::CommonName, "Leaf+1\n");
    p.distinguished_name = name;
    let cert = Node::self_signed(p, P256).cert();
    assert_eq!(cert.subject(), "CN=Leaf\\+1\\0A,O=Acme\\, Inc.,C=DE");
}

#[test]
fn pem_round_trip_and_several_blocks() {
    let p = pki();
    let text = format!(
        "# bundle\n{}{}{}",
        p.leaf.cert().to_pem(),
        p.int.cert().to_pem(),
        p.root.cert().to_pem()
    );
    let certs = parse_pem_certificates(&text).unwrap();
    assert_eq!(certs, vec![p.leaf.cert(), p.int.cert(), p.root.cert()]);
}

#[test]
fn pem_errors_name_label_and_line() {
    let p = pki();
    let cert_pem = p.leaf.cert().to_pem();
    let key_pem = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
    let text = format!("{cert_pem}\n{key_pem}");
    let line = cert_pem.lines().count() + 2;
    let err = parse_pem_certificates(&text).unwrap_err();
    assert_eq!(
        err,
        CertError::UnexpectedPemLabel {
            label: "PUBLIC KEY".into(),
            line,
        }
    );
    assert_eq!(
        err.to_string(),
        format!("line {line}: expected a \"CERTIFICATE\" PEM block, found \"PUBLIC KEY\"")
    );

    // A CERTIFICATE block that does not hold a certificate.
    let text = format!("{cert_pem}-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n");
    let err = parse_pem_certificates(&text).unwrap_err();
    match &err {
        CertError::InPemBlock { line: l, index, .. } => {
            assert_eq!((*l, *index), (cert_pem.lines().count() + 1, 2));
        }
        other => panic!("{other:?}"),
    }
    assert!(
        err.to_string().contains("not a DER X.509 certificate"),
        "{err}"
    );

    // PEM-level errors come through with their line.
    let err =
        parse_pem_certificates("-----BEGIN CERTIFICATE-----\nA*AA\n-----END CERTIFICATE-----\n")
            .unwrap_err();
    assert!(
        matches!(err, CertError::Pem(PemError::BadBase64 { line: 1, .. })),
        "{err:?}"
    );
    assert_eq!(
        parse_pem_certificates("no pem here"),
        Err(CertError::Pem(PemError::NoBlocks))
    );
}

#[test]
fn der_errors() {
    let p = pki();
    let mut der = p.leaf.der.clone();
    der.push(0);
    assert_eq!(
        Certificate::from_der(&der),
        Err(CertError::TrailingData { count: 1 })
    );
    assert!(matches!(
        Certificate::from_der(&[]),
        Err(CertError::Malformed { .. })
    ));
    assert!(matches!(
        Certificate::from_der(&p.leaf.der[..p.leaf.der.len() - 1]),
        Err(CertError::Malformed { .. })
    ));
    // The outer SEQUENCE in primitive form: x509-parser takes it, we do not,
    // or one certificate would have two encodings that both validate.
    let mut der = p.leaf.der.clone();
    der[0] = 0x10;
    match Certificate::from_der(&der) {
        Err(CertError::Malformed { detail }) => assert!(detail.contains("not DER"), "{detail}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn error_reasons() {
    let cases = [
        (
            ChainError::TrustAnchorNotFound {
                subject: String::new(),
                issuer: String::new(),
                detail: String::new(),
            },
            "TrustAnchorNotFound",
        ),
        (
            ChainError::CertificateChainInvalid {
                link: 0,
                subject: String::new(),
                issuer: String::new(),
                detail: String::new(),
            },
            "CertificateChainInvalid",
        ),
        (
            ChainError::CertificateExpired {
                subject: String::new(),
                not_after: Timestamp::UNIX_EPOCH,
            },
            "CertificateExpired",
        ),
        (
            ChainError::CertificateNotYetValid {
                subject: String::new(),
                not_before: Timestamp::UNIX_EPOCH,
            },
            "CertificateNotYetValid",
        ),
        (
            ChainError::AlgorithmNotSupported {
                subject: String::new(),
                algorithm: String::new(),
            },
            "AlgorithmNotSupported",
        ),
    ];
    for (err, reason) in cases {
        assert_eq!(err.reason(), reason);
    }
}

// ------------------------------------------------------- hostile input, fuzz

#[test]
fn every_truncation_of_der_and_pem_is_an_error() {
    let p = pki();
    for der in [&p.leaf.der, &p.int.der, &p.root.der] {
        for n in 0..der.len() {
            assert!(Certificate::from_der(&der[..n]).is_err(), "prefix {n}");
        }
        let pem = Certificate::from_der(der).unwrap().to_pem();
        // Only the final newline may go.
        for n in 0..pem.len() - 1 {
            assert!(parse_pem_certificates(&pem[..n]).is_err(), "prefix {n}");
        }
        assert!(parse_pem_certificates(&pem[..pem.len() - 1]).is_ok());
    }
}

#[test]
fn every_bit_flip_of_a_leaf_fails_or_is_refused() {
    let p = pki();
    let (ints, roots) = ([p.int.cert()], [p.root.cert()]);
    for byte in 0..p.leaf.der.len() {
        for bit in 0..8 {
            let mut der = p.leaf.der.clone();
            der[byte] ^= 1 << bit;
            if let Ok(cert) = Certificate::from_der(&der) {
                let _ = cert.to_pem();
                assert!(
                    validate_chain(&cert, &ints, &roots, at()).is_err(),
                    "flipping bit {bit} of byte {byte} still validates"
                );
            }
        }
    }
}

#[test]
fn bit_flips_in_issuers_never_panic() {
    let p = pki();
    let leaf = p.leaf.cert();
    for byte in 0..p.int.der.len() {
        for bit in 0..8 {
            let mut der = p.int.der.clone();
            der[byte] ^= 1 << bit;
            if let Ok(int) = Certificate::from_der(&der) {
                let _ = validate_chain(&leaf, std::slice::from_ref(&int), &[p.root.cert()], at());
                let _ = validate_chain(&leaf, &[], &[int], at());
            }
        }
    }
}

/// The DER of a leaf, intermediate and root, made once for the property tests.
fn sample() -> &'static [Vec<u8>; 3] {
    static DER: std::sync::OnceLock<[Vec<u8>; 3]> = std::sync::OnceLock::new();
    DER.get_or_init(|| {
        let p = pki();
        [p.leaf.der, p.int.der, p.root.der]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..800)) {
        let _ = Certificate::from_der(&bytes);
        // Behind a plausible outer SEQUENCE header too.
        let mut seq = vec![0x30, 0x82, (bytes.len() >> 8) as u8, bytes.len() as u8];
        seq.extend_from_slice(&bytes);
        let _ = Certificate::from_der(&seq);
    }

    #[test]
    fn random_mutations_never_panic(
        edits in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..12),
    ) {
        let [leaf, int, root] = sample();
        let (int, root) = (
            Certificate::from_der(int).unwrap(),
            Certificate::from_der(root).unwrap(),
        );
        // Mutate the leaf, then the intermediate.
        for target in 0..2 {
            let mut der = if target == 0 { leaf.clone() } else { int.der().to_vec() };
            for (i, b) in &edits {
                let i = i.index(der.len());
                der[i] = *b;
            }
            let Ok(mutated) = Certificate::from_der(&der) else { continue };
            let _ = mutated.to_pem();
            if target == 0 {
                let result = validate_chain(&mutated, std::slice::from_ref(&int), std::slice::from_ref(&root), at());
                // Only a no-op edit may still validate.
                prop_assert!(result.is_err() || der == *leaf);
            } else {
                let leaf = Certificate::from_der(leaf).unwrap();
                let _ = validate_chain(&leaf, &[mutated], std::slice::from_ref(&root), at());
            }
        }
    }

    #[test]
    fn random_pem_text_never_panics(text in "(-----BEGIN CERTIFICATE-----\n|-----END CERTIFICATE-----\n|[A-Za-z0-9+/=\n]{0,80}|MII){0,12}") {
        let _ = parse_pem_certificates(&text);
    }
}
