//! Properties over arbitrary input: nothing panics, and the order of containers does not
//! change the decision.

use attestor_admission::{Limits, Reply, decide, parse_review, review_response};
use proptest::prelude::*;
use serde_json::{Map, Value, json};

use crate::fixtures::*;

/// Keys a review has, so that arbitrary trees often take the paths the parser follows.
const KEYS: &[&str] = &[
    "apiVersion",
    "kind",
    "request",
    "uid",
    "operation",
    "object",
    "spec",
    "template",
    "jobTemplate",
    "metadata",
    "annotations",
    "containers",
    "initContainers",
    "ephemeralContainers",
    "image",
    "name",
    "namespace",
    "group",
    "version",
    "subResource",
    "dryRun",
];

fn arbitrary_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        any::<f64>().prop_map(|f| json!(f)),
        prop_oneof![
            Just("admission.k8s.io/v1".to_string()),
            Just("AdmissionReview".to_string()),
            Just("CREATE".to_string()),
            Just("Pod".to_string()),
            Just("apps".to_string()),
            Just("Deployment".to_string()),
            Just("CronJob".to_string()),
            Just("shop".to_string()),
            Just(pinned("cart", 1)),
            ".*",
        ]
        .prop_map(Value::String),
    ];
    leaf.prop_recursive(6, 64, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::vec(
                (
                    prop_oneof![
                        prop::sample::select(KEYS).prop_map(str::to_string),
                        ".{0,8}"
                    ],
                    inner
                ),
                0..6
            )
            .prop_map(|entries| Value::Object(entries.into_iter().collect::<Map<_, _>>())),
        ]
    })
}

/// Runs the whole path; panics are the failure.
fn handle(body: &[u8]) {
    let index = cluster();
    let config = config();
    match parse_review(body, &Limits::default()) {
        Ok(request) => {
            let decision = decide(&request, &index, &config, NOW);
            let response = review_response(&request.uid, &decision);
            assert!(serde_json::from_slice::<Value>(&response).is_ok());
            assert!(decision.warnings.iter().all(|w| w.len() <= 256));
            assert!(decision.message.as_ref().is_none_or(|m| m.len() <= 4096));
        }
        Err(malformed) => match malformed.reply() {
            Reply::Review(body) => assert!(serde_json::from_slice::<Value>(&body).is_ok()),
            Reply::HttpError { status, .. } => assert!(status == 400 || status == 413),
        },
    }
}

/// One container of a generated Pod: which kind of image it gets.
#[derive(Debug, Clone)]
enum Image {
    Verified(u32),
    Unpinned,
    Unknown(u32),
    OutOfScope(u32),
}

impl Image {
    fn reference(&self, container: &str) -> String {
        match self {
            Self::Verified(n) => pinned(["cart", "db", "proxy"][*n as usize % 3], n % 3 + 1),
            Self::Unpinned => format!("{REGISTRY}/{container}:latest"),
            Self::Unknown(n) => pinned(container, 100 + n),
            Self::OutOfScope(n) => format!("evil.example/x@{}", digest(n % 3 + 1)),
        }
    }
}

fn image() -> impl Strategy<Value = Image> {
    prop_oneof![
        (0u32..3).prop_map(Image::Verified),
        Just(Image::Unpinned),
        (0u32..5).prop_map(Image::Unknown),
        (0u32..3).prop_map(Image::OutOfScope),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..512)) {
        handle(&body);
    }

    #[test]
    fn arbitrary_json_never_panics(value in arbitrary_json()) {
        handle(&serde_json::to_vec(&value).unwrap());
        // The same tree in the places a review reads from.
        let wrapped = json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
            "request": {"uid": "u", "operation": "CREATE", "namespace": "shop",
                "kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
                "object": {"spec": {"template": value}}}});
        handle(&serde_json::to_vec(&wrapped).unwrap());
    }

    #[test]
    fn a_valid_review_with_one_part_replaced_never_panics(
        pointer in prop::sample::select(vec![
            "/request", "/request/uid", "/request/kind", "/request/object",
            "/request/object/spec", "/request/object/spec/template",
            "/request/object/spec/template/spec/containers",
            "/request/object/spec/template/spec/containers/0",
            "/request/object/spec/template/spec/containers/0/image",
            "/request/object/spec/template/metadata/annotations",
        ]),
        replacement in arbitrary_json(),
        kind in prop::sample::select(vec!["Deployment", "Pod", "CronJob", "Job"]),
    ) {
        let mut value = review(kind).container("cart", &pinned("cart", 1)).json();
        let pointer = match kind {
            "Pod" => pointer.replace("/spec/template", ""),
            "CronJob" => pointer.replace("/spec/template", "/spec/jobTemplate/spec/template"),
            _ => pointer.to_string(),
        };
        if let Some(slot) = value.pointer_mut(&pointer) {
            *slot = replacement;
        }
        handle(&serde_json::to_vec(&value).unwrap());
    }

    #[test]
    fn the_order_of_containers_does_not_change_the_decision(
        images in prop::collection::vec(image(), 1..8),
        seed in any::<u64>(),
        warn in any::<bool>(),
    ) {
        let index = cluster();
        let config = config();
        let namespace = if warn { "shop-dev" } else { "shop" };
        let containers: Vec<(String, String)> = images
            .iter()
            .enumerate()
            .map(|(i, image)| {
                let name = format!("c{i}");
                let reference = image.reference(&name);
                (name, reference)
            })
            .collect();
        let mut shuffled = containers.clone();
        // A deterministic shuffle from the seed (Fisher–Yates on a xorshift).
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let build = |list: &[(String, String)]| {
            let mut builder = review("Deployment").namespace(namespace);
            for (name, image) in list {
                builder = builder.container(name, image);
            }
            decide(&builder.parse(), &index, &config, NOW)
        };
        let original = build(&containers);
        let reordered = build(&shuffled);
        prop_assert_eq!(original.allowed, reordered.allowed);
        prop_assert_eq!(original.reason, reordered.reason);
        prop_assert_eq!(&original.message, &reordered.message);
        prop_assert_eq!(&original.warnings, &reordered.warnings);
        prop_assert_eq!(original.pending_digests(), reordered.pending_digests());
    }
}
