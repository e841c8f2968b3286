use super::*;
use attestor_api::trusted_issuer::Discovery;

fn at(s: &str) -> Timestamp {
    s.parse().unwrap()
}

const NOW: &str = "2026-06-01T12:00:00Z";
const HOUR: Duration = Duration::from_secs(3600);

fn digest(n: u8) -> String {
    format!("sha256:{}", format!("{n:02x}").repeat(32))
}

fn used(ns: &str, image: &str, n: u8, seen: &str) -> Use {
    Use::of(ns, &format!("{image}@{}", digest(n)), &[], at(seen)).unwrap()
}

fn issuer(name: &str, pattern: &str) -> DiscoveringIssuer {
    DiscoveringIssuer {
        name: name.into(),
        scope: Scope::new(&[pattern.to_string()]),
        spec: Discovery {
            enabled: true,
            kinds: vec![],
            transparency_log: Default::default(),
            predicate_type: None,
        },
    }
}

fn existing(ns: &str, name: &str, n: u8, discovered: bool) -> Existing {
    Existing {
        namespace: ns.into(),
        name: name.into(),
        digest: Some(digest(n).parse().unwrap()),
        discovered,
    }
}

#[test]
fn a_used_digest_without_a_proof_gets_one_named_as_admission_names_it() {
    let uses = [
        used("shop", "registry.example/shop/cart", 1, NOW),
        // The same digest twice (two Pods), and by a tag and digest: one proof.
        Use {
            pull_secrets: vec!["regcred".into()],
            ..used(
                "shop",
                "registry.example/shop/cart:1.4",
                1,
                "2026-06-01T11:00:00Z",
            )
        },
    ];
    let p = plan(
        &uses,
        &[issuer("ci", "registry.example/shop/*")],
        &[],
        at(NOW),
        HOUR,
    );
    assert_eq!(p.create.len(), 1, "{p:#?}");
    let c = &p.create[0];
    assert_eq!(c.namespace, "shop");
    assert_eq!(c.name, discovered_proof_name(&digest(1).parse().unwrap()));
    assert_eq!(c.repository, "registry.example/shop/cart");
    assert_eq!(c.issuer, "ci");
    assert_eq!(
        c.pull_secrets,
        vec!["regcred".to_string()],
        "the union of the uses' secrets"
    );
    assert!(c.service_accounts.is_empty());
    let with_account = Use {
        service_account: Some("builder".into()),
        ..used("shop", "registry.example/shop/cart", 1, NOW)
    };
    let p = plan(
        &[with_account],
        &[issuer("ci", "registry.example/shop/*")],
        &[],
        at(NOW),
        HOUR,
    );
    assert_eq!(p.create[0].service_accounts, vec!["builder".to_string()]);
    assert!(p.delete.is_empty());
}

#[test]
fn a_digest_with_any_proof_in_its_namespace_gets_none() {
    let uses = [used("shop", "registry.example/shop/cart", 1, NOW)];
    let issuers = [issuer("ci", "registry.example/shop/*")];
    // Hand-written or discovered, any name: the digest has a proof.
    for e in [
        existing("shop", "cart-proof", 1, false),
        existing("shop", "x", 1, true),
    ] {
        assert!(plan(&uses, &issuers, &[e], at(NOW), HOUR).create.is_empty());
    }
    // A proof in another namespace does not count (admission looks in the workload's own).
    let p = plan(
        &uses,
        &issuers,
        &[existing("other", "cart-proof", 1, false)],
        at(NOW),
        HOUR,
    );
    assert_eq!(p.create.len(), 1);
}

#[test]
fn the_first_covering_issuer_by_name_is_used_and_uncovered_images_are_counted() {
    let uses = [
        used("shop", "registry.example/shop/cart", 1, NOW),
        used("shop", "registry.example/other/db", 2, NOW),
    ];
    let issuers = [
        issuer("z-ci", "registry.example/shop/*"),
        issuer("a-ci", "registry.example/shop/*"),
    ];
    let p = plan(&uses, &issuers, &[], at(NOW), HOUR);
    assert_eq!(p.create.len(), 1);
    assert_eq!(p.create[0].issuer, "a-ci");
    assert_eq!(p.uncovered, 1);
}

#[test]
fn discovered_proofs_are_removed_only_after_gc_after_without_use() {
    let issuers = [issuer("ci", "registry.example/shop/*")];
    let proofs = [
        existing("shop", "in-use", 1, true),
        existing("shop", "stale-use", 2, true),
        existing("shop", "unused", 3, true),
        existing("shop", "hand-written", 4, false),
    ];
    let uses = [
        used("shop", "registry.example/shop/cart", 1, NOW),
        // A hand-off 30 minutes ago still holds; one two hours ago does not.
        used(
            "shop",
            "registry.example/shop/db",
            2,
            "2026-06-01T10:00:00Z",
        ),
    ];
    let p = plan(&uses, &issuers, &proofs, at(NOW), HOUR);
    let mut deleted: Vec<&str> = p.delete.iter().map(|(_, n)| n.as_str()).collect();
    deleted.sort();
    assert_eq!(deleted, ["stale-use", "unused"], "never a hand-written one");
    // An old use creates nothing either.
    assert!(p.create.is_empty());
    let p = plan(
        &[used(
            "shop",
            "registry.example/shop/db",
            2,
            "2026-06-01T11:30:00Z",
        )],
        &issuers,
        &proofs,
        at(NOW),
        HOUR,
    );
    assert!(!p.delete.iter().any(|(_, n)| n == "stale-use"));
}

#[test]
fn unpinned_images_are_not_uses() {
    assert!(Use::of("shop", "registry.example/shop/cart:1.4", &[], at(NOW)).is_none());
    assert!(
        Use::of(
            "shop",
            "registry.example/shop/cart@sha256:abc",
            &[],
            at(NOW)
        )
        .is_none()
    );
}

#[test]
fn a_hand_off_note_reads_back_and_bad_notes_are_ignored() {
    let image = format!("registry.example/shop/cart@{}", digest(7));
    for secrets in [vec![], vec!["a".to_string(), "b".to_string()]] {
        for account in [None, Some("builder")] {
            let note = hand_off_note(&image, "ci", &secrets, account);
            let u = parse_hand_off("shop", &note, at(NOW)).unwrap();
            assert_eq!(u.image, image);
            assert_eq!(u.digest, digest(7).parse().unwrap());
            assert_eq!(u.pull_secrets, secrets, "{note}");
            assert_eq!(u.service_account.as_deref(), account, "{note}");
            assert_eq!(u.namespace, "shop");
        }
    }
    let empty_account = format!("discover {image} for TrustedIssuer ci as service account ");
    for bad in [
        "",
        "discover",
        "discover x for TrustedIssuer ci",
        "verify registry.example/shop/cart@sha256:00 for TrustedIssuer ci",
        empty_account.as_str(),
    ] {
        assert!(parse_hand_off("shop", bad, at(NOW)).is_none(), "{bad:?}");
    }
}
