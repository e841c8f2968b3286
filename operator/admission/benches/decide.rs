//! Parse + decide + respond for a 3-container Deployment review against an index of 10,000
//! verified digests, on one thread: per-request latency percentiles and requests per second.
//!
//! `cargo bench -p attestor-admission --bench decide`

use std::hint::black_box;
use std::time::{Duration, Instant};

use attestor_admission::{
    Config, Digest, Index, IssuerFacts, Limits, NamespaceFacts, VerificationFacts, Verified,
    decide, parse_review, review_response,
};
use serde_json::json;

const DIGESTS: u32 = 10_000;
const NAMESPACES: u32 = 100;
const WARMUP: usize = 20_000;
const ITERATIONS: usize = 200_000;
const NOW: i64 = 1_790_000_000;

fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

fn index() -> Index {
    let mut index = Index::new();
    for team in 0..NAMESPACES {
        index.apply_namespace(NamespaceFacts::new(format!("team-{team}"), Some("enforce")));
        index.apply_issuer(IssuerFacts {
            name: format!("ci-{team}"),
            trusted: true,
            reason: "Approved".into(),
            scope_images: vec![format!("registry.example/team-{team}/*")],
            discovers: false,
        });
    }
    for n in 0..DIGESTS {
        let team = n % NAMESPACES;
        index.apply_verification(VerificationFacts {
            namespace: format!("team-{team}"),
            name: format!("app-{n}"),
            artifact_digest: Digest::parse(&digest(n)).expect("bench digest"),
            image: Some(format!("registry.example/team-{team}/app-{n}")),
            issuer: format!("ci-{team}"),
            verified: Verified::True,
            reason: "Verified".into(),
            message: "every check passed".into(),
            valid_until: Some(NOW + 86_400),
            status_is_current: true,
        });
    }
    index
}

/// A Deployment as the API server sends it, managed fields and all.
fn body(images: [String; 3]) -> Vec<u8> {
    let containers: Vec<_> = images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            json!({
                "name": format!("app-{i}"),
                "image": image,
                "ports": [{"containerPort": 8080 + i, "protocol": "TCP"}],
                "env": [{"name": "RUST_LOG", "value": "info"}, {"name": "PORT", "value": "8080"}],
                "resources": {"limits": {"cpu": "500m", "memory": "256Mi"}, "requests": {"cpu": "100m", "memory": "128Mi"}},
                "readinessProbe": {"httpGet": {"path": "/readyz", "port": 8080}, "periodSeconds": 5},
                "imagePullPolicy": "IfNotPresent",
                "terminationMessagePath": "/dev/termination-log",
            })
        })
        .collect();
    let review = json!({
        "apiVersion": "admission.k8s.io/v1",
        "kind": "AdmissionReview",
        "request": {
            "uid": "705ab4f5-6393-11e8-b7cc-42010a800002",
            "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "resource": {"group": "apps", "version": "v1", "resource": "deployments"},
            "requestKind": {"group": "apps", "version": "v1", "kind": "Deployment"},
            "name": "shop",
            "namespace": "team-7",
            "operation": "CREATE",
            "userInfo": {"username": "system:serviceaccount:argocd:argocd-application-controller", "groups": ["system:serviceaccounts", "system:authenticated"]},
            "object": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {
                    "name": "shop",
                    "namespace": "team-7",
                    "labels": {"app.kubernetes.io/name": "shop", "app.kubernetes.io/part-of": "store"},
                    "annotations": {"deployment.kubernetes.io/revision": "3"},
                    "managedFields": [{"manager": "argocd-controller", "operation": "Apply", "apiVersion": "apps/v1", "fieldsType": "FieldsV1", "fieldsV1": {"f:spec": {"f:replicas": {}, "f:template": {"f:spec": {"f:containers": {"k:{\"name\":\"app-0\"}": {".": {}, "f:image": {}}}}}}}}],
                },
                "spec": {
                    "replicas": 3,
                    "selector": {"matchLabels": {"app.kubernetes.io/name": "shop"}},
                    "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}},
                    "template": {
                        "metadata": {"labels": {"app.kubernetes.io/name": "shop"}},
                        "spec": {"containers": containers, "restartPolicy": "Always", "serviceAccountName": "shop"},
                    },
                },
                "status": {},
            },
            "oldObject": null,
            "dryRun": false,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        },
    });
    serde_json::to_vec(&review).expect("bench review serializes")
}

fn image(n: u32) -> String {
    format!(
        "registry.example/team-{}/app-{n}:1.4.2@{}",
        n % NAMESPACES,
        digest(n)
    )
}

fn run(label: &str, body: &[u8], index: &Index, config: &Config, expect_allowed: bool) {
    let limits = Limits::default();
    let once = || {
        let request = parse_review(body, &limits).expect("bench review is well-formed");
        let decision = decide(&request, index, config, NOW);
        assert_eq!(decision.allowed, expect_allowed, "{:?}", decision.message);
        review_response(&request.uid, &decision)
    };
    for _ in 0..WARMUP {
        black_box(once());
    }
    let mut samples = Vec::with_capacity(ITERATIONS);
    let started = Instant::now();
    for _ in 0..ITERATIONS {
        let t = Instant::now();
        black_box(once());
        samples.push(t.elapsed());
    }
    let total = started.elapsed();
    samples.sort_unstable();
    let at = |q: f64| samples[((samples.len() as f64 * q) as usize).min(samples.len() - 1)];
    let micros = |d: Duration| d.as_secs_f64() * 1e6;
    println!(
        "{label:<28} body {:>5} B  p50 {:>6.1} µs  p99 {:>6.1} µs  p999 {:>6.1} µs  max {:>7.1} µs  {:>8.0} requests/s",
        body.len(),
        micros(at(0.50)),
        micros(at(0.99)),
        micros(at(0.999)),
        micros(samples[samples.len() - 1]),
        ITERATIONS as f64 / total.as_secs_f64(),
    );
}

fn main() {
    // `cargo test --benches` runs this with `--test`-like flags; a smoke run is enough there.
    if std::env::args().any(|arg| arg == "--test") {
        return;
    }
    let build = Instant::now();
    let index = index();
    println!(
        "index: {} digests, {} ProofVerifications, built in {:?}",
        index.digest_count(),
        index.verification_count(),
        build.elapsed()
    );
    let config = Config::new("attestor-system");
    let allowed = body([image(7), image(107), image(207)]);
    run("allowed (3 verified)", &allowed, &index, &config, true);
    let denied = body([
        image(7),
        format!("registry.example/team-7/app:{}", 1),
        image(9_999_999),
    ]);
    run("denied (1 ok, 2 failing)", &denied, &index, &config, false);
}
