//! `attestor bundle create`.

use std::collections::BTreeMap;
use std::path::Path;

use attestor_core::bundle::{BuiltBundle, BundleSpec, NodeInput, build_bundle};
use attestor_core::canonical::parse_strict;
use attestor_core::digest::Sha256Digest;
use attestor_core::keys::SigningKey;
use attestor_core::tlog::LocalLog;
use attestor_core::x509::parse_pem_certificates;
use serde_json::Value;

use crate::CliError;
use crate::cli::BundleCreateArgs;
use crate::error::{read_file, read_text, write_file};

fn read_json(path: &Path) -> Result<Value, CliError> {
    parse_strict(&read_file(path)?)
        .map_err(|e| CliError::input(path, format!("not valid JSON: {e}")))
}

fn read_key(path: &Path) -> Result<SigningKey, CliError> {
    SigningKey::from_pem(&read_text(path)?).map_err(|e| CliError::input(path, e))
}

/// Reads ledger nodes. Parents are given as indexes of earlier nodes (what a
/// producer knows before ids exist) or as node ids; both become ids.
pub fn ledger_nodes(path: &Path, value: Value) -> Result<Vec<NodeInput>, CliError> {
    let nodes = match value {
        Value::Array(a) => a,
        Value::Object(mut o) => match o.remove("nodes") {
            Some(Value::Array(a)) => a,
            _ => {
                return Err(CliError::input(
                    path,
                    "must be a JSON array of nodes or an object with a \"nodes\" array",
                ));
            }
        },
        _ => {
            return Err(CliError::input(
                path,
                "must be a JSON array of nodes or an object with a \"nodes\" array",
            ));
        }
    };
    let mut ids: Vec<Sha256Digest> = Vec::with_capacity(nodes.len());
    let mut out = Vec::with_capacity(nodes.len());
    for (i, node) in nodes.into_iter().enumerate() {
        let err = |detail: String| CliError::input(path, format!("nodes[{i}]: {detail}"));
        let Value::Object(mut obj) = node else {
            return Err(err("must be an object".into()));
        };
        let kind = match obj.remove("kind") {
            Some(Value::String(k)) if !k.is_empty() => k,
            _ => return Err(err("needs a non-empty string \"kind\"".into())),
        };
        let parents = match obj.remove("parents") {
            None => Vec::new(),
            Some(Value::Array(ps)) => ps
                .iter()
                .map(|p| match p {
                    Value::Number(n) => n
                        .as_u64()
                        .and_then(|n| usize::try_from(n).ok())
                        .and_then(|n| ids.get(n).copied())
                        .ok_or_else(|| {
                            err(format!("parent {n} is not the index of an earlier node"))
                        }),
                    Value::String(s) => s.parse().map_err(|e| err(format!("parent: {e}"))),
                    _ => Err(err("parents must be indexes or ids".into())),
                })
                .collect::<Result<_, _>>()?,
            Some(_) => return Err(err("\"parents\" must be an array".into())),
        };
        let data = obj.remove("data").unwrap_or(Value::Null);
        if let Some(extra) = obj.keys().next() {
            return Err(err(format!(
                "unexpected member {extra:?} (a node has kind, parents, data)"
            )));
        }
        let input = NodeInput {
            kind,
            parents,
            data,
        };
        ids.push(input.id().map_err(|e| err(e.to_string()))?);
        out.push(input);
    }
    Ok(out)
}

/// How a bundle is signed and where it goes: the flags `bundle create` and
/// `score` share.
#[derive(Debug, Clone, Copy)]
pub struct SignOptions<'a> {
    pub key: &'a Path,
    pub certificate: Option<&'a Path>,
    pub tlog: Option<&'a Path>,
    pub tlog_key: Option<&'a Path>,
    pub tlog_origin: &'a str,
    pub signed_at: jiff::Timestamp,
    pub output: &'a Path,
}

/// Builds the bundle described by `args` and writes it (and the log state).
pub fn create(args: &BundleCreateArgs) -> Result<BuiltBundle, CliError> {
    let manifest = read_json(&args.manifest)?;
    let nodes = ledger_nodes(&args.ledger, read_json(&args.ledger)?)?;
    let signed_at = match &args.signed_at {
        Some(t) => super::parse_time("--signed-at", t)?,
        None => jiff::Timestamp::now(),
    };
    sign_and_write(
        manifest,
        nodes,
        &SignOptions {
            key: &args.signing.key,
            certificate: args.signing.certificate.as_deref(),
            tlog: args.signing.tlog.as_deref(),
            tlog_key: args.signing.tlog_key.as_deref(),
            tlog_origin: &args.signing.tlog_origin,
            signed_at,
            output: &args.output,
        },
    )
}

/// Signs a manifest and its ledger nodes into a proof bundle, writes it to
/// `options.output` and, with a transparency log, appends to the log and
/// writes its state back.
pub fn sign_and_write(
    manifest: Value,
    nodes: Vec<NodeInput>,
    options: &SignOptions<'_>,
) -> Result<BuiltBundle, CliError> {
    let key = read_key(options.key)?;
    let certificates = match options.certificate {
        Some(path) => {
            parse_pem_certificates(&read_text(path)?).map_err(|e| CliError::input(path, e))?
        }
        None => Vec::new(),
    };
    if let Some(leaf) = certificates.first()
        && leaf.key_id() != Some(key.public_key().key_id())
    {
        return Err(CliError::input(
            options.certificate.unwrap_or(Path::new("")),
            format!(
                "the first certificate (\"{}\") is not for the signing key {}",
                leaf.subject(),
                key.public_key().key_id()
            ),
        ));
    }
    let mut log = match options.tlog {
        Some(path) if path.exists() => Some(
            serde_json::from_slice::<LocalLog>(&read_file(path)?).map_err(|e| {
                CliError::input(path, format!("not a transparency log state file: {e}"))
            })?,
        ),
        Some(_) => Some(LocalLog::new(options.tlog_origin.to_string())),
        None => None,
    };
    let log_key = options.tlog_key.map(read_key).transpose()?;
    let transparency_log = match (log.as_mut(), log_key.as_ref()) {
        (Some(l), Some(k)) => Some((l, k)),
        _ => None,
    };
    let spec = BundleSpec {
        manifest,
        nodes,
        signed_at: options.signed_at,
        tools: BTreeMap::from([(
            "attestor".to_string(),
            env!("CARGO_PKG_VERSION").to_string(),
        )]),
        certificates,
        transparency_log,
    };
    let built = build_bundle(spec, &key)
        .map_err(|e| CliError::Usage(format!("cannot create the bundle: {e}")))?;
    write_file(options.output, &built.zip)?;
    if let (Some(path), Some(log)) = (options.tlog, &log) {
        let state = serde_json::to_vec_pretty(log).map_err(|e| CliError::input(path, e))?;
        write_file(path, &state)?;
    }
    Ok(built)
}

pub fn run(args: &BundleCreateArgs) -> Result<(), CliError> {
    let built = create(args)?;
    println!(
        "wrote {} ({} bytes)",
        args.output.display(),
        built.zip.len()
    );
    println!("artifact:    {}", built.artifact_digest);
    println!("manifest id: {}", built.manifest_id);
    println!(
        "proof root:  {} ({} nodes)",
        built.root_hash,
        built.node_ids.len()
    );
    Ok(())
}
