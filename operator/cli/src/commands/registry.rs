//! `attestor push` and `attestor pull`: a proof bundle as an OCI artifact about an image digest.

use std::path::{Path, PathBuf};

use attestor_core::bundle::OpenedBundle;
use attestor_core::zip::ZipLimits;
use attestor_oci::credentials::DockerConfig;
use attestor_oci::mirror::MirrorRule;
use attestor_oci::reference::ImageRef;
use attestor_runtime::fetch::{FetchConfig, Fetcher, IpNetwork};
use attestor_runtime::registry::{RegistryClient, RegistryConfig, RegistryError};
use clap::Args;

use crate::CliError;

/// Registry access, shared by the commands that read or write a registry.
#[derive(Debug, Clone, Default, Args)]
pub struct RegistryArgs {
    /// Registry credentials: a docker config.json or a `.dockerconfigjson` (default
    /// `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`, when it exists).
    #[arg(long, value_name = "FILE")]
    pub registry_config: Option<PathBuf>,
    /// A registry (HOST:PORT) spoken to over plain HTTP, e.g. a local test registry. Repeatable.
    #[arg(long, value_name = "HOST:PORT")]
    pub plain_http: Vec<String>,
    /// Read (and write) a registry through a mirror: `docker.io=mirror.example:5000`. Repeatable.
    #[arg(long, value_name = "FROM=TO")]
    pub registry_mirror: Vec<String>,
    /// A network (CIDR) the registry may be in although it is denied by default (loopback,
    /// private ranges), e.g. 127.0.0.0/8 for a local registry. Repeatable; the same flag as
    /// `attestor run`'s.
    #[arg(long, value_name = "CIDR")]
    pub fetch_allow_network: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// The proof bundle (ZIP) to publish.
    #[arg(long, value_name = "FILE")]
    pub bundle: PathBuf,
    /// The image the bundle is about, pinned by digest: REGISTRY/REPOSITORY@sha256:...
    #[arg(value_name = "REF@sha256:...")]
    pub image: String,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The image whose proof bundle to fetch, pinned by digest: REGISTRY/REPOSITORY@sha256:...
    #[arg(value_name = "REF@sha256:...")]
    pub image: String,
    /// Where to write the bundle.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: PathBuf,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

pub(crate) fn pinned_image(text: &str) -> Result<ImageRef, CliError> {
    let image = ImageRef::parse(text).map_err(|e| CliError::Usage(e.to_string()))?;
    if image.digest.is_none() {
        return Err(CliError::Usage(format!(
            "{text}: pin the image by digest (REF@sha256:...); a tag can move"
        )));
    }
    Ok(image)
}

/// The docker config to use, if any: the one given (which must exist), else the default one
/// when it exists.
pub(crate) fn credentials(args: &RegistryArgs) -> Result<Vec<DockerConfig>, CliError> {
    let (path, explicit) = match &args.registry_config {
        Some(path) => (path.clone(), true),
        None => {
            let dir = std::env::var_os("DOCKER_CONFIG")
                .map(PathBuf::from)
                .or_else(|| std::env::var_os("HOME").map(|h| Path::new(&h).join(".docker")));
            match dir {
                Some(dir) => (dir.join("config.json"), false),
                None => return Ok(Vec::new()),
            }
        }
    };
    if !explicit && !path.exists() {
        return Ok(Vec::new());
    }
    let bytes = crate::error::read_file(&path)?;
    let config = DockerConfig::parse(&path.display().to_string(), &bytes, 1 << 20)
        .map_err(|e| CliError::input(&path, e))?;
    for helper in &config.helpers {
        eprintln!(
            "note: {}: {helper} is not run; only credentials written in \"auths\" are used",
            path.display()
        );
    }
    Ok(vec![config])
}

/// `--fetch-allow-network`: the networks the address policy lets the command reach.
pub(crate) fn allowed_networks(args: &RegistryArgs) -> Result<Vec<IpNetwork>, CliError> {
    args.fetch_allow_network
        .iter()
        .map(|n| {
            n.parse::<IpNetwork>()
                .map_err(|e| CliError::Usage(format!("--fetch-allow-network: {e}")))
        })
        .collect()
}

pub(crate) fn client(args: &RegistryArgs) -> Result<RegistryClient, CliError> {
    let allowed = allowed_networks(args)?;
    let config = registry_config(&args.registry_mirror, &args.plain_http, "--plain-http")?;
    let fetcher = Fetcher::new(FetchConfig {
        allowed_networks: allowed,
        ..FetchConfig::default()
    })
    .map_err(|e| CliError::Usage(e.to_string()))?;
    Ok(RegistryClient::new(fetcher, config))
}

/// `--registry-mirror` rules and plain-HTTP hosts (`plain_flag` names the flag), checked alike
/// for the commands and for `attestor run`.
pub(crate) fn registry_config(
    mirrors: &[String],
    plain_http: &[String],
    plain_flag: &str,
) -> Result<RegistryConfig, CliError> {
    let mirrors = mirrors
        .iter()
        .map(|m| {
            MirrorRule::parse(m).map_err(|e| CliError::Usage(format!("--registry-mirror: {e}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    for host in plain_http {
        if !attestor_oci::reference::valid_registry(host) {
            return Err(CliError::Usage(format!(
                "{plain_flag} {host:?}: give a registry HOST:PORT"
            )));
        }
    }
    Ok(RegistryConfig {
        mirrors,
        plain_http: plain_http.iter().map(|h| h.to_ascii_lowercase()).collect(),
        ..RegistryConfig::default()
    })
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime, CliError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| CliError::Usage(format!("cannot start the async runtime: {e}")))
}

pub(crate) fn registry_failure(e: &RegistryError) -> u8 {
    eprintln!("error: {e}");
    eprintln!("reason: {}", e.reason());
    crate::EXIT_FAILED
}

pub fn push(args: &PushArgs) -> Result<u8, CliError> {
    let image = pinned_image(&args.image)?;
    let bundle = crate::error::read_bundle(&args.bundle)?;
    let opened = OpenedBundle::open(&bundle, &ZipLimits::default())
        .map_err(|e| CliError::input(&args.bundle, format!("not a proof bundle: {e}")))?;
    let about = opened.signed.manifest.artifact_digest;
    let digest = image.digest.expect("pinned");
    if about != digest {
        eprintln!(
            "warning: {} is about {about}, not {digest}: it is published, but verifying it for \
             this image fails (ArtifactMismatch)",
            args.bundle.display()
        );
    }
    let credentials = credentials(&args.registry)?;
    let client = client(&args.registry)?;
    let created = jiff::Timestamp::now().to_string();
    match runtime()?.block_on(client.push_proof_bundle(
        &image,
        &bundle,
        Some(&created),
        &credentials,
    )) {
        Ok(pushed) => {
            println!(
                "Pushed:      {} ({} bytes)",
                args.bundle.display(),
                bundle.len()
            );
            println!("Subject:     {image}");
            println!(
                "Artifact:    {}/{}@{}",
                image.registry, image.repository, pushed.digest
            );
            println!(
                "Indexed by:  {}",
                match &pushed.fallback_tag {
                    None => "the registry's referrers API".to_string(),
                    Some(tag) =>
                        format!("the fallback tag {tag} (the registry has no referrers API)"),
                }
            );
            Ok(crate::EXIT_VERIFIED)
        }
        Err(e) => Ok(registry_failure(&e)),
    }
}

pub fn pull(args: &PullArgs) -> Result<u8, CliError> {
    let image = pinned_image(&args.image)?;
    let credentials = credentials(&args.registry)?;
    let client = client(&args.registry)?;
    let (bundles, discovery) =
        match runtime()?.block_on(client.pull_proof_bundles(&image, &credentials)) {
            Ok(found) => found,
            Err(e) => return Ok(registry_failure(&e)),
        };
    let Some(newest) = bundles.first() else {
        eprintln!(
            "error: no proof bundle found for {image} (looked via {}, {} requests): publish one \
             with `attestor push --bundle FILE {image}`",
            discovery.source.as_str(),
            discovery.requests
        );
        eprintln!(
            "reason: {}",
            attestor_runtime::registry::reason::NO_SIGNATURES_FOUND
        );
        return Ok(crate::EXIT_FAILED);
    };
    let (_, bytes) = &newest.layers[0];
    std::fs::write(&args.output, bytes).map_err(|source| CliError::Io {
        path: args.output.clone(),
        action: "write it",
        source,
    })?;
    println!(
        "Pulled:      {} ({} bytes)",
        args.output.display(),
        bytes.len()
    );
    println!("Subject:     {image}");
    println!(
        "Artifact:    {}/{}@{} (found via {})",
        image.registry,
        image.repository,
        newest.descriptor.digest,
        newest.source.as_str()
    );
    if bundles.len() > 1 {
        println!(
            "Note:        {} proof bundles refer to this digest; the newest was written",
            bundles.len()
        );
    }
    Ok(crate::EXIT_VERIFIED)
}
