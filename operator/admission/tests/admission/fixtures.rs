//! Small reviews and index facts, built in code so that each test shows what it varies.

use attestor_admission::{
    Config, Decision, Digest, Index, IssuerFacts, Limits, NamespaceFacts, ReviewRequest,
    VerificationFacts, Verified, decide, parse_review,
};
use serde_json::{Value, json};

pub const NOW: i64 = 1_790_000_000;
pub const OPERATOR_NAMESPACE: &str = "attestor-system";
pub const REGISTRY: &str = "registry.example/shop";

/// `sha256:` and 64 hex digits derived from `n`.
pub fn digest(n: u32) -> String {
    format!("sha256:{n:064x}")
}

pub fn pinned(name: &str, n: u32) -> String {
    format!("{REGISTRY}/{name}:1.0@{}", digest(n))
}

/// A review of `kind` with the given Pod spec lists, built with [`ReviewBuilder`].
pub struct ReviewBuilder {
    group: &'static str,
    kind: &'static str,
    namespace: String,
    name: String,
    operation: &'static str,
    sub_resource: Option<&'static str>,
    dry_run: bool,
    containers: Vec<Value>,
    init_containers: Vec<Value>,
    ephemeral_containers: Vec<Value>,
    object_annotations: serde_json::Map<String, Value>,
    template_annotations: serde_json::Map<String, Value>,
    uid: &'static str,
}

pub fn review(kind: &'static str) -> ReviewBuilder {
    let group = match kind {
        "Pod" => "",
        "Job" | "CronJob" => "batch",
        "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" => "apps",
        _ => "example.io",
    };
    ReviewBuilder {
        group,
        kind,
        namespace: "shop".into(),
        name: "cart".into(),
        operation: "CREATE",
        sub_resource: None,
        dry_run: false,
        containers: Vec::new(),
        init_containers: Vec::new(),
        ephemeral_containers: Vec::new(),
        object_annotations: Default::default(),
        template_annotations: Default::default(),
        uid: "705ab4f5-6393-11e8-b7cc-42010a800002",
    }
}

fn container(name: &str, image: &str) -> Value {
    json!({"name": name, "image": image, "imagePullPolicy": "IfNotPresent"})
}

impl ReviewBuilder {
    pub fn namespace(mut self, namespace: &str) -> Self {
        self.namespace = namespace.into();
        self
    }
    pub fn operation(mut self, operation: &'static str) -> Self {
        self.operation = operation;
        self
    }
    pub fn sub_resource(mut self, sub_resource: &'static str) -> Self {
        self.sub_resource = Some(sub_resource);
        self
    }
    pub fn dry_run(mut self) -> Self {
        self.dry_run = true;
        self
    }
    pub fn container(mut self, name: &str, image: &str) -> Self {
        self.containers.push(container(name, image));
        self
    }
    pub fn init_container(mut self, name: &str, image: &str) -> Self {
        self.init_containers.push(container(name, image));
        self
    }
    pub fn ephemeral_container(mut self, name: &str, image: &str) -> Self {
        self.ephemeral_containers.push(container(name, image));
        self
    }
    /// On the Pod template (for a Pod, its own metadata).
    pub fn template_annotation(mut self, key: &str, value: &str) -> Self {
        self.template_annotations.insert(key.into(), value.into());
        self
    }
    /// On the workload's own metadata.
    pub fn object_annotation(mut self, key: &str, value: &str) -> Self {
        self.object_annotations.insert(key.into(), value.into());
        self
    }

    pub fn json(&self) -> Value {
        let mut pod_spec = json!({"containers": self.containers, "restartPolicy": "Always"});
        if !self.init_containers.is_empty() {
            pod_spec["initContainers"] = json!(self.init_containers);
        }
        if !self.ephemeral_containers.is_empty() {
            pod_spec["ephemeralContainers"] = json!(self.ephemeral_containers);
        }
        let template = json!({
            "metadata": {"labels": {"app": "cart"}, "annotations": self.template_annotations},
            "spec": pod_spec,
        });
        let mut object = match self.kind {
            "Pod" => {
                let mut annotations = self.object_annotations.clone();
                annotations.extend(self.template_annotations.clone());
                json!({"metadata": {"annotations": annotations}, "spec": template["spec"]})
            }
            "CronJob" => json!({
                "metadata": {"annotations": self.object_annotations},
                "spec": {"schedule": "*/5 * * * *", "jobTemplate": {"spec": {"template": template}}},
            }),
            _ => json!({
                "metadata": {"annotations": self.object_annotations},
                "spec": {"replicas": 2, "template": template},
            }),
        };
        object["apiVersion"] = json!(if self.group.is_empty() {
            "v1".to_string()
        } else {
            format!("{}/v1", self.group)
        });
        object["kind"] = json!(self.kind);
        object["metadata"]["name"] = json!(self.name);
        object["metadata"]["namespace"] = json!(self.namespace);
        let mut request = json!({
            "uid": self.uid,
            "kind": {"group": self.group, "version": "v1", "kind": self.kind},
            "resource": {"group": self.group, "version": "v1", "resource": format!("{}s", self.kind.to_lowercase())},
            "requestKind": {"group": self.group, "version": "v1", "kind": self.kind},
            "name": self.name,
            "namespace": self.namespace,
            "operation": self.operation,
            "userInfo": {"username": "admin", "groups": ["system:authenticated"]},
            "object": object,
            "oldObject": null,
            "dryRun": self.dry_run,
            "options": {"apiVersion": "meta.k8s.io/v1", "kind": "CreateOptions"},
        });
        if let Some(sub_resource) = self.sub_resource {
            request["subResource"] = json!(sub_resource);
        }
        if self.operation == "DELETE" {
            request["object"] = Value::Null;
        }
        json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview", "request": request})
    }

    pub fn body(&self) -> Vec<u8> {
        serde_json::to_vec(&self.json()).expect("fixture serializes")
    }

    pub fn parse(&self) -> ReviewRequest {
        parse_review(&self.body(), &Limits::default()).expect("fixture is a well-formed review")
    }
}

pub fn verification(namespace: &str, name: &str, n: u32) -> VerificationFacts {
    VerificationFacts {
        namespace: namespace.into(),
        name: name.into(),
        artifact_digest: Digest::parse(&digest(n)).expect("fixture digest"),
        image: Some(format!("{REGISTRY}/{name}")),
        issuer: "ci".into(),
        verified: Verified::True,
        reason: "Verified".into(),
        message: "every check passed".into(),
        valid_until: Some(NOW + 86_400),
        status_is_current: true,
    }
}

pub fn issuer(name: &str, patterns: &[&str]) -> IssuerFacts {
    IssuerFacts {
        name: name.into(),
        trusted: true,
        reason: "Approved".into(),
        scope_images: patterns.iter().map(|p| p.to_string()).collect(),
        discovers: false,
    }
}

/// Namespace `shop` enforcing, issuer `ci` trusted for `registry.example/shop/*`, and a
/// verified proof in `shop` for digests 1, 2 and 3 (`cart`, `db`, `proxy`).
pub fn cluster() -> Index {
    let mut index = Index::new();
    index.apply_namespace(NamespaceFacts::new("shop", Some("enforce")));
    index.apply_namespace(NamespaceFacts::new("shop-dev", Some("warn")));
    index.apply_namespace(NamespaceFacts::new("plain", None));
    index.apply_issuer(issuer("ci", &["registry.example/shop/*"]));
    for (n, name) in [(1, "cart"), (2, "db"), (3, "proxy")] {
        index.apply_verification(verification("shop", name, n));
        index.apply_verification(verification("shop-dev", name, n));
    }
    index
}

pub fn config() -> Config {
    Config::new(OPERATOR_NAMESPACE).allow_break_glass(true)
}

pub fn decide_with(builder: &ReviewBuilder, index: &Index, config: &Config) -> Decision {
    decide(&builder.parse(), index, config, NOW)
}

pub fn message(decision: &Decision) -> &str {
    decision.message.as_deref().unwrap_or_default()
}
