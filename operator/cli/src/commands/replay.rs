//! `attestor replay`: recompute a bundle's score from a snapshot store and
//! explain any drift (docs/scoring.md, sections 14 and 15).

use std::path::PathBuf;

use attestor_core::bundle::{Bundle, ManifestInputs, read_score_proof};
use attestor_core::digest::Sha256Digest;
use attestor_core::zip::ZipLimits;
use attestor_runtime::snapshot_store::{Store, open_store};
use attestor_score::inputs::container::{FeedLimits, load_path};
use attestor_score::replay::{Change, NodeDiff};
use attestor_score::store::object_path;
use attestor_score::{
    InputKind, Outcome, ReplayReport, ScoringInputs, SnapshotStore, StoreError, compare,
};
use serde_json::{Value, json};

use crate::cli::{OutputFormat, ReplayArgs, VerifyArgs};
use crate::error::{read_bundle, read_file};
use crate::{CliError, EXIT_FAILED, EXIT_VERIFIED};

/// Where one replayed input came from.
#[derive(Debug, Clone)]
enum Source {
    File(PathBuf),
    /// From the store; `how` says why this digest ("as in the bundle", "latest", …).
    Store {
        digest: Sha256Digest,
        how: &'static str,
    },
}

impl Source {
    fn describe(&self, kind: InputKind, store: Option<&Store>) -> String {
        match self {
            Source::File(path) => format!("the {kind} {}", path.display()),
            Source::Store { digest, how } => format!(
                "the {kind} {digest} ({how}) from the store {}",
                store.map(Store::location).unwrap_or_default()
            ),
        }
    }
}

pub fn run(args: &ReplayArgs) -> Result<u8, CliError> {
    let result = replay(args);
    if let (Err(e), OutputFormat::Json) = (&result, args.output) {
        let doc = json!({
            "outcome": "Error",
            "reason": e.reason(),
            "message": e.to_string(),
            "bundle": args.bundle.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    result
}

fn replay(args: &ReplayArgs) -> Result<u8, CliError> {
    let feed_pin = args
        .feed_snapshot
        .as_deref()
        .map(|d| {
            d.parse::<Sha256Digest>()
                .map_err(|e| CliError::Usage(format!("--feed-snapshot {d:?}: {e}")))
        })
        .transpose()?;
    let store = args
        .store
        .as_deref()
        .map(|url| open_store(url).map_err(|e| CliError::Usage(format!("--store: {e}"))))
        .transpose()?;
    let bytes = read_bundle(&args.bundle)?;
    let bundle = Bundle::from_zip(&bytes, &ZipLimits::default())
        .map_err(|e| CliError::input(&args.bundle, e))?;
    if !args.trust_anchors.is_empty() {
        verify_first(args, &bundle)?;
    }
    let original = bundle.manifest.inputs.clone();
    // Recompute with the semantics the bundle was scored with.
    let version = attestor_score::ScoreVersion::of_manifest(&bundle.manifest_value)
        .map_err(|e| CliError::input(&args.bundle, e))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))?;

    let mut documents = Vec::with_capacity(4);
    let mut sources = Vec::with_capacity(4);
    for kind in InputKind::ALL {
        let file = match kind {
            InputKind::Sbom => &args.sbom,
            InputKind::Feed => &args.feed,
            InputKind::Vex => &args.vex,
            InputKind::Policy => &args.policy,
        };
        if let Some(path) = file {
            if kind == InputKind::Feed && path.is_dir() {
                // Its assembled document has the snapshot's address (docs/scoring.md section 7).
                let snapshot = load_path(path, &FeedLimits::default())
                    .map_err(|e| CliError::input(path, e))?;
                documents.push(snapshot.store_bytes(&[]).to_vec());
            } else {
                documents.push(read_file(path)?);
            }
            sources.push(Source::File(path.clone()));
            continue;
        }
        let flag = format!("--{}", kind.name());
        let store = store.as_ref().ok_or_else(|| {
            CliError::Usage(format!(
                "the {kind} must come from a snapshot store: give --store DIR|URL (where \
                 `attestor score --store` put it), or {flag} FILE"
            ))
        })?;
        let (digest, how) = match (kind, feed_pin) {
            (InputKind::Feed, Some(pin)) => (pin, "--feed-snapshot"),
            (InputKind::Feed, None) if !args.use_original_snapshots => {
                let latest = runtime.block_on(store.latest(kind)).map_err(|e| match e {
                    StoreError::NoLatest { .. } => CliError::Usage(format!(
                        "the store {} has no latest feed (it would be {}/latest/feed): run \
                         `attestor score --store` or put a feed there, or give \
                         --use-original-snapshots, --feed-snapshot sha256:... or --feed FILE",
                        store.location(),
                        store.location()
                    )),
                    other => store_error(store, other),
                })?;
                (latest, "the store's latest")
            }
            _ => (digest_of(&original, kind), "as in the bundle"),
        };
        let object = runtime.block_on(store.get(&digest)).map_err(|e| match e {
            StoreError::NotFound { .. } => CliError::Usage(format!(
                "the store {} has no {kind} {digest} ({how}): put it at {}/{} (e.g. with \
                 `attestor score --store`), or give {flag} FILE",
                store.location(),
                store.location(),
                object_path(&digest)
            )),
            other => store_error(store, other),
        })?;
        documents.push(object);
        sources.push(Source::Store { digest, how });
    }

    let inputs = ScoringInputs::parse(&documents[0], &documents[1], &documents[2], &documents[3])
        .map_err(|e| {
        let source = &sources[index(e.kind())];
        let what = source.describe(e.kind(), store.as_ref());
        match source {
            Source::File(path) => CliError::input(path, e),
            Source::Store { .. } => CliError::Usage(format!("{what}: {e}")),
        }
    })?;
    let parsed = inputs.digests();
    for (kind, source) in InputKind::ALL.into_iter().zip(&sources) {
        if let Source::Store { digest, .. } = source
            && digest_of(&parsed, kind) != *digest
        {
            return Err(CliError::Usage(format!(
                "{} is not in normal form (its content id is {}): the store is damaged; put \
                 the document again with `attestor score --store`",
                source.describe(kind, store.as_ref()),
                digest_of(&parsed, kind)
            )));
        }
    }
    let ledger = attestor_score::score_as(&inputs, version)
        .map_err(|e| CliError::Usage(format!("cannot score the replayed inputs: {e}")))?;
    // Verification does not keep the nodes; replaying compares them.
    let proof = read_score_proof(&bytes, &ZipLimits::default())
        .map_err(|e| CliError::input(&args.bundle, e))?;
    let report = compare(&proof.nodes, &original, &ledger);
    match args.output {
        OutputFormat::Text => print!("{}", text(&report, &original, &parsed, args.diff)),
        OutputFormat::Json => println!(
            "{}",
            serde_json::to_string_pretty(&json_report(&report, &original, &sources, args.diff))
                .unwrap_or_default()
        ),
    }
    Ok(match report.outcome {
        Outcome::Reproduced => EXIT_VERIFIED,
        Outcome::Drifted => EXIT_FAILED,
    })
}

/// `--trust-anchor`: the checks of `attestor verify --offline`, before replaying.
fn verify_first(args: &ReplayArgs, bundle: &Bundle) -> Result<(), CliError> {
    let verify_args = VerifyArgs {
        bundle: Some(args.bundle.clone()),
        image: None,
        kinds: Vec::new(),
        registry: Default::default(),
        trust_anchors: args.trust_anchors.clone(),
        public_keys: Vec::new(),
        offline: true,
        checks: Vec::new(),
        artifact: None,
        trusted_root: None,
        tuf_mirror: None,
        tuf_repository: None,
        tuf_root: None,
        tuf_state: None,
        certificate_identity: None,
        certificate_identity_regexp: None,
        certificate_oidc_issuer: None,
        certificate_oidc_issuer_regexp: None,
        evidence: Default::default(),
        github: Default::default(),
        artifact_file: None,
        predicate_type: None,
        max_age: None,
        clock_skew: "5m".into(),
        at: None,
        output: OutputFormat::Text,
        verbose: false,
    };
    let options = super::verify::options(&verify_args)?;
    let trust = crate::anchors::load_trust_store(&args.trust_anchors, &[] as &[PathBuf])?;
    let report = attestor_core::verify::verify_bundle(bundle, &trust, &options);
    if report.verified {
        return Ok(());
    }
    Err(CliError::input(
        &args.bundle,
        format!(
            "does not verify against the trust anchors ({}: {}); not replaying",
            report.reason, report.message
        ),
    ))
}

fn store_error(store: &Store, error: StoreError) -> CliError {
    CliError::Usage(format!("snapshot store {}: {error}", store.location()))
}

fn index(kind: InputKind) -> usize {
    InputKind::ALL.iter().position(|k| *k == kind).unwrap_or(0)
}

fn digest_of(inputs: &ManifestInputs, kind: InputKind) -> Sha256Digest {
    match kind {
        InputKind::Sbom => inputs.sbom,
        InputKind::Feed => inputs.feed_snapshot,
        InputKind::Vex => inputs.vex,
        InputKind::Policy => inputs.policy,
    }
}

fn verdict_text(score: Option<u64>, verdict: Option<attestor_score::Verdict>) -> String {
    match (score, verdict) {
        (Some(s), Some(v)) => format!("score {s}, {}", v.as_str()),
        _ => "score unknown".into(),
    }
}

fn text(
    report: &ReplayReport,
    original: &ManifestInputs,
    replayed: &ManifestInputs,
    diff: bool,
) -> String {
    let mut out = String::new();
    let recomputed = verdict_text(
        Some(report.recomputed_score),
        Some(report.recomputed_verdict),
    );
    match report.outcome {
        Outcome::Reproduced => {
            out.push_str(&format!(
                "reproduced: proof root {} ({recomputed})\n",
                report.recomputed_root
            ));
            return out;
        }
        Outcome::Drifted => {
            let cause = report
                .cause
                .map(|c| format!("{c:?}"))
                .unwrap_or_else(|| "Unknown".into());
            out.push_str(&format!("drifted: cause {cause}\n"));
        }
    }
    out.push_str(&format!(
        "  original root:   {} ({})\n",
        report.original_root,
        verdict_text(report.original_score, report.original_verdict)
    ));
    out.push_str(&format!(
        "  recomputed root: {} ({recomputed})\n",
        report.recomputed_root
    ));
    for kind in &report.changed_inputs {
        out.push_str(&format!(
            "  changed input:   {} {} -> {}\n",
            kind.name(),
            digest_of(original, *kind),
            digest_of(replayed, *kind)
        ));
    }
    if diff {
        for change in &report.changes {
            out.push_str(&format!("  {}\n", diff_line(change)));
        }
    } else {
        out.push_str(&format!(
            "  {} changed node(s); --diff lists them\n",
            report.changes.len()
        ));
    }
    out
}

fn diff_line(diff: &NodeDiff) -> String {
    let change = match diff.change {
        Change::Added => "added",
        Change::Removed => "removed",
        Change::Changed => "changed",
    };
    let mut about = diff.key.kind.clone();
    if let Some(c) = &diff.key.component {
        about.push(' ');
        about.push_str(c);
    }
    if let Some(a) = &diff.key.advisory {
        about.push(' ');
        about.push_str(a);
    }
    let data = |state: &Option<attestor_score::replay::NodeState>| {
        state
            .as_ref()
            .map(|s| s.data.clone())
            .unwrap_or(Value::Null)
    };
    let what = match (diff.change, data(&diff.original), data(&diff.recomputed)) {
        (Change::Added, _, new) => new.to_string(),
        (Change::Removed, old, _) => old.to_string(),
        (Change::Changed, Value::Object(old), Value::Object(new)) => {
            let mut members: Vec<&String> = old.keys().chain(new.keys()).collect();
            members.sort();
            members.dedup();
            let changed: Vec<String> = members
                .into_iter()
                .filter(|m| old.get(*m) != new.get(*m))
                .map(|m| {
                    let show = |v: Option<&Value>| v.map(Value::to_string).unwrap_or("-".into());
                    format!("{m} {} -> {}", show(old.get(m)), show(new.get(m)))
                })
                .collect();
            if changed.is_empty() {
                "same data, other parents".into()
            } else {
                changed.join(", ")
            }
        }
        (Change::Changed, old, new) => format!("{old} -> {new}"),
    };
    let causes: Vec<String> = diff.causes.iter().map(|c| format!("{c:?}")).collect();
    format!("{change:<7} {about}: {what} (cause {})", causes.join(", "))
}

fn json_report(
    report: &ReplayReport,
    original: &ManifestInputs,
    sources: &[Source],
    diff: bool,
) -> Value {
    let mut doc = serde_json::to_value(report).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut doc {
        if !diff {
            let count = report.changes.len();
            map.remove("changes");
            map.insert("changeCount".into(), json!(count));
        }
        let inputs: serde_json::Map<String, Value> = InputKind::ALL
            .into_iter()
            .zip(sources)
            .map(|(kind, source)| {
                let from = match source {
                    Source::File(path) => json!({"file": path.display().to_string()}),
                    Source::Store { digest, how } => {
                        json!({"store": digest.to_string(), "selected": how})
                    }
                };
                (
                    kind.manifest_member().to_string(),
                    json!({"original": digest_of(original, kind).to_string(), "replayed": from}),
                )
            })
            .collect();
        map.insert("inputs".into(), Value::Object(inputs));
    }
    doc
}
