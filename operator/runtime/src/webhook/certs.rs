//! The webhook's serving certificate.
//!
//! * **self-signed**: the operator makes a CA and a serving certificate (rcgen, ECDSA P-256)
//!   and keeps them in a Secret of its own namespace (`--webhook-tls-secret`, by default
//!   [`TLS_SECRET`]), so that every replica serves the same certificate. The first replica creates it (a 409 means another won the
//!   race: its Secret is read instead); any replica renews it once less than a third of its
//!   validity remains, keeping the previous CA in `ca.crt` so that replicas still serving the
//!   old certificate stay trusted until they reload. The CA's key is never stored: a renewal
//!   makes a new CA. `ca.crt` is written into the `caBundle` of every webhook of the
//!   ValidatingWebhookConfiguration named by `--webhook-configuration`.
//! * **files**: `tls.crt` and `tls.key` from a directory (a cert-manager Secret mounted as a
//!   volume), reloaded when their content changes. cert-manager's CA injector keeps the
//!   `caBundle` then.
//!
//! Either way the certificate is served through [`CertStore`], which rustls asks on every
//! handshake, so a renewal needs no restart and drops no connection.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::ByteString;
use k8s_openapi::api::admissionregistration::v1::{
    ValidatingWebhook, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use kube::api::{ObjectMeta, PostParams};
use kube::runtime::{WatchStreamExt, watcher};
use kube::{Api, Client};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_util::sync::CancellationToken;

use crate::metrics::AdmissionMetrics;

/// The Secret of the self-signed mode, in the operator's namespace.
pub const TLS_SECRET: &str = "attestor-operator-webhook-tls";
/// How long a generated CA and serving certificate are valid.
pub const VALIDITY_DAYS: i64 = 365;

#[derive(Debug, thiserror::Error)]
pub enum CertError {
    #[error("cannot generate a certificate: {0}")]
    Generate(#[from] rcgen::Error),
    #[error("{what}: {detail}")]
    Invalid { what: String, detail: String },
    #[error("{0}")]
    Api(#[from] kube::Error),
    #[error("cannot read {path}: {source}")]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

fn invalid(what: &str, detail: impl std::fmt::Display) -> CertError {
    CertError::Invalid {
        what: what.to_string(),
        detail: detail.to_string(),
    }
}

/// A serving certificate and key, and the CA bundle that verifies it (PEM).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Material {
    pub cert_pem: String,
    pub key_pem: String,
    pub ca_bundle_pem: String,
}

/// The validity of a certificate, in unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Validity {
    pub not_before: i64,
    pub not_after: i64,
}

impl Validity {
    /// Renew once less than a third of the validity remains (or it is not valid now).
    pub fn needs_renewal(&self, now: i64) -> bool {
        let third = (self.not_after - self.not_before) / 3;
        now < self.not_before || now >= self.not_after - third
    }
}

/// `NAME.NS.svc` and `NAME.NS.svc.cluster.local`, then the extra names (DNS names or IPs).
pub fn subject_alt_names(service: &str, namespace: &str, extra: &[String]) -> Vec<String> {
    let mut names = vec![
        format!("{service}.{namespace}.svc"),
        format!("{service}.{namespace}.svc.cluster.local"),
    ];
    for name in extra {
        if !names.contains(name) {
            names.push(name.clone());
        }
    }
    names
}

/// A new CA and a serving certificate for `names` signed by it, valid from the start of
/// today (UTC) for [`VALIDITY_DAYS`]. `keep_ca` (a previous CA, PEM) is kept in the bundle
/// after the new CA, so that certificates it signed stay trusted while replicas reload.
pub fn generate(
    names: &[String],
    now: jiff::Timestamp,
    keep_ca: Option<&str>,
) -> Result<Material, CertError> {
    let today = now.to_zoned(jiff::tz::TimeZone::UTC).date();
    let until = today
        .checked_add(jiff::Span::new().days(VALIDITY_DAYS))
        .map_err(|e| invalid("validity", e))?;
    let month = |d: jiff::civil::Date| d.month() as u8;
    let day = |d: jiff::civil::Date| d.day() as u8;

    let ca_key = rcgen::KeyPair::generate()?;
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new())?;
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "attestor-operator webhook CA");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    ca.not_before = rcgen::date_time_ymd(today.year().into(), month(today), day(today));
    ca.not_after = rcgen::date_time_ymd(until.year().into(), month(until), day(until));
    let ca_cert = ca.self_signed(&ca_key)?;
    let issuer = rcgen::Issuer::new(ca, ca_key);

    let key = rcgen::KeyPair::generate()?;
    let mut leaf = rcgen::CertificateParams::new(names.to_vec())?;
    leaf.distinguished_name.push(
        rcgen::DnType::CommonName,
        names
            .first()
            .map_or("attestor-operator-webhook", String::as_str),
    );
    leaf.extended_key_usages = vec![rcgen::ExtendedKeyUsagePurpose::ServerAuth];
    leaf.key_usages = vec![rcgen::KeyUsagePurpose::DigitalSignature];
    leaf.not_before = rcgen::date_time_ymd(today.year().into(), month(today), day(today));
    leaf.not_after = rcgen::date_time_ymd(until.year().into(), month(until), day(until));
    let cert = leaf.signed_by(&key, &issuer)?;

    let mut ca_bundle_pem = ca_cert.pem();
    if let Some(previous) = keep_ca.and_then(|bundle| first_pem_block(bundle)) {
        ca_bundle_pem.push_str(previous);
        if !previous.ends_with('\n') {
            ca_bundle_pem.push('\n');
        }
    }
    Ok(Material {
        cert_pem: cert.pem(),
        key_pem: key.serialize_pem(),
        ca_bundle_pem,
    })
}

/// The first `-----BEGIN…END-----` block of a PEM text: only the latest previous CA is kept.
fn first_pem_block(text: &str) -> Option<&str> {
    const END: &str = "-----END CERTIFICATE-----";
    let start = text.find("-----BEGIN CERTIFICATE-----")?;
    let end = text[start..].find(END)? + start + END.len();
    Some(&text[start..end])
}

/// The validity and subject alternative names (DNS names and IPs, as text) of the first
/// certificate of a PEM text.
pub fn inspect(cert_pem: &str) -> Result<(Validity, Vec<String>), CertError> {
    let der = CertificateDer::pem_slice_iter(cert_pem.as_bytes())
        .next()
        .ok_or_else(|| invalid("tls.crt", "no certificate"))?
        .map_err(|e| invalid("tls.crt", e))?;
    let (_, cert) = x509_parser::parse_x509_certificate(&der).map_err(|e| invalid("tls.crt", e))?;
    let validity = Validity {
        not_before: cert.validity().not_before.timestamp(),
        not_after: cert.validity().not_after.timestamp(),
    };
    let mut names = Vec::new();
    if let Ok(Some(san)) = cert.subject_alternative_name() {
        for name in &san.value.general_names {
            match name {
                x509_parser::extensions::GeneralName::DNSName(dns) => names.push(dns.to_string()),
                x509_parser::extensions::GeneralName::IPAddress(bytes) => {
                    let ip = match bytes.len() {
                        4 => <[u8; 4]>::try_from(*bytes).ok().map(std::net::IpAddr::from),
                        16 => <[u8; 16]>::try_from(*bytes)
                            .ok()
                            .map(std::net::IpAddr::from),
                        _ => None,
                    };
                    names.extend(ip.map(|ip| ip.to_string()));
                }
                _ => {}
            }
        }
    }
    Ok((validity, names))
}

/// Whether the material in a Secret can be served as it is for `names` at `now`.
pub fn usable(material: &Material, names: &[String], now: i64) -> bool {
    match inspect(&material.cert_pem) {
        Ok((validity, covered)) => {
            !validity.needs_renewal(now) && names.iter().all(|n| covered.contains(n))
        }
        Err(_) => false,
    }
}

/// A certificate and key as rustls serves them.
pub fn certified_key(
    cert_pem: &[u8],
    key_pem: &[u8],
    provider: &CryptoProvider,
) -> Result<CertifiedKey, CertError> {
    let chain = CertificateDer::pem_slice_iter(cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid("tls.crt", e))?;
    if chain.is_empty() {
        return Err(invalid("tls.crt", "no certificate"));
    }
    let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| invalid("tls.key", e))?;
    CertifiedKey::from_der(chain, key, provider).map_err(|e| invalid("tls.key", e))
}

/// The certificate rustls serves, replaced in place on renewal.
#[derive(Debug, Default)]
pub struct CertStore {
    current: RwLock<Option<Arc<CertifiedKey>>>,
}

impl CertStore {
    pub fn set(&self, key: CertifiedKey) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = Some(Arc::new(key));
    }

    pub fn is_loaded(&self) -> bool {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .is_some()
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

fn material_of(secret: &Secret) -> Option<Material> {
    let data = secret.data.as_ref()?;
    let text = |key: &str| {
        data.get(key)
            .and_then(|b| String::from_utf8(b.0.clone()).ok())
    };
    Some(Material {
        cert_pem: text("tls.crt")?,
        key_pem: text("tls.key")?,
        ca_bundle_pem: text("ca.crt")?,
    })
}

fn secret_of(
    name: &str,
    namespace: &str,
    material: &Material,
    previous: Option<&Secret>,
) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: Some(namespace.to_string()),
            resource_version: previous.and_then(|s| s.metadata.resource_version.clone()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "attestor-operator".to_string(),
                )]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(
            [
                ("tls.crt", &material.cert_pem),
                ("tls.key", &material.key_pem),
                ("ca.crt", &material.ca_bundle_pem),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), ByteString(v.as_bytes().to_vec())))
            .collect(),
        ),
        ..Secret::default()
    }
}

fn is_conflict(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(status) if status.code == 409)
}

/// The Secret's material, created or renewed when needed. Any replica may call this at any
/// time: a lost race (409) reads the winner's Secret.
pub async fn ensure_secret(
    client: &Client,
    namespace: &str,
    secret_name: &str,
    names: &[String],
) -> Result<Material, CertError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), namespace);
    let now = jiff::Timestamp::now();
    let existing = api.get_opt(secret_name).await?;
    let current = existing.as_ref().and_then(material_of);
    if let Some(material) = &current
        && usable(material, names, now.as_second())
    {
        return Ok(material.clone());
    }
    let fresh = generate(
        names,
        now,
        current.as_ref().map(|m| m.ca_bundle_pem.as_str()),
    )?;
    let secret = secret_of(secret_name, namespace, &fresh, existing.as_ref());
    let written = match &existing {
        None => api.create(&PostParams::default(), &secret).await,
        Some(_) => {
            api.replace(secret_name, &PostParams::default(), &secret)
                .await
        }
    };
    match written {
        Ok(_) => {
            tracing::info!(secret = %format!("{namespace}/{secret_name}"), renewed = existing.is_some(), "wrote the webhook's serving certificate");
            Ok(fresh)
        }
        Err(e) if is_conflict(&e) => {
            // Another replica wrote it first: serve theirs.
            let winner = api.get(secret_name).await?;
            material_of(&winner).ok_or_else(|| invalid(secret_name, "incomplete Secret"))
        }
        Err(e) => Err(e.into()),
    }
}

/// The configuration with `ca_bundle_pem` in the `caBundle` of every webhook, or `None` when
/// every webhook already carries exactly it (nothing to write). Pure, so that both the periodic
/// round and the watch decide alike.
pub fn with_ca_bundle(
    config: &ValidatingWebhookConfiguration,
    ca_bundle_pem: &str,
) -> Option<ValidatingWebhookConfiguration> {
    let wanted = ca_bundle_pem.as_bytes();
    let stale = |w: &ValidatingWebhook| {
        w.client_config.ca_bundle.as_ref().map(|b| b.0.as_slice()) != Some(wanted)
    };
    if !config.webhooks.iter().flatten().any(stale) {
        return None;
    }
    let mut fixed = config.clone();
    for webhook in fixed.webhooks.iter_mut().flatten() {
        webhook.client_config.ca_bundle = Some(ByteString(wanted.to_vec()));
    }
    Some(fixed)
}

/// Writes `ca_bundle_pem` into every webhook of `config` (as read, with its resourceVersion)
/// whose `caBundle` differs. A conflict is not an error: someone changed the configuration since
/// it was read, and the watch (or the next round) brings the newer version.
async fn write_ca_bundle(
    api: &Api<ValidatingWebhookConfiguration>,
    config: &ValidatingWebhookConfiguration,
    ca_bundle_pem: &str,
) -> Result<(), CertError> {
    let Some(fixed) = with_ca_bundle(config, ca_bundle_pem) else {
        return Ok(());
    };
    let name = config.metadata.name.as_deref().unwrap_or_default();
    // PUT (verb `update`, which the chart grants) with the resourceVersion read: a concurrent
    // writer conflicts instead of being overwritten.
    match api.replace(name, &PostParams::default(), &fixed).await {
        Ok(_) => {
            tracing::info!(
                configuration = name,
                "caBundle of the webhook configuration updated"
            );
            Ok(())
        }
        Err(e) if is_conflict(&e) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// Writes `ca_bundle_pem` into the `caBundle` of every webhook of the configuration. `Ok(false)`
/// when the configuration does not exist (yet).
pub async fn ensure_ca_bundle(
    client: &Client,
    configuration: &str,
    ca_bundle_pem: &str,
) -> Result<bool, CertError> {
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    let Some(config) = api.get_opt(configuration).await? else {
        return Ok(false);
    };
    write_ca_bundle(&api, &config, ca_bundle_pem).await?;
    Ok(true)
}

/// How soon the self-signed mode tries again while the certificate or the caBundle is not in
/// place and the watch of the configuration cannot be relied on to notice it.
pub const UNSETTLED_RETRY: Duration = Duration::from_secs(3);

/// What the self-signed mode keeps current.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SelfSigned {
    /// Of the Secret `secret`.
    pub namespace: String,
    /// The Secret holding the CA and serving certificate.
    pub secret: String,
    /// Subject alternative names of the certificate.
    pub names: Vec<String>,
    /// The ValidatingWebhookConfiguration whose caBundle is kept current.
    pub configuration: String,
    /// How soon to try again while unsettled (by default [`UNSETTLED_RETRY`]).
    pub retry: Duration,
}

/// Self-signed mode: every `interval`, makes sure the Secret holds a usable certificate, serves
/// it, and keeps the configuration's `caBundle` equal to its CA bundle. Between rounds, a watch
/// of the configuration (by name) writes the caBundle as soon as the configuration appears or
/// someone overwrites it, so a configuration registered after the operator started works at
/// once rather than at the next round.
pub async fn run_self_signed(
    client: Client,
    target: SelfSigned,
    store: Arc<CertStore>,
    metrics: AdmissionMetrics,
    interval: Duration,
    cancel: CancellationToken,
) {
    let SelfSigned {
        namespace,
        secret,
        names,
        configuration,
        retry,
    } = target;
    let provider = rustls::crypto::ring::default_provider();
    let api: Api<ValidatingWebhookConfiguration> = Api::all(client.clone());
    // One watch of one object: the field selector metadata.name=<configuration> is what lets
    // the chart's ClusterRole (list/watch with resourceNames) authorise it.
    let mut watch =
        std::pin::pin!(watcher::watch_object(api.clone(), &configuration).default_backoff());
    let mut watching = true;
    // Whether the watch's last word was an answer (not an error): only then can an absent
    // configuration be left to it instead of to the short retry.
    let mut watch_ok = false;
    let mut served: Option<String> = None;
    let mut ca_bundle: Option<String> = None;
    let mut missing_logged = false;
    let mut next_round = tokio::time::Instant::now();
    loop {
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep_until(next_round) => {
                // Until the Secret is served and the caBundle written (or left to a working
                // watch), retry sooner than `interval`.
                let mut settled = false;
                match ensure_secret(&client, &namespace, &secret, &names).await {
                    Ok(material) => {
                        if served.as_deref() != Some(material.cert_pem.as_str()) {
                            match certified_key(
                                material.cert_pem.as_bytes(),
                                material.key_pem.as_bytes(),
                                &provider,
                            ) {
                                Ok(key) => {
                                    store.set(key);
                                    if let Ok((validity, _)) = inspect(&material.cert_pem) {
                                        metrics.set_certificate_expiry(validity.not_after);
                                    }
                                    served = Some(material.cert_pem.clone());
                                }
                                Err(e) => {
                                    tracing::error!(error = %e, "cannot serve the webhook certificate")
                                }
                            }
                        }
                        match ensure_ca_bundle(&client, &configuration, &material.ca_bundle_pem).await {
                            Ok(true) => {
                                missing_logged = false;
                                settled = served.is_some();
                            }
                            Ok(false) => {
                                if !missing_logged {
                                    missing_logged = true;
                                    tracing::warn!(configuration = %configuration, "the ValidatingWebhookConfiguration does not exist (yet): its caBundle will be set as soon as it does");
                                }
                                settled = served.is_some() && watch_ok;
                            }
                            Err(e) => {
                                tracing::warn!(error = %e, configuration = %configuration, "cannot update the caBundle; retrying")
                            }
                        }
                        ca_bundle = Some(material.ca_bundle_pem);
                    }
                    Err(e) => tracing::warn!(error = %e, "cannot get the webhook certificate; retrying"),
                }
                let pause = if settled { interval } else { interval.min(retry) };
                next_round = tokio::time::Instant::now() + pause;
            }
            event = watch.next(), if watching => match event {
                Some(Ok(Some(config))) => {
                    watch_ok = true;
                    missing_logged = false;
                    // Before the first round there is no CA yet: that round writes it.
                    if let Some(pem) = &ca_bundle
                        && let Err(e) = write_ca_bundle(&api, &config, pem).await
                    {
                        tracing::warn!(error = %e, configuration = %configuration, "cannot update the caBundle; retrying");
                        next_round = next_round.min(tokio::time::Instant::now() + interval.min(retry));
                    }
                }
                Some(Ok(None)) => watch_ok = true,
                Some(Err(e)) => {
                    watch_ok = false;
                    tracing::warn!(error = %e, configuration = %configuration, "watch of the webhook configuration failed; retrying with backoff");
                    next_round = next_round.min(tokio::time::Instant::now() + interval.min(retry));
                }
                // A watcher does not end; should it, the rounds alone keep the caBundle.
                None => {
                    watching = false;
                    watch_ok = false;
                }
            },
        }
    }
}

/// Files mode: loads `dir/tls.crt` and `dir/tls.key` now and whenever their content changes.
pub async fn run_files(
    dir: PathBuf,
    store: Arc<CertStore>,
    metrics: AdmissionMetrics,
    interval: Duration,
    cancel: CancellationToken,
) {
    let provider = rustls::crypto::ring::default_provider();
    let mut served: Option<(Vec<u8>, Vec<u8>)> = None;
    loop {
        match read_pair(&dir) {
            Ok(pair) if served.as_ref() != Some(&pair) => {
                match certified_key(&pair.0, &pair.1, &provider) {
                    Ok(key) => {
                        store.set(key);
                        if let Ok((validity, _)) = inspect(&String::from_utf8_lossy(&pair.0)) {
                            metrics.set_certificate_expiry(validity.not_after);
                        }
                        tracing::info!(dir = %dir.display(), "loaded the webhook's serving certificate");
                        served = Some(pair);
                    }
                    // Mid-rotation the two files may briefly not match: the next round retries.
                    Err(e) => {
                        tracing::warn!(error = %e, dir = %dir.display(), "cannot load the webhook certificate")
                    }
                }
            }
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "cannot read the webhook certificate"),
        }
        tokio::select! {
            () = cancel.cancelled() => return,
            () = tokio::time::sleep(interval) => {}
        }
    }
}

fn read_pair(dir: &Path) -> Result<(Vec<u8>, Vec<u8>), CertError> {
    let read = |name: &str| {
        let path = dir.join(name);
        std::fs::read(&path).map_err(|source| CertError::Read { path, source })
    };
    Ok((read("tls.crt")?, read("tls.key")?))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names() -> Vec<String> {
        subject_alt_names(
            "attestor-operator-webhook",
            "attestor-system",
            &["127.0.0.1".into()],
        )
    }

    #[test]
    fn names_are_the_service_and_the_extras() {
        assert_eq!(
            names(),
            [
                "attestor-operator-webhook.attestor-system.svc",
                "attestor-operator-webhook.attestor-system.svc.cluster.local",
                "127.0.0.1"
            ]
        );
    }

    #[test]
    fn renewal_when_a_third_remains() {
        let v = Validity {
            not_before: 0,
            not_after: 300,
        };
        assert!(!v.needs_renewal(0));
        assert!(!v.needs_renewal(199));
        assert!(v.needs_renewal(200));
        assert!(v.needs_renewal(400));
        assert!(v.needs_renewal(-1));
    }

    #[test]
    fn generated_material_is_usable_and_servable() {
        let now = jiff::Timestamp::now();
        let m = generate(&names(), now, None).unwrap();
        let (validity, covered) = inspect(&m.cert_pem).unwrap();
        assert_eq!(covered, names());
        assert!(validity.not_after - validity.not_before >= (VALIDITY_DAYS - 1) * 86_400);
        assert!(usable(&m, &names(), now.as_second()));
        // Another name, or two thirds of the validity later, needs a new certificate.
        assert!(!usable(&m, &["other.example".to_string()], now.as_second()));
        assert!(!usable(&m, &names(), validity.not_after - 86_400));
        let provider = rustls::crypto::ring::default_provider();
        certified_key(m.cert_pem.as_bytes(), m.key_pem.as_bytes(), &provider).unwrap();
    }

    #[test]
    fn renewal_keeps_the_previous_ca() {
        let now = jiff::Timestamp::now();
        let old = generate(&names(), now, None).unwrap();
        let new = generate(&names(), now, Some(&old.ca_bundle_pem)).unwrap();
        assert!(new.ca_bundle_pem.ends_with(&old.ca_bundle_pem));
        assert_eq!(new.ca_bundle_pem.matches("BEGIN CERTIFICATE").count(), 2);
        // Only the latest previous CA is kept.
        let newer = generate(&names(), now, Some(&new.ca_bundle_pem)).unwrap();
        assert_eq!(newer.ca_bundle_pem.matches("BEGIN CERTIFICATE").count(), 2);
    }

    #[test]
    fn the_ca_bundle_is_written_when_any_webhook_lacks_it() {
        const CA: &str = "-----BEGIN CERTIFICATE-----\nnew\n-----END CERTIFICATE-----\n";
        const OLD: &str = "-----BEGIN CERTIFICATE-----\nold\n-----END CERTIFICATE-----\n";
        fn configuration(bundles: Option<&[Option<&str>]>) -> ValidatingWebhookConfiguration {
            ValidatingWebhookConfiguration {
                metadata: ObjectMeta {
                    name: Some("attestor-operator".into()),
                    resource_version: Some("7".into()),
                    ..ObjectMeta::default()
                },
                webhooks: bundles.map(|bundles| {
                    bundles
                        .iter()
                        .enumerate()
                        .map(|(i, b)| ValidatingWebhook {
                            name: format!("w{i}.attestor.stellaops.io"),
                            client_config:
                                k8s_openapi::api::admissionregistration::v1::WebhookClientConfig {
                                    ca_bundle: b.map(|b| ByteString(b.as_bytes().to_vec())),
                                    ..Default::default()
                                },
                            ..Default::default()
                        })
                        .collect()
                }),
            }
        }
        // (webhooks' caBundles, whether a write is needed)
        let table: &[(Option<&[Option<&str>]>, bool)] = &[
            (None, false),
            (Some(&[]), false),
            (Some(&[Some(CA)]), false),
            (Some(&[Some(CA), Some(CA)]), false),
            (Some(&[None]), true),
            (Some(&[Some("")]), true),
            (Some(&[Some(OLD)]), true),
            (Some(&[Some(CA), None]), true),
            (Some(&[Some(OLD), Some(CA)]), true),
            // A bundle that merely contains ours (or has another line ending) is still stale.
            (Some(&[Some(&format!("{CA}{OLD}"))]), true),
            (Some(&[Some(CA.trim_end())]), true),
        ];
        for (bundles, needed) in table {
            let config = configuration(*bundles);
            let fixed = with_ca_bundle(&config, CA);
            assert_eq!(fixed.is_some(), *needed, "{bundles:?}");
            if let Some(fixed) = fixed {
                // Every webhook carries the CA, nothing else changes (the resourceVersion read
                // is kept, so a concurrent writer conflicts).
                let mut expected = config.clone();
                for w in expected.webhooks.iter_mut().flatten() {
                    w.client_config.ca_bundle = Some(ByteString(CA.as_bytes().to_vec()));
                }
                assert_eq!(fixed, expected, "{bundles:?}");
                assert_eq!(with_ca_bundle(&fixed, CA), None, "{bundles:?}");
            }
        }
    }

    #[tokio::test]
    async fn files_are_served_and_reloaded_when_they_change() {
        let dir =
            std::env::temp_dir().join(format!("attestor-webhook-certs-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |m: &Material| {
            std::fs::write(dir.join("tls.crt"), &m.cert_pem).unwrap();
            std::fs::write(dir.join("tls.key"), &m.key_pem).unwrap();
        };
        let now = jiff::Timestamp::now();
        let first = generate(&names(), now, None).unwrap();
        write(&first);
        let store = Arc::new(CertStore::default());
        let metrics = crate::metrics::Metrics::new();
        let cancel = CancellationToken::new();
        let task = tokio::spawn(run_files(
            dir.clone(),
            store.clone(),
            AdmissionMetrics::new(&metrics),
            Duration::from_millis(20),
            cancel.clone(),
        ));
        let served = || {
            store
                .current
                .read()
                .unwrap()
                .as_ref()
                .map(|k| k.cert[0].to_vec())
        };
        let der = |m: &Material| {
            CertificateDer::pem_slice_iter(m.cert_pem.as_bytes())
                .next()
                .unwrap()
                .unwrap()
                .to_vec()
        };
        for _ in 0..100 {
            if served().is_some() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(served(), Some(der(&first)));
        assert!(
            metrics
                .encode()
                .contains("webhook_certificate_expiry_timestamp_seconds 1")
        );

        let second = generate(&names(), now, None).unwrap();
        write(&second);
        for _ in 0..100 {
            if served() == Some(der(&second)) {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(served(), Some(der(&second)));
        cancel.cancel();
        task.await.unwrap();
        let _ = std::fs::remove_dir_all(&dir);
    }
}
