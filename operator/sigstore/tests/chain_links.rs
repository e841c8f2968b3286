//! A trusted root's chains are checked once, when the root is loaded
//! (`check_ca_chain`), and each bundle's leaf then only against the first
//! certificate (`validate_checked_chain`): the verdicts and messages are those of
//! checking the whole chain per bundle (`validate_chain`), on real Fulcio
//! certificates, for good and broken chains.

use std::path::Path;

use attestor_sigstore::TrustedRoot;
use attestor_sigstore::cert::{Cert, check_ca_chain, validate_chain, validate_checked_chain};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

fn data(path: &str) -> Vec<u8> {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigstore-conformance");
    std::fs::read(p.join(path)).unwrap()
}

#[test]
fn checking_the_roots_links_once_gives_the_verdicts_of_checking_them_per_bundle() {
    let root = TrustedRoot::from_json(&data("trusted_root.public-good.json")).unwrap();
    let bundle: serde_json::Value =
        serde_json::from_slice(&data("cases/happy-path-v0.3/bundle.sigstore.json")).unwrap();
    let raw = bundle["verificationMaterial"]["certificate"]["rawBytes"]
        .as_str()
        .unwrap();
    let leaf = Cert::from_der(&STANDARD.decode(raw).unwrap()).unwrap();
    // The 2021 CA is one self-signed certificate; the current one an intermediate and a root.
    let old_root = root.cas[0].chain[0].clone();
    let (int, ca_root) = (root.cas[1].chain[0].clone(), root.cas[1].chain[1].clone());
    let signed = leaf
        .not_before
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();
    let later = leaf
        .not_after
        .checked_add(jiff::SignedDuration::from_secs(1))
        .unwrap();

    // (chain, times, Ok or a part of the error)
    type Case = (Vec<Cert>, Vec<jiff::Timestamp>, Result<(), &'static str>);
    let table: Vec<Case> = vec![
        (vec![int.clone(), ca_root.clone()], vec![signed], Ok(())),
        (
            vec![int.clone(), ca_root.clone()],
            vec![signed, later],
            Err("is not valid at"),
        ),
        (vec![int.clone()], vec![signed], Err("which is not a root")),
        (vec![ca_root.clone()], vec![signed], Err("is not issued by")),
        (
            vec![int.clone(), int.clone()],
            vec![signed],
            Err("is not issued by"),
        ),
        (
            vec![int.clone(), old_root.clone()],
            vec![signed],
            Err("is not issued by"),
        ),
        (
            vec![old_root.clone()],
            vec![signed],
            Err("is not issued by"),
        ),
        (
            vec![],
            vec![signed],
            Err("the authority has no certificates"),
        ),
    ];
    for (i, (chain, times, want)) in table.iter().enumerate() {
        let whole = validate_chain(&leaf, chain, times);
        let links = check_ca_chain(chain);
        let checked = validate_checked_chain(&leaf, chain, &links, times);
        assert_eq!(checked, whole, "case {i}");
        match (want, &whole) {
            (Ok(()), Ok(())) => {}
            (Err(part), Err(e)) => assert!(e.contains(part), "case {i}: {e}"),
            _ => panic!("case {i}: {whole:?}, expected {want:?}"),
        }
    }
    // The chains the root holds were checked when it was loaded: the current CA's holds.
    assert_eq!(check_ca_chain(&root.cas[1].chain), Ok(()));
}
