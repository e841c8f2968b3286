//! Each malformed shape of a review, and how it is answered.

use attestor_admission::{Limits, MalformedReview, Reason, Reply, ReviewError, parse_review};
use serde_json::{Value, json};

use crate::fixtures::*;

fn malformed(body: &[u8]) -> MalformedReview {
    parse_review(body, &Limits::default()).expect_err("must be refused")
}

/// A valid Deployment review with one edit applied.
fn edited(edit: impl FnOnce(&mut Value)) -> MalformedReview {
    let mut value = review("Deployment")
        .container("cart", &pinned("cart", 1))
        .container("db", &pinned("db", 2))
        .json();
    edit(&mut value);
    malformed(&serde_json::to_vec(&value).unwrap())
}

fn assert_message(error: &MalformedReview, expected: &str) {
    assert_eq!(error.to_string(), expected);
}

#[test]
fn a_body_that_is_not_json_gets_an_http_400() {
    let error = malformed(b"{\"apiVersion\": ");
    assert!(error.uid.is_none());
    assert!(matches!(error.error, ReviewError::NotJson(_)));
    assert!(
        error
            .to_string()
            .starts_with("the request body is not JSON: ")
    );
    assert_eq!(error.reason(), Reason::Malformed);
    let Reply::HttpError { status, message } = error.reply() else {
        panic!("no uid, no review");
    };
    assert_eq!(status, 400);
    assert!(
        message.starts_with("attestor: malformed AdmissionReview: the request body is not JSON")
    );
}

#[test]
fn an_oversized_body_is_refused_before_parsing() {
    let limits = Limits {
        max_body_bytes: 100,
        ..Limits::default()
    };
    let body = review("Pod").container("cart", "nginx").body();
    let error = parse_review(&body, &limits).unwrap_err();
    assert!(matches!(
        error.error,
        ReviewError::BodyTooLarge { limit: 100, .. }
    ));
    assert!(matches!(
        error.reply(),
        Reply::HttpError { status: 413, .. }
    ));
    assert_eq!(Limits::default().max_body_bytes, 3 * 1024 * 1024);
}

#[test]
fn a_body_that_is_not_an_object_or_not_a_review_is_refused() {
    assert_message(&malformed(b"[1, 2]"), "the request body is not an object");
    let error = edited(|v| v["apiVersion"] = json!("admission.k8s.io/v1beta1"));
    assert_message(
        &error,
        "the request body is apiVersion \"admission.k8s.io/v1beta1\" kind \"AdmissionReview\", not apiVersion admission.k8s.io/v1 kind AdmissionReview",
    );
    // The uid was readable: a proper review answers.
    assert!(error.uid.is_some());
    let error = edited(|v| {
        v.as_object_mut().unwrap().remove("kind");
    });
    assert!(error.to_string().contains("kind none"));
}

#[test]
fn a_review_without_request_or_uid_gets_an_http_400() {
    let error = edited(|v| {
        v.as_object_mut().unwrap().remove("request");
    });
    assert_message(&error, "request is missing");
    assert!(matches!(
        error.reply(),
        Reply::HttpError { status: 400, .. }
    ));

    let error = edited(|v| {
        v["request"].as_object_mut().unwrap().remove("uid");
    });
    assert_message(&error, "request.uid is missing");
    assert!(error.uid.is_none());

    let error = edited(|v| v["request"]["uid"] = json!(42));
    assert_message(&error, "request.uid is not a string");
    let error = edited(|v| v["request"]["uid"] = json!(""));
    assert_message(&error, "request.uid is empty");
}

#[test]
fn with_a_uid_the_answer_is_a_review_denying_with_400() {
    let error = edited(|v| {
        v["request"]["object"]["spec"]["template"]["spec"]["containers"][1]
            .as_object_mut()
            .unwrap()
            .remove("image");
    });
    assert_message(
        &error,
        "request.object.spec.template.spec.containers[1].image is missing",
    );
    let Reply::Review(body) = error.reply() else {
        panic!("the uid was readable");
    };
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["apiVersion"], "admission.k8s.io/v1");
    assert_eq!(body["kind"], "AdmissionReview");
    assert_eq!(
        body["response"]["uid"],
        "705ab4f5-6393-11e8-b7cc-42010a800002"
    );
    assert_eq!(body["response"]["allowed"], false);
    assert_eq!(body["response"]["status"]["code"], 400);
    assert_eq!(body["response"]["status"]["reason"], "BadRequest");
    assert_eq!(
        body["response"]["status"]["message"],
        "attestor: malformed AdmissionReview: request.object.spec.template.spec.containers[1].image is missing"
    );
    assert_eq!(body["response"]["auditAnnotations"]["reason"], "Malformed");
}

/// Removes (`None`) or replaces the value at a JSON pointer.
fn set(value: &mut Value, pointer: &str, replacement: Option<Value>) {
    let (parent, key) = pointer.rsplit_once('/').expect("pointer has a parent");
    let key = key.replace("~1", "/").replace("~0", "~");
    let parent = value.pointer_mut(parent).expect("parent exists");
    match (parent, replacement) {
        (Value::Object(map), None) => {
            map.remove(&key);
        }
        (Value::Object(map), Some(replacement)) => {
            map.insert(key, replacement);
        }
        (Value::Array(items), replacement) => {
            let index: usize = key.parse().expect("array index");
            match replacement {
                None => {
                    items.remove(index);
                }
                Some(replacement) => items[index] = replacement,
            }
        }
        _ => panic!("{pointer} is not inside an object or array"),
    }
}

#[test]
fn each_missing_or_mistyped_part_is_named_by_its_path() {
    const SPEC: &str = "/request/object/spec/template/spec";
    let cases: Vec<(String, Option<Value>, &str)> = vec![
        ("/request/object".into(), None, "request.object is missing"),
        (
            "/request/object".into(),
            Some(json!("a string")),
            "request.object is not an object",
        ),
        (
            "/request/object/spec/template".into(),
            None,
            "request.object.spec.template is missing",
        ),
        (
            SPEC.into(),
            Some(json!([])),
            "request.object.spec.template.spec is not an object",
        ),
        (
            format!("{SPEC}/containers"),
            None,
            "request.object.spec.template.spec.containers is missing",
        ),
        (
            format!("{SPEC}/containers"),
            Some(json!({})),
            "request.object.spec.template.spec.containers is not an array",
        ),
        (
            format!("{SPEC}/initContainers"),
            Some(json!([7])),
            "request.object.spec.template.spec.initContainers[0] is not an object",
        ),
        (
            format!("{SPEC}/containers/0/image"),
            Some(json!("")),
            "request.object.spec.template.spec.containers[0].image is empty",
        ),
        (
            format!("{SPEC}/containers/0/image"),
            Some(json!(["nginx"])),
            "request.object.spec.template.spec.containers[0].image is not a string",
        ),
        (
            format!("{SPEC}/containers/1/name"),
            None,
            "request.object.spec.template.spec.containers[1].name is missing",
        ),
        (
            "/request/object/spec/template/metadata/annotations/attestor.stellaops.io~1break-glass"
                .into(),
            Some(json!(true)),
            "request.object.spec.template.metadata.annotations[\"attestor.stellaops.io/break-glass\"] is not a string",
        ),
        (
            "/request/operation".into(),
            Some(json!("PATCH")),
            "request.operation is \"PATCH\", not one of CREATE, UPDATE, DELETE, CONNECT",
        ),
        ("/request/kind".into(), None, "request.kind is missing"),
        (
            "/request/kind/kind".into(),
            Some(json!(3)),
            "request.kind.kind is not a string",
        ),
        (
            "/request/namespace".into(),
            None,
            "request.namespace is missing",
        ),
        (
            "/request/dryRun".into(),
            Some(json!("yes")),
            "request.dryRun is not a boolean",
        ),
    ];
    for (pointer, replacement, expected) in cases {
        let error = edited(|value| set(value, &pointer, replacement));
        assert_message(&error, expected);
        assert!(error.uid.is_some(), "{expected}");
        assert!(matches!(error.reply(), Reply::Review(_)));
    }
}

#[test]
fn a_cron_job_without_its_job_template_is_named() {
    let mut value = review("CronJob").container("cart", "nginx").json();
    value["request"]["object"]["spec"]
        .as_object_mut()
        .unwrap()
        .remove("jobTemplate");
    let error = malformed(&serde_json::to_vec(&value).unwrap());
    assert_message(&error, "request.object.spec.jobTemplate is missing");
}

#[test]
fn a_pod_spec_is_at_spec_for_a_pod() {
    let mut value = review("Pod").container("cart", "nginx").json();
    value["request"]["object"]["spec"]["containers"][0]["image"] = Value::Null;
    let error = malformed(&serde_json::to_vec(&value).unwrap());
    assert_message(&error, "request.object.spec.containers[0].image is missing");
}

#[test]
fn too_many_containers_are_refused() {
    let limits = Limits {
        max_containers: 3,
        ..Limits::default()
    };
    let body = review("Pod")
        .container("a", "nginx")
        .container("b", "nginx")
        .init_container("c", "nginx")
        .ephemeral_container("d", "nginx")
        .body();
    let error = parse_review(&body, &limits).unwrap_err();
    assert_message(
        &error,
        "request.object.spec has 4 containers in all, over the limit of 3",
    );
    assert!(matches!(error.reply(), Reply::Review(_)));
}

#[test]
fn null_optional_fields_read_as_absent() {
    let mut value = review("Pod").container("cart", "nginx").json();
    value["request"]["object"]["spec"]["initContainers"] = Value::Null;
    value["request"]["object"]["metadata"]["annotations"] = Value::Null;
    value["request"]["subResource"] = Value::Null;
    assert!(parse_review(&serde_json::to_vec(&value).unwrap(), &Limits::default()).is_ok());
}

#[test]
fn delete_needs_no_object() {
    let body = review("Pod").operation("DELETE").body();
    let request = parse_review(&body, &Limits::default()).unwrap();
    assert!(matches!(
        request.target,
        attestor_admission::Target::Untouched(attestor_admission::Untouched::Operation(_))
    ));
}
