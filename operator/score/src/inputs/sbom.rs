//! SBOMs: the components to score, identified by package URL, from
//! CycloneDX JSON, SPDX 2.2/2.3 JSON or SPDX 3.0 JSON-LD ([`super::spdx`]),
//! the format told by the content.

use attestor_core::digest::Sha256Digest;
use serde_json::{Map, Value};

use super::vex::{Vex, VexFormat};
use crate::error::{InputError, InputKind, Reason};
use crate::json::{Path, Reader, Result};
use crate::purl::Purl;

/// One component to score: a package at a version, deduplicated by canonical purl.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    pub purl: Purl,
    /// `purl` in canonical form: what match nodes record and what orders them.
    pub canonical: String,
}

impl Component {
    pub fn version(&self) -> Option<&str> {
        self.purl.version.as_deref()
    }
}

/// The format an SBOM was read as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SbomFormat {
    CycloneDx,
    Spdx2,
    Spdx3,
}

impl SbomFormat {
    pub fn name(self) -> &'static str {
        match self {
            SbomFormat::CycloneDx => "CycloneDX JSON",
            SbomFormat::Spdx2 => "SPDX 2 JSON",
            SbomFormat::Spdx3 => "SPDX 3 JSON-LD",
        }
    }
}

/// The components of an SBOM, sorted by canonical purl, without duplicates.
#[derive(Debug, Clone)]
pub struct Sbom {
    pub digest: Sha256Digest,
    pub format: SbomFormat,
    pub components: Vec<Component>,
    /// Components (SPDX packages) without a package URL: they cannot be
    /// matched, and are counted so that this is not silent.
    pub skipped: usize,
    /// CycloneDX `vulnerabilities` with an `analysis` (embedded VEX).
    pub embedded_vex: usize,
    /// The embedded VEX read as a CycloneDX VEX document (whose content id is
    /// the SBOM's): score version 2 applies it beside the VEX input; version 1
    /// never reads it, so an embedded analysis that cannot be read refuses
    /// only version 2 scoring (the error is kept, not raised here).
    pub embedded: Embedded,
}

/// The VEX statements an SBOM embeds.
#[derive(Debug, Clone)]
pub enum Embedded {
    /// No CycloneDX `vulnerabilities` with an `analysis`.
    None,
    Vex(Box<Vex>),
    /// The embedded statements cannot be read: score version 2 refuses.
    Invalid(Box<InputError>),
}

impl Embedded {
    pub fn vex(&self) -> Option<&Vex> {
        match self {
            Embedded::Vex(vex) => Some(vex),
            _ => None,
        }
    }
}

pub(crate) const READER: Reader = Reader {
    kind: InputKind::Sbom,
};

impl Sbom {
    pub fn parse(bytes: &[u8]) -> std::result::Result<Self, InputError> {
        if let Some((format, hint)) = unsupported(bytes) {
            return Err(InputError::Unsupported {
                kind: InputKind::Sbom,
                format,
                hint,
            });
        }
        let (value, digest) = READER.parse(bytes)?;
        Self::from_value(&value, digest)
    }

    /// Reads an already parsed SBOM whose content id is `digest`:
    /// `spdxVersion` is SPDX 2, `@context` SPDX 3, anything else CycloneDX.
    pub fn from_value(value: &Value, digest: Sha256Digest) -> Result<Self> {
        let root = Path::Root;
        let top = READER.object(value, &root)?;
        let (format, mut components, skipped) = if top.contains_key("spdxVersion") {
            let (components, skipped) = super::spdx::spdx2(top)?;
            (SbomFormat::Spdx2, components, skipped)
        } else if top.contains_key("@context") {
            let (components, skipped) = super::spdx::spdx3(top)?;
            (SbomFormat::Spdx3, components, skipped)
        } else {
            return cyclonedx(top, digest);
        };
        set_of_components(&mut components);
        Ok(Self {
            digest,
            format,
            components,
            skipped,
            embedded_vex: 0,
            embedded: Embedded::None,
        })
    }
}

/// Set semantics: the order of components and repeated entries carry no
/// meaning. A `distro`, `upstream` or `epoch` qualifier survives only if
/// every spelling agrees on it, so the result does not depend on which
/// spelling came first.
fn set_of_components(components: &mut Vec<Component>) {
    components.sort_by(|a: &Component, b| a.canonical.cmp(&b.canonical));
    components.dedup_by(|later, kept| {
        if later.canonical != kept.canonical {
            return false;
        }
        if later.purl.distro != kept.purl.distro {
            kept.purl.distro = None;
        }
        if later.purl.upstream != kept.purl.upstream {
            kept.purl.upstream = None;
        }
        if later.purl.epoch != kept.purl.epoch {
            kept.purl.epoch = None;
        }
        true
    });
}

/// Formats recognised by their first bytes that are not read: named, with
/// what to do instead.
fn unsupported(bytes: &[u8]) -> Option<(&'static str, &'static str)> {
    let start = bytes.iter().position(|b| !b.is_ascii_whitespace())?;
    let head = &bytes[start..bytes.len().min(start + 4096)];
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    if head.starts_with('<') {
        return Some(if head.contains("cyclonedx") {
            (
                "CycloneDX XML",
                "convert it to CycloneDX JSON (cyclonedx convert --output-format json)",
            )
        } else if head.contains("spdx") {
            ("SPDX RDF/XML", "give the SPDX JSON serialisation")
        } else {
            ("XML", "give CycloneDX JSON, SPDX 2 JSON or SPDX 3 JSON-LD")
        });
    }
    if head.starts_with("spdxversion:") {
        return Some(("SPDX tag-value", "give the SPDX JSON serialisation"));
    }
    None
}

/// A component from a package URL text, with `version` when the purl has none.
pub(crate) fn component(
    text: &str,
    at: &Path,
    version: Option<(&Value, Path)>,
) -> Result<Component> {
    let mut purl = Purl::parse(text).map_err(|error| {
        READER.fail(
            at,
            Reason::Purl {
                text: text.to_string(),
                error,
            },
        )
    })?;
    if purl.version.is_none()
        && let Some((version, at)) = version
    {
        purl.version = Some(READER.string(version, &at)?.to_string());
    }
    Ok(Component {
        canonical: purl.to_string(),
        purl,
    })
}

fn cyclonedx(top: &Map<String, Value>, digest: Sha256Digest) -> Result<Sbom> {
    let root = Path::Root;
    {
        let format = READER.required(top, "bomFormat", &root)?;
        let at = root.member("bomFormat");
        if READER.string(format, &at)? != "CycloneDX" {
            return Err(READER.fail(
                &at,
                Reason::UnknownValue {
                    value: format.as_str().unwrap_or_default().to_string(),
                    expected: "\"CycloneDX\"",
                },
            ));
        }
        if let Some(spec) = top.get("specVersion") {
            READER.string(spec, &root.member("specVersion"))?;
        }
        let mut components = Vec::new();
        let mut skipped = 0;
        collect(top, &root, &mut components, &mut skipped)?;
        set_of_components(&mut components);
        let embedded_vex = match top.get("vulnerabilities") {
            Some(Value::Array(list)) => list
                .iter()
                .filter(|v| v.as_object().is_some_and(|v| v.contains_key("analysis")))
                .count(),
            _ => 0,
        };
        let embedded = if embedded_vex == 0 {
            Embedded::None
        } else {
            match super::cyclonedx_vex::statements(top) {
                Ok((statements, unresolved)) => Embedded::Vex(Box::new(Vex::from_statements(
                    digest,
                    VexFormat::CycloneDx,
                    statements,
                    unresolved,
                ))),
                Err(error) => Embedded::Invalid(Box::new(error)),
            }
        };
        Ok(Sbom {
            digest,
            format: SbomFormat::CycloneDx,
            components,
            skipped,
            embedded_vex,
            embedded,
        })
    }
}

/// Collects the components of `parent.components`, depth first. Recursion is
/// bounded by the strict parser's nesting limit.
fn collect(
    parent: &Map<String, Value>,
    at: &Path,
    out: &mut Vec<Component>,
    skipped: &mut usize,
) -> Result<()> {
    let Some(list) = parent.get("components") else {
        return Ok(());
    };
    let at = at.member("components");
    for (i, item) in READER.array(list, &at)?.iter().enumerate() {
        let at = at.index(i);
        let component = READER.object(item, &at)?;
        if let Some(purl) = component.get("purl") {
            let purl_at = at.member("purl");
            let text = READER.string(purl, &purl_at)?;
            let version = component.get("version").map(|v| (v, at.member("version")));
            out.push(self::component(text, &purl_at, version)?);
        } else {
            *skipped += 1;
        }
        collect(component, &at, out, skipped)?;
    }
    Ok(())
}
