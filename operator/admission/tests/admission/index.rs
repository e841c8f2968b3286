//! The index fed by sequences of watch-like events.

use attestor_admission::{Digest, Enforcement, Index, NamespaceFacts, Reason, Verified};

use crate::fixtures::*;

fn digest_of(n: u32) -> Digest {
    Digest::parse(&digest(n)).unwrap()
}

fn names(index: &Index, n: u32, namespace: &str) -> Vec<String> {
    index
        .proofs(&digest_of(n), namespace)
        .map(|p| p.name.clone())
        .collect()
}

#[test]
fn apply_then_delete_leaves_nothing_behind() {
    let mut index = Index::new();
    index.apply_verification(verification("shop", "cart", 1));
    index.apply_verification(verification("shop", "cart-2", 1));
    assert_eq!(names(&index, 1, "shop"), ["cart", "cart-2"]);
    assert_eq!((index.verification_count(), index.digest_count()), (2, 1));

    assert!(index.delete_verification("shop", "cart"));
    assert_eq!(names(&index, 1, "shop"), ["cart-2"]);
    assert!(index.delete_verification("shop", "cart-2"));
    assert!(names(&index, 1, "shop").is_empty());
    assert_eq!((index.verification_count(), index.digest_count()), (0, 0));
    assert!(!index.delete_verification("shop", "cart-2"), "already gone");
    assert!(!index.delete_verification("nowhere", "x"));
}

#[test]
fn reapplying_replaces_and_may_move_a_name_to_another_digest() {
    let mut index = Index::new();
    index.apply_verification(verification("shop", "cart", 1));
    let mut failed = verification("shop", "cart", 1);
    failed.verified = Verified::False;
    index.apply_verification(failed);
    assert_eq!(
        index.verification("shop", "cart").unwrap().verified,
        Verified::False
    );
    assert_eq!(index.verification_count(), 1);

    // Deleted and re-created under the same name for another artifact, with the delete event
    // lost: the name must not stay filed under the old digest.
    index.apply_verification(verification("shop", "cart", 2));
    assert!(names(&index, 1, "shop").is_empty());
    assert_eq!(names(&index, 2, "shop"), ["cart"]);
    assert_eq!((index.verification_count(), index.digest_count()), (1, 1));
}

#[test]
fn namespaces_separate_proofs_of_one_digest() {
    let mut index = Index::new();
    index.apply_verification(verification("a", "cart", 1));
    index.apply_verification(verification("b", "cart", 1));
    assert_eq!(names(&index, 1, "a"), ["cart"]);
    index.delete_verification("a", "cart");
    assert!(names(&index, 1, "a").is_empty());
    assert_eq!(names(&index, 1, "b"), ["cart"]);
}

#[test]
fn a_reset_replaces_everything_of_its_kind() {
    let mut index = cluster();
    index.reset_verifications([verification("shop", "only", 5)]);
    assert_eq!(index.verification_count(), 1);
    assert!(names(&index, 1, "shop").is_empty());
    assert_eq!(names(&index, 5, "shop"), ["only"]);
    assert!(index.issuer("ci").is_some(), "other kinds are untouched");

    index.reset_issuers([issuer("vendor", &["*"])]);
    assert!(index.issuer("ci").is_none());
    assert!(index.issuer("vendor").unwrap().trusted());

    index.reset_namespaces([NamespaceFacts::new("other", Some("warn"))]);
    assert_eq!(index.enforcement("shop"), None);
    assert_eq!(index.enforcement("other"), Some(&Enforcement::Warn));
}

#[test]
fn namespace_events_switch_enforcement() {
    let mut index = cluster();
    let builder = review("Pod").container("cart", "nginx");
    let decide = |index: &Index| decide_with(&builder, index, &config());
    assert_eq!(decide(&index).reason, Reason::NotPinned);
    assert!(!decide(&index).allowed);

    index.apply_namespace(NamespaceFacts::new("shop", Some("warn")));
    assert!(decide(&index).allowed);
    index.apply_namespace(NamespaceFacts::new("shop", None));
    assert_eq!(decide(&index).reason, Reason::NotGated);
    index.delete_namespace("shop");
    assert!(
        !decide(&index).is_final(),
        "unknown again: waits for the namespace"
    );
}

#[test]
fn issuer_events_are_seen_by_the_next_decision() {
    let mut index = cluster();
    let builder = review("Pod").container("cart", &pinned("cart", 1));
    let decide = |index: &Index| decide_with(&builder, index, &config()).reason;
    assert_eq!(decide(&index), Reason::Allowed);
    index.apply_issuer(issuer("ci", &["registry.example/other/*"]));
    assert_eq!(decide(&index), Reason::OutOfScope);
    index.delete_issuer("ci");
    assert_eq!(decide(&index), Reason::IssuerNotFound);
    index.apply_issuer(issuer("ci", &["registry.example/shop/*"]));
    assert_eq!(decide(&index), Reason::Allowed);
}

#[test]
fn every_event_moves_the_revision() {
    let mut index = Index::new();
    let mut last = index.revision();
    let mut step = |index: &Index| {
        assert!(index.revision() > last);
        last = index.revision();
    };
    index.apply_verification(verification("shop", "cart", 1));
    step(&index);
    index.delete_verification("shop", "cart");
    step(&index);
    index.apply_issuer(issuer("ci", &["*"]));
    step(&index);
    index.delete_issuer("ci");
    step(&index);
    index.apply_namespace(NamespaceFacts::new("shop", Some("enforce")));
    step(&index);
    index.delete_namespace("shop");
    step(&index);
    index.reset_verifications([]);
    step(&index);
}

#[test]
fn label_values_map_to_enforcement() {
    assert_eq!(Enforcement::from_label(None), Enforcement::NotGated);
    assert_eq!(
        Enforcement::from_label(Some("enforce")),
        Enforcement::Enforce
    );
    assert_eq!(Enforcement::from_label(Some("warn")), Enforcement::Warn);
    assert_eq!(
        Enforcement::from_label(Some("")),
        Enforcement::Invalid(String::new())
    );
    assert_eq!(
        Enforcement::from_label(Some("ENFORCE")),
        Enforcement::Invalid("ENFORCE".into())
    );
    assert_eq!(
        Verified::from_condition_status(Some("True")),
        Verified::True
    );
    assert_eq!(
        Verified::from_condition_status(Some("False")),
        Verified::False
    );
    assert_eq!(
        Verified::from_condition_status(Some("Unknown")),
        Verified::Unknown
    );
    assert_eq!(Verified::from_condition_status(None), Verified::Unknown);
}
