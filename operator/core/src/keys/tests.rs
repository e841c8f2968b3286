use super::test_keys::*;
use super::*;

#[test]
fn p256_sign_verify_der_and_fixed() {
    let sk = SigningKey::from_pem(P256_PKCS8).unwrap();
    let pk = sk.public_key();
    assert_eq!(pk.product_algorithm(), Ok(Algorithm::EcdsaP256Sha256));
    let sig = sk.sign(b"hello");
    assert_eq!(
        sig,
        sk.sign(b"hello"),
        "RFC 6979 signatures are deterministic"
    );
    pk.verify(b"hello", &sig).unwrap();
    assert_eq!(pk.verify(b"hellO", &sig), Err(SignatureError::Invalid));
    let fixed = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
    pk.verify(b"hello", &fixed).unwrap();
    assert!(pk.verify(b"hello", &fixed[..63]).is_err());
    assert!(pk.verify(b"hello", &[]).is_err());
}

/// One signature in every encoding a producer or an attacker might use.
#[test]
fn p256_signature_encodings_and_high_s() {
    use p256::elliptic_curve::ops::Neg as _;
    let sk = SigningKey::from_pem(P256_PKCS8).unwrap();
    let pk = sk.public_key();
    let der = sk.sign(b"msg");
    let sig = p256::ecdsa::Signature::from_der(&der).unwrap();
    let (r, s) = sig.split_scalars();
    // The same signature with s replaced by n - s: what OpenSSL and Go
    // emit for about half their signatures. It verifies, in both forms.
    let high = p256::ecdsa::Signature::from_scalars(r.to_bytes(), s.neg().to_bytes()).unwrap();
    let (low, high) = match sig.normalize_s() {
        None => (sig, high),
        Some(_) => (high, sig),
    };
    assert!(low.normalize_s().is_none() && high.normalize_s().is_some());
    for form in [low, high] {
        pk.verify(b"msg", &form.to_bytes()).unwrap();
        let der = form.to_der();
        assert!(is_strict_p256_der(der.as_bytes()));
        pk.verify(b"msg", der.as_bytes()).unwrap();
    }

    let der = low.to_der().as_bytes().to_vec();
    let refused = |bytes: Vec<u8>, what: &str| {
        assert!(!is_strict_p256_der(&bytes), "{what}: strict");
        assert_eq!(
            pk.verify(b"msg", &bytes),
            Err(SignatureError::Invalid),
            "{what}"
        );
    };
    let mut trailing = der.clone();
    trailing.push(0);
    trailing[1] += 1;
    refused(
        trailing.clone(),
        "a byte after the integers, counted in the length",
    );
    let mut after = der.clone();
    after.push(0);
    refused(after, "a byte after the sequence");
    let mut long_form = vec![0x30, 0x81, der[1]];
    long_form.extend_from_slice(&der[2..]);
    refused(long_form, "long-form length");
    let mut indefinite = vec![0x30, 0x80];
    indefinite.extend_from_slice(&der[2..]);
    indefinite.extend_from_slice(&[0, 0]);
    refused(indefinite, "BER indefinite length");
    // r with an extra leading zero byte: the same number, not minimal.
    let r_len = usize::from(der[3]);
    let mut padded = vec![0x30, der[1] + 1, 0x02, der[3] + 1, 0x00];
    padded.extend_from_slice(&der[4..]);
    refused(padded, "non-minimal integer");
    let mut negative = der.clone();
    negative[4] |= 0x80;
    if r_len == 33 {
        negative[4] = 0x80;
    }
    refused(negative, "negative integer");
    let mut fixed65 = low.to_bytes().to_vec();
    fixed65.insert(0, 0);
    refused(fixed65, "r||s with a leading zero");
    refused(der[..der.len() - 1].to_vec(), "truncated");
    refused(Vec::new(), "empty");
}

#[test]
fn strict_der_accepts_short_integers_and_refuses_zero_length() {
    assert!(is_strict_p256_der(&[
        0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f
    ]));
    assert!(is_strict_p256_der(&[
        0x30, 0x07, 0x02, 0x02, 0x00, 0x80, 0x02, 0x01, 0x01
    ]));
    assert!(!is_strict_p256_der(&[
        0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01
    ]));
    assert!(!is_strict_p256_der(&[
        0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01
    ]));
    assert!(!is_strict_p256_der(&[
        0x30, 0x06, 0x02, 0x01, 0x01, 0x03, 0x01, 0x01
    ]));
}

#[test]
fn ed25519_sign_verify() {
    let sk = SigningKey::from_pem(ED25519_PKCS8).unwrap();
    let pk = sk.public_key();
    assert_eq!(pk.product_algorithm(), Ok(Algorithm::Ed25519));
    let sig = sk.sign(b"hello");
    pk.verify(b"hello", &sig).unwrap();
    assert!(pk.verify(b"hello!", &sig).is_err());
}

#[test]
fn public_pem_round_trip_keeps_key_id() {
    for pem in [P256_PKCS8, ED25519_PKCS8] {
        let pk = SigningKey::from_pem(pem).unwrap().public_key();
        let again = PublicKey::from_pem(&pk.to_pem()).unwrap();
        assert_eq!(again, pk);
        assert_eq!(again.key_id(), Sha256Digest::of(pk.spki_der()));
    }
}

/// A 2048-bit RSA key (openssl genpkey): a key `PublicKey` parses but the product refuses.
const RSA_2048_PUB: &str = "-----BEGIN PUBLIC KEY-----
MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA8sRpO5cnoX+M6isGyrr2
QnXV2kxHebrrbASsVxtxGP/gKG2cIAlsd+i7bY8xDJP3iiLmhJA+NdzjD34K4DcR
RAcK7CWyJ5UVhIYc9U8Y+XcTWyHXrD0PvJ7V0TqYq6q0HpcV9QhasgTn9w/cKafq
FbrX7i9d7+fAHjH3NyvmIEzI2R8hscjF6F9foOlic3kMqOAdwSpWx2owizsiHWS8
LYXkWnWKU5ba0CSRkE0bk31JGKF7sD0UTWHOB+utNNAKZ9XZU/rrZoCrFP7MMpXW
FPmRVOCGax9L24ZMHCLr5H8cH97/ntgaYMqAQWt/ZBpF2lbk+q7+HBvW7Uo3v5R3
uwIDAQAB
-----END PUBLIC KEY-----
";
const P384_PUB: &str = "-----BEGIN PUBLIC KEY-----
MHYwEAYHKoZIzj0CAQYFK4EEACIDYgAEumxHu5WREOq53tr7EZ2eLdf/snCZIyS9
56uzzRI0bEObYgxYUCVubEFfeWtwC80V/XGg8z/Y8nSMOXDi+YrS+KzEQjUAs2yL
OW+rANshxdvVnqml7ooJc/39bs2JXtoZ
-----END PUBLIC KEY-----
";
const P521_PUB: &str = "-----BEGIN PUBLIC KEY-----
MIGbMBAGByqGSM49AgEGBSuBBAAjA4GGAAQBXxF68YRZ5wPlJWJi0BLlZ+Yb+K7L
wL5e78bRzFXAddVlsj1Cp41FFqSH/NRbPsUHqjOdOAdKHqS6UC6XlJAuQMsBwFGp
Tu3uuznEAkTbwWMD6EYORZhA/IQTgWJYQaWVoITtQNMkGgtWQk/ady293OqYES+z
itY/KUFbi7RmavHcuH0=
-----END PUBLIC KEY-----
";
/// 1024-bit RSA: well-formed, too weak for anyone.
const RSA_1024_PUB: &str = "-----BEGIN PUBLIC KEY-----
MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQCYAldWN1FvJX3B2QYlWd+Qz8+o
uNWaI561hgJxlQRGZMuS/FkoGZL/XWyJCJYaoNgLR6Vsc/7G2CiGpD492LXmRv78
PzOyAtKudXpqcQsG4EK/KbVn9OplIrJJ7xV47Myk3wGIRWIkywAgO2gUd1TBqaIh
5wOtCsffyQNcxSiBgQIDAQAB
-----END PUBLIC KEY-----
";

fn der_of(pem: &str) -> Vec<u8> {
    parse_pem(pem).unwrap().remove(0).der
}

/// SEQUENCE { algid, BIT STRING { 0, key } } with the given AlgorithmIdentifier DER.
fn spki(alg: &[u8], key: &[u8]) -> Vec<u8> {
    let mut bits = vec![0];
    bits.extend_from_slice(key);
    let mut body = alg.to_vec();
    body.extend(der(0x03, &bits));
    der(0x30, &body)
}

#[test]
fn compressed_point_gets_the_same_key_id() {
    let pk = SigningKey::from_pem(P256_PKCS8).unwrap().public_key();
    let point = p256::PublicKey::from_sec1_bytes(&pk.raw).unwrap();
    let compressed = p256::elliptic_curve::sec1::ToEncodedPoint::to_encoded_point(&point, true);
    let again = PublicKey::from_spki_der(&spki(ALG_P256, compressed.as_bytes())).unwrap();
    assert_eq!(again.key_id(), pk.key_id());
    assert_eq!(again.spki_der(), pk.spki_der());

    for pem in [P384_PUB, P521_PUB] {
        use p256::elliptic_curve::sec1::ToEncodedPoint as _;
        let pk = PublicKey::from_pem(pem).unwrap();
        let (alg, compressed) = if pk.key_type() == KeyType::EcdsaP384 {
            let p = p384::PublicKey::from_sec1_bytes(pk.raw()).unwrap();
            (ALG_P384, p.to_encoded_point(true).as_bytes().to_vec())
        } else {
            let p = p521::PublicKey::from_sec1_bytes(pk.raw()).unwrap();
            (ALG_P521, p.to_encoded_point(true).as_bytes().to_vec())
        };
        let again = PublicKey::from_spki_der(&spki(alg, &compressed)).unwrap();
        assert_eq!(again.key_id(), pk.key_id(), "{:?}", pk.key_type());
        // openssl writes the canonical form already.
        assert_eq!(pk.spki_der(), der_of(pem).as_slice());
    }
}

#[test]
fn rsa_key_id_is_stable_across_encodings() {
    let pk = PublicKey::from_pem(RSA_2048_PUB).unwrap();
    assert_eq!(pk.key_type(), KeyType::Rsa);
    assert_eq!(pk.rsa_bits(), Some(2048));
    assert_eq!(pk.spki_der(), der_of(RSA_2048_PUB).as_slice());
    // The same key without the NULL parameters (as some producers write it).
    let no_null = &ALG_RSA[..ALG_RSA.len() - 2];
    let mut alg = vec![0x30, (no_null.len() - 2) as u8];
    alg.extend_from_slice(&no_null[2..]);
    let again = PublicKey::from_spki_der(&spki(&alg, pk.raw())).unwrap();
    assert_eq!(again.key_id(), pk.key_id());
}

#[test]
fn the_product_refuses_other_algorithms_by_name() {
    // Every key type parses, but the product's own material takes P-256 and Ed25519 only.
    for (pem, name) in [
        (RSA_2048_PUB, "RSA"),
        (P384_PUB, "P-384"),
        (P521_PUB, "P-521"),
    ] {
        let key = PublicKey::from_pem(pem).unwrap();
        let err = key.clone().require_product_algorithm().unwrap_err();
        assert!(err.is_algorithm_not_supported(), "{err}");
        assert!(err.to_string().contains(name), "{err}");
        assert!(err.to_string().contains(PRODUCT_ALGORITHMS), "{err}");
        assert_eq!(PublicKey::from_spki_der_product(key.spki_der()), Err(err));
    }
    for pem in [P256_PKCS8, ED25519_PKCS8] {
        let pk = SigningKey::from_pem(pem).unwrap().public_key();
        assert_eq!(
            pk.product_algorithm().unwrap(),
            SigningKey::from_pem(pem).unwrap().algorithm()
        );
        PublicKey::from_spki_der_product(pk.spki_der()).unwrap();
    }
}

#[test]
fn refuses_other_algorithms_by_name() {
    let err = PublicKey::from_spki_der_product(&der_of(RSA_1024_PUB)).unwrap_err();
    assert!(err.is_algorithm_not_supported(), "{err}");
    assert!(err.to_string().contains("RSA"), "{err}");
    let err = PublicKey::from_spki_der_product(&der_of(P384_PUB)).unwrap_err();
    assert!(err.is_algorithm_not_supported(), "{err}");
    assert!(err.to_string().contains("P-384"), "{err}");
}

#[test]
fn refuses_malformed_keys() {
    assert!(PublicKey::from_spki_der(&[]).is_err());
    let p256 = SigningKey::from_pem(P256_PKCS8).unwrap().public_key();
    // Only the algorithm, no key.
    assert!(PublicKey::from_spki_der(ALG_P256).is_err());
    let mut not_on_curve = vec![4];
    not_on_curve.extend_from_slice(&[1; 64]);
    let err = PublicKey::from_spki_der(&spki(ALG_P256, &not_on_curve)).unwrap_err();
    assert!(
        matches!(&err, KeyError::Malformed(m) if m.contains("P-256") && m.contains("curve point")),
        "{err}"
    );
    // A P-256 point under the P-384 curve OID.
    let err = PublicKey::from_spki_der(&spki(ALG_P384, p256.raw())).unwrap_err();
    assert!(
        matches!(&err, KeyError::Malformed(m) if m.contains("P-384")),
        "{err}"
    );
    // Trailing bytes.
    let mut trailing = p256.spki_der().to_vec();
    trailing.push(0);
    let err = PublicKey::from_spki_der(&trailing).unwrap_err();
    assert!(
        err.to_string().contains("1 unexpected bytes after"),
        "{err}"
    );
    // An unknown curve (secp256k1) and an unknown algorithm (Ed448) are named.
    let k1 = [
        0x30, 0x10, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x05, 0x2b, 0x81,
        0x04, 0x00, 0x0a,
    ];
    let err = PublicKey::from_spki_der(&spki(&k1, p256.raw())).unwrap_err();
    assert!(err.is_algorithm_not_supported(), "{err}");
    assert!(err.to_string().contains("secp256k1"), "{err}");
    let ed448 = [0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x71];
    let err = PublicKey::from_spki_der(&spki(&ed448, &[0; 57])).unwrap_err();
    assert!(err.to_string().contains("Ed448"), "{err}");
    // Ed25519 of the wrong length.
    let err = PublicKey::from_spki_der(&spki(ALG_ED25519, &[0; 31])).unwrap_err();
    assert!(err.to_string().contains("32 bytes"), "{err}");
    // RSA: too small, an even exponent, bytes after the RSAPublicKey.
    let err = PublicKey::from_pem(RSA_1024_PUB).unwrap_err();
    assert!(err.to_string().contains("1024-bit"), "{err}");
    let rsa = PublicKey::from_pem(RSA_2048_PUB).unwrap();
    let n = &rsa.raw()[4..4 + 5 + 256];
    let mut even = n.to_vec();
    even.extend(der_uint(&[0x01, 0x00, 0x00]));
    let err = PublicKey::from_spki_der(&spki(ALG_RSA, &der(0x30, &even))).unwrap_err();
    assert!(err.to_string().contains("exponent 65536"), "{err}");
    let mut extra = rsa.raw().to_vec();
    extra.push(0);
    let err = PublicKey::from_spki_der(&spki(ALG_RSA, &extra)).unwrap_err();
    assert!(
        err.to_string().contains("bytes after the RSAPublicKey"),
        "{err}"
    );

    assert!(matches!(
        SigningKey::from_pem(P256_PKCS8.replace("PRIVATE", "PUBLIC").as_str()),
        Err(KeyError::UnexpectedPemLabel { .. })
    ));
    let pk_pem = p256.to_pem();
    assert!(matches!(
        PublicKey::from_pem(&format!("{pk_pem}{pk_pem}")),
        Err(KeyError::MoreThanOneKey(2))
    ));
}

#[test]
fn ed25519ph_verifies_and_is_not_pure_ed25519() {
    use ed25519_dalek::Signer as _;
    use sha2::Digest as _;
    let sk = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
    let pk = PublicKey::from_spki_der(&spki(ALG_ED25519, sk.verifying_key().as_bytes())).unwrap();
    let ph = sk
        .sign_prehashed(sha2::Sha512::new().chain_update(b"artifact"), None)
        .unwrap()
        .to_bytes();
    let pure = sk.sign(b"artifact").to_bytes();
    pk.verify_signature(SignatureScheme::Ed25519ph, b"artifact", &ph)
        .unwrap();
    pk.verify_signature(SignatureScheme::Ed25519, b"artifact", &pure)
        .unwrap();
    let invalid = Err(SignatureError::Invalid);
    assert_eq!(
        pk.verify_signature(SignatureScheme::Ed25519, b"artifact", &ph),
        invalid
    );
    assert_eq!(
        pk.verify_signature(SignatureScheme::Ed25519ph, b"artifact", &pure),
        invalid
    );
    assert_eq!(
        pk.verify_signature(SignatureScheme::Ed25519ph, b"artifacT", &ph),
        invalid
    );
    assert_eq!(
        pk.verify_signature(SignatureScheme::Ed25519ph, b"artifact", &ph[..63]),
        invalid
    );
    assert!(matches!(
        pk.verify_prehashed(SignatureScheme::Ed25519ph, &[0; 64], &ph),
        Err(SignatureError::Unsupported(_))
    ));
}

#[test]
fn schemes_must_fit_the_key() {
    let p256 = SigningKey::from_pem(P256_PKCS8).unwrap().public_key();
    let sig = SigningKey::from_pem(P256_PKCS8).unwrap().sign(b"m");
    p256.verify_signature(SignatureScheme::Ecdsa(HashAlg::Sha256), b"m", &sig)
        .unwrap();
    for scheme in [
        SignatureScheme::Ed25519,
        SignatureScheme::RsaPkcs1v15(HashAlg::Sha256),
        SignatureScheme::RsaPss(HashAlg::Sha256),
    ] {
        let err = p256.verify_signature(scheme, b"m", &sig).unwrap_err();
        assert!(
            matches!(err, SignatureError::SchemeMismatch { .. }),
            "{err}"
        );
        assert!(err.to_string().contains("ECDSA P-256 key"), "{err}");
    }
    // verify_signature takes DER only; the product's verify also takes r||s.
    let fixed = p256::ecdsa::Signature::from_der(&sig).unwrap().to_bytes();
    p256.verify(b"m", &fixed).unwrap();
    assert_eq!(
        p256.verify_signature(SignatureScheme::Ecdsa(HashAlg::Sha256), b"m", &fixed),
        Err(SignatureError::Invalid)
    );
}

#[test]
fn prehashed_ecdsa_matches_the_message_form() {
    use p256::ecdsa::signature::Signer as _;
    let message = b"an artifact";
    // P-256 over SHA-256 and SHA-512 (the latter through the RustCrypto path).
    let sk = p256::ecdsa::SigningKey::from_slice(&[3; 32]).unwrap();
    let pk = PublicKey::from_spki_der(&spki(
        ALG_P256,
        sk.verifying_key().to_encoded_point(false).as_bytes(),
    ))
    .unwrap();
    let sig: p256::ecdsa::DerSignature = sk.sign(message);
    let scheme = SignatureScheme::Ecdsa(HashAlg::Sha256);
    pk.verify_prehashed(scheme, &HashAlg::Sha256.digest(message), sig.as_bytes())
        .unwrap();
    assert_eq!(
        pk.verify_prehashed(scheme, &HashAlg::Sha256.digest(b"other"), sig.as_bytes()),
        Err(SignatureError::Invalid)
    );
    // A digest of the wrong length for the scheme.
    assert_eq!(
        pk.verify_prehashed(scheme, &HashAlg::Sha384.digest(message), sig.as_bytes()),
        Err(SignatureError::Invalid)
    );
    // P-521 over SHA-256, where the digest is shorter than half the field, is
    // in tests/key_algorithms.rs (signed by openssl).
}

#[test]
fn registry_table() {
    for d in scheme::KEY_DETAILS {
        assert!(d.scheme.fits(d.key_type), "{}", d.name);
        assert_eq!(KeyDetails::lookup(d.name), Some(d));
        assert!(
            KeyDetails::key_family(d.name).unwrap().admits(d.key_type),
            "{}",
            d.name
        );
        assert_eq!(
            d.rsa_bits.is_some(),
            d.key_type == KeyType::Rsa,
            "{}",
            d.name
        );
    }
    let deprecated: Vec<&str> = scheme::KEY_DETAILS
        .iter()
        .filter(|d| d.deprecated)
        .map(|d| d.name)
        .collect();
    assert_eq!(
        deprecated,
        ["PKIX_ECDSA_P384_SHA_256", "PKIX_ECDSA_P521_SHA_256"]
    );
    assert_eq!(KeyDetails::lookup("PKIX_ECDSA_P256_HMAC_SHA_256"), None);
    assert_eq!(
        KeyDetails::key_family("PKIX_ECDSA_P256_HMAC_SHA_256"),
        Some(KeyFamily::Ecdsa(Some(KeyType::EcdsaP256)))
    );
    assert_eq!(
        KeyDetails::key_family("PKCS1_RSA_PKCS1V5"),
        Some(KeyFamily::Rsa)
    );
    assert_eq!(KeyDetails::key_family("ML_DSA_65"), None);
}

#[test]
fn x509_signature_algorithms() {
    use HashAlg::*;
    for (oid, scheme) in [
        ("1.2.840.10045.4.3.2", SignatureScheme::Ecdsa(Sha256)),
        ("1.2.840.10045.4.3.3", SignatureScheme::Ecdsa(Sha384)),
        ("1.2.840.10045.4.3.4", SignatureScheme::Ecdsa(Sha512)),
        (
            "1.2.840.113549.1.1.11",
            SignatureScheme::RsaPkcs1v15(Sha256),
        ),
        (
            "1.2.840.113549.1.1.12",
            SignatureScheme::RsaPkcs1v15(Sha384),
        ),
        (
            "1.2.840.113549.1.1.13",
            SignatureScheme::RsaPkcs1v15(Sha512),
        ),
        ("1.3.101.112", SignatureScheme::Ed25519),
    ] {
        assert_eq!(SignatureScheme::from_x509_oid(oid), Some(scheme), "{oid}");
    }
    assert_eq!(SignatureScheme::from_x509_oid("1.2.840.113549.1.1.5"), None);
    // RSASSA-PSS with SHA-256, MGF1-SHA-256, salt 32 (what openssl and Go write).
    let pss_sha256 = hex::decode(
        "304106092a864886f70d01010a3034a00f300d06096086480165030402010500a11c301a06092a864886f70d010108300d06096086480165030402010500a203020120",
    )
    .unwrap();
    assert_eq!(
        SignatureScheme::from_algorithm_identifier_der(&pss_sha256, None),
        Ok(SignatureScheme::RsaPss(Sha256))
    );
    // The same with salt 20: refused, by name.
    let mut salt20 = pss_sha256.clone();
    *salt20.last_mut().unwrap() = 20;
    let err = SignatureScheme::from_algorithm_identifier_der(&salt20, None).unwrap_err();
    assert!(err.to_string().contains("salt length 20"), "{err}");
    // PSS with default (SHA-1) parameters.
    let pss_default = hex::decode("300d06092a864886f70d01010a3000").unwrap();
    let err = SignatureScheme::from_algorithm_identifier_der(&pss_default, None).unwrap_err();
    assert!(err.to_string().contains("1.3.14.3.2.26"), "{err}");
    // ecdsa-with-SHA256 with NULL parameters is malformed (RFC 5758).
    let ecdsa_null = hex::decode("300c06082a8648ce3d0403020500").unwrap();
    assert!(matches!(
        SignatureScheme::from_algorithm_identifier_der(&ecdsa_null, None),
        Err(SchemeError::BadParameters(_))
    ));
    // CMS may name only the key algorithm; the hash is the digestAlgorithm.
    let rsa_enc = hex::decode("300d06092a864886f70d0101010500").unwrap();
    assert_eq!(
        SignatureScheme::from_algorithm_identifier_der(&rsa_enc, Some(Sha384)),
        Ok(SignatureScheme::RsaPkcs1v15(Sha384))
    );
    assert!(matches!(
        SignatureScheme::from_algorithm_identifier_der(&rsa_enc, None),
        Err(SchemeError::Unsupported(_))
    ));
}
