//! What the admission benches share (`make bench-webhook`, `make bench-registry`): an index of
//! verified digests and Deployment-sized Pod reviews against it.

use attestor_admission::{Digest, Index, IssuerFacts, NamespaceFacts, VerificationFacts, Verified};

pub const DIGESTS: usize = 10_000;

pub fn digest(i: usize) -> String {
    format!("sha256:{i:064x}")
}

pub fn index() -> Index {
    let mut index = Index::new();
    index.apply_issuer(IssuerFacts {
        name: "ci".into(),
        trusted: true,
        reason: "Trusted".into(),
        scope_images: vec!["registry.example/shop/*".into()],
        discovers: false,
    });
    index.apply_namespace(NamespaceFacts::new("shop", Some("enforce")));
    for i in 0..DIGESTS {
        index.apply_verification(VerificationFacts {
            namespace: "shop".into(),
            name: format!("pv-{i}"),
            artifact_digest: Digest::parse(&digest(i)).expect("a digest"),
            image: None,
            issuer: "ci".into(),
            verified: Verified::True,
            reason: "Verified".into(),
            message: String::new(),
            valid_until: None,
            status_is_current: true,
        });
    }
    index
}

/// A Deployment-sized Pod review: two containers, both pinned to verified digests.
pub fn review(i: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": format!("bench-{i}"),
            "kind": {"group": "", "version": "v1", "kind": "Pod"},
            "resource": {"group": "", "version": "v1", "resource": "pods"},
            "namespace": "shop",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:kube-system:replicaset-controller"},
            "object": {
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"generateName": "cart-7d9f8b-", "namespace": "shop",
                             "labels": {"app": "cart", "pod-template-hash": "7d9f8b"}},
                "spec": {"containers": [
                    {"name": "cart", "image": format!("registry.example/shop/cart@{}", digest(i % DIGESTS)),
                     "ports": [{"containerPort": 8080}], "resources": {"requests": {"cpu": "100m"}}},
                    {"name": "proxy", "image": format!("registry.example/shop/proxy:2@{}", digest((i * 7919) % DIGESTS))},
                ]},
            },
            "dryRun": false,
        },
    }))
    .expect("JSON")
}
